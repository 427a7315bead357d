"""Job executors and the process pool (worker <-> job process communication)."""

from .executor import (
    ExecutorConfig,
    ExecutorStatus,
    JobExecutor,
    JobInitializationError,
    JobOutcome,
)
from .job_runtime import JobRuntimeArgs
from .proc_executor import ProcJobExecutor
from .proc_pool import ProcPool
from .thread_executor import ThreadJobExecutor

__all__ = [
    "ExecutorConfig",
    "ExecutorStatus",
    "JobExecutor",
    "JobInitializationError",
    "JobOutcome",
    "JobRuntimeArgs",
    "ProcJobExecutor",
    "ProcPool",
    "ThreadJobExecutor",
]
