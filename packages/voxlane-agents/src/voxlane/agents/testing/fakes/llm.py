"""``FakeLLM``: a language model that answers from a script.

Replies are chosen per ``chat()`` call, in this order:

1. the ``followup`` of a reply whose tool calls are being answered (the last item of the chat
   context is the output of one of its tool calls);
2. the first rule (added with :meth:`FakeLLM.when`) matching the last user message, when the
   context ends with that user message;
3. the next entry of ``responses`` (one per call: "keyed by turn");
4. ``default``;

otherwise the call fails with an error saying which call had no reply. A reply streams its text
in chunks (after ``ttft``, with ``chunk_delay`` between chunks, both in loop time), then its tool
calls (several in one reply are parallel calls), then a usage chunk. Every call is recorded in
``calls`` with a snapshot of its chat context and tools.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from ...llm import (
    LLM,
    ChatChunk,
    ChatContext,
    ChatMessage,
    ChoiceDelta,
    CompletionUsage,
    FunctionCall,
    FunctionCallOutput,
    FunctionToolCall,
    LLMStream,
    Tool,
    ToolChoice,
)
from ...types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from ...utils.misc import shortuuid
from ._faults import FaultPlan

__all__ = ["FakeLLM", "FakeLLMStream", "FakeResponse", "FakeToolCall", "LLMCall"]


@dataclass(frozen=True)
class FakeToolCall:
    """A tool call the fake model makes. ``arguments`` may be a raw string (even invalid
    JSON, to test error handling); ``call_id`` is generated when omitted."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments))


ReplyLike = Union["FakeResponse", str]


@dataclass(frozen=True)
class FakeResponse:
    """One scripted reply.

    Args:
        text: the assistant text (streamed in word-sized chunks unless ``chunks`` is given).
        tool_calls: tool calls to make after the text.
        chunks: explicit text chunks (their concatenation replaces ``text``).
        ttft / chunk_delay: per-reply timing overrides (seconds of loop time).
        error: raise this on every attempt of the call, after ``error_after`` chunks.
        followup: the reply to the next call that answers these tool calls.
    """

    text: str = ""
    tool_calls: Sequence[FakeToolCall] = ()
    chunks: Sequence[str] | None = None
    ttft: float | None = None
    chunk_delay: float | None = None
    error: BaseException | None = None
    error_after: int = 0
    followup: ReplyLike | None = None

    def __post_init__(self) -> None:
        for name in ("ttft", "chunk_delay"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if self.error_after < 0:
            raise ValueError(f"error_after must be >= 0 chunks, got {self.error_after}")
        if self.error is not None and not isinstance(self.error, BaseException):
            raise TypeError(f"error must be an exception instance, got {type(self.error).__name__}")
        for i, call in enumerate(self.tool_calls):
            if not isinstance(call, FakeToolCall):
                raise TypeError(f"tool_calls[{i}] must be a FakeToolCall, got {call!r}")

    def text_chunks(self) -> list[str]:
        if self.chunks is not None:
            return [c for c in self.chunks if c]
        return re.findall(r"\s*\S+\s*", self.text) if self.text.strip() else []


def _as_response(reply: ReplyLike | None, what: str) -> FakeResponse | None:
    if reply is None or isinstance(reply, FakeResponse):
        return reply
    if isinstance(reply, str):
        return FakeResponse(text=reply)
    raise TypeError(f"{what} must be a FakeResponse or a str, got {type(reply).__name__}")


Matcher = Union[str, "re.Pattern[str]", Callable[[str], bool]]


@dataclass
class _Rule:
    matcher: Matcher
    response: FakeResponse
    times: int | None

    def matches(self, text: str) -> bool:
        if isinstance(self.matcher, str):
            return self.matcher.lower() in text.lower()
        if isinstance(self.matcher, re.Pattern):
            return self.matcher.search(text) is not None
        return bool(self.matcher(text))


@dataclass(frozen=True)
class LLMCall:
    """A recorded ``chat()`` call: a snapshot of what the model was given."""

    chat_ctx: ChatContext
    tools: list[Tool]
    tool_choice: NotGivenOr[ToolChoice]
    parallel_tool_calls: NotGivenOr[bool]
    extra_kwargs: NotGivenOr[dict[str, Any]]
    conn_options: APIConnectOptions
    response: FakeResponse

    @property
    def last_user_message(self) -> str | None:
        for item in reversed(self.chat_ctx.items):
            if isinstance(item, ChatMessage) and item.role == "user":
                return item.text_content or ""
        return None

    @property
    def tool_names(self) -> list[str]:
        return [t.id for t in self.tools]


class FakeLLM(LLM):
    """A scripted LLM for tests (see the module docstring).

    Args:
        responses: replies by call order (``FakeResponse`` or plain text).
        default: the reply when nothing else applies.
        ttft: seconds (loop time) before the first chunk.
        chunk_delay: seconds (loop time) between chunks.
    """

    def __init__(
        self,
        responses: Sequence[ReplyLike] = (),
        *,
        default: ReplyLike | None = None,
        ttft: float = 0.0,
        chunk_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self._queue: list[FakeResponse] = []
        for i, r in enumerate(responses):
            resp = _as_response(r, f"responses[{i}]")
            assert resp is not None
            self._queue.append(resp)
        self._default = _as_response(default, "default")
        for name, value in (("ttft", ttft), ("chunk_delay", chunk_delay)):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        self._ttft = float(ttft)
        self._chunk_delay = float(chunk_delay)
        self._rules: list[_Rule] = []
        self._followups: dict[str, FakeResponse] = {}
        self.faults = FaultPlan()
        """Inject errors per attempt: ``llm.faults.fail_on_attempt(2, APIStatusError(...))``;
        ``after`` counts chunks sent before the failure."""
        self.calls: list[LLMCall] = []
        """Every ``chat()`` call, in order."""

    @property
    def model(self) -> str:
        return "fake-llm"

    @property
    def provider(self) -> str:
        return "voxlane-testing"

    @property
    def pending_responses(self) -> int:
        """Scripted replies not used yet."""
        return len(self._queue)

    def add_response(self, response: ReplyLike) -> None:
        """Append a reply to the per-call script."""
        resp = _as_response(response, "response")
        assert resp is not None
        self._queue.append(resp)

    def when(self, match: Matcher, response: ReplyLike, *, times: int | None = None) -> FakeLLM:
        """Answer ``response`` when the last user message matches ``match`` (a case-insensitive
        substring, a compiled regex, or a predicate on the text). ``times`` limits how often
        the rule fires. Returns ``self`` for chaining."""
        resp = _as_response(response, "response")
        assert resp is not None
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError(f"times must be an int >= 1 or None, got {times!r}")
        if not isinstance(match, (str, re.Pattern)) and not callable(match):
            raise TypeError(
                f"match must be a str, a compiled regex or a callable, got {type(match).__name__}"
            )
        self._rules.append(_Rule(matcher=match, response=resp, times=times))
        return self

    def fail_next(
        self, error: BaseException | None = None, *, times: int = 1, after: int = 0
    ) -> None:
        """Make the next ``times`` attempts fail after ``after`` chunks."""
        self.faults.fail_next(error, times=times, after=after)

    def _pick(self, chat_ctx: ChatContext) -> FakeResponse:
        relevant = [
            i
            for i in chat_ctx.items
            if isinstance(i, (ChatMessage, FunctionCall, FunctionCallOutput))
            and not (isinstance(i, ChatMessage) and i.role in ("system", "developer"))
        ]
        last = relevant[-1] if relevant else None
        if isinstance(last, FunctionCallOutput) and last.call_id in self._followups:
            resp = self._followups.pop(last.call_id)
            for other in [k for k, v in self._followups.items() if v is resp]:
                del self._followups[other]
            return resp
        if isinstance(last, ChatMessage) and last.role == "user":
            text = last.text_content or ""
            for rule in self._rules:
                if (rule.times is None or rule.times > 0) and rule.matches(text):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.response
        if self._queue:
            return self._queue.pop(0)
        if self._default is not None:
            return self._default
        user = next(
            (
                i.text_content
                for i in reversed(chat_ctx.items)
                if isinstance(i, ChatMessage) and i.role == "user"
            ),
            None,
        )
        raise RuntimeError(
            f"FakeLLM has no reply for call #{len(self.calls) + 1} (last user message: "
            f"{user!r}): script one with FakeLLM(responses=[...]), .add_response(...), "
            ".when(...) or default=..."
        )

    def _reply_for(
        self,
        chat_ctx: ChatContext,
        *,
        tools: list[Tool] | None = None,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> tuple[FakeResponse, list[FunctionToolCall]]:
        """Choose and record the reply to one call (also used by FakeRealtimeModel)."""
        if not isinstance(chat_ctx, ChatContext):
            raise TypeError(f"chat_ctx must be an llm.ChatContext, got {type(chat_ctx).__name__}")
        response = self._pick(chat_ctx)
        tool_calls = [
            FunctionToolCall(
                name=c.name,
                arguments=c.arguments_json(),
                call_id=c.call_id or shortuuid("call_"),
            )
            for c in response.tool_calls
        ]
        followup = _as_response(response.followup, "followup")
        if followup is not None:
            for call in tool_calls:
                self._followups[call.call_id] = followup
        self.calls.append(
            LLMCall(
                chat_ctx=chat_ctx.copy(),
                tools=list(tools or []),
                tool_choice=tool_choice,
                parallel_tool_calls=parallel_tool_calls,
                extra_kwargs=extra_kwargs,
                conn_options=conn_options,
                response=response,
            )
        )
        return response, tool_calls

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> FakeLLMStream:
        response, tool_calls = self._reply_for(
            chat_ctx,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            extra_kwargs=extra_kwargs,
            conn_options=conn_options,
        )
        return FakeLLMStream(
            self,
            chat_ctx=chat_ctx,
            tools=list(tools or []),
            conn_options=conn_options,
            response=response,
            tool_calls=tool_calls,
        )


def _count_words(chat_ctx: ChatContext) -> int:
    total = 0
    for item in chat_ctx.items:
        if isinstance(item, ChatMessage):
            total += len((item.text_content or "").split())
        elif isinstance(item, FunctionCallOutput):
            total += len(item.output.split())
        elif isinstance(item, FunctionCall):
            total += len(item.arguments.split()) + 1
    return total


class FakeLLMStream(LLMStream):
    """The stream of one :class:`FakeLLM` call."""

    def __init__(
        self,
        llm: FakeLLM,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool],
        conn_options: APIConnectOptions,
        response: FakeResponse,
        tool_calls: list[FunctionToolCall],
    ) -> None:
        self._fake = llm
        self._response = response
        self._tool_calls = tool_calls
        self._request_id = shortuuid("fake_llm_")
        super().__init__(llm, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)

    @property
    def response(self) -> FakeResponse:
        return self._response

    @property
    def tool_calls(self) -> list[FunctionToolCall]:
        """The tool calls this completion makes (ids included)."""
        return list(self._tool_calls)

    async def _run(self) -> None:
        fake = self._fake
        resp = self._response
        fault = fake.faults.start_attempt()
        ttft = resp.ttft if resp.ttft is not None else fake._ttft
        delay = resp.chunk_delay if resp.chunk_delay is not None else fake._chunk_delay

        deltas: list[ChoiceDelta] = [
            ChoiceDelta(role="assistant", content=piece) for piece in resp.text_chunks()
        ]
        deltas.extend(ChoiceDelta(role="assistant", tool_calls=[call]) for call in self._tool_calls)

        if ttft > 0:
            await asyncio.sleep(ttft)
        for sent, delta in enumerate(deltas):
            if fault is not None and sent >= fault.after:
                raise fault.error
            if resp.error is not None and sent >= resp.error_after:
                raise resp.error
            if sent > 0 and delay > 0:
                await asyncio.sleep(delay)
            self._event_ch.send_nowait(ChatChunk(id=self._request_id, delta=delta))
        if fault is not None:
            raise fault.error
        if resp.error is not None:
            raise resp.error

        prompt = _count_words(self._chat_ctx)
        completion = len(deltas)
        self._event_ch.send_nowait(
            ChatChunk(
                id=self._request_id,
                usage=CompletionUsage(
                    completion_tokens=completion,
                    prompt_tokens=prompt,
                    total_tokens=prompt + completion,
                ),
            )
        )
