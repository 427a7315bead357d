"""Small shared types: the NOT_GIVEN sentinel and connection options for provider calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeGuard, TypeVar

_T = TypeVar("_T")


class NotGiven:
    """Sentinel type for "argument not passed", distinct from ``None``."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()
NotGivenOr: TypeAlias = _T | NotGiven


def is_given(value: _T | NotGiven) -> TypeGuard[_T]:
    """True when ``value`` is not the ``NOT_GIVEN`` sentinel."""
    return not isinstance(value, NotGiven)


def given_or(value: _T | NotGiven, default: _T) -> _T:
    """Return ``value`` unless it is ``NOT_GIVEN``, then ``default``."""
    return default if isinstance(value, NotGiven) else value


@dataclass(frozen=True)
class APIConnectOptions:
    """How a model call connects and retries.

    ``max_retry`` is the number of retries after the first attempt; ``retry_interval`` is the
    pause between retries (the first retry waits only 0.1 s); ``timeout`` bounds each attempt.
    """

    max_retry: int = 3
    retry_interval: float = 2.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.max_retry < 0:
            raise ValueError(f"max_retry must be >= 0, got {self.max_retry}")
        if self.retry_interval < 0:
            raise ValueError(f"retry_interval must be >= 0, got {self.retry_interval}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")

    def _interval_for_retry(self, num_retries: int) -> float:
        """Seconds to wait before retry number ``num_retries`` (0-based)."""
        if num_retries == 0:
            return min(0.1, self.retry_interval)
        return self.retry_interval


DEFAULT_API_CONNECT_OPTIONS = APIConnectOptions()

ATTRIBUTE_AGENT_STATE = "lk.agent.state"
TOPIC_TRANSCRIPTION = "lk.transcription"
TOPIC_CHAT = "lk.chat"

__all__ = [
    "ATTRIBUTE_AGENT_STATE",
    "DEFAULT_API_CONNECT_OPTIONS",
    "NOT_GIVEN",
    "TOPIC_CHAT",
    "TOPIC_TRANSCRIPTION",
    "APIConnectOptions",
    "NotGiven",
    "NotGivenOr",
    "given_or",
    "is_given",
]
