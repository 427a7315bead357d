"""Run a job in a thread of the worker process (console mode and tests).

Threads share the worker's process: there is no isolation and a thread cannot be killed, so a
job that ignores its shutdown is abandoned (reported as killed) instead.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable

from .executor import ExecutorConfig, JobExecutor
from .job_runtime import JobRuntime, JobRuntimeArgs

logger = logging.getLogger("voxlane.agents.ipc")


class ThreadJobExecutor(JobExecutor):
    """Runs the job runtime in a dedicated thread with its own event loop."""

    kind = "thread"

    def __init__(
        self,
        *,
        args: JobRuntimeArgs,
        config: ExecutorConfig,
        on_ended: Callable[[JobExecutor], None] | None = None,
    ) -> None:
        super().__init__(config=config, on_ended=on_ended)
        self._args = args
        self._thread: threading.Thread | None = None
        self._exit_fut: asyncio.Future[None] | None = None

    async def _start_child(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._exit_fut = loop.create_future()
        exit_fut = self._exit_fut
        # the runtime owns its socket: duplicate it because the caller closes the original
        child_sock = sock.dup()

        def set_done() -> None:
            if not exit_fut.done():
                exit_fut.set_result(None)

        def target() -> None:
            try:
                asyncio.run(JobRuntime(self._args, child_sock).run())
            except Exception:
                logger.exception("job thread crashed")
            finally:
                child_sock.close()
                if not loop.is_closed():
                    loop.call_soon_threadsafe(set_done)

        self._thread = threading.Thread(target=target, name="voxlane_job_thread", daemon=True)
        self._thread.start()

    async def _wait_child_exit(self) -> int | None:
        assert self._exit_fut is not None
        await self._exit_fut
        return None

    def _kill_child(self) -> None:
        # a thread cannot be killed: stop waiting for it, and let it finish in the background
        logger.error("cannot kill a job thread; abandoning it (use the process executor)")
        if self._exit_fut is not None and not self._exit_fut.done():
            self._exit_fut.set_result(None)


__all__ = ["ThreadJobExecutor"]
