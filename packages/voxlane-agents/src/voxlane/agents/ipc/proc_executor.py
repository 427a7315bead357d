"""Run each job in its own process (multiprocessing, spawn or forkserver)."""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.context
import socket
import sys
from collections.abc import Callable

from .executor import ExecutorConfig, JobExecutor
from .job_runtime import JobRuntimeArgs, proc_main

MP_CONTEXTS = ("spawn", "forkserver")


def get_mp_context(name: str) -> multiprocessing.context.BaseContext:
    """A multiprocessing context by name; only ``spawn`` and ``forkserver`` are allowed."""
    if name not in MP_CONTEXTS:
        raise ValueError(
            f"multiprocessing_context must be one of {', '.join(MP_CONTEXTS)}, got {name!r} "
            "(fork is unsafe with threads and the LiveKit FFI)"
        )
    if name == "forkserver" and sys.platform == "win32":
        raise ValueError("multiprocessing_context='forkserver' is not available on Windows")
    return multiprocessing.get_context(name)


class ProcJobExecutor(JobExecutor):
    """A job process: isolated, killable, watched for pings and memory."""

    kind = "process"

    def __init__(
        self,
        *,
        args: JobRuntimeArgs,
        config: ExecutorConfig,
        mp_context: multiprocessing.context.BaseContext,
        on_ended: Callable[[JobExecutor], None] | None = None,
    ) -> None:
        super().__init__(config=config, on_ended=on_ended)
        self._args = args
        self._mp_ctx = mp_context
        self._proc: multiprocessing.process.BaseProcess | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def exitcode(self) -> int | None:
        return self._proc.exitcode if self._proc is not None else None

    async def _start_child(self, sock: socket.socket) -> None:
        proc = self._mp_ctx.Process(  # type: ignore[attr-defined]
            target=proc_main, args=(self._args, sock), name="voxlane_job_proc"
        )
        self._proc = proc
        # spawning pickles the arguments and execs python: keep it off the event loop
        await asyncio.to_thread(proc.start)

    async def _wait_child_exit(self) -> int | None:
        proc = self._proc
        assert proc is not None
        loop = asyncio.get_running_loop()
        sentinel = proc.sentinel
        try:
            fut: asyncio.Future[None] = loop.create_future()

            def on_ready() -> None:
                loop.remove_reader(sentinel)
                if not fut.done():
                    fut.set_result(None)

            loop.add_reader(sentinel, on_ready)
            try:
                await fut
            finally:
                loop.remove_reader(sentinel)
        except NotImplementedError:  # event loops without add_reader (Windows proactor)
            while proc.is_alive():  # noqa: ASYNC110 (no fd to wait on here)
                await asyncio.sleep(0.1)
        await asyncio.to_thread(proc.join)
        return proc.exitcode

    def _kill_child(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()


__all__ = ["MP_CONTEXTS", "ProcJobExecutor", "get_mp_context"]
