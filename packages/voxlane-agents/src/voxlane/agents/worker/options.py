"""`WorkerOptions`: how a worker registers, which jobs it takes, and how it runs them."""

from __future__ import annotations

import enum
import inspect
import math
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from livekit.protocol import agent, models

from ..job.context import JobContext, JobProcess
from ..job.request import JobRequest
from ..job.types import JobExecutorType
from .load import default_load_fnc

if TYPE_CHECKING:
    from .worker import Worker

T = TypeVar("T")


class WorkerType(enum.Enum):
    """Dispatch a job per room (ROOM) or per publishing participant (PUBLISHER)."""

    ROOM = agent.JobType.JT_ROOM
    PUBLISHER = agent.JobType.JT_PUBLISHER


ServerType = WorkerType
"""The newer name of `WorkerType` (LiveKit Agents 1.3+): the same enum."""


@dataclass
class WorkerPermissions:
    """Permissions the agent participant gets in the room."""

    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    can_update_metadata: bool = True
    can_publish_sources: list[models.TrackSource] = field(default_factory=list)
    hidden: bool = False

    def to_proto(self) -> models.ParticipantPermission:
        return models.ParticipantPermission(
            can_publish=self.can_publish,
            can_subscribe=self.can_subscribe,
            can_publish_data=self.can_publish_data,
            can_update_metadata=self.can_update_metadata,
            can_publish_sources=list(self.can_publish_sources),
            hidden=self.hidden,
            agent=True,
        )


@dataclass
class WorkerEnvOption(Generic[T]):
    """A value that differs between development (``dev``/``console``) and production."""

    dev_default: T
    prod_default: T

    @staticmethod
    def getvalue(opt: T | WorkerEnvOption[T], devmode: bool) -> T:
        if isinstance(opt, WorkerEnvOption):
            return opt.dev_default if devmode else opt.prod_default
        return opt


async def _default_request_fnc(req: JobRequest) -> None:
    await req.accept()


def _default_prewarm_fnc(proc: JobProcess) -> None:
    return None


def _default_num_idle_processes() -> int:
    return max(1, min(math.ceil(os.cpu_count() or 1), 4))


def _default_mp_context() -> Literal["spawn", "forkserver"]:
    return "forkserver" if sys.platform.startswith("linux") else "spawn"


LoadFnc = Callable[["Worker"], float] | Callable[[], float]

_ENV_URL = "LIVEKIT_URL"
_ENV_KEY = "LIVEKIT_API_KEY"
_ENV_SECRET = "LIVEKIT_API_SECRET"
_ENV_AGENT_NAME = "LIVEKIT_AGENT_NAME"


@dataclass
class WorkerOptions:
    """Configuration of a worker (see ``cli.run_app``). Callables must be module-level functions
    when the process executor is used, because they are pickled into job processes."""

    entrypoint_fnc: Callable[[JobContext], Awaitable[None]]
    """Coroutine run for every job, with its `JobContext`."""
    request_fnc: Callable[[JobRequest], Awaitable[None]] = _default_request_fnc
    """Decides whether to accept a job (default: accept everything)."""
    prewarm_fnc: Callable[[JobProcess], Any] = _default_prewarm_fnc
    """Runs once per job process before any job; fill ``proc.userdata`` (e.g. load models)."""
    load_fnc: LoadFnc = default_load_fnc
    """Current load in [0, 1] (default: CPU utilisation); compared to ``load_threshold``."""
    job_executor_type: JobExecutorType = JobExecutorType.PROCESS
    load_threshold: float | WorkerEnvOption[float] = field(
        default_factory=lambda: WorkerEnvOption(dev_default=math.inf, prod_default=0.7)
    )
    """At or above this load the worker is marked full and refuses new jobs."""
    job_memory_warn_mb: float = 1000.0
    job_memory_limit_mb: float = 0.0
    """Kill a job process above this resident memory (0 = no limit)."""
    drain_timeout: float = 3600.0
    """On SIGTERM, how long running jobs may continue before they are closed."""
    num_idle_processes: int | WorkerEnvOption[int] = field(
        default_factory=lambda: WorkerEnvOption(
            dev_default=0, prod_default=_default_num_idle_processes()
        )
    )
    shutdown_process_timeout: float = 60.0
    """How long shutdown callbacks may run before the job process is killed."""
    initialize_process_timeout: float = 10.0
    """How long ``prewarm_fnc`` may take in a new process."""
    permissions: WorkerPermissions = field(default_factory=WorkerPermissions)
    agent_name: str = ""
    """Set for explicit dispatch (falls back to LIVEKIT_AGENT_NAME)."""
    worker_type: WorkerType = WorkerType.ROOM
    max_retry: int = 16
    """Reconnection attempts before the worker gives up."""
    ws_url: str = ""
    """LiveKit server URL (falls back to LIVEKIT_URL)."""
    api_key: str | None = None
    """Falls back to LIVEKIT_API_KEY."""
    api_secret: str | None = None
    """Falls back to LIVEKIT_API_SECRET."""
    host: str = ""
    port: int | WorkerEnvOption[int] = field(
        default_factory=lambda: WorkerEnvOption(dev_default=0, prod_default=8081)
    )
    """Port of the health-check HTTP server (0 = any free port)."""
    http_proxy: str | None = None
    multiprocessing_context: Literal["spawn", "forkserver"] = field(
        default_factory=_default_mp_context
    )
    """How job processes start: ``forkserver`` on Linux (forked from a process that preloaded
    the framework: less memory per process, faster start; see ipc.proc_executor), else
    ``spawn``."""
    session_end_fnc: Callable[[JobContext], Awaitable[None]] | None = None
    """Runs in the job process after the job's session ended (its shutdown callbacks ran), with
    the job's `JobContext`; e.g. to store a session report. ``@server.rtc_session(on_session_end=)``
    sets it."""
    session_end_timeout: float = 300.0
    """How long ``session_end_fnc`` may run before it is cancelled."""
    # -- Voxlane additions ----------------------------------------------------------------------
    room_factory: Callable[[], Any] | None = None
    """Creates the room object of each job (default ``livekit.rtc.Room``); tests inject fakes."""
    ping_interval: float = 2.5
    ping_timeout: float = 60.0
    """A job process that answers no ping for this long is killed as hung."""
    high_ping_threshold: float = 0.5
    status_interval: float = 2.5
    """Seconds between load/status reports to the server."""
    server_ping_interval: float = 10.0
    """Seconds between ``WorkerPing`` messages to the server."""
    server_ping_timeout: float = 30.0
    """Reconnect when a server that answered pings answers none for this long."""
    assignment_timeout: float = 7.5
    """How long to wait for the server's assignment after accepting a job."""

    def __post_init__(self) -> None:
        if not callable(self.entrypoint_fnc):
            raise TypeError(
                "WorkerOptions.entrypoint_fnc must be an async function taking a JobContext, "
                f"got {self.entrypoint_fnc!r}"
            )
        if not inspect.iscoroutinefunction(self.entrypoint_fnc):
            raise TypeError(
                "WorkerOptions.entrypoint_fnc must be an `async def` function "
                f"(got {getattr(self.entrypoint_fnc, '__name__', self.entrypoint_fnc)!r})"
            )
        for name in ("request_fnc", "prewarm_fnc", "load_fnc"):
            if not callable(getattr(self, name)):
                raise TypeError(f"WorkerOptions.{name} must be callable")
        if self.session_end_fnc is not None and not inspect.iscoroutinefunction(
            self.session_end_fnc
        ):
            raise TypeError(
                "WorkerOptions.session_end_fnc (on_session_end) must be an `async def` function "
                f"taking a JobContext, got {self.session_end_fnc!r}"
            )
        if not isinstance(self.job_executor_type, JobExecutorType):
            raise TypeError(
                "WorkerOptions.job_executor_type must be JobExecutorType.PROCESS or "
                f"JobExecutorType.THREAD, got {self.job_executor_type!r}"
            )
        for name in ("load_threshold",):
            for v in _both(getattr(self, name)):
                if not v > 0:
                    raise ValueError(f"WorkerOptions.{name} must be > 0, got {v}")
        for v in _both(self.num_idle_processes):
            if v < 0:
                raise ValueError(f"WorkerOptions.num_idle_processes must be >= 0, got {v}")
        for name in (
            "shutdown_process_timeout",
            "initialize_process_timeout",
            "drain_timeout",
            "ping_interval",
            "ping_timeout",
            "status_interval",
            "server_ping_interval",
            "server_ping_timeout",
            "assignment_timeout",
            "session_end_timeout",
        ):
            v = getattr(self, name)
            if not v > 0:
                raise ValueError(f"WorkerOptions.{name} must be > 0 seconds, got {v}")
        for name in ("job_memory_warn_mb", "job_memory_limit_mb"):
            v = getattr(self, name)
            if v < 0:
                raise ValueError(f"WorkerOptions.{name} must be >= 0 (0 disables it), got {v}")
        if self.max_retry < 0:
            raise ValueError(f"WorkerOptions.max_retry must be >= 0, got {self.max_retry}")
        if self.multiprocessing_context not in ("spawn", "forkserver"):
            raise ValueError(
                "WorkerOptions.multiprocessing_context must be 'spawn' or 'forkserver', "
                f"got {self.multiprocessing_context!r}"
            )
        if not isinstance(self.worker_type, WorkerType):
            raise TypeError(
                f"WorkerOptions.worker_type must be a WorkerType, got {self.worker_type!r}"
            )
        if not self.agent_name:
            self.agent_name = os.environ.get(_ENV_AGENT_NAME, "")

    def resolve_url(self) -> str:
        """The server URL from ``ws_url`` or LIVEKIT_URL, or a clear error."""
        url = self.ws_url or os.environ.get(_ENV_URL, "")
        if not url:
            raise ValueError(
                "no LiveKit server URL: pass WorkerOptions(ws_url='wss://...') or set the "
                f"{_ENV_URL} environment variable"
            )
        if not url.startswith(("ws://", "wss://", "http://", "https://")):
            raise ValueError(
                f"LiveKit server URL {url!r} must start with ws://, wss://, http:// or https://"
            )
        return url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)

    def resolve_credentials(self) -> tuple[str, str]:
        """``(api_key, api_secret)`` from the options or the environment, or a clear error."""
        key = self.api_key or os.environ.get(_ENV_KEY, "")
        secret = self.api_secret or os.environ.get(_ENV_SECRET, "")
        missing = [
            f"api_key (or {_ENV_KEY})" if not key else "",
            f"api_secret (or {_ENV_SECRET})" if not secret else "",
        ]
        missing = [m for m in missing if m]
        if missing:
            raise ValueError(
                "missing LiveKit credentials: " + " and ".join(missing) + ". Pass them to "
                "WorkerOptions or set the environment variables."
            )
        return key, secret


ServerOptions = WorkerOptions
"""The newer name of `WorkerOptions` (LiveKit Agents 1.3+): the same class."""


def _both(opt: Any) -> list[Any]:
    if isinstance(opt, WorkerEnvOption):
        return [opt.dev_default, opt.prod_default]
    return [opt]


__all__ = [
    "LoadFnc",
    "ServerOptions",
    "ServerType",
    "WorkerEnvOption",
    "WorkerOptions",
    "WorkerPermissions",
    "WorkerType",
]
