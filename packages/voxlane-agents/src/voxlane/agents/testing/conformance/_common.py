"""Helpers shared by the conformance suites: fault injection and leftover-task checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from ..._exceptions import APIError, APIStatusError
from ...types import APIConnectOptions
from ..fakes._faults import FaultPlan

__all__ = [
    "FAST_CONN_OPTIONS",
    "ErrorInjector",
    "TaskTracker",
    "default_error_injector",
    "fatal_error",
    "retryable_error",
]

ErrorInjector = Callable[[APIError, int], None]
"""``inject(error, times)``: make the next ``times`` requests of the model under test fail the
way ``error`` describes (``error.retryable`` tells which kind of failure is wanted)."""

FAST_CONN_OPTIONS = APIConnectOptions(max_retry=2, retry_interval=0.05, timeout=30.0)


def retryable_error() -> APIError:
    """The retryable failure the suites inject (a 503)."""
    return APIStatusError("injected: service unavailable", status_code=503)


def fatal_error() -> APIError:
    """The non-retryable failure the suites inject (a 401)."""
    return APIStatusError("injected: unauthorized", status_code=401)


def default_error_injector(model: Any) -> ErrorInjector:
    """Fault injection for the voxlane fakes (anything with a ``faults`` :class:`FaultPlan`)."""
    plan = getattr(model, "faults", None)
    if not isinstance(plan, FaultPlan):

        def unsupported(error: APIError, times: int) -> None:
            raise NotImplementedError(
                f"{type(model).__name__} has no built-in fault injection: override the "
                "`inject_error` fixture in your conformance class so that it makes the next "
                "`times` requests fail (e.g. tell your local fake server to answer 503 for a "
                "retryable error and 401 otherwise), or opt out of the retry tests by setting "
                "them to None in your class"
            )

        return unsupported

    def inject(error: APIError, times: int) -> None:
        plan.fail_next(error, times=times)

    return inject


class TaskTracker:
    """Remembers the tasks alive at creation; :meth:`leftovers` lists the new ones still
    running (after letting the loop settle)."""

    def __init__(self, ignore_prefixes: Iterable[str] = ()) -> None:
        self._before = set(asyncio.all_tasks())
        self._ignore = tuple(ignore_prefixes)

    async def leftovers(self) -> list[asyncio.Task[Any]]:
        # short-lived clean-up tasks (e.g. the loop closing an SDK's abandoned async generator,
        # ``async_generator_athrow``) get a few dozen loop turns to finish; a leaked task does not
        left: list[asyncio.Task[Any]] = []
        for _ in range(50):
            await asyncio.sleep(0)
            left = self._running_new_tasks()
            if not left:
                break
        return left

    def _running_new_tasks(self) -> list[asyncio.Task[Any]]:
        current = asyncio.current_task()
        return [
            t
            for t in asyncio.all_tasks()
            if t not in self._before
            and t is not current
            and not t.done()
            and not t.get_name().startswith(self._ignore)
        ]

    async def assert_no_leftovers(self, what: str) -> None:
        left = await self.leftovers()
        assert not left, f"{what} left tasks running: {[_describe(t) for t in left]}"


def _describe(task: asyncio.Task[Any]) -> str:
    """A task's name and the coroutine it runs (unnamed tasks are otherwise anonymous)."""
    coro = task.get_coro()
    qualname = getattr(coro, "__qualname__", type(coro).__name__)
    return f"{task.get_name()} ({qualname})"
