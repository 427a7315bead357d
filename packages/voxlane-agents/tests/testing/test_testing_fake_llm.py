"""FakeLLM: scripted replies by turn or by user message, tool calls, timing, errors, recording."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from voxlane.agents import APIConnectionError, APIConnectOptions, APIError, APIStatusError
from voxlane.agents.llm import (
    ChatChunk,
    ChatContext,
    FunctionCall,
    FunctionCallOutput,
    LLMError,
    function_tool,
)
from voxlane.agents.metrics import LLMMetrics
from voxlane.agents.testing import now
from voxlane.agents.testing.fakes import FakeLLM, FakeResponse, FakeToolCall

pytestmark = pytest.mark.virtual_clock

FAST_RETRY = APIConnectOptions(max_retry=2, retry_interval=0.5, timeout=5.0)


def _ctx(*user_messages: str) -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="You are a test.")
    for text in user_messages:
        ctx.add_message(role="user", content=text)
    return ctx


def _answer_tools(ctx: ChatContext, calls: list[tuple[str, str]], output: str = "done") -> None:
    for name, call_id in calls:
        ctx.insert(FunctionCall(call_id=call_id, name=name, arguments="{}"))
        ctx.insert(FunctionCallOutput(call_id=call_id, name=name, output=output, is_error=False))


@function_tool
async def get_weather(city: str) -> str:
    """Look up the weather.

    Args:
        city: the city name
    """
    return f"sunny in {city}"


async def test_replies_by_turn_stream_text_in_chunks() -> None:
    llm = FakeLLM(["Hello there, how can I help?", "Goodbye."])
    stream = llm.chat(chat_ctx=_ctx("hi"))
    chunks: list[ChatChunk] = [c async for c in stream]
    texts = [c.delta.content for c in chunks if c.delta and c.delta.content]
    assert texts == ["Hello ", "there, ", "how ", "can ", "I ", "help?"]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    assert chunks[-1].usage.prompt_tokens == 5  # "You are a test." + "hi" (words)
    second = await llm.chat(chat_ctx=_ctx("bye")).collect()
    assert second.text == "Goodbye."
    assert llm.pending_responses == 0


async def test_no_reply_left_is_a_clear_error() -> None:
    llm = FakeLLM(["only one"])
    await llm.chat(chat_ctx=_ctx("a")).collect()
    with pytest.raises(RuntimeError, match=r"no reply for call #2 \(last user message: 'b'\)"):
        llm.chat(chat_ctx=_ctx("b"))


async def test_default_reply_is_used_when_the_script_is_exhausted() -> None:
    llm = FakeLLM(default="I don't know.")
    assert (await llm.chat(chat_ctx=_ctx("x")).collect()).text == "I don't know."
    assert (await llm.chat(chat_ctx=_ctx("y")).collect()).text == "I don't know."


async def test_rules_match_the_last_user_message() -> None:
    llm = (
        FakeLLM(default="fallback")
        .when("weather", "It is sunny.")
        .when(re.compile(r"^\d+ \+ \d+$"), "A sum.", times=1)
        .when(lambda text: text.endswith("?"), "A question.")
    )
    replies = []
    for message in ("What's the WEATHER like", "2 + 2", "2 + 2", "why?", "ok"):
        replies.append((await llm.chat(chat_ctx=_ctx(message)).collect()).text)
    assert replies == ["It is sunny.", "A sum.", "fallback", "A question.", "fallback"]
    with pytest.raises(TypeError, match="match must be"):
        llm.when(42, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        llm.when("x", "y", times=0)


async def test_tool_calls_single_and_parallel_with_followup() -> None:
    llm = FakeLLM(default="unused")
    llm.when(
        "weather",
        FakeResponse(
            text="Let me check.",
            tool_calls=[
                FakeToolCall("get_weather", {"city": "Paris"}, call_id="c1"),
                FakeToolCall("get_weather", {"city": "Oslo"}, call_id="c2"),
            ],
            followup="Sunny in Paris, snowy in Oslo.",
        ),
    )
    ctx = _ctx("weather in Paris and Oslo?")
    first = await llm.chat(chat_ctx=ctx, tools=[get_weather], parallel_tool_calls=True).collect()
    assert first.text == "Let me check."
    assert [(c.name, json.loads(c.arguments), c.call_id) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"}, "c1"),
        ("get_weather", {"city": "Oslo"}, "c2"),
    ]
    _answer_tools(ctx, [("get_weather", "c1"), ("get_weather", "c2")])
    second = await llm.chat(chat_ctx=ctx, tools=[get_weather]).collect()
    assert second.text == "Sunny in Paris, snowy in Oslo."
    assert second.tool_calls == []
    # the recorded calls show what the model was given each time
    assert llm.calls[0].tool_names == ["get_weather"]
    assert llm.calls[0].parallel_tool_calls is True
    assert llm.calls[0].last_user_message == "weather in Paris and Oslo?"
    assert [type(i).__name__ for i in llm.calls[1].chat_ctx.items][-2:] == [
        "FunctionCall",
        "FunctionCallOutput",
    ]


async def test_raw_and_generated_call_ids_and_invalid_arguments() -> None:
    llm = FakeLLM([FakeResponse(tool_calls=[FakeToolCall("lookup", "{not json")])])
    result = await llm.chat(chat_ctx=_ctx("go")).collect()
    (call,) = result.tool_calls
    assert call.arguments == "{not json"
    assert call.call_id.startswith("call_")


async def test_recorded_context_is_a_snapshot() -> None:
    llm = FakeLLM(default="ok")
    ctx = _ctx("first")
    await llm.chat(chat_ctx=ctx, tool_choice="required").collect()
    ctx.add_message(role="user", content="later")
    recorded = llm.calls[0].chat_ctx.messages()
    assert [m.text_content for m in recorded] == ["You are a test.", "first"]
    assert llm.calls[0].tool_choice == "required"


async def test_ttft_and_chunk_delay_use_loop_time_and_metrics() -> None:
    llm = FakeLLM(["one two three"], ttft=0.4, chunk_delay=0.1)
    metrics: list[LLMMetrics] = []
    llm.on("metrics_collected", metrics.append)
    arrivals: list[float] = []
    async for chunk in llm.chat(chat_ctx=_ctx("go")):
        if chunk.delta and chunk.delta.content:
            arrivals.append(now())
    assert arrivals == pytest.approx([0.4, 0.5, 0.6])
    await asyncio.sleep(0)
    assert len(metrics) == 1
    assert metrics[0].completion_tokens == 3
    assert metrics[0].ttft >= 0
    assert not metrics[0].cancelled


async def test_per_reply_timing_overrides() -> None:
    llm = FakeLLM([FakeResponse(text="a b", ttft=2.0, chunk_delay=1.0)], ttft=0.1)
    await llm.chat(chat_ctx=_ctx("go")).collect()
    assert now() == pytest.approx(3.0)


async def test_retryable_error_then_success() -> None:
    llm = FakeLLM(["recovered"])
    llm.faults.fail_on_attempt(1, APIStatusError("overloaded", status_code=503))
    errors: list[LLMError] = []
    llm.on("error", errors.append)
    result = await llm.chat(chat_ctx=_ctx("go"), conn_options=FAST_RETRY).collect()
    assert result.text == "recovered"
    assert [e.recoverable for e in errors] == [True]
    assert llm.faults.attempts == 2
    assert len(llm.calls) == 1


async def test_retries_exhausted() -> None:
    llm = FakeLLM(["never"])
    llm.fail_next(times=10)
    with pytest.raises(APIConnectionError, match="after 3 attempts"):
        await llm.chat(chat_ctx=_ctx("go"), conn_options=FAST_RETRY).collect()
    assert llm.faults.attempts == 3


async def test_non_retryable_error_is_not_retried() -> None:
    llm = FakeLLM([FakeResponse(error=APIStatusError("bad request", status_code=400))])
    with pytest.raises(APIStatusError, match="bad request"):
        await llm.chat(chat_ctx=_ctx("go"), conn_options=FAST_RETRY).collect()
    assert llm.faults.attempts == 1


async def test_error_after_streamed_text_is_not_retried() -> None:
    llm = FakeLLM(
        [FakeResponse(text="one two three", error=APIError("connection reset"), error_after=2)]
    )
    texts: list[str] = []
    with pytest.raises(APIError, match="connection reset"):
        async for chunk in llm.chat(chat_ctx=_ctx("go"), conn_options=FAST_RETRY):
            if chunk.delta and chunk.delta.content:
                texts.append(chunk.delta.content)
    assert texts == ["one ", "two "]
    assert llm.faults.attempts == 1


async def test_aclose_mid_stream() -> None:
    llm = FakeLLM(["a b c d e f"], chunk_delay=10)
    metrics: list[LLMMetrics] = []
    llm.on("metrics_collected", metrics.append)
    stream = llm.chat(chat_ctx=_ctx("go"))
    first = await stream.__anext__()
    assert first.delta is not None and first.delta.content == "a "
    await stream.aclose()
    assert now() == 0.0
    assert [c async for c in stream] == []
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert leftovers == []
    assert metrics[0].cancelled


def test_bad_scripts_are_explained() -> None:
    with pytest.raises(TypeError, match=r"responses\[0\]"):
        FakeLLM([42])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="ttft"):
        FakeLLM(ttft=-1)
    with pytest.raises(ValueError, match="chunk_delay"):
        FakeResponse(text="x", chunk_delay=-2)
    with pytest.raises(TypeError, match=r"tool_calls\[0\]"):
        FakeResponse(tool_calls=["get_weather"])  # type: ignore[list-item]
