"""Convert a Voxlane ``ChatContext`` into the Messages API ``system`` and ``messages``.

Rules the API enforces, handled here:

- system/developer messages go to the separate ``system`` parameter (text blocks);
- roles must alternate: consecutive same-role items are merged into one message;
- the first message must come from the user: a short placeholder user turn is added when the
  history starts with the assistant (or is empty);
- each ``tool_use`` must be answered by a ``tool_result`` in the next (user) message, before
  any text: results are moved right after their calls, unmatched calls/results are dropped;
- text blocks may not be empty; handoff and config-update markers are not sent.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
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

PLACEHOLDER_USER_TEXT = "(the conversation starts)"

_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass
class AnthropicRequest:
    """The converted history: ``system`` text blocks and alternating ``messages``."""

    system: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)


def _mime(data: bytes, declared: str | None) -> str:
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


def image_block(image: ImageContent) -> dict[str, Any]:
    """An ``image`` content block (URL, data URL or raw bytes)."""
    src = image.image
    if isinstance(src, rtc.VideoFrame):
        raise ValueError(
            "ImageContent holding an rtc.VideoFrame cannot be sent to the Anthropic API: "
            "encode the frame (e.g. to JPEG bytes) and pass ImageContent(image=<bytes>, "
            "mime_type='image/jpeg')"
        )
    if isinstance(src, str):
        if src.startswith("data:"):
            header, _, payload = src.partition(",")
            if ";base64" not in header or not payload:
                raise ValueError("image data URLs must be base64 encoded: data:<mime>;base64,...")
            media_type = header[5:].split(";", 1)[0]
            return {
                "type": "image",
                "source": {"type": "base64", "media_type": media_type, "data": payload},
            }
        return {"type": "image", "source": {"type": "url", "url": src}}
    return {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": _mime(src, image.mime_type),
            "data": base64.b64encode(src).decode("ascii"),
        },
    }


def _message_blocks(msg: ChatMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in msg.content:
        if isinstance(part, str):
            if part.strip():
                blocks.append({"type": "text", "text": part})
        elif isinstance(part, AudioContent):
            if part.transcript and part.transcript.strip():
                blocks.append({"type": "text", "text": part.transcript})
        elif isinstance(part, ImageContent):
            if msg.role != "user":
                raise ValueError(
                    f"images are only accepted in user messages, found one in a {msg.role!r} "
                    f"message (id {msg.id})"
                )
            blocks.append(image_block(part))
    return blocks


def _tool_input(call: FunctionCall) -> dict[str, Any]:
    text = (call.arguments or "").strip() or "{}"
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError(
            f"tool call {call.name!r} ({call.call_id}) has arguments that are not JSON: "
            f"{call.arguments!r}"
        ) from None
    if not isinstance(value, dict):
        raise ValueError(
            f"tool call {call.name!r} ({call.call_id}) arguments must be a JSON object, "
            f"got {type(value).__name__}"
        )
    return value


def to_anthropic(chat_ctx: ChatContext) -> AnthropicRequest:
    """Convert ``chat_ctx`` (see the module docstring for the rules applied)."""
    items = chat_ctx.items
    outputs = {it.call_id: it for it in items if isinstance(it, FunctionCallOutput)}
    answered = {it.call_id for it in items if isinstance(it, FunctionCall)} & set(outputs)

    req = AnthropicRequest()

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        last = req.messages[-1] if req.messages else None
        if last is not None and last["role"] == role:
            last["content"].extend(blocks)
        else:
            req.messages.append({"role": role, "content": list(blocks)})

    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, ChatMessage):
            i += 1
            if item.role in ("system", "developer"):
                text = item.text_content
                if text and text.strip():
                    req.system.append({"type": "text", "text": text})
                continue
            add(item.role, _message_blocks(item))
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
            add("assistant", [_tool_use(call) for call in batch])
            # the results must open the very next (user) message
            req.messages.append(
                {"role": "user", "content": [_tool_result(outputs[c.call_id]) for c in batch]}
            )
        else:
            i += 1
    if not req.messages or req.messages[0]["role"] != "user":
        req.messages.insert(
            0, {"role": "user", "content": [{"type": "text", "text": PLACEHOLDER_USER_TEXT}]}
        )
    return req


def _tool_use(call: FunctionCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.call_id, "name": call.name, "input": _tool_input(call)}


def _tool_result(out: FunctionCallOutput) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": out.call_id,
        "content": out.output or "(no output)",
    }
    if out.is_error:
        result["is_error"] = True
    return result


__all__ = ["PLACEHOLDER_USER_TEXT", "AnthropicRequest", "image_block", "to_anthropic"]
