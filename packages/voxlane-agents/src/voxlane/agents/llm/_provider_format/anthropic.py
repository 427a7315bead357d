"""ChatContext -> Anthropic Messages API ``messages`` (+ the separate system prompt)."""

from __future__ import annotations

import json
from typing import Any

from ..chat_context import AudioContent, ChatContext, ChatMessage, ImageContent
from ._common import ToolGroup, segments
from ._images import serialize_image

DUMMY_USER_TEXT = "(empty)"


def _blocks(msg: ChatMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for c in msg.content:
        if isinstance(c, str):
            if c.strip():
                blocks.append({"type": "text", "text": c})
        elif isinstance(c, ImageContent):
            img = serialize_image(c)
            if img.url is not None:
                source: dict[str, Any] = {"type": "url", "url": img.url}
            else:
                source = {"type": "base64", "media_type": img.mime_type, "data": img.data}
            blocks.append({"type": "image", "source": source})
        elif isinstance(c, AudioContent) and c.transcript:
            blocks.append({"type": "text", "text": c.transcript})
    return blocks


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def to_anthropic(
    chat_ctx: ChatContext, *, inject_dummy_user_message: bool = True
) -> tuple[list[dict[str, Any]], list[str]]:
    """``(messages, system_messages)``.

    System/developer messages go to ``system_messages``; consecutive same-role messages are
    merged (tool results first in a user turn); with ``inject_dummy_user_message`` the list
    starts with a user turn, as the API requires.
    """
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []

    def add(role: str, blocks: list[dict[str, Any]], *, first: bool = False) -> None:
        if not blocks:
            return
        if turns and turns[-1][0] == role:
            if first:
                turns[-1][1][:0] = blocks
            else:
                turns[-1][1].extend(blocks)
        else:
            turns.append((role, list(blocks)))

    for seg in segments(chat_ctx):
        if isinstance(seg, ToolGroup):
            add(
                "assistant",
                [
                    {
                        "type": "tool_use",
                        "id": call.call_id,
                        "name": call.name,
                        "input": _tool_input(call.arguments),
                    }
                    for call in seg.calls
                ],
            )
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": out.call_id,
                        "content": out.output,
                        "is_error": out.is_error,
                    }
                    for out in seg.outputs
                ],
            )
        elif seg.role in ("system", "developer"):
            if seg.text_content:
                system.append(seg.text_content)
        else:
            add(seg.role, _blocks(seg))

    if inject_dummy_user_message and (not turns or turns[0][0] != "user"):
        turns.insert(0, ("user", [{"type": "text", "text": DUMMY_USER_TEXT}]))
    return [{"role": role, "content": blocks} for role, blocks in turns], system
