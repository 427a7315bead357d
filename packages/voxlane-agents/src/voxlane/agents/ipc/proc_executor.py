"""Run each job in its own process (multiprocessing, forkserver or spawn).

Default: ``forkserver`` on Linux (as in LiveKit), ``spawn`` elsewhere. The forkserver imports the
framework once (``_forkserver_preload``: the job runtime and the voice runtime, then
``gc.freeze``) and forks every job process from that state, so job processes share those pages
copy-on-write and skip the interpreter start and imports. Measured on the 2-core dev machine,
one idle prewarmed job process, spawn -> forkserver (``bench/memory.py --no-livekit --quick``,
and the Silero figures as three back-to-back pairs; USS depends on whether other processes on the
machine map the same libraries, so only figures taken together compare):

- prewarm none:   RSS 43.3 -> 44.1 MB, PSS 31.1 -> 22.7 MB, USS 26.9 -> 5.6 MB
- prewarm silero: RSS 95.2 -> 89.3 MB, PSS 83.2 -> 68.2 MB, USS 77.7 -> 52.6 MB
- start to prewarmed (light prewarm): 0.25-0.67 s -> 0.015 s after the forkserver's first start

USS (what each extra process costs) drops by 21-25 MB; PSS falls further as more job
processes share the forkserver's pages. The forkserver ignores SIGTERM (a SIGTERM to the whole
process group must drain the worker, not end the process that reports job exits), its children
start with the default again, and it exits with the worker. The agent program itself
(``__main__``) is not preloaded: its top level runs in each job process, as with spawn.
"""

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
FORKSERVER_PRELOAD = ("voxlane.agents.ipc._forkserver_preload",)
"""Modules the forkserver imports once before it forks job processes."""


def get_mp_context(name: str) -> multiprocessing.context.BaseContext:
    """A multiprocessing context by name; only ``spawn`` and ``forkserver`` are allowed."""
    if name not in MP_CONTEXTS:
        raise ValueError(
            f"multiprocessing_context must be one of {', '.join(MP_CONTEXTS)}, got {name!r} "
            "(fork is unsafe with threads and the LiveKit FFI)"
        )
    if name == "forkserver" and sys.platform == "win32":
        raise ValueError("multiprocessing_context='forkserver' is not available on Windows")
    ctx = multiprocessing.get_context(name)
    if name == "forkserver":
        # without __main__: the agent program's top level never runs in the forkserver
        ctx.set_forkserver_preload(list(FORKSERVER_PRELOAD))
    return ctx


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
