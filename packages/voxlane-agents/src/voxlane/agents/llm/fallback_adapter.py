"""An LLM that fails over between several LLMs and recovers failed ones in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from .._exceptions import APIConnectionError, APIError
from ..types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from ..utils import aio
from .chat_context import ChatContext
from .llm import LLM, ChatChunk, LLMStream
from .tool_context import Tool, ToolChoice

logger = logging.getLogger("voxlane.agents.llm")


class AvailabilityChangedEvent(BaseModel):
    """Payload of ``"llm_availability_changed"``: ``llm`` became (un)available."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: LLM
    available: bool


@dataclass
class _MemberStatus:
    available: bool = True
    recovering_task: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class _Request:
    chat_ctx: ChatContext
    tools: list[Tool]
    parallel_tool_calls: NotGivenOr[bool]
    tool_choice: NotGivenOr[ToolChoice]
    extra_kwargs: NotGivenOr[dict[str, Any]]


class FallbackAdapter(LLM):
    """Try each LLM in order; an LLM that fails or times out is skipped until it recovers.

    Events: ``"llm_availability_changed"`` (:class:`AvailabilityChangedEvent`), plus the usual
    ``"metrics_collected"`` and ``"error"``. Once text or tool calls were streamed from one LLM,
    a failure is raised instead of failing over (no duplicated output), unless
    ``retry_on_chunk_sent=True``.
    """

    def __init__(
        self,
        llm: list[LLM],
        *,
        attempt_timeout: float = 5.0,
        max_retry_per_llm: int = 0,
        retry_interval: float = 0.5,
        retry_on_chunk_sent: bool = False,
    ) -> None:
        super().__init__()
        if not llm:
            raise ValueError("FallbackAdapter needs at least one LLM")
        for i, member in enumerate(llm):
            if not isinstance(member, LLM):
                raise TypeError(
                    f"FallbackAdapter: item {i} is a {type(member).__name__}, not an llm.LLM"
                )
        if attempt_timeout <= 0:
            raise ValueError(f"attempt_timeout must be > 0 seconds, got {attempt_timeout}")
        if max_retry_per_llm < 0:
            raise ValueError(f"max_retry_per_llm must be >= 0, got {max_retry_per_llm}")
        self._llms = list(llm)
        self._status = [_MemberStatus() for _ in self._llms]
        self._attempt_timeout = attempt_timeout
        self._max_retry_per_llm = max_retry_per_llm
        self._retry_interval = retry_interval
        self._retry_on_chunk_sent = retry_on_chunk_sent
        self._label = f"FallbackAdapter[{', '.join(m.label for m in self._llms)}]"

    @property
    def llms(self) -> list[LLM]:
        return list(self._llms)

    @property
    def model(self) -> str:
        return self._active().model

    @property
    def provider(self) -> str:
        return self._active().provider

    def _active(self) -> LLM:
        for member, status in zip(self._llms, self._status, strict=True):
            if status.available:
                return member
        return self._llms[0]

    def is_available(self, llm: LLM) -> bool:
        """Whether ``llm`` (a member) is currently considered available."""
        return self._status[self._llms.index(llm)].available

    @property
    def _member_conn_options(self) -> APIConnectOptions:
        return APIConnectOptions(
            max_retry=self._max_retry_per_llm,
            retry_interval=self._retry_interval,
            timeout=self._attempt_timeout,
        )

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> FallbackLLMStream:
        request = _Request(
            chat_ctx=chat_ctx,
            tools=list(tools or []),
            parallel_tool_calls=parallel_tool_calls,
            tool_choice=tool_choice,
            extra_kwargs=extra_kwargs,
        )
        return FallbackLLMStream(self, request=request, conn_options=conn_options)

    def _open(self, member: LLM, request: _Request) -> LLMStream:
        return member.chat(
            chat_ctx=request.chat_ctx,
            tools=request.tools,
            conn_options=self._member_conn_options,
            parallel_tool_calls=request.parallel_tool_calls,
            tool_choice=request.tool_choice,
            extra_kwargs=request.extra_kwargs,
        )

    async def _next_chunk(self, stream: LLMStream) -> ChatChunk | None:
        """The next chunk, ``None`` at the end; ``APITimeoutError``-like error when idle."""
        try:
            return await asyncio.wait_for(stream.__anext__(), self._attempt_timeout)
        except StopAsyncIteration:
            return None
        except asyncio.TimeoutError:
            raise APIConnectionError(
                f"{stream._llm.label}: no output within attempt_timeout={self._attempt_timeout}s"
            ) from None

    def _set_available(self, index: int, available: bool) -> None:
        status = self._status[index]
        if status.available == available:
            return
        status.available = available
        member = self._llms[index]
        if available:
            logger.info("%s: %s is available again", self.label, member.label)
        else:
            logger.warning("%s: %s is unavailable, failing over", self.label, member.label)
        self.emit(
            "llm_availability_changed", AvailabilityChangedEvent(llm=member, available=available)
        )

    def _try_recovery(self, index: int, request: _Request) -> None:
        """Re-issue ``request`` on a failed member in the background; success makes it
        available again."""
        status = self._status[index]
        if status.recovering_task is not None and not status.recovering_task.done():
            return

        async def recover() -> None:
            member = self._llms[index]
            try:
                async with self._open(member, request) as stream:
                    while await self._next_chunk(stream) is not None:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception as e:
                logger.debug("%s: recovery of %s failed: %s", self.label, member.label, e)
                return
            self._set_available(index, True)

        status.recovering_task = asyncio.create_task(
            recover(), name=f"FallbackAdapter.recover[{index}]"
        )

    async def aclose(self) -> None:
        """Stop background recoveries (members are not closed: they belong to the caller)."""
        await aio.cancel_and_wait(*(s.recovering_task for s in self._status))


class FallbackLLMStream(LLMStream):
    """The stream of a :class:`FallbackAdapter`: forwards the first member that works."""

    def __init__(
        self, adapter: FallbackAdapter, *, request: _Request, conn_options: APIConnectOptions
    ) -> None:
        self._adapter = adapter
        self._request = request
        self._current: LLMStream | None = None
        # failing over is the retry mechanism: the outer loop itself does not retry
        super().__init__(
            adapter,
            chat_ctx=request.chat_ctx,
            tools=request.tools,
            conn_options=APIConnectOptions(
                max_retry=0,
                retry_interval=conn_options.retry_interval,
                timeout=conn_options.timeout,
            ),
        )

    async def _forward(self, member: LLM) -> None:
        stream = self._adapter._open(member, self._request)
        self._current = stream
        try:
            while (chunk := await self._adapter._next_chunk(stream)) is not None:
                self._event_ch.send_nowait(chunk)
        finally:
            self._current = None
            await stream.aclose()

    async def _run(self) -> None:
        adapter = self._adapter
        started = time.perf_counter()
        statuses = adapter._status
        all_unavailable = not any(s.available for s in statuses)
        errors: list[str] = []
        for index, member in enumerate(adapter._llms):
            if not (statuses[index].available or all_unavailable):
                adapter._try_recovery(index, self._request)
                continue
            try:
                await self._forward(member)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                errors.append(f"{member.label}: {e}")
                if self._event_ch.sent_any and not adapter._retry_on_chunk_sent:
                    logger.warning(
                        "%s: %s failed after output was streamed; not failing over",
                        adapter.label,
                        member.label,
                    )
                    raise
                adapter._set_available(index, False)
                adapter._try_recovery(index, self._request)
        raise APIConnectionError(
            f"all LLMs of the FallbackAdapter failed after {time.perf_counter() - started:.2f}s "
            f"({'; '.join(errors) or 'none was available'})",
            retryable=False,
        )

    async def aclose(self) -> None:
        current = self._current
        await super().aclose()
        if current is not None:
            with contextlib.suppress(APIError):
                await current.aclose()


__all__ = ["AvailabilityChangedEvent", "FallbackAdapter", "FallbackLLMStream"]
