"""A pool of prewarmed job executors: one job per executor, refilled after each launch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..job.types import JobExecutorType, RunningJobInfo
from ..utils.aio import cancel_and_wait
from .executor import ExecutorConfig, JobExecutor, JobInitializationError
from .job_runtime import JobRuntimeArgs
from .proc_executor import ProcJobExecutor, get_mp_context
from .thread_executor import ThreadJobExecutor

logger = logging.getLogger("voxlane.agents.ipc")

MAX_CONCURRENT_INITIALIZATIONS = 2
INIT_FAILURE_BACKOFF = 2.0


class ProcPool:
    """Keeps ``num_idle_processes`` warm executors ready and runs each job on its own."""

    def __init__(
        self,
        *,
        args: JobRuntimeArgs,
        config: ExecutorConfig,
        num_idle_processes: int,
        executor_type: JobExecutorType = JobExecutorType.PROCESS,
        mp_context: str = "spawn",
        on_job_ended: Callable[[JobExecutor], None] | None = None,
    ) -> None:
        if num_idle_processes < 0:
            raise ValueError(f"num_idle_processes must be >= 0, got {num_idle_processes}")
        self._args = args
        self._config = config
        self._num_idle = num_idle_processes
        self._executor_type = executor_type
        self._mp_ctx = (
            get_mp_context(mp_context) if executor_type == JobExecutorType.PROCESS else None
        )
        self._on_job_ended = on_job_ended
        self._warm: list[JobExecutor] = []
        self._warming: set[asyncio.Task[None]] = set()
        self._executors: set[JobExecutor] = set()
        self._init_sem = asyncio.Semaphore(MAX_CONCURRENT_INITIALIZATIONS)
        self._started = False
        self._closed = False

    @property
    def executors(self) -> list[JobExecutor]:
        """Executors currently running a job."""
        return [e for e in self._executors if e.running_job is not None and not e.ended]

    @property
    def idle_count(self) -> int:
        return len(self._warm)

    def get_by_job_id(self, job_id: str) -> JobExecutor | None:
        for e in self._executors:
            if e.running_job is not None and e.running_job.job.id == job_id and not e.ended:
                return e
        return None

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._fill()

    def _new_executor(self) -> JobExecutor:
        ex: JobExecutor
        if self._executor_type == JobExecutorType.THREAD:
            ex = ThreadJobExecutor(args=self._args, config=self._config, on_ended=self._ended)
        else:
            assert self._mp_ctx is not None
            ex = ProcJobExecutor(
                args=self._args, config=self._config, mp_context=self._mp_ctx, on_ended=self._ended
            )
        self._executors.add(ex)
        return ex

    def _ended(self, ex: JobExecutor) -> None:
        self._executors.discard(ex)
        if ex in self._warm:
            self._warm.remove(ex)
            if not self._closed:  # during shutdown idle processes end on purpose
                logger.warning("an idle job process exited (exit outcome unknown); replacing it")
                self._fill()
        if ex.running_job is not None and self._on_job_ended is not None:
            self._on_job_ended(ex)

    def _fill(self) -> None:
        if self._closed or not self._started:
            return
        while len(self._warm) + len(self._warming) < self._num_idle:
            task = asyncio.create_task(self._warm_one())
            self._warming.add(task)
            task.add_done_callback(self._warming.discard)

    async def _warm_one(self) -> None:
        async with self._init_sem:
            if self._closed:
                return
            ex = self._new_executor()
            try:
                await ex.start()
                await ex.initialize()
            except (JobInitializationError, OSError) as e:
                logger.error("could not prepare a job process: %s", e)
                await ex.aclose()
                await asyncio.sleep(INIT_FAILURE_BACKOFF)
                return
            if self._closed:
                await ex.aclose()
                return
            self._warm.append(ex)

    async def _take_executor(self) -> JobExecutor:
        while self._warm:
            ex = self._warm.pop(0)
            if not ex.ended:
                return ex
        ex = self._new_executor()
        await ex.start()
        await ex.initialize()
        return ex

    async def launch_job(self, info: RunningJobInfo) -> JobExecutor:
        """Run ``info`` on a warm executor (or a new one) and refill the pool."""
        if self._closed:
            raise RuntimeError("the process pool is closed")
        try:
            ex = await self._take_executor()
            try:
                await ex.launch_job(info)
            except BaseException:
                ex.kill("the job could not be handed to its process")
                raise
        finally:
            self._fill()
        return ex

    async def aclose(self) -> None:
        """Stop warming, end idle executors and wait for running jobs to be closed."""
        if self._closed:
            return
        self._closed = True
        await cancel_and_wait(*self._warming)
        await asyncio.gather(
            *(e.aclose("the worker is shutting down") for e in list(self._executors)),
            return_exceptions=True,
        )


__all__ = ["ProcPool"]
