"""A tiny scripted LLM used by the llm tests (test-local, not the shared fakes)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from voxlane.agents._exceptions import APIError
from voxlane.agents.llm import (
    LLM,
    ChatChunk,
    ChatContext,
    ChoiceDelta,
    CompletionUsage,
    FunctionToolCall,
    LLMStream,
    Tool,
    ToolChoice,
)
from voxlane.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)


@dataclass
class Attempt:
    """What one call of ``_run`` does: emit ``texts`` (and tool calls), then maybe fail/hang."""

    texts: list[str] = field(default_factory=list)
    tool_calls: list[FunctionToolCall] = field(default_factory=list)
    error: Exception | None = None
    hang: bool = False
    usage: bool = True


class ScriptedLLM(LLM):
    def __init__(self, attempts: list[Attempt], *, name: str = "scripted") -> None:
        super().__init__()
        self.attempts = list(attempts)
        self.runs = 0
        self.name = name
        self._label = f"scripted-{name}"
        self.streams: list[ScriptedStream] = []
        self.hanging = asyncio.Event()
        self.chat_kwargs: list[dict[str, Any]] = []

    @property
    def model(self) -> str:
        return self.name

    @property
    def provider(self) -> str:
        return "test"

    def next_attempt(self) -> Attempt:
        self.runs += 1
        if len(self.attempts) > 1:
            return self.attempts.pop(0)
        return self.attempts[0]

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> ScriptedStream:
        self.chat_kwargs.append({"tool_choice": tool_choice, "conn_options": conn_options})
        s = ScriptedStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)
        self.streams.append(s)
        return s


class ScriptedStream(LLMStream):
    async def _run(self) -> None:
        llm = self._llm
        assert isinstance(llm, ScriptedLLM)
        attempt = llm.next_attempt()
        rid = f"req_{llm.runs}"
        for t in attempt.texts:
            self._event_ch.send_nowait(
                ChatChunk(id=rid, delta=ChoiceDelta(role="assistant", content=t))
            )
            await asyncio.sleep(0)
        if attempt.tool_calls:
            self._event_ch.send_nowait(
                ChatChunk(
                    id=rid, delta=ChoiceDelta(role="assistant", tool_calls=attempt.tool_calls)
                )
            )
        if attempt.hang:
            llm.hanging.set()
            await asyncio.Event().wait()
        if attempt.error is not None:
            raise attempt.error
        if attempt.usage:
            self._event_ch.send_nowait(
                ChatChunk(
                    id=rid,
                    usage=CompletionUsage(
                        completion_tokens=len(attempt.texts),
                        prompt_tokens=7,
                        total_tokens=7 + len(attempt.texts),
                    ),
                )
            )


def retryable(msg: str = "boom") -> APIError:
    return APIError(msg, retryable=True)


FAST = APIConnectOptions(max_retry=2, retry_interval=0.0, timeout=5.0)
