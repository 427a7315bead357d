"""Audio in, events out: the stream shape that VAD and STT streams share.

The caller pushes audio (``push_frame``, ``flush``, ``end_input``) and iterates events. Inside,
a main task reads ``_input_ch`` and sends events to ``_event_ch``; a forwarding task moves them
to ``_out_ch``, which the consumer reads, and may observe them on the way (metrics). This base
owns the lifecycle: starting both tasks, refusing audio after the end or the close, closing (the
tasks are cancelled and unread events dropped) and iteration, which re-raises the main task's
failure once the events before it were read.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, ClassVar, Generic, TypeVar

from typing_extensions import Self

from . import aio

EventT = TypeVar("EventT")


class AudioEventStream(ABC, Generic[EventT]):
    """Base of :class:`~voxlane.agents.vad.VADStream` and
    :class:`~voxlane.agents.stt.RecognizeStream`.

    A subclass creates ``_input_ch`` and ``_event_ch`` in its ``__init__`` and then calls
    :meth:`_start_tasks`.
    """

    _stream_name: ClassVar[str] = "stream"
    """How error messages name the stream ("VAD stream", ...)."""

    _input_ch: aio.Chan[Any]
    _event_ch: aio.Chan[EventT]

    def _start_tasks(self) -> None:
        self._out_ch: aio.Chan[EventT] = aio.Chan()
        self._input_ended = False
        self._closed = False
        name = type(self).__name__
        self._task = asyncio.create_task(self._main_task(), name=f"{name}._main")
        self._task.add_done_callback(self._on_main_done)
        self._forward_task = asyncio.create_task(self._forward_events(), name=f"{name}._forward")

    @abstractmethod
    async def _main_task(self) -> None:
        """Read ``self._input_ch`` and send events to ``self._event_ch``."""

    @abstractmethod
    async def _forward_events(self) -> None:
        """Move events from ``self._event_ch`` to ``self._out_ch``, then close ``_out_ch``."""

    @abstractmethod
    def _on_main_done(self, task: asyncio.Task[None]) -> None:
        """Called when the main task ended: close ``_event_ch`` and retrieve the outcome."""

    @abstractmethod
    def flush(self) -> None:
        """Mark a segment boundary in the input."""

    def _check_can_push(self, what: str) -> None:
        if self._closed:
            raise RuntimeError(f"{what}: the {self._stream_name} is closed")
        if self._input_ended:
            raise RuntimeError(
                f"{what}: end_input() was already called on this {self._stream_name}"
            )

    def end_input(self) -> None:
        """No more audio will be pushed; iteration ends once the queued audio is processed."""
        self.flush()
        self._input_ended = True
        self._input_ch.close()

    async def aclose(self) -> None:
        """Stop the stream now and wait until its tasks have finished."""
        self._closed = True
        self._input_ch.close()
        await aio.cancel_and_wait(self._task)
        self._event_ch.close()
        await aio.cancel_and_wait(self._forward_task)
        self._out_ch.close()
        # events not consumed yet are dropped: iterating a closed stream ends at once
        while not self._out_ch.empty():
            self._out_ch.recv_nowait()

    async def __anext__(self) -> EventT:
        try:
            return await self._out_ch.recv()
        except aio.ChanClosed:
            if (
                self._task.done()
                and not self._task.cancelled()
                and (exc := self._task.exception()) is not None
            ):
                raise exc from None
            raise StopAsyncIteration from None

    def __aiter__(self) -> AsyncIterator[EventT]:
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
