"""The worker: options, LiveKit agent protocol client, and load reporting.

Both LiveKit APIs are here: ``cli.run_app(WorkerOptions(...))`` and the newer
``AgentServer`` + ``@server.rtc_session()`` (with ``ServerOptions``/``ServerType`` as the newer
names of ``WorkerOptions``/``WorkerType``).
"""

from ..job.types import JobExecutorType
from .options import (
    ServerOptions,
    ServerType,
    WorkerEnvOption,
    WorkerOptions,
    WorkerPermissions,
    WorkerType,
)
from .server import AgentServer, MissingRtcSessionError
from .worker import UnpicklableJobFunctionError, Worker, WorkerConnectionError

__all__ = [
    "AgentServer",
    "JobExecutorType",
    "MissingRtcSessionError",
    "ServerOptions",
    "ServerType",
    "UnpicklableJobFunctionError",
    "Worker",
    "WorkerConnectionError",
    "WorkerEnvOption",
    "WorkerOptions",
    "WorkerPermissions",
    "WorkerType",
]
