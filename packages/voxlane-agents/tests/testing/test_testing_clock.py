"""The virtual clock: time jumps only when every task is idle, real work is waited for."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest

from voxlane.agents.testing.clock import (
    VirtualClockEventLoop,
    advance,
    current_virtual_loop,
    hold_clock,
    now,
    run_with_virtual_clock,
    wait_idle,
)

pytestmark = pytest.mark.virtual_clock


def _loop() -> VirtualClockEventLoop:
    return current_virtual_loop()


async def test_long_sleep_jumps_straight_to_the_timer() -> None:
    loop = _loop()
    start_virtual = loop.time()
    start_wall = time.monotonic()
    await asyncio.sleep(3600)
    assert loop.time() == start_virtual + 3600
    assert loop.jumps == 1
    # a generous sanity bound: a real clock would have slept an hour
    assert time.monotonic() - start_wall < 60


async def test_starts_at_zero_and_now_reads_the_virtual_time() -> None:
    assert now() == 0.0
    await asyncio.sleep(1.5)
    assert now() == 1.5


async def test_timers_fire_in_order_at_their_virtual_times() -> None:
    loop = _loop()
    fired: list[tuple[str, float]] = []
    for name, delay in [("e", 5.0), ("a", 0.25), ("c", 2.0), ("b", 1.0), ("d", 3.5)]:
        loop.call_later(delay, _record, fired, name, loop)
    await asyncio.sleep(10)
    assert fired == [("a", 0.25), ("b", 1.0), ("c", 2.0), ("d", 3.5), ("e", 5.0)]


def _record(fired: list[tuple[str, float]], name: str, loop: VirtualClockEventLoop) -> None:
    fired.append((name, loop.time()))


async def test_concurrent_sleepers_wake_in_order() -> None:
    woke: list[tuple[float, float]] = []

    async def sleeper(delay: float) -> None:
        await asyncio.sleep(delay)
        woke.append((delay, now()))

    await asyncio.gather(*(sleeper(d) for d in (7.0, 0.5, 3.0, 3.25)))
    assert woke == [(0.5, 0.5), (3.0, 3.0), (3.25, 3.25), (7.0, 7.0)]


async def test_wait_for_times_out_at_the_right_virtual_time() -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.sleep(100), timeout=7.0)
    assert now() == 7.0
    # and does not time out when the work finishes first
    assert await asyncio.wait_for(_value_after(2.0, "ok"), timeout=3.0) == "ok"
    assert now() == 9.0


async def _value_after(delay: float, value: str) -> str:
    await asyncio.sleep(delay)
    return value


async def test_busy_tasks_keep_the_clock_still() -> None:
    # a task that keeps yielding (never idle) must not let the clock move
    steps = 0

    async def spinner() -> None:
        nonlocal steps
        for _ in range(200):
            steps += 1
            await asyncio.sleep(0)

    timer_seen_at: list[int] = []
    _loop().call_later(0.001, lambda: timer_seen_at.append(steps))
    await spinner()
    assert now() == 0.0
    assert steps == 200
    assert timer_seen_at == []
    await asyncio.sleep(0.001)
    assert timer_seen_at == [200]


async def test_executor_job_is_awaited_without_skipping_time() -> None:
    order: list[str] = []

    def blocking_job() -> int:
        time.sleep(0.05)  # real work in a thread
        order.append("job")
        return 42

    async def timer() -> None:
        await asyncio.sleep(0.01)
        order.append("timer")

    result, _ = await asyncio.gather(asyncio.to_thread(blocking_job), timer())
    assert result == 42
    # the job's real 50 ms took no virtual time, so the 10 ms timer fired after it
    assert order == ["job", "timer"]
    assert now() == 0.01


async def test_run_in_executor_marks_the_loop_busy() -> None:
    loop = _loop()
    release = threading.Event()
    fut = loop.run_in_executor(None, release.wait)
    assert loop.busy
    loop.call_soon(release.set)
    assert await fut is True
    assert not loop.busy
    assert now() == 0.0


def test_realtime_policy_follows_real_time_but_never_passes_a_timer() -> None:
    job_done_at, timer_at = run_with_virtual_clock(_realtime_scenario(), while_busy="realtime")
    assert 0.0 < job_done_at < 10.0
    assert timer_at == 10.0


async def _realtime_scenario() -> tuple[float, float]:
    loop = asyncio.get_running_loop()

    def job() -> None:
        time.sleep(0.02)

    timer = asyncio.ensure_future(asyncio.sleep(10))
    await loop.run_in_executor(None, job)
    job_done_at = loop.time()
    await timer
    return job_done_at, loop.time()


def test_realtime_policy_lets_a_thread_wait_on_a_loop_timer() -> None:
    # a thread blocking on a coroutine that needs a timer: frozen time would wait forever
    async def main() -> float:
        loop = asyncio.get_running_loop()

        def thread_side() -> None:
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0.01), loop).result(timeout=30)

        await asyncio.to_thread(thread_side)
        return loop.time()

    assert run_with_virtual_clock(main(), while_busy="realtime") > 0.0


async def test_advance_fires_due_timers_and_lands_exactly() -> None:
    fired: list[float] = []
    loop = _loop()
    for delay in (1.0, 2.0, 4.0):
        loop.call_later(delay, lambda: fired.append(loop.time()))
    await advance(2.5)
    assert fired == [1.0, 2.0]
    assert now() == 2.5
    await advance(0)
    assert now() == 2.5
    await advance(1.5)
    assert fired == [1.0, 2.0, 4.0]
    assert now() == 4.0


async def test_loop_advance_moves_time_immediately() -> None:
    loop = _loop()
    fired: list[float] = []
    loop.call_later(3.0, lambda: fired.append(loop.time()))
    loop.advance(5.0)
    assert loop.time() == 5.0
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert fired == [5.0]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
async def test_advance_rejects_bad_values(bad: float) -> None:
    with pytest.raises(ValueError, match="never goes back"):
        await advance(bad)
    with pytest.raises(ValueError, match="never goes back"):
        _loop().advance(bad)


async def test_wait_idle_runs_ready_work_without_moving_the_clock() -> None:
    progress: list[str] = []

    async def worker() -> None:
        for step in ("a", "b", "c"):
            await asyncio.sleep(0)
            progress.append(step)
        await asyncio.sleep(30)
        progress.append("late")

    task = asyncio.create_task(worker())
    await wait_idle()
    assert progress == ["a", "b", "c"]
    assert now() == 0.0
    await task
    assert progress == ["a", "b", "c", "late"]
    assert now() == 30.0


async def test_hold_clock_waits_for_a_foreign_thread() -> None:
    loop = _loop()
    fut: asyncio.Future[str] = loop.create_future()
    go = threading.Event()

    def foreign() -> None:
        go.wait(30)
        loop.call_soon_threadsafe(fut.set_result, "reply")

    thread = threading.Thread(target=foreign, daemon=True)
    thread.start()
    timer = asyncio.ensure_future(asyncio.sleep(5))
    loop.call_soon(go.set)
    with hold_clock():
        assert await fut == "reply"
    assert now() == 0.0  # the reply came before the 5 s timer
    await timer
    assert now() == 5.0
    thread.join()


async def test_without_hold_the_clock_jumps_past_untracked_threads() -> None:
    loop = _loop()
    fut: asyncio.Future[str] = loop.create_future()
    go = threading.Event()

    def foreign() -> None:
        go.wait(30)
        loop.call_soon_threadsafe(fut.set_result, "reply")

    thread = threading.Thread(target=foreign, daemon=True)
    thread.start()
    await asyncio.sleep(5)  # nothing tells the loop about the thread: it jumps
    assert now() == 5.0
    go.set()
    assert await fut == "reply"
    thread.join()


async def test_track_holds_the_clock_until_the_future_is_done() -> None:
    loop = _loop()
    fut: asyncio.Future[int] = loop.create_future()
    assert loop.track(fut) is fut
    assert loop.busy
    threading.Timer(0.01, lambda: loop.call_soon_threadsafe(fut.set_result, 1)).start()
    timer = asyncio.ensure_future(asyncio.sleep(1))
    assert await fut == 1
    assert now() == 0.0
    assert not loop.busy
    await timer
    done: asyncio.Future[int] = loop.create_future()
    done.set_result(2)
    loop.track(done)
    assert not loop.busy


async def test_sockets_exchange_data_and_idle_servers_do_not_stop_the_clock() -> None:
    received: list[tuple[bytes, float]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            await asyncio.sleep(2)  # the server "thinks" for 2 virtual seconds
            writer.write(line.upper())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for word in (b"hello\n", b"world\n"):
            writer.write(word)
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout=10)
            received.append((line, now()))
        # idle connection + listening server registered: sleeping still jumps
        await asyncio.sleep(100)
        assert now() == 104.0
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    assert received == [(b"HELLO\n", 2.0), (b"WORLD\n", 4.0)]


async def test_async_generators_and_fixture_share_the_virtual_loop(
    ticking: list[float],
) -> None:
    assert isinstance(asyncio.get_running_loop(), VirtualClockEventLoop)
    await asyncio.sleep(3.5)
    assert ticking == [1.0, 2.0, 3.0]


@pytest.fixture
async def ticking() -> AsyncIterator[list[float]]:
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            await asyncio.sleep(1)
            ticks.append(asyncio.get_running_loop().time())

    task = asyncio.create_task(tick())
    yield ticks
    task.cancel()


def test_run_with_virtual_clock_returns_the_result() -> None:
    async def main() -> tuple[float, bool]:
        await asyncio.sleep(42)
        return now(), isinstance(asyncio.get_running_loop(), VirtualClockEventLoop)

    assert run_with_virtual_clock(main()) == (42.0, True)
    assert run_with_virtual_clock(main, start=100.0) == (142.0, True)


def test_run_with_virtual_clock_cancels_leftover_tasks() -> None:
    cancelled: list[float] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(10_000)
        except asyncio.CancelledError:
            cancelled.append(now())
            raise

    async def main() -> None:
        leftover = asyncio.create_task(forever())
        await asyncio.sleep(1)
        assert not leftover.done()

    run_with_virtual_clock(main())
    assert cancelled == [1.0]


def test_run_with_virtual_clock_propagates_errors() -> None:
    async def main() -> None:
        await asyncio.sleep(1)
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        run_with_virtual_clock(main())


def test_run_with_virtual_clock_rejects_non_coroutines() -> None:
    with pytest.raises(TypeError, match="coroutine or an async function"):
        run_with_virtual_clock(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not an awaitable"):
        run_with_virtual_clock(lambda: 1)  # type: ignore[arg-type,return-value]


async def test_run_with_virtual_clock_refuses_a_running_loop() -> None:
    async def inner() -> None:
        return None

    with pytest.raises(RuntimeError, match="running event loop"):
        run_with_virtual_clock(inner())


def test_constructor_validates_arguments() -> None:
    with pytest.raises(ValueError, match="start"):
        VirtualClockEventLoop(start=float("nan"))
    with pytest.raises(ValueError, match="io_grace"):
        VirtualClockEventLoop(io_grace=-1)
    with pytest.raises(ValueError, match="while_busy"):
        VirtualClockEventLoop(while_busy="fast")  # type: ignore[arg-type]


@pytest.mark.virtual_clock
async def test_marker_selects_the_virtual_loop() -> None:
    assert isinstance(asyncio.get_running_loop(), VirtualClockEventLoop)
