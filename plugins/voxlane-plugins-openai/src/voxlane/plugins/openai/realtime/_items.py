"""Conversion between Voxlane chat items and Realtime API conversation items."""

from __future__ import annotations

from typing import Any

from voxlane.agents.llm import (
    AudioContent,
    ChatContext,
    ChatItem,
    ChatMessage,
    FunctionCall,
    FunctionCallOutput,
)


def _message_text(msg: ChatMessage) -> str:
    parts: list[str] = []
    for part in msg.content:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, AudioContent) and part.transcript:
            parts.append(part.transcript)
    return "\n".join(p for p in parts if p)


def to_realtime_item(item: ChatItem) -> dict[str, Any] | None:
    """The ``conversation.item.create`` payload for ``item``, or ``None`` if it is not sent.

    Instructions (system/developer messages) travel through ``session.update`` instead, and
    messages without text (e.g. audio without transcript, images) are not replayed.
    """
    if isinstance(item, ChatMessage):
        if item.role in ("system", "developer"):
            return None
        text = _message_text(item)
        if not text:
            return None
        part_type = "output_text" if item.role == "assistant" else "input_text"
        return {
            "id": item.id,
            "type": "message",
            "role": item.role,
            "content": [{"type": part_type, "text": text}],
        }
    if isinstance(item, FunctionCall):
        return {
            "id": item.id,
            "type": "function_call",
            "call_id": item.call_id,
            "name": item.name,
            "arguments": item.arguments or "{}",
        }
    if isinstance(item, FunctionCallOutput):
        return {
            "id": item.id,
            "type": "function_call_output",
            "call_id": item.call_id,
            "output": item.output,
        }
    return None


def from_realtime_item(data: dict[str, Any]) -> ChatItem | None:
    """A chat item for a server conversation item (``None`` for kinds we do not track)."""
    item_id = str(data.get("id") or "")
    kind = data.get("type")
    if not item_id:
        return None
    if kind == "message":
        role = data.get("role")
        if role not in ("user", "assistant", "system"):
            return None
        texts: list[str] = []
        for part in data.get("content") or []:
            if not isinstance(part, dict):
                continue
            text = part.get("text") or part.get("transcript")
            if isinstance(text, str) and text:
                texts.append(text)
        return ChatMessage(id=item_id, role=role, content=["\n".join(texts)] if texts else [])
    if kind == "function_call":
        return FunctionCall(
            id=item_id,
            call_id=str(data.get("call_id") or ""),
            name=str(data.get("name") or ""),
            arguments=str(data.get("arguments") or "{}"),
        )
    if kind == "function_call_output":
        return FunctionCallOutput(
            id=item_id,
            call_id=str(data.get("call_id") or ""),
            output=str(data.get("output") or ""),
            is_error=False,
        )
    return None


def upsert(ctx: ChatContext, item: ChatItem, *, previous_item_id: str | None) -> None:
    """Insert ``item`` after ``previous_item_id`` (at the end if unknown), or replace it."""
    existing = ctx.index_by_id(item.id)
    if existing is not None:
        ctx.items[existing] = item
        return
    if previous_item_id is not None:
        idx = ctx.index_by_id(previous_item_id)
        if idx is not None:
            ctx.items.insert(idx + 1, item)
            return
    ctx.items.append(item)


__all__ = ["from_realtime_item", "to_realtime_item", "upsert"]
