"""Session functions of the AgentServer tests: ``on_request`` and ``on_session_end`` variants.

Imported as a top-level module (the tests add this folder to sys.path) so that job processes can
unpickle them. They read the job metadata of ``vx_worker_jobs``: ``{"dir": ..., "mode": ...}``,
plus ``"reject": true`` for jobs ``on_request`` turns down.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from vx_worker_jobs import META_ENV

from voxlane.agents.job import JobContext, JobRequest


async def on_request(req: JobRequest) -> None:
    meta = json.loads(req.job.metadata or "{}")
    if meta.get("reject"):
        await req.reject()
        return
    await req.accept(identity=f"server-agent-{req.id}", name="Server Agent")


def _folder(ctx: JobContext) -> Path:
    meta = json.loads(ctx.job.metadata or os.environ[META_ENV])
    return Path(meta["dir"])


async def on_session_end(ctx: JobContext) -> None:
    """Records that it ran, where, and what it saw of the job."""
    data = {
        "job_id": ctx.job.id,
        "pid": os.getpid(),
        "reason": ctx.shutdown_reason,
        "userdata": dict(ctx.proc.userdata),
        "room": ctx.job.room.name,
    }
    path = _folder(ctx) / f"{ctx.job.id}.session_end"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


async def failing_session_end(ctx: JobContext) -> None:
    raise RuntimeError("report storage is down")


async def hanging_session_end(ctx: JobContext) -> None:
    await asyncio.sleep(3600)


async def slow_session_end(ctx: JobContext) -> None:
    """Takes longer than shutdown_process_timeout plus the kill grace period, then records."""
    await asyncio.sleep(3.0)
    await on_session_end(ctx)
