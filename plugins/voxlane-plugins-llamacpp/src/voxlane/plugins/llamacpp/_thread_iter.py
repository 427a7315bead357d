"""Consume a blocking iterator from a worker thread as an async iterator."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


async def iterate_in_thread(
    produce: Callable[[threading.Event], Iterator[T]],
) -> AsyncGenerator[T, None]:
    """Run ``produce(stop)`` in the default executor and yield its items on the event loop.

    When the consumer stops early (break, cancellation), ``stop`` is set so the producer can end
    at its next item; the worker is then awaited so the engine is free for the next call.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def put(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        try:
            for item in produce(stop):
                put(item)
                if stop.is_set():
                    break
        except BaseException as e:
            put(_Failure(e))
        finally:
            put(_DONE)

    worker = loop.run_in_executor(None, work)
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.shield(worker)


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
