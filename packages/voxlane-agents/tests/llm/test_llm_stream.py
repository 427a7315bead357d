from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llm_scripted_helpers import FAST, Attempt, ScriptedLLM, retryable

from voxlane.agents._exceptions import APIConnectionError, APIError, APIStatusError
from voxlane.agents.llm import LLM, ChatChunk, ChatContext, FunctionToolCall, LLMError, LLMStream
from voxlane.agents.metrics import LLMMetrics
from voxlane.agents.types import APIConnectOptions


def _record(llm: ScriptedLLM) -> tuple[list[LLMMetrics], list[LLMError]]:
    metrics: list[LLMMetrics] = []
    errors: list[LLMError] = []
    llm.on("metrics_collected", metrics.append)
    llm.on("error", errors.append)
    return metrics, errors


def _own_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_stream_collect_text_tools_usage_and_metrics() -> None:
    call = FunctionToolCall(name="f", arguments="{}", call_id="c1")
    llm = ScriptedLLM([Attempt(texts=["Hel", "lo"], tool_calls=[call])])
    metrics, errors = _record(llm)
    async with llm.chat(chat_ctx=ChatContext.empty(), conn_options=FAST) as stream:
        resp = await stream.collect()
    assert resp.text == "Hello"
    assert resp.tool_calls == [call]
    assert resp.usage is not None and resp.usage.prompt_tokens == 7
    assert errors == []
    assert len(metrics) == 1
    m = metrics[0]
    assert m.request_id == "req_1" and not m.cancelled
    assert m.completion_tokens == 2 and m.prompt_tokens == 7 and m.total_tokens == 9
    assert m.ttft >= 0 and m.duration >= m.ttft
    assert m.metadata is not None and m.metadata.model_name == "scripted"
    assert m.metadata.model_provider == "test"


async def test_iteration_and_to_str_iterable() -> None:
    llm = ScriptedLLM([Attempt(texts=["a", "b", "c"])])
    stream = llm.chat(chat_ctx=ChatContext.empty())
    chunks = [c async for c in stream]
    assert [c.delta.content for c in chunks if c.delta] == ["a", "b", "c"]
    assert chunks[-1].usage is not None
    await stream.aclose()

    stream2 = llm.chat(chat_ctx=ChatContext.empty())
    assert [t async for t in stream2.to_str_iterable()] == ["a", "b", "c"]
    await stream2.aclose()


async def test_retry_then_succeed() -> None:
    llm = ScriptedLLM([Attempt(error=retryable()), Attempt(texts=["ok"])])
    metrics, errors = _record(llm)
    async with llm.chat(chat_ctx=ChatContext.empty(), conn_options=FAST) as stream:
        resp = await stream.collect()
    assert resp.text == "ok"
    assert llm.runs == 2
    assert [e.recoverable for e in errors] == [True]
    assert len(metrics) == 1


async def test_retry_exhausted() -> None:
    llm = ScriptedLLM([Attempt(error=retryable("down"))])
    _, errors = _record(llm)
    stream = llm.chat(chat_ctx=ChatContext.empty(), conn_options=FAST)
    with pytest.raises(APIConnectionError, match="after 3 attempts") as ei:
        await stream.collect()
    assert isinstance(ei.value.__cause__, APIError)
    assert llm.runs == 3
    assert [e.recoverable for e in errors] == [True, True, False]
    await stream.aclose()


async def test_non_retryable_status_is_not_retried() -> None:
    llm = ScriptedLLM([Attempt(error=APIStatusError("bad request", status_code=400))])
    _, errors = _record(llm)
    stream = llm.chat(chat_ctx=ChatContext.empty(), conn_options=FAST)
    with pytest.raises(APIStatusError, match="bad request"):
        await stream.collect()
    assert llm.runs == 1
    assert [e.recoverable for e in errors] == [False]
    await stream.aclose()


async def test_rate_limit_status_is_retried() -> None:
    llm = ScriptedLLM(
        [Attempt(error=APIStatusError("slow down", status_code=429)), Attempt(texts=["x"])]
    )
    async with llm.chat(chat_ctx=ChatContext.empty(), conn_options=FAST) as stream:
        assert (await stream.collect()).text == "x"
    assert llm.runs == 2


async def test_status_499_ends_quietly() -> None:
    llm = ScriptedLLM([Attempt(texts=["partial"], error=APIStatusError("gone", status_code=499))])
    _, errors = _record(llm)
    async with llm.chat(chat_ctx=ChatContext.empty(), conn_options=FAST) as stream:
        assert (await stream.collect()).text == "partial"
    assert errors == []


async def test_no_retry_after_chunk_sent() -> None:
    llm = ScriptedLLM(
        [Attempt(texts=["half an ans"], error=retryable("dropped")), Attempt(texts=["again"])]
    )
    _, errors = _record(llm)
    stream = llm.chat(chat_ctx=ChatContext.empty(), conn_options=FAST)
    received: list[str] = []
    with pytest.raises(APIError, match="dropped"):
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                received.append(chunk.delta.content)
    assert received == ["half an ans"]
    assert llm.runs == 1
    assert [e.recoverable for e in errors] == [False]
    await stream.aclose()


async def test_max_retry_zero_raises_first_error() -> None:
    llm = ScriptedLLM([Attempt(error=retryable("nope"))])
    stream = llm.chat(chat_ctx=ChatContext.empty(), conn_options=APIConnectOptions(max_retry=0))
    with pytest.raises(APIError, match="nope"):
        await stream.collect()
    assert llm.runs == 1
    await stream.aclose()


async def test_unexpected_exception_is_not_retried() -> None:
    llm = ScriptedLLM([Attempt(error=KeyError("bug"))])
    _, errors = _record(llm)
    stream = llm.chat(chat_ctx=ChatContext.empty(), conn_options=FAST)
    with pytest.raises(KeyError):
        await stream.collect()
    assert llm.runs == 1 and [e.recoverable for e in errors] == [False]
    await stream.aclose()


async def test_cancel_mid_stream_leaves_no_task() -> None:
    before = _own_tasks()
    llm = ScriptedLLM([Attempt(texts=["one"], hang=True)])
    metrics, _ = _record(llm)
    stream = llm.chat(chat_ctx=ChatContext.empty(), conn_options=FAST)
    first = await stream.__anext__()
    assert first.delta is not None and first.delta.content == "one"
    await llm.hanging.wait()
    await stream.aclose()
    assert _own_tasks() == before
    assert len(metrics) == 1 and metrics[0].cancelled
    # iterating a closed stream ends at once
    assert [c async for c in stream] == []


async def test_consumer_cancelled_while_waiting() -> None:
    before = _own_tasks()
    llm = ScriptedLLM([Attempt(hang=True)])
    stream = llm.chat(chat_ctx=ChatContext.empty(), conn_options=FAST)

    async def consume() -> list[ChatChunk]:
        return [c async for c in stream]

    task = asyncio.create_task(consume())
    await llm.hanging.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stream.aclose()
    assert _own_tasks() == before


async def test_aclose_without_consuming_and_llm_context_manager() -> None:
    before = _own_tasks()
    async with ScriptedLLM([Attempt(texts=["x"])]) as llm:
        stream = llm.chat(chat_ctx=ChatContext.empty())
        await stream.aclose()
    assert _own_tasks() == before
    assert llm.label == "scripted-scripted"


def test_default_label_model_provider() -> None:
    class Minimal(LLM):
        def chat(self, **kwargs: Any) -> LLMStream:
            raise NotImplementedError

    m = Minimal()
    assert m.label.endswith(".Minimal")
    assert m.model == "unknown" and m.provider == "unknown"


async def test_wrong_chunk_type_is_a_clear_error() -> None:
    llm = ScriptedLLM([Attempt()])
    stream = llm.chat(chat_ctx=ChatContext.empty())
    with pytest.raises(TypeError, match=r"accepts llm\.ChatChunk"):
        stream._event_ch.send_nowait("text")  # type: ignore[arg-type]
    await stream.aclose()


async def test_bad_chat_ctx_or_tools_are_clear_errors_before_any_task_starts() -> None:
    from voxlane.agents.llm import function_tool

    @function_tool
    async def ping() -> str:
        """Ping."""
        return "pong"

    before = _own_tasks()
    llm = ScriptedLLM([Attempt(texts=["ok"])])
    with pytest.raises(TypeError, match=r"needs chat_ctx=llm\.ChatContext, got str"):
        llm.chat(chat_ctx="hello")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"tools\[1\] \(dict\) is not a tool.*@function_tool"):
        llm.chat(chat_ctx=ChatContext.empty(), tools=[ping, {"name": "x"}])  # type: ignore[list-item]
    assert _own_tasks() == before
    assert llm.runs == 0
    # valid tools still work
    stream = llm.chat(chat_ctx=ChatContext.empty(), tools=[ping])
    assert stream.tools == [ping]
    assert (await stream.collect()).text == "ok"
