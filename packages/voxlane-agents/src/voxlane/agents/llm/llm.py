"""The LLM interface: :class:`LLM` (the model) and :class:`LLMStream` (one streamed completion).

Plugin authors implement :meth:`LLM.chat` returning an :class:`LLMStream` subclass whose
``_run()`` sends :class:`ChatChunk` objects to ``self._event_ch``. The base class owns retries,
cancellation, metrics and error events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import Self

from ..metrics import LLMMetrics
from ..metrics.base import Metadata
from ..types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from ..utils import aio
from ..utils.events import EventEmitter
from ..utils.retry import Retrier
from .chat_context import ChatContext, ChatRole
from .tool_context import Tool, ToolChoice

logger = logging.getLogger("voxlane.agents.llm")


class CompletionUsage(BaseModel):
    """Token counts reported by the provider for one completion."""

    completion_tokens: int
    prompt_tokens: int
    prompt_cached_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    total_tokens: int
    service_tier: str | None = None


class FunctionToolCall(BaseModel):
    """A complete tool call produced by the model (``arguments`` is a JSON string)."""

    type: Literal["function"] = "function"
    name: str
    arguments: str
    call_id: str
    extra: dict[str, Any] | None = None


class ChoiceDelta(BaseModel):
    """The new text and/or tool calls carried by one chunk."""

    role: ChatRole | None = None
    content: str | None = None
    tool_calls: list[FunctionToolCall] = Field(default_factory=list)
    extra: dict[str, Any] | None = None


class ChatChunk(BaseModel):
    """One piece of a streamed completion: a delta and/or the final usage."""

    id: str
    delta: ChoiceDelta | None = None
    usage: CompletionUsage | None = None


@dataclass
class CollectedResponse:
    """A whole completion gathered by :meth:`LLMStream.collect`."""

    text: str = ""
    tool_calls: list[FunctionToolCall] = field(default_factory=list)
    usage: CompletionUsage | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class LLMError(BaseModel):
    """Payload of the ``"error"`` event of an :class:`LLM`.

    ``recoverable`` is True when the base class is going to retry.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    type: Literal["llm_error"] = "llm_error"
    timestamp: float
    label: str
    error: Exception = Field(..., exclude=True)
    recoverable: bool


class LLM(ABC, EventEmitter[str]):
    """Base class of every language model.

    Events: ``"metrics_collected"`` (:class:`~voxlane.agents.metrics.LLMMetrics`) and
    ``"error"`` (:class:`LLMError`).
    """

    def __init__(self) -> None:
        super().__init__()
        self._label = f"{type(self).__module__}.{type(self).__name__}"

    @property
    def label(self) -> str:
        """A human-readable identifier (module and class name by default)."""
        return self._label

    @property
    def model(self) -> str:
        """The model name; plugins override this."""
        return "unknown"

    @property
    def provider(self) -> str:
        """The provider name; plugins override this."""
        return "unknown"

    @abstractmethod
    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> LLMStream:
        """Start a streamed completion for ``chat_ctx``."""

    def prewarm(self) -> None:
        """Warm up connections or load weights ahead of the first request (optional)."""

    async def aclose(self) -> None:
        """Release the model's resources."""

    def _emit_error(self, error: Exception, *, recoverable: bool) -> None:
        self.emit(
            "error",
            LLMError(timestamp=time.time(), label=self.label, error=error, recoverable=recoverable),
        )

    def _metadata(self) -> Metadata:
        return Metadata(model_name=self.model, model_provider=self.provider)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _ChunkChan(aio.Chan[ChatChunk]):
    """The channel from the plugin to the consumer; measures the chunks as they are sent.

    Measuring here rather than in a forwarding task keeps the first token one event-loop hop
    closer to the TTS.
    """

    def __init__(self, started_at: float) -> None:
        super().__init__()
        self.sent_any = False
        self.started_at = started_at
        self.ttft = -1.0
        self.request_id = ""
        self.usage: CompletionUsage | None = None

    def send_nowait(self, item: ChatChunk) -> None:
        if not isinstance(item, ChatChunk):
            raise TypeError(
                f"LLMStream._event_ch accepts llm.ChatChunk objects, got {type(item).__name__}"
            )
        super().send_nowait(item)
        self.sent_any = True
        if not self.request_id and item.id:
            self.request_id = item.id
        delta = item.delta
        if self.ttft < 0 and delta is not None and (delta.content or delta.tool_calls):
            self.ttft = time.perf_counter() - self.started_at
        if item.usage is not None:
            self.usage = item.usage


class LLMStream(ABC):
    """One streamed completion: an async iterator of :class:`ChatChunk` objects.

    Also an async context manager; :meth:`aclose` cancels the request. A failed attempt is
    retried (``conn_options``) only while no chunk has been emitted; once output went out, the
    error is raised instead, so nothing is duplicated.
    """

    def __init__(
        self,
        llm: LLM,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        if not isinstance(chat_ctx, ChatContext):
            raise TypeError(
                f"{type(self).__name__} needs chat_ctx=llm.ChatContext, got "
                f"{type(chat_ctx).__name__}; build one with ChatContext.empty().add_message(...)"
            )
        tool_list = list(tools) if tools is not None else []
        for index, tool in enumerate(tool_list):
            if not isinstance(tool, Tool):
                raise TypeError(
                    f"tools[{index}] ({type(tool).__name__}) is not a tool: pass functions "
                    "decorated with @function_tool, function_tool(raw_schema=...) tools, "
                    "ProviderTool or Toolset objects"
                )
        self._llm = llm
        self._chat_ctx = chat_ctx
        self._tools = tool_list
        self._conn_options = conn_options
        self._event_ch: _ChunkChan = _ChunkChan(started_at=time.perf_counter())
        self._retrier = Retrier(
            label=llm.label,
            conn_options=conn_options,
            emit_error=llm._emit_error,
            logger=logger,
            failure="failed to generate a completion",
        )
        self._closed = False

        self._task = asyncio.create_task(self._main_task(), name=f"{type(self).__name__}._main")
        self._task.add_done_callback(self._on_main_done)

    @property
    def chat_ctx(self) -> ChatContext:
        return self._chat_ctx

    @property
    def tools(self) -> list[Tool]:
        return list(self._tools)

    @property
    def conn_options(self) -> APIConnectOptions:
        return self._conn_options

    @abstractmethod
    async def _run(self) -> None:
        """Call the provider and send :class:`ChatChunk` objects to ``self._event_ch``."""

    # -- internals --------------------------------------------------------------------------

    def _on_main_done(self, task: asyncio.Task[None]) -> None:
        self._event_ch.close()
        if not task.cancelled():
            task.exception()  # retrieved here; re-raised to the consumer by __anext__
        self._emit_metrics()

    async def _main_task(self) -> None:
        await self._retrier.run(self._run, output_sent=lambda: self._event_ch.sent_any)

    def _emit_metrics(self) -> None:
        ch = self._event_ch
        usage = ch.usage
        duration = time.perf_counter() - ch.started_at
        completion = usage.completion_tokens if usage else 0
        self._llm.emit(
            "metrics_collected",
            LLMMetrics(
                label=self._llm.label,
                request_id=ch.request_id,
                timestamp=time.time(),
                duration=duration,
                ttft=ch.ttft,
                cancelled=self._closed and not self._task_succeeded(),
                completion_tokens=completion,
                prompt_tokens=usage.prompt_tokens if usage else 0,
                prompt_cached_tokens=usage.prompt_cached_tokens if usage else 0,
                total_tokens=usage.total_tokens if usage else 0,
                tokens_per_second=completion / duration if duration > 0 else 0.0,
                metadata=self._llm._metadata(),
            ),
        )

    def _task_succeeded(self) -> bool:
        t = self._task
        return t.done() and not t.cancelled() and t.exception() is None

    # -- public API -------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Cancel the request and wait until the stream's tasks have finished."""
        self._closed = True
        await aio.cancel_and_wait(self._task)
        self._event_ch.close()
        while not self._event_ch.empty():
            self._event_ch.recv_nowait()

    async def collect(self) -> CollectedResponse:
        """Consume the stream and gather its text, tool calls and usage."""
        text: list[str] = []
        response = CollectedResponse()
        async for chunk in self:
            if chunk.delta is not None:
                if chunk.delta.content:
                    text.append(chunk.delta.content)
                response.tool_calls.extend(chunk.delta.tool_calls)
                if chunk.delta.extra:
                    response.extra.update(chunk.delta.extra)
            if chunk.usage is not None:
                response.usage = chunk.usage
        response.text = "".join(text)
        return response

    def to_str_iterable(self) -> AsyncIterable[str]:
        """The text deltas only, as an async iterable of strings."""

        async def _texts() -> AsyncIterator[str]:
            async for chunk in self:
                if chunk.delta is not None and chunk.delta.content:
                    yield chunk.delta.content

        return _texts()

    async def __anext__(self) -> ChatChunk:
        try:
            return await self._event_ch.recv()
        except aio.ChanClosed:
            if (
                self._task.done()
                and not self._task.cancelled()
                and (exc := self._task.exception()) is not None
            ):
                raise exc from exc.__cause__
            raise StopAsyncIteration from None

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


__all__ = [
    "LLM",
    "ChatChunk",
    "ChoiceDelta",
    "CollectedResponse",
    "CompletionUsage",
    "FunctionToolCall",
    "LLMError",
    "LLMStream",
    "ToolChoice",
]
