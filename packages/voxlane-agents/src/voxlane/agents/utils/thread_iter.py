"""Run a blocking iterator (local inference, file decoding) in a worker thread, consume it async.

Local engines (llama.cpp token generation, piper synthesis) produce their output through a plain
blocking iterator. :func:`iterate_in_thread` runs that iterator in the loop's default executor and
yields its items on the event loop, so the loop never blocks, and it tells the producer to stop
when the consumer goes away (``break``, cancellation, an error)::

    def produce(stop: threading.Event) -> Iterator[bytes]:
        for chunk in engine.synthesize(text):
            if stop.is_set():
                return
            yield chunk

    async for chunk in iterate_in_thread(produce):
        emitter.push(chunk)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["iterate_in_thread"]

T = TypeVar("T")


@dataclass(frozen=True)
class _Item(Generic[T]):
    value: T


@dataclass(frozen=True)
class _Raised:
    error: BaseException


class _End:
    pass


async def iterate_in_thread(
    produce: Callable[[threading.Event], Iterator[T]],
) -> AsyncGenerator[T, None]:
    """Yield the items of ``produce(stop)``, which runs in the default executor.

    ``produce`` receives a ``threading.Event`` that is set once the consumer stopped early; the
    worker also stops on its own after the item it is producing. An exception raised by the
    producer is raised again in the consumer. When the consumer leaves, the worker thread is
    awaited (even on cancellation), so a single-threaded engine is free for the next call.
    """
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[_Item[T] | _Raised | _End] = asyncio.Queue()
    stop = threading.Event()

    def deliver(message: _Item[T] | _Raised | _End) -> None:
        # the loop may already be closed when a late item arrives: nobody is listening then
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(inbox.put_nowait, message)

    def work() -> None:
        try:
            for value in produce(stop):
                deliver(_Item(value))
                if stop.is_set():
                    break
        except BaseException as e:  # handed to the consumer, which raises it again
            deliver(_Raised(e))
        finally:
            deliver(_End())

    worker = loop.run_in_executor(None, work)
    try:
        while True:
            message = await inbox.get()
            if isinstance(message, _End):
                return
            if isinstance(message, _Raised):
                raise message.error
            yield message.value
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.shield(worker)
