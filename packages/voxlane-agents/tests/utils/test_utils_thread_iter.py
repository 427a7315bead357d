"""iterate_in_thread: items in order, errors raised again, the producer told to stop early."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from voxlane.agents.utils.thread_iter import iterate_in_thread


async def test_yields_every_item_in_order_from_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    seen_threads: list[int] = []

    def produce(stop: threading.Event) -> Iterator[int]:
        for i in range(5):
            seen_threads.append(threading.get_ident())
            yield i * 10

    got = [item async for item in iterate_in_thread(produce)]
    assert got == [0, 10, 20, 30, 40]
    assert seen_threads and all(t != loop_thread for t in seen_threads)


async def test_an_empty_producer_ends_the_iteration() -> None:
    def produce(stop: threading.Event) -> Iterator[str]:
        return iter(())

    assert [x async for x in iterate_in_thread(produce)] == []


async def test_a_producer_error_is_raised_in_the_consumer_after_earlier_items() -> None:
    def produce(stop: threading.Event) -> Iterator[str]:
        yield "first"
        raise RuntimeError("engine failed")

    got: list[str] = []
    with pytest.raises(RuntimeError, match="engine failed"):
        async for item in iterate_in_thread(produce):
            got.append(item)
    assert got == ["first"]


async def test_breaking_early_stops_the_producer_and_waits_for_the_worker() -> None:
    finished = threading.Event()
    went_on = threading.Event()

    def produce(stop: threading.Event) -> Iterator[int]:
        try:
            yield 0
            # either the worker loop sees the stop request first (and closes this generator
            # at the yield above), or this wait does; both end the producer early
            if not stop.wait(5.0):
                went_on.set()
                yield 1
        finally:
            finished.set()

    gen = iterate_in_thread(produce)
    async for item in gen:
        assert item == 0
        break
    await gen.aclose()
    # aclose() returns only once the worker thread has ended
    assert finished.is_set()
    assert not went_on.is_set()


async def test_cancelling_the_consumer_stops_the_producer() -> None:
    finished = threading.Event()
    first_sent = asyncio.Event()

    def produce(stop: threading.Event) -> Iterator[int]:
        try:
            yield 1
            while not stop.wait(0.01):
                pass
        finally:
            finished.set()

    async def consume() -> None:
        async for _ in iterate_in_thread(produce):
            first_sent.set()

    task = asyncio.create_task(consume())
    await first_sent.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished.is_set()
