"""Convert a Voxlane ``ChatContext`` into Chat Completions ``messages``.

Rules the API enforces, handled here:

- an assistant message carrying ``tool_calls`` must be followed by one ``tool`` message per call
  before any other message, so tool outputs are moved right after their calls (the runtime may
  have recorded a user message in between);
- calls without an output and outputs without a call are dropped (the API rejects both);
- consecutive calls (a parallel batch) become one assistant message, joined to the assistant
  text that directly precedes them;
- handoff and config-update markers are not sent; audio parts are sent as their transcript.
"""

from __future__ import annotations

import base64
from typing import Any

from livekit import rtc

from voxlane.agents.llm import (
    AudioContent,
    ChatContext,
    ChatMessage,
    FunctionCall,
    FunctionCallOutput,
    ImageContent,
)

_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_mime_type(data: bytes, declared: str | None) -> str:
    """The MIME type of encoded image bytes (declared, or sniffed from the header)."""
    if declared:
        return declared
    for signature, mime in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValueError(
        "cannot tell the format of this image's bytes: pass ImageContent(image=..., "
        "mime_type='image/png') (PNG, JPEG, GIF and WEBP are recognised automatically)"
    )


def image_url(image: ImageContent) -> str:
    """An ``https://`` or ``data:`` URL for an image part."""
    if isinstance(image.image, str):
        return image.image
    if isinstance(image.image, rtc.VideoFrame):
        raise ValueError(
            "ImageContent holding an rtc.VideoFrame cannot be sent to the OpenAI API: encode "
            "the frame (e.g. to JPEG bytes) and pass ImageContent(image=<bytes>, "
            "mime_type='image/jpeg')"
        )
    mime = image_mime_type(image.image, image.mime_type)
    return f"data:{mime};base64,{base64.b64encode(image.image).decode('ascii')}"


def _message_content(msg: ChatMessage) -> str | list[dict[str, Any]] | None:
    parts: list[dict[str, Any]] = []
    for part in msg.content:
        if isinstance(part, str):
            if part:
                parts.append({"type": "text", "text": part})
        elif isinstance(part, AudioContent):
            if part.transcript:
                parts.append({"type": "text", "text": part.transcript})
        elif isinstance(part, ImageContent):
            if msg.role != "user":
                raise ValueError(
                    f"images are only accepted in user messages by the OpenAI API, found one "
                    f"in a {msg.role!r} message (id {msg.id})"
                )
            parts.append(
                {
                    "type": "image_url",
                    "image_url": {"url": image_url(part), "detail": part.inference_detail},
                }
            )
    if not parts:
        return None
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_call(call: FunctionCall) -> dict[str, Any]:
    return {
        "id": call.call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments or "{}"},
    }


def to_chat_messages(chat_ctx: ChatContext) -> list[dict[str, Any]]:
    """The ``messages`` list for ``chat.completions.create`` (see the module docstring)."""
    items = chat_ctx.items
    outputs: dict[str, FunctionCallOutput] = {
        it.call_id: it for it in items if isinstance(it, FunctionCallOutput)
    }
    answered = {it.call_id for it in items if isinstance(it, FunctionCall)} & set(outputs)

    messages: list[dict[str, Any]] = []
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, ChatMessage):
            content = _message_content(item)
            if content is not None:
                messages.append({"role": item.role, "content": content})
            i += 1
        elif isinstance(item, FunctionCall):
            batch: list[FunctionCall] = []
            while i < len(items) and isinstance(items[i], FunctionCall):
                call = items[i]
                assert isinstance(call, FunctionCall)
                if call.call_id in answered:
                    batch.append(call)
                i += 1
            if not batch:
                continue
            last = messages[-1] if messages else None
            if (
                last is not None
                and last["role"] == "assistant"
                and "tool_calls" not in last
                and isinstance(last.get("content"), str)
            ):
                last["tool_calls"] = [_tool_call(c) for c in batch]
            else:
                messages.append(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [_tool_call(c) for c in batch],
                    }
                )
            for call in batch:
                out = outputs[call.call_id]
                messages.append(
                    {"role": "tool", "tool_call_id": call.call_id, "content": out.output}
                )
        else:
            # outputs are emitted with their calls; handoffs/config updates are not sent
            i += 1
    return messages


__all__ = ["image_mime_type", "image_url", "to_chat_messages"]
