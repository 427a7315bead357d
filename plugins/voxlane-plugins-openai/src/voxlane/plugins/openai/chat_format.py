"""``ChatContext`` -> Chat Completions ``messages``.

The conversion is the core's ``ChatContext.to_provider_format("openai")`` (tool calls ride on
an assistant message and are directly followed by their ``tool`` outputs; calls without an
output and outputs without a call are dropped; images become URLs or base64 data URLs). The
plugin only removes messages left without any content (the API rejects empty user turns).
"""

from __future__ import annotations

from typing import Any

from voxlane.agents.llm import ChatContext


def _has_content(message: dict[str, Any]) -> bool:
    if message.get("tool_calls") or message.get("role") == "tool":
        return True
    content = message.get("content")
    if isinstance(content, str):
        return bool(content.strip())
    return bool(content)


def to_chat_messages(chat_ctx: ChatContext) -> list[dict[str, Any]]:
    """The ``messages`` list for ``chat.completions.create``."""
    messages, _ = chat_ctx.to_provider_format("openai")
    return [m for m in messages if _has_content(m)]


__all__ = ["to_chat_messages"]
