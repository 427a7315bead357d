"""The job side of an executor: prewarm, answer pings, run one job, report how it ended.

The same code runs in a spawned process (`ProcJobExecutor`) and in a thread (`ThreadJobExecutor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import inspect
import logging
import signal
import socket
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..job.context import JobContext, JobProcess, _job_context_var
from ..job.room_surface import RoomLike, default_room_factory
from ..job.types import JobExecutorType, RunningJobInfo
from ..utils.aio import cancel_and_wait
from .channel import ChannelClosed, IPCChannel
from .messages import (
    Exiting,
    InitializeResponse,
    PingRequest,
    PongResponse,
    ShutdownRequest,
    ShuttingDown,
    StartJobRequest,
)

logger = logging.getLogger("voxlane.agents.job")

ROOM_DISCONNECT_TIMEOUT = 5.0


@dataclass
class JobRuntimeArgs:
    """What a job executor needs to run jobs (must be picklable for process executors)."""

    entrypoint_fnc: Callable[[JobContext], Awaitable[None]]
    prewarm_fnc: Callable[[JobProcess], Any] | None
    room_factory: Callable[[], Any] | None
    executor_type: JobExecutorType
    shutdown_timeout: float
    user_arguments: Any = None
    http_proxy: str | None = None
    log_level: int = logging.INFO
    session_end_fnc: Callable[[JobContext], Awaitable[None]] | None = None
    session_end_timeout: float = 300.0


def proc_main(args: JobRuntimeArgs, sock: socket.socket) -> None:
    """Entry point of a job process (target of ``multiprocessing.Process``)."""
    # the worker decides when a job ends: Ctrl+C and SIGTERM sent to the whole process group
    # must not kill running jobs (the worker drains them), so job processes ignore both
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s [job pid %(process)d] %(message)s",
    )
    asyncio.run(JobRuntime(args, sock).run())


def freeze_startup_objects() -> None:
    """Move everything imported and prewarmed so far out of the garbage collector's sight.

    A job process keeps its imports and prewarmed models until it exits, yet every full
    collection would walk them again: tens of milliseconds in which no audio is processed
    (see bench/sessions_per_process.py). ``gc.freeze`` leaves the collector only the objects
    the job itself creates. Only for process executors: a thread executor shares the worker's
    heap. On glibc, memory that prewarm allocated and freed again (model loading) is also handed
    back to the system (``malloc_trim``), a few MB of RSS per idle process.

    It runs twice on the way to a forkserver job: once in the forkserver after its preload
    (``_forkserver_preload``: the framework, shared copy-on-write by every job process), then in
    the job process after prewarm. Freezing adds to what is already frozen and a collection
    never visits frozen objects, so the second run only handles what the job process created
    since the fork (the agent program, prewarmed models); with ``spawn`` it handles everything.
    """
    gc.collect()
    gc.freeze()
    _release_free_heap()


def _release_free_heap() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim  # glibc only (not musl)
    except (OSError, AttributeError):
        return
    trim(0)


class JobRuntime:
    """Runs inside the job process/thread, driven by messages from the worker."""

    def __init__(self, args: JobRuntimeArgs, sock: socket.socket) -> None:
        self._args = args
        self._sock = sock
        self._chan: IPCChannel | None = None
        self._proc = JobProcess(
            executor_type=args.executor_type,
            user_arguments=args.user_arguments,
            http_proxy=args.http_proxy,
        )
        self._ctx: JobContext | None = None
        self._job_task: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()
        self._pending_sends: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        self._chan = await IPCChannel.open(self._sock)
        try:
            if not await self._prewarm():
                return
            recv_task = asyncio.create_task(self._recv_loop())
            await self._finished.wait()
            await cancel_and_wait(recv_task)
            if self._pending_sends:
                await asyncio.gather(*self._pending_sends, return_exceptions=True)
        finally:
            await self._chan.aclose()

    async def _send(self, msg: Any) -> None:
        assert self._chan is not None
        with contextlib.suppress(ChannelClosed):
            await self._chan.send(msg)

    async def _prewarm(self) -> bool:
        fnc = self._args.prewarm_fnc
        try:
            if fnc is not None:
                result = fnc(self._proc)
                if inspect.isawaitable(result):
                    await result
        except Exception:
            logger.exception("prewarm_fnc failed")
            await self._send(InitializeResponse(error="prewarm_fnc failed:\n" + _format_exc()))
            return False
        if self._args.executor_type is JobExecutorType.PROCESS:
            freeze_startup_objects()
        await self._send(InitializeResponse())
        return True

    async def _recv_loop(self) -> None:
        assert self._chan is not None
        while True:
            try:
                msg = await self._chan.recv()
            except ChannelClosed:
                if self._ctx is not None:
                    self._ctx.shutdown("the worker went away")
                else:
                    self._finished.set()
                return
            if isinstance(msg, PingRequest):
                await self._send(PongResponse(last_timestamp=msg.timestamp, timestamp=time.time()))
            elif isinstance(msg, StartJobRequest):
                if self._job_task is not None:
                    logger.error("a job process runs one job only; ignoring a second job")
                    continue
                self._job_task = asyncio.create_task(self._run_job(msg.running_job))
            elif isinstance(msg, ShutdownRequest):
                if self._ctx is not None:
                    self._ctx.shutdown(msg.reason or "the worker asked the job to end")
                elif self._job_task is None:
                    self._finished.set()
                    return

    def _on_ctx_shutdown(self, reason: str) -> None:
        task = asyncio.ensure_future(self._send(ShuttingDown(reason=reason)))
        self._pending_sends.add(task)
        task.add_done_callback(self._pending_sends.discard)

    async def _run_job(self, info: RunningJobInfo) -> None:
        error: str | None = None
        reason = ""
        shutdown_errors: list[str] = []
        try:
            factory = self._args.room_factory or default_room_factory
            room: RoomLike = factory()
            ctx = JobContext(
                proc=self._proc, info=info, room=room, on_shutdown=self._on_ctx_shutdown
            )
            self._ctx = ctx
            _job_context_var.set(ctx)
            entry: asyncio.Future[None] = asyncio.ensure_future(self._args.entrypoint_fnc(ctx))
            waiter = asyncio.create_task(ctx.wait_for_shutdown())
            watched: set[asyncio.Future[Any]] = {entry, waiter}
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if entry.done():
                exc = None if entry.cancelled() else entry.exception()
                if exc is not None:
                    error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                    logger.error(
                        "job entrypoint failed", exc_info=exc, extra=ctx.log_context_fields
                    )
                    ctx.shutdown("the entrypoint raised an exception")
                elif not ctx.is_connected:
                    ctx.shutdown("the entrypoint returned without connecting to the room")
            reason = await waiter
            shutdown_errors = await ctx._run_shutdown_callbacks(self._args.shutdown_timeout)
            session_end_error = await self._run_session_end(ctx)
            if session_end_error is not None:
                shutdown_errors.append(session_end_error)
            for msg in shutdown_errors:
                logger.warning(msg, extra=ctx.log_context_fields)
            await cancel_and_wait(entry)
            if room.isconnected():
                try:
                    await asyncio.wait_for(room.disconnect(), ROOM_DISCONNECT_TIMEOUT)
                except Exception:
                    logger.warning("leaving the room failed", exc_info=True)
        except Exception:
            error = error or _format_exc()
            logger.exception("job failed")
        await self._send(Exiting(reason=reason, error=error, shutdown_errors=shutdown_errors))
        self._finished.set()

    async def _run_session_end(self, ctx: JobContext) -> str | None:
        """Run ``session_end_fnc(ctx)`` (``on_session_end``); what went wrong, if anything."""
        fnc = self._args.session_end_fnc
        if fnc is None:
            return None
        timeout = self._args.session_end_timeout
        try:
            await asyncio.wait_for(fnc(ctx), timeout)
        except asyncio.TimeoutError:
            return f"on_session_end did not finish within session_end_timeout ({timeout:g} s)"
        except Exception as e:
            logger.exception("on_session_end failed", extra=ctx.log_context_fields)
            return f"on_session_end failed: {type(e).__name__}: {e}"
        return None


def _format_exc() -> str:
    return traceback.format_exc()


__all__ = ["JobRuntime", "JobRuntimeArgs", "proc_main"]
