from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llm_scripted_helpers import Attempt, ScriptedLLM, retryable

from voxlane.agents._exceptions import APIConnectionError, APIError
from voxlane.agents.llm import ChatContext
from voxlane.agents.llm.fallback_adapter import AvailabilityChangedEvent, FallbackAdapter


def _events(adapter: FallbackAdapter) -> list[AvailabilityChangedEvent]:
    evs: list[AvailabilityChangedEvent] = []
    adapter.on("llm_availability_changed", evs.append)
    return evs


def _own_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def _wait_until(cond: Any) -> None:
    for _ in range(1000):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_uses_first_llm_when_healthy() -> None:
    a = ScriptedLLM([Attempt(texts=["from a"])], name="a")
    b = ScriptedLLM([Attempt(texts=["from b"])], name="b")
    adapter = FallbackAdapter([a, b])
    async with adapter.chat(chat_ctx=ChatContext.empty()) as stream:
        assert (await stream.collect()).text == "from a"
    assert b.runs == 0
    assert adapter.model == "a" and adapter.provider == "test"
    # members get the adapter's per-attempt options
    opts = a.chat_kwargs[0]["conn_options"]
    assert opts.max_retry == 0 and opts.timeout == 5.0 and opts.retry_interval == 0.5
    await adapter.aclose()


async def test_switch_on_error_then_background_recovery() -> None:
    a = ScriptedLLM([Attempt(error=retryable("a down")), Attempt(texts=["a is back"])], name="a")
    b = ScriptedLLM([Attempt(texts=["from b"])], name="b")
    adapter = FallbackAdapter([a, b])
    evs = _events(adapter)
    metrics: list[Any] = []
    adapter.on("metrics_collected", metrics.append)

    async with adapter.chat(chat_ctx=ChatContext.empty()) as stream:
        assert (await stream.collect()).text == "from b"
    assert [(e.llm, e.available) for e in evs[:1]] == [(a, False)]
    assert len(metrics) == 1

    # the recovery re-issued the request on `a` in the background and it succeeded
    await _wait_until(lambda: len(evs) == 2)
    assert (evs[1].llm, evs[1].available) == (a, True)
    assert adapter.is_available(a)
    assert a.runs == 2

    async with adapter.chat(chat_ctx=ChatContext.empty()) as stream:
        assert (await stream.collect()).text == "a is back"
    await adapter.aclose()


async def test_unavailable_member_is_skipped_while_recovery_fails() -> None:
    a = ScriptedLLM([Attempt(error=retryable("a down"))], name="a")
    b = ScriptedLLM([Attempt(texts=["b"])], name="b")
    adapter = FallbackAdapter([a, b])
    evs = _events(adapter)
    for _ in range(3):
        async with adapter.chat(chat_ctx=ChatContext.empty()) as stream:
            assert (await stream.collect()).text == "b"
        await _wait_until(
            lambda: all(
                s.recovering_task is None or s.recovering_task.done() for s in adapter._status
            )
        )
    assert [(e.llm.model, e.available) for e in evs] == [("a", False)]
    assert not adapter.is_available(a)
    # the failed request, the recovery started right after it, then one recovery per later
    # request that skipped `a` (recoveries never produce the caller's output)
    assert a.runs == 4
    await adapter.aclose()


async def test_timeout_fails_over() -> None:
    a = ScriptedLLM([Attempt(hang=True), Attempt(texts=["late"])], name="a")
    b = ScriptedLLM([Attempt(texts=["b answered"])], name="b")
    adapter = FallbackAdapter([a, b], attempt_timeout=0.05)
    evs = _events(adapter)
    async with adapter.chat(chat_ctx=ChatContext.empty()) as stream:
        assert (await stream.collect()).text == "b answered"
    assert (evs[0].llm, evs[0].available) == (a, False)
    await adapter.aclose()


async def test_no_failover_after_chunk_sent() -> None:
    a = ScriptedLLM([Attempt(texts=["partial"], error=retryable("cut"))], name="a")
    b = ScriptedLLM([Attempt(texts=["b"])], name="b")
    adapter = FallbackAdapter([a, b])
    errors: list[Any] = []
    adapter.on("error", errors.append)
    stream = adapter.chat(chat_ctx=ChatContext.empty())
    got: list[str] = []
    with pytest.raises(APIError, match="cut"):
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                got.append(chunk.delta.content)
    assert got == ["partial"]
    assert b.runs == 0
    assert [e.recoverable for e in errors] == [False]
    await stream.aclose()
    await adapter.aclose()


async def test_retry_on_chunk_sent_allows_failover() -> None:
    a = ScriptedLLM([Attempt(texts=["partial"], error=retryable("cut"))], name="a")
    b = ScriptedLLM([Attempt(texts=[" and b"])], name="b")
    adapter = FallbackAdapter([a, b], retry_on_chunk_sent=True)
    async with adapter.chat(chat_ctx=ChatContext.empty()) as stream:
        assert (await stream.collect()).text == "partial and b"
    await adapter.aclose()


async def test_all_failed() -> None:
    a = ScriptedLLM([Attempt(error=retryable("a down"))], name="a")
    b = ScriptedLLM([Attempt(error=retryable("b down"))], name="b")
    adapter = FallbackAdapter([a, b])
    evs = _events(adapter)
    stream = adapter.chat(chat_ctx=ChatContext.empty())
    with pytest.raises(APIConnectionError, match="all LLMs of the FallbackAdapter failed") as ei:
        await stream.collect()
    assert "a down" in str(ei.value) and "b down" in str(ei.value)
    assert {(e.llm.model, e.available) for e in evs} == {("a", False), ("b", False)}
    await stream.aclose()
    # when none is available, all are tried again
    stream2 = adapter.chat(chat_ctx=ChatContext.empty())
    with pytest.raises(APIConnectionError):
        await stream2.collect()
    await stream2.aclose()
    await adapter.aclose()


async def test_max_retry_per_llm() -> None:
    a = ScriptedLLM([Attempt(error=retryable()), Attempt(texts=["a after retry"])], name="a")
    b = ScriptedLLM([Attempt(texts=["b"])], name="b")
    adapter = FallbackAdapter([a, b], max_retry_per_llm=1, retry_interval=0.0)
    async with adapter.chat(chat_ctx=ChatContext.empty()) as stream:
        assert (await stream.collect()).text == "a after retry"
    assert b.runs == 0
    await adapter.aclose()


async def test_aclose_mid_stream_and_adapter_leave_no_task() -> None:
    before = _own_tasks()
    a = ScriptedLLM([Attempt(texts=["x"], hang=True)], name="a")
    adapter = FallbackAdapter([a], attempt_timeout=60.0)
    stream = adapter.chat(chat_ctx=ChatContext.empty())
    await stream.__anext__()
    await a.hanging.wait()
    await stream.aclose()
    await adapter.aclose()
    assert _own_tasks() == before


async def test_aclose_cancels_recovery() -> None:
    before = _own_tasks()
    a = ScriptedLLM([Attempt(error=retryable()), Attempt(hang=True)], name="a")
    b = ScriptedLLM([Attempt(texts=["b"])], name="b")
    adapter = FallbackAdapter([a, b], attempt_timeout=60.0)
    async with adapter.chat(chat_ctx=ChatContext.empty()) as stream:
        await stream.collect()
    await a.hanging.wait()  # the recovery request is in flight
    await adapter.aclose()
    assert _own_tasks() == before


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one LLM"):
        FallbackAdapter([])
    with pytest.raises(TypeError, match=r"not an llm\.LLM"):
        FallbackAdapter([object()])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="attempt_timeout"):
        FallbackAdapter([ScriptedLLM([Attempt()])], attempt_timeout=0)
