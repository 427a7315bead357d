"""Filler lines spoken while a slow tool runs: ``async with ctx.with_filler(...)``.

A :class:`FillerScheduler` speaks short lines ("One moment, still looking...") through
``session.say()`` while the body of the ``async with`` block runs. It is idle-gated: a line is
said only after the conversation has been quiet for ``delay`` seconds in a row (no agent speech
generating, playing or queued, the user not speaking, no end of user turn pending); any change
of the agent's or the user's state, or a new speech, starts the wait over. So a filler never
talks over the user, never cuts other speech and never queues behind it.

With ``interval=None`` at most one line is said; otherwise another line comes once
``interval`` seconds have passed since the previous one started and the conversation has been
quiet for ``delay`` seconds (the previous filler counts as speech), at most ``max_steps``
times. Fillers are acoustic only: they are not added to the chat context or the history (the
model never sees them), and the user may interrupt them. Leaving the block stops
the scheduler: a line not yet playing is withdrawn, a line already playing ends normally.

Voxlane extension: a list of lines is cycled, and the source may be an async iterator.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import math
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

from ..utils import aio
from .speech_handle import SpeechHandle

if TYPE_CHECKING:
    from .agent_session import AgentSession
    from .events import EventTypes

logger = logging.getLogger("voxlane.agents.voice")

FillerLine: TypeAlias = "str | SpeechHandle | None"
"""What a callable source returns for a step: a line to say, a speech it started itself, or
None to skip that step."""

FillerSource: TypeAlias = (
    "str | Sequence[str] | Callable[[int], FillerLine | Awaitable[FillerLine]] | AsyncIterable[str]"
)
"""A fixed line, lines said in turn (cycled), ``fn(step) -> line`` (sync or async), or an async
iterator of lines (the fillers stop when it ends)."""

_RESET_EVENTS: tuple[EventTypes, ...] = (
    "agent_state_changed",
    "user_state_changed",
    "speech_created",
)


def _check_seconds(name: str, value: object, *, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    v = float(value)
    if math.isnan(v) or math.isinf(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")
    return v


class _SessionClosed(Exception):
    """The session closed while a filler was waiting: the scheduler just stops."""


class _Lines:
    """Turns any :data:`FillerSource` into ``await next_line(step)``."""

    def __init__(self, source: FillerSource) -> None:
        self._cycle: Iterator[str] | None = None
        self._fn: Callable[[int], FillerLine | Awaitable[FillerLine]] | None = None
        self._aiter: AsyncIterator[str] | None = None
        if isinstance(source, str):
            if not source.strip():
                raise ValueError("with_filler() source is an empty string: give a line to say")
            self._cycle = itertools.repeat(source)
        elif isinstance(source, AsyncIterable):
            self._aiter = source.__aiter__()
        elif isinstance(source, Sequence):
            lines = list(source)
            if not lines:
                raise ValueError("with_filler() source is an empty list: give at least one line")
            bad = [x for x in lines if not isinstance(x, str) or not x.strip()]
            if bad:
                raise TypeError(
                    f"with_filler() lines must be non-empty strings, got {bad[0]!r} in the list"
                )
            self._cycle = itertools.cycle(lines)
        elif callable(source):
            self._fn = source
        else:
            raise TypeError(
                "with_filler() source must be a str, a list of str, a callable taking the step "
                f"number, or an async iterator of str; got {type(source).__name__}"
            )

    async def next_line(self, step: int) -> FillerLine:
        """The line for ``step``; raises StopAsyncIteration when the source is exhausted."""
        if self._cycle is not None:
            return next(self._cycle)
        if self._aiter is not None:
            line: Any = await self._aiter.__anext__()
        else:
            assert self._fn is not None
            line = self._fn(step)
            if inspect.isawaitable(line):
                line = await line
        if line is None or isinstance(line, SpeechHandle):
            return line
        if not isinstance(line, str):
            raise TypeError(
                f"a with_filler() source gave {type(line).__name__} for step {step}: "
                "expected a str, a SpeechHandle or None"
            )
        return line if line.strip() else None

    async def aclose(self) -> None:
        close = getattr(self._aiter, "aclose", None)
        if close is not None:
            await close()


class FillerScheduler:
    """Speaks filler lines while a block runs (see the module docstring).

    Create it with :meth:`RunContext.with_filler` and use it as an async context manager;
    ``spoken`` lists the speeches it started.
    """

    def __init__(
        self,
        session: AgentSession[Any],
        source: FillerSource,
        *,
        delay: float = 0.0,
        interval: float | None = None,
        max_steps: int | None = None,
    ) -> None:
        self._delay = _check_seconds("delay", delay, allow_zero=True)
        self._interval = (
            None if interval is None else _check_seconds("interval", interval, allow_zero=False)
        )
        if max_steps is not None and (
            isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0
        ):
            raise ValueError(f"max_steps must be None or an int >= 0, got {max_steps!r}")
        self._max_steps = max_steps
        self._lines = _Lines(source)
        self._session = session
        self._spoken: list[SpeechHandle] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._steps = 0

    @property
    def spoken(self) -> list[SpeechHandle]:
        """The filler speeches started so far (in order)."""
        return list(self._spoken)

    @property
    def steps_done(self) -> int:
        """How many steps ran (a step whose source gave None counts, as it does for
        ``max_steps``)."""
        return self._steps

    async def __aenter__(self) -> FillerScheduler:
        if self._task is not None or self._closed:
            raise RuntimeError("a FillerScheduler can be entered only once")
        self._task = asyncio.create_task(self._run(), name="voxlane_filler")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop: no new line; a line queued but not playing yet is withdrawn."""
        if self._closed:
            return
        self._closed = True
        await aio.cancel_and_wait(self._task)
        for handle in self._spoken:
            playing = self._session.current_speech is handle
            if not handle.done() and not playing:
                handle.interrupt(force=True)
        await self._lines.aclose()

    # -- the scheduling loop ---------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_fire: float | None = None
        try:
            while self._max_steps is None or self._steps < self._max_steps:
                not_before = loop.time()
                if last_fire is not None:
                    if self._interval is None:
                        return
                    not_before = last_fire + self._interval
                await self._wait_quiet_for(self._delay, not_before=not_before)
                try:
                    line = await self._lines.next_line(self._steps)
                except StopAsyncIteration:
                    return
                self._steps += 1
                last_fire = loop.time()
                if line is None:
                    continue
                if isinstance(line, SpeechHandle):
                    handle = line
                else:
                    handle = self._session.say(
                        line, add_to_chat_ctx=False, allow_interruptions=True
                    )
                self._spoken.append(handle)
                await handle._wait_played()
        except _SessionClosed:
            return  # nobody left to talk to
        except Exception:
            logger.exception("the filler speech stopped on an error")

    def _quiet(self) -> bool:
        session = self._session
        if session.user_state == "speaking" or session.current_speech is not None:
            return False
        activity = session._activity
        if activity is None:
            return False
        return not activity._queue and activity.pending_end_of_turn() is None

    async def _wait_until_quiet(self) -> None:
        while not self._quiet():
            session = self._session
            if session._closing or session._closed:
                raise _SessionClosed
            waiters: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(session._wait_event(*_RESET_EVENTS, "close"))
            ]
            current = session.current_speech
            if current is not None:
                waiters.append(asyncio.ensure_future(current._wait_played()))
            activity = session._activity
            pending = activity.pending_end_of_turn() if activity is not None else None
            if pending is not None:
                waiters.append(pending)
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await aio.cancel_and_wait(*(w for w in waiters if w is not pending))
            await asyncio.sleep(0)  # let the runtime settle on the new state

    async def _wait_quiet_for(self, dwell: float, *, not_before: float) -> None:
        """Return once the conversation has been quiet for ``dwell`` seconds in a row, and not
        before the loop time ``not_before``."""
        loop = asyncio.get_running_loop()
        while True:
            await self._wait_until_quiet()
            target = max(loop.time() + dwell, not_before)
            change = asyncio.ensure_future(self._session._wait_event(*_RESET_EVENTS))
            try:
                timeout = target - loop.time()
                if timeout > 0:
                    done, _ = await asyncio.wait([change], timeout=timeout)
                    interrupted = bool(done)
                else:
                    await asyncio.sleep(0)
                    interrupted = change.done()
            finally:
                await aio.cancel_and_wait(change)
            if not interrupted and self._quiet():
                return


__all__ = ["FillerLine", "FillerScheduler", "FillerSource"]
