"""``ChatContext`` -> Messages API ``system`` blocks and ``messages``.

The conversion is the core's ``ChatContext.to_provider_format("anthropic")``: system and
developer messages go to the separate system prompt; roles alternate (same-role items are
merged); each ``tool_use`` is answered by a ``tool_result`` at the start of the next user turn
(calls without an output and outputs without a call are dropped); a placeholder user turn
opens the conversation when it would start with the assistant; images become URL or base64
sources. The plugin turns the system parts into text blocks (where ``cache_control`` can go).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voxlane.agents.llm import ChatContext


@dataclass
class AnthropicRequest:
    """The converted history: ``system`` text blocks and alternating ``messages``."""

    system: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)


def to_anthropic(chat_ctx: ChatContext) -> AnthropicRequest:
    """Convert ``chat_ctx`` (see the module docstring)."""
    messages, extra = chat_ctx.to_provider_format("anthropic", inject_dummy_user_message=True)
    system = [{"type": "text", "text": text} for text in extra.system_messages if text.strip()]
    return AnthropicRequest(system=system, messages=messages)


__all__ = ["AnthropicRequest", "to_anthropic"]
