"""asyncio helpers: a closable channel and task cancellation that waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ChanClosed(Exception):
    """Raised when sending to, or receiving from, a closed and drained channel."""


class ChanEmpty(Exception):
    """Raised by ``recv_nowait`` when nothing is queued."""


class Chan(Generic[T]):
    """An unbounded (or bounded) async channel that can be closed.

    Receivers get every item sent before ``close()``; after that, iteration ends.
    """

    def __init__(self, maxsize: int = 0) -> None:
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._closed = False
        self._readers: deque[asyncio.Future[None]] = deque()
        self._writers: deque[asyncio.Future[None]] = deque()

    @property
    def closed(self) -> bool:
        return self._closed

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return self._maxsize > 0 and len(self._items) >= self._maxsize

    @staticmethod
    def _wake(waiters: deque[asyncio.Future[None]]) -> None:
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def send_nowait(self, item: T) -> None:
        if self._closed:
            raise ChanClosed("cannot send on a closed channel")
        if self.full():
            raise asyncio.QueueFull
        self._items.append(item)
        self._wake(self._readers)

    async def send(self, item: T) -> None:
        while self.full() and not self._closed:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._writers.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                with contextlib.suppress(ValueError):
                    self._writers.remove(fut)
                raise
        self.send_nowait(item)

    def recv_nowait(self) -> T:
        if self._items:
            item = self._items.popleft()
            self._wake(self._writers)
            return item
        if self._closed:
            raise ChanClosed("channel is closed")
        raise ChanEmpty

    async def recv(self) -> T:
        while not self._items and not self._closed:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._readers.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                with contextlib.suppress(ValueError):
                    self._readers.remove(fut)
                raise
        return self.recv_nowait()

    def close(self) -> None:
        """Close the channel: queued items can still be received, then iteration stops."""
        if self._closed:
            return
        self._closed = True
        for waiters in (self._readers, self._writers):
            while waiters:
                fut = waiters.popleft()
                if not fut.done():
                    fut.set_result(None)

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.recv()
        except ChanClosed:
            raise StopAsyncIteration from None


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel the given tasks and wait until they have really finished.

    Exceptions raised by the tasks are swallowed; cancellation of the caller still propagates.
    """
    pending = [t for t in tasks if t is not None and not t.done()]
    for t in pending:
        t.cancel()
    if not pending:
        return
    waiter = asyncio.gather(*pending, return_exceptions=True)
    try:
        await asyncio.shield(waiter)
    except asyncio.CancelledError:
        # keep waiting for the children, then propagate the caller's cancellation
        with contextlib.suppress(BaseException):
            await waiter
        raise


async def gracefully_cancel(*tasks: asyncio.Future[Any] | None) -> None:
    """Alias of :func:`cancel_and_wait`, kept for familiarity."""
    await cancel_and_wait(*tasks)


def log_exceptions_of(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Retrieve exceptions of finished tasks so asyncio does not warn about them."""
    for t in tasks:
        if t.done() and not t.cancelled():
            t.exception()


__all__ = [
    "Chan",
    "ChanClosed",
    "ChanEmpty",
    "cancel_and_wait",
    "gracefully_cancel",
    "log_exceptions_of",
]
