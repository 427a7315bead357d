"""Helpers shared by the provider formats: pairing tool calls with their outputs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..chat_context import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput


@dataclass
class ToolGroup:
    """Consecutive tool calls and their outputs (in call order)."""

    calls: list[FunctionCall] = field(default_factory=list)
    outputs: list[FunctionCallOutput] = field(default_factory=list)


def segments(chat_ctx: ChatContext) -> Iterator[ChatMessage | ToolGroup]:
    """Messages and tool groups in order.

    A call without an output (still running or lost) and an output without a call are dropped:
    providers reject both. Each group's outputs directly follow its calls, whatever their
    position in the history.
    """
    outputs: dict[str, FunctionCallOutput] = {}
    for item in chat_ctx.items:
        if isinstance(item, FunctionCallOutput):
            outputs.setdefault(item.call_id, item)
    group = ToolGroup()
    for item in chat_ctx.items:
        if isinstance(item, FunctionCall):
            out = outputs.get(item.call_id)
            if out is not None:
                group.calls.append(item)
                group.outputs.append(out)
            continue
        if isinstance(item, FunctionCallOutput):
            continue
        if not isinstance(item, ChatMessage):
            continue  # handoffs and config updates are not sent to providers
        if group.calls:
            yield group
            group = ToolGroup()
        yield item
    if group.calls:
        yield group
