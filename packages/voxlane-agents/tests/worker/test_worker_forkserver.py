"""Job processes forked from a forkserver that preloaded the framework (the Linux default)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import vx_worker_jobs as jobs  # noqa: E402

from voxlane.agents.ipc.proc_executor import FORKSERVER_PRELOAD, get_mp_context  # noqa: E402
from voxlane.agents.job import JobExecutorType  # noqa: E402
from voxlane.agents.worker import Worker, WorkerOptions  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no forkserver on Windows")


async def entry(ctx: Any) -> None:
    return None


def test_default_start_method() -> None:
    opts = WorkerOptions(entrypoint_fnc=entry)
    expected = "forkserver" if sys.platform.startswith("linux") else "spawn"
    assert opts.multiprocessing_context == expected
    with pytest.raises(ValueError, match="fork is unsafe"):
        get_mp_context("fork")
    with pytest.raises(ValueError, match="must be 'spawn' or 'forkserver'"):
        WorkerOptions(entrypoint_fnc=entry, multiprocessing_context="fork")  # type: ignore[arg-type]


def test_the_forkserver_preload_module_is_importable_by_name() -> None:
    import importlib.util

    for name in FORKSERVER_PRELOAD:
        assert importlib.util.find_spec(name) is not None, name


@pytest.mark.parametrize("context", ["forkserver", "spawn"])
async def test_where_job_processes_come_from(tmp_path: Path, context: str) -> None:
    opts = WorkerOptions(
        entrypoint_fnc=jobs.entrypoint,
        prewarm_fnc=jobs.prewarm_noting_origin,
        room_factory=jobs.make_fake_room,
        job_executor_type=JobExecutorType.PROCESS,
        multiprocessing_context=context,  # type: ignore[arg-type]
        num_idle_processes=1,
        load_fnc=lambda: 0.0,
        shutdown_process_timeout=5.0,
        initialize_process_timeout=60.0,
        port=0,
    )
    worker = Worker(opts, register=False)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0)
        ex = await worker.simulate_job(
            room="r", metadata=json.dumps({"dir": str(tmp_path), "mode": "wait_release"})
        )
        job_id = ex.running_job.job.id  # type: ignore[union-attr]
        path = tmp_path / f"{job_id}.started"
        for _ in range(6000):
            if path.exists():
                break
            await asyncio.sleep(0.01)
        started = json.loads(path.read_text())
        userdata = started["userdata"]
        assert started["pid"] == ex.pid != os.getpid()
        if context == "forkserver":
            # forked by the forkserver (not by the worker), with the voice runtime imported
            assert userdata["parent_pid"] != os.getpid()
            assert userdata["voice_preloaded"] is True
        else:
            assert userdata["parent_pid"] == os.getpid()
            assert userdata["voice_preloaded"] is False
        (tmp_path / f"{job_id}.release").write_text("go")
        await ex.join()
        assert ex.outcome is not None and ex.outcome.success, ex.outcome
    finally:
        await worker.aclose()
        await asyncio.gather(task, return_exceptions=True)


def test_forkserver_children_keep_the_default_sigterm(tmp_path: Path) -> None:
    # the forkserver ignores SIGTERM itself; what it forks must not inherit that
    ctx = get_mp_context("forkserver")
    out = tmp_path / "sigterm.json"
    proc = ctx.Process(target=jobs.report_sigterm_disposition, args=(str(out),))  # type: ignore[attr-defined]
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    assert json.loads(out.read_text()) is True
