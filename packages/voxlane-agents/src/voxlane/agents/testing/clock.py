"""A virtual clock for asyncio: timing behaviour tested in milliseconds of wall time.

:class:`VirtualClockEventLoop` is a selector event loop whose :meth:`~VirtualClockEventLoop.time`
is virtual. The clock starts at ``start`` (0.0 by default) and moves only when the loop has nothing
left to do: when no callback is ready and no real work is pending, the loop jumps straight to the
next scheduled timer instead of sleeping. ``await asyncio.sleep(3600)`` therefore finishes at once
with ``loop.time()`` exactly 3600 seconds later, and timers, ``asyncio.wait_for`` and
``asyncio.timeout`` fire in the same order and at the same virtual times as they would in real time.

Real work is never skipped:

- while a ``run_in_executor`` / ``asyncio.to_thread`` job is running, the loop waits for it in
  real time; by default the virtual clock stays still meanwhile (the job takes no virtual time,
  which keeps tests deterministic). With ``while_busy="realtime"`` the virtual clock instead
  follows the real clock during the wait, never passing the next timer (use it when a thread
  calls back into the loop and waits for a timer, which would otherwise wait forever);
- while sockets, pipes or other file descriptors are registered on the loop, it first waits up to
  ``io_grace`` real seconds for them to become ready before it jumps;
- ``with loop.hold_clock():`` (or :func:`hold_clock`) marks any other real work (a subprocess, a
  foreign thread calling ``call_soon_threadsafe``) that the clock must wait for.

Running code on it::

    from voxlane.agents.testing import run_with_virtual_clock, now, advance

    async def main() -> None:
        await asyncio.sleep(3600)
        assert now() == 3600.0

    run_with_virtual_clock(main())

With pytest-asyncio (1.x chooses loops through the ``pytest_asyncio_loop_factories`` hook), put this
in a ``conftest.py``; it runs the tests marked ``@pytest.mark.virtual_clock`` (or modules/classes
with ``pytestmark = pytest.mark.virtual_clock``) on the virtual clock and the others on a normal
loop::

    from voxlane.agents.testing.pytest_plugin import (  # noqa: F401
        pytest_asyncio_loop_factories,
        pytest_configure,
    )

To run every test of a folder on the virtual clock instead, return only the virtual factory::

    from voxlane.agents.testing import VirtualClockEventLoop

    def pytest_asyncio_loop_factories(config, item):
        return {"virtual_clock": VirtualClockEventLoop}

Only ``loop.time()`` (and what is built on it: timers, sleeps, timeouts) is virtual;
``time.time()``, ``time.monotonic()`` and ``time.perf_counter()`` stay real.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import selectors
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

__all__ = [
    "VirtualClockEventLoop",
    "advance",
    "current_virtual_loop",
    "hold_clock",
    "now",
    "run_with_virtual_clock",
    "wait_idle",
]

_T = TypeVar("_T")

BusyPolicy = Literal["freeze", "realtime"]

DEFAULT_IO_GRACE = 0.005
"""Real seconds an idle loop waits for registered file descriptors before jumping the clock."""


class _VirtualClockSelector(selectors.BaseSelector):
    """Wraps the platform selector; decides, when the loop is idle, whether to jump the clock."""

    def __init__(self, owner: VirtualClockEventLoop) -> None:
        self._inner = selectors.DefaultSelector()
        self._owner = owner

    # -- delegation ---------------------------------------------------------------------------
    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._inner.get_map()

    # -- the clock ----------------------------------------------------------------------------
    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # `timeout` is what the loop would sleep: 0 when callbacks are ready, the delay to the
        # next timer when it is idle, None when it is idle with no timer at all.
        if timeout is not None and timeout <= 0:
            return self._inner.select(0)
        return self._owner._vc_idle_select(self._inner, timeout)


class VirtualClockEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ``time()`` advances only when every task is idle.

    Args:
        start: the initial value of ``loop.time()``.
        io_grace: real seconds to wait for registered sockets/pipes to become ready before the
            clock jumps (only when such file descriptors exist; 0 disables the wait).
        while_busy: what the virtual clock does while executor jobs or held work are pending:
            ``"freeze"`` (default, deterministic: the work takes no virtual time) or
            ``"realtime"`` (virtual time follows real time, never past the next timer).
    """

    def __init__(
        self,
        *,
        start: float = 0.0,
        io_grace: float = DEFAULT_IO_GRACE,
        while_busy: BusyPolicy = "freeze",
    ) -> None:
        self._vc_vtime = 0.0
        self._vc_io_grace = DEFAULT_IO_GRACE
        self._vc_while_busy: BusyPolicy = "freeze"
        self._vc_busy = 0
        self._vc_idle_waiters: list[asyncio.Future[None]] = []
        self._vc_jumps = 0
        self._vc_selector = _VirtualClockSelector(self)
        super().__init__(self._vc_selector)
        # whatever the loop registered for itself (its self-pipe) is not outside I/O
        self._vc_internal_fds = {key.fd for key in self._vc_selector.get_map().values()}
        try:
            if not math.isfinite(start):
                raise ValueError(f"start must be a finite number of seconds, got {start!r}")
            if not math.isfinite(io_grace) or io_grace < 0:
                raise ValueError(
                    f"io_grace must be a finite number of real seconds >= 0, got {io_grace!r}"
                )
            if while_busy not in ("freeze", "realtime"):
                raise ValueError(f'while_busy must be "freeze" or "realtime", got {while_busy!r}')
        except ValueError:
            self.close()
            raise
        self._vc_vtime = float(start)
        self._vc_io_grace = float(io_grace)
        self._vc_while_busy = while_busy

    # -- clock --------------------------------------------------------------------------------
    def time(self) -> float:
        """The virtual time, in seconds."""
        return self._vc_vtime

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward by ``seconds`` now; timers that became due fire on the
        next loop iteration (in order). Prefer ``await advance(seconds)`` from a coroutine."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(
                f"seconds must be a finite number >= 0 (the clock never goes back), got {seconds!r}"
            )
        self._vc_vtime += float(seconds)

    @property
    def jumps(self) -> int:
        """How many times the clock jumped to a timer because the loop was idle."""
        return self._vc_jumps

    @property
    def busy(self) -> bool:
        """True while executor jobs or held work keep the clock from jumping."""
        return self._vc_busy > 0

    # -- real work tracking ---------------------------------------------------------------------
    @contextlib.contextmanager
    def hold_clock(self) -> Iterator[None]:
        """Keep the clock from jumping while the block runs (it waits for real I/O instead)."""
        self._vc_busy += 1
        try:
            yield
        finally:
            self._vc_busy -= 1

    def track(self, fut: asyncio.Future[_T]) -> asyncio.Future[_T]:
        """Keep the clock from jumping until ``fut`` is done; returns ``fut``."""
        if fut.done():
            return fut
        self._vc_busy += 1
        fut.add_done_callback(self._vc_release)
        return fut

    def _vc_release(self, _fut: object) -> None:
        self._vc_busy -= 1

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        return self.track(super().run_in_executor(executor, func, *args))

    # -- idle handling --------------------------------------------------------------------------
    def wait_idle(self) -> asyncio.Future[None]:
        """A future resolved the next time the loop is idle, before the clock moves."""
        fut: asyncio.Future[None] = self.create_future()
        self._vc_idle_waiters.append(fut)
        return fut

    def _vc_has_outside_fds(self) -> bool:
        keys = self._vc_selector.get_map().values()
        return any(key.fd not in self._vc_internal_fds for key in keys)

    def _vc_idle_select(
        self, inner: selectors.BaseSelector, timeout: float | None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        events = inner.select(0)
        if events:
            return events

        if self._vc_busy:
            return self._vc_busy_wait(inner, timeout)

        if self._vc_io_grace > 0 and self._vc_has_outside_fds():
            grace = self._vc_io_grace if timeout is None else min(self._vc_io_grace, timeout)
            events = inner.select(grace)
            if events or self._vc_busy:
                return events

        waiters = [w for w in self._vc_idle_waiters if not w.done()]
        self._vc_idle_waiters.clear()
        if waiters:
            for w in waiters:
                w.set_result(None)
            return []

        if timeout is None:
            # nothing is scheduled: only real I/O (or another thread) can wake us up
            return inner.select(None)

        self._vc_vtime += timeout
        self._vc_jumps += 1
        return []

    def _vc_busy_wait(
        self, inner: selectors.BaseSelector, timeout: float | None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        if self._vc_while_busy == "freeze" or timeout is None:
            return inner.select(None)
        started = time.monotonic()
        events = inner.select(timeout)
        self._vc_vtime += min(time.monotonic() - started, timeout)
        return events

    def close(self) -> None:
        for w in self._vc_idle_waiters:
            w.cancel()
        self._vc_idle_waiters.clear()
        super().close()


def current_virtual_loop() -> VirtualClockEventLoop:
    """The running loop, which must be a :class:`VirtualClockEventLoop`."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, VirtualClockEventLoop):
        raise RuntimeError(
            f"the running event loop is a {type(loop).__name__}, not a VirtualClockEventLoop: run "
            "the code with run_with_virtual_clock(...) or mark the test with "
            "@pytest.mark.virtual_clock (see voxlane.agents.testing.clock)"
        )
    return loop


def now() -> float:
    """The running loop's current time (virtual on a :class:`VirtualClockEventLoop`)."""
    return asyncio.get_running_loop().time()


async def advance(seconds: float) -> None:
    """Let ``seconds`` of virtual time pass: every timer due in between fires, in order, and the
    call returns with the clock exactly ``seconds`` later. Requires a virtual clock loop."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(
            f"seconds must be a finite number >= 0 (the clock never goes back), got {seconds!r}"
        )
    loop = current_virtual_loop()
    fut: asyncio.Future[None] = loop.create_future()
    handle = loop.call_at(loop.time() + seconds, _resolve, fut)
    try:
        await fut
    finally:
        handle.cancel()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def wait_idle() -> None:
    """Wait until every other task is blocked (on a timer or real I/O), without moving the
    clock. Requires a virtual clock loop."""
    await current_virtual_loop().wait_idle()


def hold_clock() -> contextlib.AbstractContextManager[None]:
    """Context manager: the running virtual loop's clock does not jump while it is open."""
    return current_virtual_loop().hold_clock()


def run_with_virtual_clock(
    main: Coroutine[Any, Any, _T] | Callable[[], Awaitable[_T]],
    *,
    start: float = 0.0,
    io_grace: float = DEFAULT_IO_GRACE,
    while_busy: BusyPolicy = "freeze",
    debug: bool = False,
) -> _T:
    """Run ``main`` (a coroutine, or a callable returning an awaitable) to completion on a fresh
    :class:`VirtualClockEventLoop`, then cancel leftover tasks and close the loop, like
    ``asyncio.run``."""
    aw: Awaitable[_T]
    if asyncio.iscoroutine(main):
        aw = main
    elif callable(main):
        made = main()
        if not isinstance(made, Awaitable):
            raise TypeError(
                f"run_with_virtual_clock: {main!r} returned {type(made).__name__}, not an "
                "awaitable; pass a coroutine or an async function"
            )
        aw = made
    else:
        raise TypeError(
            f"run_with_virtual_clock expects a coroutine or an async function, got "
            f"{type(main).__name__}"
        )

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        if asyncio.iscoroutine(aw):
            aw.close()
        raise RuntimeError(
            "run_with_virtual_clock cannot be called from a running event loop; call it from "
            "synchronous code (or use pytest.mark.virtual_clock for async tests)"
        )

    loop = VirtualClockEventLoop(start=start, io_grace=io_grace, while_busy=while_busy)
    loop.set_debug(debug)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_as_coroutine(aw))
    finally:
        try:
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


async def _as_coroutine(aw: Awaitable[_T]) -> _T:
    return await aw


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not tasks:
        return
    for t in tasks:
        t.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for t in tasks:
        if not t.cancelled() and t.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "a task left running by run_with_virtual_clock failed",
                    "exception": t.exception(),
                    "task": t,
                }
            )
