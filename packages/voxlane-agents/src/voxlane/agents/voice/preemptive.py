"""Preemptive generation: start the LLM on the user's transcript before the turn is over.

With ``AgentSession(preemptive_generation=True)`` (or ``turn_handling={"preemptive_generation":
{...}}``), each preflight or final transcript that
arrives before the end of the user's turn is confirmed starts an LLM request (the LLM node
only: no TTS) for the speculative user message. When the turn ends, the request is used if the
user's final text, the chat context (after ``on_user_turn_completed``) and the tools are the
same as when it started; otherwise it is cancelled and a normal reply is generated. The reply
thus starts up to the LLM's time to first token earlier.

No request starts while the agent is speaking, once the user has spoken longer than
``max_speech_duration``, or after ``max_retries`` requests in the same turn.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..llm import ChatContext, ChatMessage
from ..types import NOT_GIVEN
from .agent import ModelSettings
from .generation import LLMGenerationData, perform_llm_inference

if TYPE_CHECKING:
    from .agent_activity import AgentActivity

MAX_PREEMPTIVE_PER_TURN = 3
"""Default of ``preemptive_generation.max_retries``: requests started at most per user turn
(each new transcript restarts one)."""


def _fingerprint(ctx: ChatContext) -> list[Any]:
    return [item.model_dump(mode="json", exclude={"created_at"}) for item in ctx.items]


@dataclass
class PreemptiveGeneration:
    """An LLM request started for a speculative user message."""

    transcript: str
    chat_ctx: ChatContext
    """The context the LLM got: the agent's context plus the speculative user message."""
    base: list[Any]
    tools: list[Any]
    task: asyncio.Task[None]
    data: LLMGenerationData

    @classmethod
    def start(cls, activity: AgentActivity, transcript: str) -> PreemptiveGeneration:
        base_ctx = activity.agent._chat_ctx.copy()
        ctx = base_ctx.copy()
        ctx.insert(ChatMessage(role="user", content=[transcript]))
        tools = list(activity.tools)
        task, data = perform_llm_inference(
            activity.agent.llm_node(ctx, tools, ModelSettings(tool_choice=NOT_GIVEN))
        )
        return cls(
            transcript=transcript,
            chat_ctx=ctx,
            base=_fingerprint(base_ctx),
            tools=tools,
            task=task,
            data=data,
        )

    def matches(self, turn_ctx: ChatContext, message: ChatMessage, tools: list[Any]) -> bool:
        """True when the request was made for exactly this turn."""
        return (
            (message.text_content or "").strip() == self.transcript.strip()
            and len(tools) == len(self.tools)
            and all(a is b for a, b in zip(tools, self.tools, strict=True))
            and _fingerprint(turn_ctx) == self.base
        )

    def cancel(self) -> None:
        """Stop the request (its channels close when the task ends)."""
        self.task.cancel()


class PreemptiveSlot:
    """The preemptive request of the current user turn (at most one), and how many started."""

    def __init__(self) -> None:
        self._current: PreemptiveGeneration | None = None
        self._count = 0

    def offer(
        self, activity: AgentActivity, transcript: str, *, speech_started_at: float | None
    ) -> None:
        """A new transcript of the turn: start a request for it if the options allow."""
        opts = activity.options
        current = self._current
        if current is not None and current.transcript == transcript:
            return
        if self._count >= opts.preemptive_max_retries:
            return
        if speech_started_at is not None:
            spoken = asyncio.get_running_loop().time() - speech_started_at
            if spoken > opts.preemptive_max_speech_duration:
                return
        if current is not None:
            current.cancel()  # a newer transcript: the turn goes on, so does the count
        self._count += 1
        self._current = PreemptiveGeneration.start(activity, transcript)

    def take(self) -> PreemptiveGeneration | None:
        """The request of the turn that just ended (the count restarts for the next turn)."""
        pre, self._current = self._current, None
        self._count = 0
        return pre

    def discard(self) -> None:
        pre = self.take()
        if pre is not None:
            pre.cancel()


__all__ = ["MAX_PREEMPTIVE_PER_TURN", "PreemptiveGeneration", "PreemptiveSlot"]
