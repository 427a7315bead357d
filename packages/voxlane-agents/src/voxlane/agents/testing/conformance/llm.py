"""Conformance suite for LLM implementations (see :mod:`voxlane.agents.testing.conformance`)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from ..._exceptions import APIError
from ...llm import LLM, ChatChunk, ChatContext, LLMError, Tool
from ...metrics import LLMMetrics
from ...types import APIConnectOptions
from ._common import (
    FAST_CONN_OPTIONS,
    ErrorInjector,
    TaskTracker,
    default_error_injector,
    fatal_error,
    retryable_error,
)

__all__ = ["LLMConformance", "ToolCallRequest"]

ToolCallRequest = tuple[ChatContext, list[Tool], str]
"""A chat context, the tools offered, and the name of the tool the model is expected to call."""


class LLMConformance:
    """Subclass as ``class TestMyLLM(LLMConformance)`` and provide the ``llm`` fixture (and
    ``inject_error`` unless the LLM is a voxlane fake). ``chat_ctx`` is the prompt used (a
    short user request); ``tool_call_request`` drives the tool-call test (set
    ``test_tool_call`` to None for models without tools)."""

    background_task_prefixes: tuple[str, ...] = ()

    @pytest.fixture
    def llm(self) -> LLM:
        raise NotImplementedError("define an `llm` fixture returning the LLM under test")

    @pytest.fixture
    def chat_ctx(self) -> ChatContext:
        ctx = ChatContext.empty()
        ctx.add_message(role="system", content="You are a helpful assistant. Answer briefly.")
        ctx.add_message(role="user", content="Say hello and count from one to five.")
        return ctx

    @pytest.fixture
    def tool_call_request(self) -> ToolCallRequest:
        raise NotImplementedError(
            "define a `tool_call_request` fixture returning (chat_ctx, tools, expected_tool_name),"
            " or set test_tool_call = None in your class"
        )

    @pytest.fixture
    def conn_options(self) -> APIConnectOptions:
        return FAST_CONN_OPTIONS

    @pytest.fixture
    def inject_error(self, llm: LLM) -> ErrorInjector:
        return default_error_injector(llm)

    async def test_chat_streams_text_and_reports_metrics(
        self, llm: LLM, chat_ctx: ChatContext, conn_options: APIConnectOptions
    ) -> None:
        metrics: list[LLMMetrics] = []
        llm.on("metrics_collected", metrics.append)
        tracker = TaskTracker(self.background_task_prefixes)
        chunks: list[ChatChunk] = []
        try:
            async with llm.chat(chat_ctx=chat_ctx, conn_options=conn_options) as stream:
                async for chunk in stream:
                    assert isinstance(chunk, ChatChunk)
                    chunks.append(chunk)
                await asyncio.sleep(0)
        finally:
            llm.off("metrics_collected", metrics.append)
        text = "".join(c.delta.content or "" for c in chunks if c.delta)
        assert text.strip(), "the model produced no text"
        assert all(c.id for c in chunks), "every chunk needs a request id"
        assert len(metrics) == 1, f"expected one LLMMetrics per completion, got {len(metrics)}"
        m = metrics[0]
        assert m.duration >= 0 and m.ttft >= 0
        assert m.completion_tokens >= 0 and m.prompt_tokens >= 0
        assert m.total_tokens >= m.completion_tokens
        assert not m.cancelled
        await tracker.assert_no_leftovers("a finished completion")

    async def test_collect_matches_the_stream(
        self, llm: LLM, chat_ctx: ChatContext, conn_options: APIConnectOptions
    ) -> None:
        response = await llm.chat(chat_ctx=chat_ctx, conn_options=conn_options).collect()
        assert response.text.strip() or response.tool_calls

    async def test_tool_call(
        self, llm: LLM, tool_call_request: ToolCallRequest, conn_options: APIConnectOptions
    ) -> None:
        ctx, tools, expected = tool_call_request
        response = await llm.chat(
            chat_ctx=ctx, tools=tools, tool_choice="required", conn_options=conn_options
        ).collect()
        names = [c.name for c in response.tool_calls]
        assert expected in names, f"expected a call to {expected!r}, got {names}"
        for call in response.tool_calls:
            assert call.call_id, "tool calls need a call_id"
            assert isinstance(call.arguments, str)

    async def test_aclose_mid_stream_leaves_no_task(
        self, llm: LLM, chat_ctx: ChatContext, conn_options: APIConnectOptions
    ) -> None:
        tracker = TaskTracker(self.background_task_prefixes)
        stream = llm.chat(chat_ctx=chat_ctx, conn_options=conn_options)
        await stream.__anext__()
        await stream.aclose()
        assert [c async for c in stream] == [], "a closed stream must end iteration"
        await tracker.assert_no_leftovers("aclose() of a completion")

    async def test_cancelled_consumer_then_aclose(
        self, llm: LLM, chat_ctx: ChatContext, conn_options: APIConnectOptions
    ) -> None:
        tracker = TaskTracker(self.background_task_prefixes)
        stream = llm.chat(chat_ctx=chat_ctx, conn_options=conn_options)

        async def consume() -> None:
            async for _ in stream:
                pass

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await stream.aclose()
        await tracker.assert_no_leftovers("a cancelled completion")

    async def test_retries_a_retryable_error(
        self,
        llm: LLM,
        chat_ctx: ChatContext,
        conn_options: APIConnectOptions,
        inject_error: ErrorInjector,
    ) -> None:
        errors: list[LLMError] = []
        llm.on("error", errors.append)
        try:
            inject_error(retryable_error(), 1)
            response = await llm.chat(chat_ctx=chat_ctx, conn_options=conn_options).collect()
        finally:
            llm.off("error", errors.append)
        assert response.text.strip() or response.tool_calls
        assert [e.recoverable for e in errors] == [True]

    async def test_gives_up_on_a_non_retryable_error(
        self,
        llm: LLM,
        chat_ctx: ChatContext,
        conn_options: APIConnectOptions,
        inject_error: ErrorInjector,
    ) -> None:
        errors: list[LLMError] = []
        llm.on("error", errors.append)
        try:
            inject_error(fatal_error(), conn_options.max_retry + 1)
            with pytest.raises(APIError) as info:
                await llm.chat(chat_ctx=chat_ctx, conn_options=conn_options).collect()
        finally:
            llm.off("error", errors.append)
        assert not info.value.retryable
        assert [e.recoverable for e in errors] == [False]
