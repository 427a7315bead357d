"""Fault injection shared by the fakes: make chosen attempts fail with a chosen error."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ..._exceptions import APIConnectionError

__all__ = ["FaultPlan", "InjectedFault"]


@dataclass(frozen=True)
class InjectedFault:
    """An error a fake raises on one attempt.

    ``after`` delays the failure: the fake first produces that much output (its unit depends on
    the fake: seconds of audio for STT/TTS, chunks for the LLM), then raises.
    """

    error: BaseException
    after: float = 0.0


def _default_error() -> BaseException:
    return APIConnectionError("injected fault (voxlane.agents.testing)")


class FaultPlan:
    """Which attempts of a fake fail. Attempts are numbered from 1 across the fake's lifetime."""

    def __init__(self) -> None:
        self._queue: deque[InjectedFault] = deque()
        self._on_attempt: dict[int, InjectedFault] = {}
        self._attempts = 0

    @property
    def attempts(self) -> int:
        """How many attempts the fake has started so far."""
        return self._attempts

    @property
    def pending(self) -> int:
        """Faults still waiting to fire."""
        return len(self._queue) + len(self._on_attempt)

    def fail_next(
        self, error: BaseException | None = None, *, times: int = 1, after: float = 0.0
    ) -> None:
        """Make the next ``times`` attempts fail with ``error`` (an APIConnectionError, which
        is retryable, by default)."""
        if not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be an int >= 1, got {times!r}")
        fault = self._make(error, after)
        for _ in range(times):
            self._queue.append(fault)

    def fail_on_attempt(
        self, attempt: int, error: BaseException | None = None, *, after: float = 0.0
    ) -> None:
        """Make attempt number ``attempt`` (1-based, counted over the fake's lifetime) fail."""
        if not isinstance(attempt, int) or attempt < 1:
            raise ValueError(
                f"attempt must be an int >= 1 (attempts count from 1), got {attempt!r}"
            )
        if attempt <= self._attempts:
            raise ValueError(
                f"attempt {attempt} already started ({self._attempts} attempts so far); "
                "choose a later attempt"
            )
        self._on_attempt[attempt] = self._make(error, after)

    def clear(self) -> None:
        """Forget every pending fault."""
        self._queue.clear()
        self._on_attempt.clear()

    def start_attempt(self) -> InjectedFault | None:
        """Count a new attempt and return the fault it must raise, if any (used by the fakes)."""
        self._attempts += 1
        fault = self._on_attempt.pop(self._attempts, None)
        if fault is not None:
            return fault
        if self._queue:
            return self._queue.popleft()
        return None

    @staticmethod
    def _make(error: BaseException | None, after: float) -> InjectedFault:
        if error is None:
            error = _default_error()
        if not isinstance(error, BaseException):
            raise TypeError(f"error must be an exception instance, got {type(error).__name__}")
        if not math.isfinite(after) or after < 0:
            raise ValueError(f"after must be a finite number >= 0, got {after!r}")
        return InjectedFault(error=error, after=float(after))
