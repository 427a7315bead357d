"""SIGTERM drain of a real worker process (`start` subcommand) against the fake LiveKit server:
no new jobs are accepted, the running job finishes, then the worker exits cleanly."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from livekit.protocol import agent

WORKER_TESTS = (
    Path(__file__).resolve().parents[1] / "packages" / "voxlane-agents" / "tests" / "worker"
)
if str(WORKER_TESTS) not in sys.path:
    sys.path.insert(0, str(WORKER_TESTS))

fake = importlib.import_module("vx_fake_livekit")  # the fake LiveKit server of the worker tests

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals")


def _read_json(path: Path) -> dict[str, object] | None:
    if not path.exists():
        return None
    data: dict[str, object] = json.loads(path.read_text())
    return data


async def _wait_file(path: Path, timeout: float = 60.0) -> dict[str, object]:
    async def wait() -> dict[str, object]:
        while (data := _read_json(path)) is None:  # noqa: ASYNC110 (another process writes it)
            await asyncio.sleep(0.02)
        return data

    return await asyncio.wait_for(wait(), timeout)


def _touch(path: Path) -> None:
    path.write_text("go")


async def test_sigterm_drains_running_jobs_then_exits(tmp_path: Path) -> None:
    server = fake.FakeLiveKitServer()
    url = await server.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER_TESTS / "vx_worker_agent.py"),
        "start",
        "--url",
        url,
        "--api-key",
        fake.API_KEY,
        "--api-secret",
        fake.API_SECRET,
        "--log-level",
        "INFO",
        stderr=asyncio.subprocess.PIPE,
    )
    stderr_chunks: list[bytes] = []

    async def drain_stderr() -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            stderr_chunks.append(line)

    reader = asyncio.create_task(drain_stderr())
    try:
        conn = await server.wait_connection(0, timeout=60)
        meta = json.dumps({"dir": str(tmp_path), "mode": "wait_release"})
        assert (await conn.dispatch("running", metadata=meta)).available
        started = await _wait_file(tmp_path / "running.started")
        job_pid = int(started["pid"])  # type: ignore[call-overload]

        proc.send_signal(signal.SIGTERM)
        await conn.wait_for(lambda: any(s.draining for s in conn.statuses), timeout=30)
        draining = [s for s in conn.statuses if s.draining]
        assert draining[-1].status == agent.WorkerStatus.WS_FULL

        refused = await conn.dispatch("late", metadata=meta)
        assert not refused.available
        assert proc.returncode is None  # still waiting for the running job
        os.kill(job_pid, 0)  # the job process is alive

        _touch(tmp_path / "running.release")
        status = await conn.wait_final_status("running")
        assert status.status == agent.JobStatus.JS_SUCCESS, status.error
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(job_pid, 0)
        assert _read_json(tmp_path / "late.started") is None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await asyncio.gather(reader, return_exceptions=True)
        await server.stop()
    log = b"".join(stderr_chunks).decode(errors="replace")
    assert "draining" in log
