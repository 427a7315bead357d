"""Process executors: isolation, prewarm, watchdogs and shutdown timeouts (real child processes)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from livekit.protocol import agent

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import vx_fake_livekit as fake  # noqa: E402
import vx_worker_jobs as jobs  # noqa: E402

from voxlane.agents.ipc import JobExecutor  # noqa: E402
from voxlane.agents.job import JobExecutorType  # noqa: E402
from voxlane.agents.worker import Worker, WorkerOptions  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals")


def _options(**overrides: Any) -> WorkerOptions:
    kwargs: dict[str, Any] = dict(
        entrypoint_fnc=jobs.entrypoint,
        prewarm_fnc=jobs.prewarm,
        room_factory=jobs.make_fake_room,
        job_executor_type=JobExecutorType.PROCESS,
        num_idle_processes=0,
        load_fnc=lambda: 0.0,
        status_interval=0.1,
        shutdown_process_timeout=5.0,
        initialize_process_timeout=60.0,
        port=0,
    )
    kwargs.update(overrides)
    return WorkerOptions(**kwargs)


async def _wait_started(folder: Path, job_id: str) -> dict[str, Any]:
    path = folder / f"{job_id}.started"
    for _ in range(6000):
        if path.exists():
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job_id} never started")


class Local:
    """A worker that only runs locally simulated jobs (no server)."""

    def __init__(self, tmp: Path, opts: WorkerOptions) -> None:
        self.tmp = tmp
        self.worker = Worker(opts, register=False)
        self.task: asyncio.Task[None] = asyncio.create_task(self.worker.run())

    async def job(self, mode: str) -> JobExecutor:
        await asyncio.sleep(0)  # let run() create the pool
        return await self.worker.simulate_job(
            room="sim-room", metadata=json.dumps({"dir": str(self.tmp), "mode": mode})
        )

    async def close(self) -> None:
        await self.worker.aclose()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def server() -> AsyncIterator[fake.FakeLiveKitServer]:
    s = fake.FakeLiveKitServer()
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def test_kill_9_of_one_job_leaves_the_others_running(
    server: fake.FakeLiveKitServer, tmp_path: Path
) -> None:
    opts = _options(
        ws_url=server.url, api_key=fake.API_KEY, api_secret=fake.API_SECRET, num_idle_processes=2
    )
    worker = Worker(opts)
    task = asyncio.create_task(worker.run())
    try:
        conn = await server.wait_connection(0)
        meta = json.dumps({"dir": str(tmp_path), "mode": "wait_release"})
        ids = ["P1", "P2", "P3"]
        for i in ids:
            assert (await conn.dispatch(i, metadata=meta)).available
        started = {i: await _wait_started(tmp_path, i) for i in ids}
        pids = {started[i]["pid"] for i in ids}
        assert len(pids) == 3 and os.getpid() not in pids  # one process per job

        os.kill(started["P2"]["pid"], signal.SIGKILL)
        crashed = await conn.wait_final_status("P2")
        assert crashed.status == agent.JobStatus.JS_FAILED
        assert "exited unexpectedly" in crashed.error and "-9" in crashed.error

        for i in ("P1", "P3"):
            (tmp_path / f"{i}.release").write_text("go")
        for i in ("P1", "P3"):
            status = await conn.wait_final_status(i)
            assert status.status == agent.JobStatus.JS_SUCCESS, status.error
            assert json.loads((tmp_path / f"{i}.shutdown").read_text())["reason"] == "released"
    finally:
        await worker.aclose()
        await asyncio.gather(task, return_exceptions=True)


async def test_prewarm_userdata_reaches_the_entrypoint(tmp_path: Path) -> None:
    local = Local(tmp_path, _options(num_idle_processes=1))
    try:
        ex = await local.job("wait_release")
        started = await _wait_started(tmp_path, ex.running_job.job.id)  # type: ignore[union-attr]
        assert started["userdata"]["model"] == "loaded"
        # prewarm ran in the job's own process, not in the worker
        assert started["userdata"]["prewarmed_in"] == started["pid"] == ex.pid
        assert started["pid"] != os.getpid()
        # what was imported and prewarmed is frozen out of the garbage collector's full passes
        assert started["gc_frozen"] > 1000
        # ... and frozen in the job process itself, after prewarm, not only in a forkserver
        assert started["gc_frozen"] > started["userdata"]["gc_frozen_in_prewarm"]
        (tmp_path / f"{started['job_id']}.release").write_text("go")
        await ex.join()
        assert ex.outcome is not None and ex.outcome.success
    finally:
        await local.close()


async def test_async_hanging_shutdown_callback_is_cut_at_the_timeout(tmp_path: Path) -> None:
    local = Local(tmp_path, _options(shutdown_process_timeout=0.5))
    try:
        ex = await local.job("hang_shutdown_async")
        await ex.join()
        assert ex.outcome is not None
        assert ex.outcome.success  # the entrypoint itself was fine
        assert not ex.outcome.killed
        assert any("did not finish within 0.5 s" in e for e in ex.outcome.shutdown_errors)
    finally:
        await local.close()


async def test_blocking_shutdown_callback_gets_the_process_killed(tmp_path: Path) -> None:
    local = Local(tmp_path, _options(shutdown_process_timeout=0.5))
    try:
        ex = await local.job("hang_shutdown_sync")
        await ex.join()
        assert ex.outcome is not None
        assert ex.outcome.killed and not ex.outcome.success
        assert "shutdown_process_timeout" in (ex.outcome.error or "")
        assert ex.outcome.exitcode == -signal.SIGKILL
    finally:
        await local.close()


async def test_hung_job_is_detected_by_the_ping_watchdog(tmp_path: Path) -> None:
    local = Local(tmp_path, _options(ping_interval=0.1, ping_timeout=1.0))
    try:
        ex = await local.job("block_loop")
        await ex.join()
        assert ex.outcome is not None and ex.outcome.killed
        assert "unresponsive" in (ex.outcome.error or "")
    finally:
        await local.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS read from /proc")
async def test_memory_limit_kills_the_job(tmp_path: Path) -> None:
    local = Local(tmp_path, _options(job_memory_limit_mb=200, job_memory_warn_mb=100))
    try:
        ex = await local.job("memory")
        await ex.join()
        assert ex.outcome is not None and ex.outcome.killed
        assert "job_memory_limit_mb" in (ex.outcome.error or "")
    finally:
        await local.close()


async def test_memory_warning_is_logged_once_and_the_job_keeps_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="voxlane.agents.ipc")
    local = Local(tmp_path, _options(job_memory_warn_mb=120, job_memory_limit_mb=4000))
    try:
        ex = await local.job("memory_held")
        started = await _wait_started(tmp_path, ex.running_job.job.id)  # type: ignore[union-attr]
        job_id = started["job_id"]
        for _ in range(3000):
            if (tmp_path / f"{job_id}.grown").exists():
                break
            await asyncio.sleep(0.01)

        def warnings() -> list[str]:
            messages = [r.getMessage() for r in caplog.records]
            return [m for m in messages if "job_memory_warn_mb" in m]

        for _ in range(3000):  # the watchdog checks once a second
            if warnings():
                break
            await asyncio.sleep(0.01)
        found = warnings()
        assert found, "no job_memory_warn_mb warning was logged for a job above the threshold"
        assert f"job process {started['pid']} uses" in found[0]
        assert "(job_memory_warn_mb 120 MB)" in found[0]
        # memory stays flat: further checks must not repeat the warning
        await asyncio.sleep(2.5)
        assert len(warnings()) == 1
        assert ex.outcome is None, "a warning must not end the job"

        (tmp_path / f"{job_id}.release").write_text("go")
        await ex.join()
        assert ex.outcome is not None and ex.outcome.success and not ex.outcome.killed
    finally:
        await local.close()


async def test_failing_prewarm_is_a_clear_error(tmp_path: Path) -> None:
    local = Local(tmp_path, _options(prewarm_fnc=jobs.failing_prewarm))
    try:
        with pytest.raises(Exception, match="prewarm_fnc failed") as info:
            await local.job("wait_release")
        assert "model file missing" in str(info.value)
    finally:
        await local.close()


def _nested_entrypoint() -> Any:
    async def entry(ctx: Any) -> None:
        return None

    return entry


def test_unpicklable_job_functions_are_refused_up_front() -> None:
    from voxlane.agents.worker import UnpicklableJobFunctionError

    with pytest.raises(UnpicklableJobFunctionError, match="entrypoint_fnc") as info:
        Worker(_options(entrypoint_fnc=_nested_entrypoint()))
    assert "top level of a module" in str(info.value)
    assert "JobExecutorType.THREAD" in str(info.value)
    with pytest.raises(UnpicklableJobFunctionError, match="prewarm_fnc"):
        Worker(_options(prewarm_fnc=lambda proc: None))
    # the thread executor needs no pickling
    Worker(_options(entrypoint_fnc=_nested_entrypoint(), job_executor_type=JobExecutorType.THREAD))


async def test_a_job_process_that_cannot_start_fails_cleanly() -> None:
    from livekit.protocol import models

    from voxlane.agents.ipc.executor import ExecutorConfig, JobInitializationError
    from voxlane.agents.ipc.job_runtime import JobRuntimeArgs
    from voxlane.agents.ipc.proc_pool import ProcPool
    from voxlane.agents.job import JobAcceptArguments, RunningJobInfo

    pool = ProcPool(
        args=JobRuntimeArgs(
            entrypoint_fnc=_nested_entrypoint(),  # cannot be pickled into the process
            prewarm_fnc=None,
            room_factory=jobs.make_fake_room,
            executor_type=JobExecutorType.PROCESS,
            shutdown_timeout=5.0,
        ),
        config=ExecutorConfig(),
        num_idle_processes=0,
    )
    pool.start()
    info = RunningJobInfo(
        accept_arguments=JobAcceptArguments(name="", identity="agent-X", metadata=""),
        job=agent.Job(id="X", room=models.Room(name="r")),
        url="",
        token="",
        worker_id="W",
        fake_job=True,
    )
    with pytest.raises(JobInitializationError, match="could not start the job process"):
        await pool.launch_job(info)
    assert pool.executors == []
    await asyncio.wait_for(pool.aclose(), 30)  # nothing left to wait for
