"""The conformance kit's TaskTracker: leaked tasks are reported, short clean-up tasks are not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from voxlane.agents.testing.conformance._common import TaskTracker


async def test_a_task_left_running_is_reported_with_its_coroutine() -> None:
    tracker = TaskTracker()

    async def forever() -> None:
        await asyncio.Event().wait()

    leaked = asyncio.create_task(forever(), name="leaked")
    with pytest.raises(AssertionError, match=r"left tasks running: \['leaked \(.*forever\)'\]"):
        await tracker.assert_no_leftovers("the thing")
    leaked.cancel()
    await asyncio.gather(leaked, return_exceptions=True)


async def test_clean_up_that_takes_a_few_loop_turns_is_not_a_leak() -> None:
    tracker = TaskTracker()

    async def closing() -> None:
        for _ in range(10):
            await asyncio.sleep(0)

    task = asyncio.create_task(closing())
    await tracker.assert_no_leftovers("a short clean-up")
    assert task.done()


async def test_an_abandoned_async_generator_closed_by_the_loop_is_not_a_leak() -> None:
    tracker = TaskTracker()

    async def chunks() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            for _ in range(3):  # an SDK closing its response takes a few turns
                await asyncio.sleep(0)

    gen = chunks()
    assert await gen.__anext__() == 1
    del gen  # the loop's async generator hook schedules its aclose() as a task
    await tracker.assert_no_leftovers("an abandoned generator")


async def test_tasks_alive_before_and_ignored_prefixes_are_not_counted() -> None:
    before = asyncio.create_task(asyncio.Event().wait(), name="older")
    tracker = TaskTracker(ignore_prefixes=("pool-",))
    pooled = asyncio.create_task(asyncio.Event().wait(), name="pool-keepalive")
    await tracker.assert_no_leftovers("nothing new")
    for t in (before, pooled):
        t.cancel()
    await asyncio.gather(before, pooled, return_exceptions=True)
