"""ChatContext -> OpenAI Chat Completions ``messages``."""

from __future__ import annotations

from typing import Any

from ..chat_context import AudioContent, ChatContext, ChatMessage, ImageContent
from ._common import ToolGroup, segments
from ._images import serialize_image


def _message(msg: ChatMessage) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    has_image = False
    for c in msg.content:
        if isinstance(c, str):
            if c:
                parts.append({"type": "text", "text": c})
        elif isinstance(c, ImageContent):
            has_image = True
            img = serialize_image(c)
            parts.append(
                {
                    "type": "image_url",
                    "image_url": {"url": img.data_url, "detail": c.inference_detail},
                }
            )
        elif isinstance(c, AudioContent) and c.transcript:
            parts.append({"type": "text", "text": c.transcript})
    if has_image and msg.role == "user":
        return {"role": msg.role, "content": parts}
    text = "\n".join(p["text"] for p in parts if p["type"] == "text")
    return {"role": msg.role, "content": text}


def to_openai(chat_ctx: ChatContext) -> list[dict[str, Any]]:
    """Messages for ``chat.completions.create``: tool calls ride on an assistant message and
    each is followed by its ``role="tool"`` output."""
    messages: list[dict[str, Any]] = []
    for seg in segments(chat_ctx):
        if not isinstance(seg, ToolGroup):
            messages.append(_message(seg))
            continue
        tool_calls = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments or "{}"},
            }
            for call in seg.calls
        ]
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant" and "tool_calls" not in last:
            last["tool_calls"] = tool_calls
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": tool_calls})
        for out in seg.outputs:
            messages.append({"role": "tool", "tool_call_id": out.call_id, "content": out.output})
    return messages
