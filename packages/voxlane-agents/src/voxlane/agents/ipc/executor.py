"""Job executors: the worker's handle on one job process (or thread).

An executor starts the job runtime, waits for prewarm, launches one job, watches it (pings, and
memory for processes), asks it to end, and kills it when it hangs or exceeds its limits.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..job.types import RunningJobInfo
from ..utils.aio import cancel_and_wait
from ..utils.misc import shortuuid
from .channel import ChannelClosed, IPCChannel
from .messages import (
    Exiting,
    InitializeResponse,
    PongResponse,
    ShutdownRequest,
    ShuttingDown,
    StartJobRequest,
)
from .messages import PingRequest as _PingRequest

logger = logging.getLogger("voxlane.agents.ipc")

KILL_GRACE_PERIOD = 2.0
"""Extra seconds given after ``shutdown_process_timeout`` before a job process is killed."""


class JobInitializationError(Exception):
    """The job process could not be prepared (prewarm failed or timed out)."""


class ExecutorStatus(enum.Enum):
    CREATED = "created"
    STARTING = "starting"
    READY = "ready"
    RUNNING = "running"
    ENDED = "ended"


@dataclass
class ExecutorConfig:
    """Watchdog and timeout settings of executors (taken from `WorkerOptions`)."""

    initialize_timeout: float = 10.0
    shutdown_timeout: float = 60.0
    ping_interval: float = 2.5
    ping_timeout: float = 60.0
    high_ping_threshold: float = 0.5
    memory_warn_mb: float = 0.0
    memory_limit_mb: float = 0.0
    memory_check_interval: float = 1.0
    session_end_timeout: float = 0.0
    """Extra time a job may take to end when it has an ``on_session_end`` (0 = none)."""


@dataclass
class JobOutcome:
    """How a job ended, as seen by the worker."""

    success: bool
    reason: str
    error: str | None = None
    shutdown_errors: list[str] = field(default_factory=list)
    exitcode: int | None = None
    killed: bool = False


class JobExecutor(abc.ABC):
    """Base class shared by the process and thread executors."""

    kind = "base"

    def __init__(
        self,
        *,
        config: ExecutorConfig,
        on_ended: Callable[[JobExecutor], None] | None = None,
    ) -> None:
        self._id = shortuuid("EX_")
        self._config = config
        self._on_ended = on_ended
        self._status = ExecutorStatus.CREATED
        self._chan: IPCChannel | None = None
        self._running_job: RunningJobInfo | None = None
        self._exiting: Exiting | None = None
        self._kill_reason: str | None = None
        self._init_fut: asyncio.Future[InitializeResponse] | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._watch_tasks: list[asyncio.Task[None]] = []
        self._kill_timer: asyncio.TimerHandle | None = None
        self._ended = asyncio.Event()
        self._outcome: JobOutcome | None = None
        self._last_pong = time.monotonic()
        self._shutting_down = False

    # -- to implement ------------------------------------------------------------------------

    @abc.abstractmethod
    async def _start_child(self, sock: socket.socket) -> None:
        """Start the job's child (process or thread), talking over ``sock``."""

    @abc.abstractmethod
    async def _wait_child_exit(self) -> int | None:
        """Wait for the child to end; its exit code, if it has one."""

    @abc.abstractmethod
    def _kill_child(self) -> None:
        """Stop the child at once."""

    @property
    def pid(self) -> int | None:
        return None

    # -- public -------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def status(self) -> ExecutorStatus:
        return self._status

    @property
    def running_job(self) -> RunningJobInfo | None:
        return self._running_job

    @property
    def outcome(self) -> JobOutcome | None:
        """Set once the executor ended after running a job."""
        return self._outcome

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    async def start(self) -> None:
        """Start the child (process or thread) and begin supervising it."""
        if self._status != ExecutorStatus.CREATED:
            raise RuntimeError("an executor can only be started once")
        self._status = ExecutorStatus.STARTING
        self._init_fut = asyncio.get_running_loop().create_future()
        parent_sock, child_sock = socket.socketpair()
        try:
            await self._start_child(child_sock)
        except BaseException as e:
            # nothing runs: end this executor, so that closing the pool does not wait for it
            parent_sock.close()
            self._status = ExecutorStatus.ENDED
            self._ended.set()
            if self._on_ended is not None:
                with contextlib.suppress(Exception):
                    self._on_ended(self)
            if isinstance(e, Exception):
                raise JobInitializationError(
                    f"could not start the job {self.kind}: {type(e).__name__}: {e}"
                ) from e
            raise
        finally:
            child_sock.close()
        self._chan = await IPCChannel.open(parent_sock)
        self._main_task = asyncio.create_task(self._main())

    async def initialize(self) -> None:
        """Wait for the child's prewarm; kill it and raise on failure or timeout."""
        assert self._init_fut is not None, "start() first"
        try:
            resp = await asyncio.wait_for(
                asyncio.shield(self._init_fut), self._config.initialize_timeout
            )
        except asyncio.TimeoutError:
            self.kill(
                f"prewarm did not finish within initialize_process_timeout "
                f"({self._config.initialize_timeout:g} s)"
            )
            raise JobInitializationError(self._kill_reason or "") from None
        except ChannelClosed as e:
            raise JobInitializationError(f"the job process ended during prewarm: {e}") from e
        if resp.error is not None:
            self.kill("prewarm failed")
            raise JobInitializationError(resp.error)
        self._status = ExecutorStatus.READY

    async def launch_job(self, info: RunningJobInfo) -> None:
        """Send the job to the (initialized) child and start the watchdogs."""
        if self._status != ExecutorStatus.READY:
            raise RuntimeError(f"cannot launch a job on an executor in state {self._status.value}")
        assert self._chan is not None
        self._running_job = info
        self._status = ExecutorStatus.RUNNING
        self._last_pong = time.monotonic()
        await self._chan.send(StartJobRequest(running_job=info))
        self._watch_tasks.append(asyncio.create_task(self._ping_loop()))
        if self.pid is not None and (self._config.memory_warn_mb or self._config.memory_limit_mb):
            self._watch_tasks.append(asyncio.create_task(self._memory_loop()))

    async def aclose(self, reason: str = "") -> None:
        """Ask the job to end; kill it if it has not exited in time. Waits until it ended."""
        if self._status == ExecutorStatus.CREATED:
            self._status = ExecutorStatus.ENDED
            self._ended.set()
            return
        if not self._ended.is_set() and self._chan is not None:
            with contextlib.suppress(ChannelClosed):
                await self._chan.send(ShutdownRequest(reason=reason))
            self._arm_kill_timer()
        await self.join()

    async def join(self) -> None:
        await self._ended.wait()
        if self._main_task is not None:
            await asyncio.shield(self._main_task)

    def kill(self, reason: str) -> None:
        """Stop the child now (SIGKILL for processes)."""
        if self._ended.is_set() or self._kill_reason is not None:
            return
        self._kill_reason = reason
        logger.warning("killing job executor %s (pid %s): %s", self._id, self.pid, reason)
        self._kill_child()

    # -- supervision ------------------------------------------------------------------------

    def _arm_kill_timer(self) -> None:
        if self._kill_timer is not None or self._ended.is_set():
            return
        extra = self._config.session_end_timeout
        timeout = self._config.shutdown_timeout + extra + KILL_GRACE_PERIOD
        limit = f"shutdown_process_timeout ({self._config.shutdown_timeout:g} s)"
        if extra:
            limit += f" plus session_end_timeout ({extra:g} s)"
        self._kill_timer = asyncio.get_running_loop().call_later(
            timeout, self.kill, f"the job did not exit within {limit}"
        )

    async def _main(self) -> None:
        assert self._chan is not None
        recv_task = asyncio.create_task(self._recv_loop())
        exitcode: int | None = None
        try:
            exitcode = await self._wait_child_exit()
            # the child is gone: read what it sent last (its Exiting message)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(recv_task), 1.0)
        finally:
            await cancel_and_wait(recv_task, *self._watch_tasks)
            if self._kill_timer is not None:
                self._kill_timer.cancel()
            await self._chan.aclose()
            if self._init_fut is not None and not self._init_fut.done():
                self._init_fut.set_exception(ChannelClosed("the job process exited"))
                self._init_fut.exception()  # mark retrieved
            self._status = ExecutorStatus.ENDED
            self._outcome = self._make_outcome(exitcode)
            self._ended.set()
            if self._on_ended is not None:
                try:
                    self._on_ended(self)
                except Exception:
                    logger.exception("on_ended callback failed")

    def _make_outcome(self, exitcode: int | None) -> JobOutcome | None:
        if self._running_job is None:
            return None
        ex = self._exiting
        if self._kill_reason is not None:
            return JobOutcome(
                success=False,
                reason=ex.reason if ex else "killed",
                error=f"job killed: {self._kill_reason}",
                shutdown_errors=ex.shutdown_errors if ex else [],
                exitcode=exitcode,
                killed=True,
            )
        if ex is not None:
            return JobOutcome(
                success=ex.error is None,
                reason=ex.reason,
                error=ex.error,
                shutdown_errors=ex.shutdown_errors,
                exitcode=exitcode,
            )
        return JobOutcome(
            success=False,
            reason="crashed",
            error=f"the job process exited unexpectedly (exit code {exitcode})",
            exitcode=exitcode,
        )

    async def _recv_loop(self) -> None:
        assert self._chan is not None
        while True:
            try:
                msg = await self._chan.recv()
            except ChannelClosed:
                return
            if isinstance(msg, InitializeResponse):
                if self._init_fut is not None and not self._init_fut.done():
                    self._init_fut.set_result(msg)
            elif isinstance(msg, PongResponse):
                self._last_pong = time.monotonic()
                delay = time.time() - msg.last_timestamp
                if delay > self._config.high_ping_threshold:
                    logger.warning(
                        "job process %s is slow to answer pings (%.2f s)", self.pid, delay
                    )
            elif isinstance(msg, ShuttingDown):
                self._shutting_down = True
                self._arm_kill_timer()
            elif isinstance(msg, Exiting):
                self._exiting = msg

    async def _ping_loop(self) -> None:
        assert self._chan is not None
        while True:
            try:
                await self._chan.send(_PingRequest(timestamp=time.time()))
            except ChannelClosed:
                return
            await asyncio.sleep(self._config.ping_interval)
            silent = time.monotonic() - self._last_pong
            if silent > self._config.ping_timeout:
                self.kill(
                    f"the job is unresponsive (no answer to pings for {silent:.1f} s, "
                    f"limit {self._config.ping_timeout:g} s)"
                )
                return

    async def _memory_loop(self) -> None:
        from .memory import process_rss_mb

        warned_at = 0.0
        while True:
            pid = self.pid
            rss = process_rss_mb(pid) if pid is not None else None
            if rss is not None:
                limit = self._config.memory_limit_mb
                warn = self._config.memory_warn_mb
                if limit > 0 and rss > limit:
                    self.kill(f"memory use {rss:.0f} MB exceeds job_memory_limit_mb ({limit:g} MB)")
                    return
                if warn > 0 and rss > warn and rss > warned_at * 1.1:
                    warned_at = rss
                    logger.warning(
                        "job process %s uses %.0f MB (job_memory_warn_mb %g MB)", pid, rss, warn
                    )
            await asyncio.sleep(self._config.memory_check_interval)


__all__ = [
    "KILL_GRACE_PERIOD",
    "ExecutorConfig",
    "ExecutorStatus",
    "JobExecutor",
    "JobInitializationError",
    "JobOutcome",
]
