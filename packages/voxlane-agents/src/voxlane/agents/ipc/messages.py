"""Typed messages exchanged between the worker and a job executor (process or thread)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..job.types import RunningJobInfo


@dataclass
class InitializeResponse:
    """child -> parent: prewarm finished (``error`` set if it failed)."""

    error: str | None = None


@dataclass
class PingRequest:
    """parent -> child: liveness probe."""

    timestamp: float


@dataclass
class PongResponse:
    """child -> parent: answer to a :class:`PingRequest`."""

    last_timestamp: float
    timestamp: float


@dataclass
class StartJobRequest:
    """parent -> child: run this job."""

    running_job: RunningJobInfo


@dataclass
class ShutdownRequest:
    """parent -> child: end the job (run shutdown callbacks) and exit."""

    reason: str = ""


@dataclass
class ShuttingDown:
    """child -> parent: the job started shutting down by itself (e.g. ``ctx.shutdown()``)."""

    reason: str


@dataclass
class Exiting:
    """child -> parent: the job is over; ``error`` is set when it failed."""

    reason: str
    error: str | None = None
    shutdown_errors: list[str] = field(default_factory=list)


Message = (
    InitializeResponse
    | PingRequest
    | PongResponse
    | StartJobRequest
    | ShutdownRequest
    | ShuttingDown
    | Exiting
)

MESSAGE_TYPES: tuple[type, ...] = (
    InitializeResponse,
    PingRequest,
    PongResponse,
    StartJobRequest,
    ShutdownRequest,
    ShuttingDown,
    Exiting,
)

__all__ = [
    "MESSAGE_TYPES",
    "Exiting",
    "InitializeResponse",
    "Message",
    "PingRequest",
    "PongResponse",
    "ShutdownRequest",
    "ShuttingDown",
    "StartJobRequest",
]
