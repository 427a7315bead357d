"""The worker: options, LiveKit agent protocol client, and load reporting."""

from ..job.types import JobExecutorType
from .options import WorkerEnvOption, WorkerOptions, WorkerPermissions, WorkerType
from .worker import UnpicklableJobFunctionError, Worker, WorkerConnectionError

__all__ = [
    "JobExecutorType",
    "UnpicklableJobFunctionError",
    "Worker",
    "WorkerConnectionError",
    "WorkerEnvOption",
    "WorkerOptions",
    "WorkerPermissions",
    "WorkerType",
]
