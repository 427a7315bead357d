"""AgentServer + @server.rtc_session(): configuration, errors, and jobs against the fake server."""

from __future__ import annotations

import asyncio
import json
import math
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
import vx_server_jobs as session_fns  # noqa: E402
import vx_worker_jobs as jobs  # noqa: E402

from voxlane.agents.cli import run_app  # noqa: E402
from voxlane.agents.job import JobContext, JobExecutorType, JobRequest  # noqa: E402
from voxlane.agents.worker import (  # noqa: E402
    AgentServer,
    MissingRtcSessionError,
    ServerOptions,
    ServerType,
    UnpicklableJobFunctionError,
    Worker,
    WorkerEnvOption,
    WorkerOptions,
    WorkerType,
)

AGENT = HERE / "vx_server_agent.py"


async def entry(ctx: JobContext) -> None:
    return None


async def other_entry(ctx: JobContext) -> None:
    return None


async def accept_all(req: JobRequest) -> None:
    await req.accept()


# -- configuration ---------------------------------------------------------------------------


def test_newer_names_are_the_same_objects() -> None:
    assert ServerOptions is WorkerOptions
    assert ServerType is WorkerType
    assert ServerType.PUBLISHER.value == agent.JobType.JT_PUBLISHER


def test_rtc_session_registers_the_function_unchanged() -> None:
    server = AgentServer(setup_fnc=jobs.prewarm, job_memory_warn_mb=700)
    decorated = server.rtc_session(
        agent_name="support",
        type=ServerType.PUBLISHER,
        on_request=accept_all,
        on_session_end=session_fns.on_session_end,
    )(entry)
    assert decorated is entry and server.entrypoint is entry
    opts = server.to_server_options()
    assert isinstance(opts, ServerOptions)
    assert opts.entrypoint_fnc is entry
    assert opts.agent_name == "support"
    assert opts.worker_type is ServerType.PUBLISHER
    assert opts.request_fnc is accept_all
    assert opts.session_end_fnc is session_fns.on_session_end
    assert opts.prewarm_fnc is jobs.prewarm and server.setup_fnc is jobs.prewarm
    assert opts.job_memory_warn_mb == 700
    # a fresh copy each time: the command line may change it without touching the server
    assert server.to_server_options() is not opts


def test_rtc_session_without_parentheses_and_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LIVEKIT_AGENT_NAME", raising=False)
    server = AgentServer()
    assert server.rtc_session(entry) is entry
    opts = server.to_server_options()
    assert opts.agent_name == "" and opts.worker_type is ServerType.ROOM
    assert opts.session_end_fnc is None
    assert opts.request_fnc is WorkerOptions(entrypoint_fnc=entry).request_fnc  # accept all


def test_agent_name_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_AGENT_NAME", "from-env")
    server = AgentServer()
    server.rtc_session()(entry)
    assert server.to_server_options().agent_name == "from-env"
    named = AgentServer()
    named.rtc_session(agent_name="explicit")(entry)
    assert named.to_server_options().agent_name == "explicit"


def test_idle_process_default_differs_from_worker_options_as_in_livekit() -> None:
    server = AgentServer()
    server.rtc_session(entry)
    idle = server.to_server_options().num_idle_processes
    cpus = math.ceil(os.cpu_count() or 1)
    assert WorkerEnvOption.getvalue(idle, devmode=False) == max(1, cpus)
    assert WorkerEnvOption.getvalue(idle, devmode=True) == 0
    classic = WorkerOptions(entrypoint_fnc=entry).num_idle_processes
    assert WorkerEnvOption.getvalue(classic, devmode=False) == max(1, min(cpus, 4))
    explicit = AgentServer(num_idle_processes=2)
    explicit.rtc_session(entry)
    assert explicit.to_server_options().num_idle_processes == 2


def test_setup_fnc_is_settable_after_construction() -> None:
    server = AgentServer(num_idle_processes=0)
    server.setup_fnc = jobs.prewarm
    server.rtc_session(entry)
    assert server.to_server_options().prewarm_fnc is jobs.prewarm
    with pytest.raises(TypeError, match="setup_fnc must be a function"):
        server.setup_fnc = "not a function"  # type: ignore[assignment]


def test_from_server_options_keeps_everything() -> None:
    opts = ServerOptions(
        entrypoint_fnc=entry,
        request_fnc=accept_all,
        prewarm_fnc=jobs.prewarm,
        agent_name="migrated",
        worker_type=ServerType.PUBLISHER,
        session_end_fnc=session_fns.on_session_end,
        drain_timeout=12.0,
    )
    server = AgentServer.from_server_options(opts)
    again = server.to_server_options()
    assert again == opts
    with pytest.raises(TypeError, match="ServerOptions/WorkerOptions"):
        AgentServer.from_server_options(object())  # type: ignore[arg-type]


def test_a_second_rtc_session_is_an_error() -> None:
    server = AgentServer()
    server.rtc_session()(entry)
    with pytest.raises(RuntimeError, match=r"one rtc_session.*entry is already registered"):
        server.rtc_session()(other_entry)
    assert server.entrypoint is entry


def test_a_server_without_rtc_session_is_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = AgentServer()
    with pytest.raises(MissingRtcSessionError, match=r"@server\.rtc_session\(\)"):
        server.to_server_options()
    for command in (["start"], ["console", "--text"], ["connect", "--room", "r"]):
        with pytest.raises(SystemExit) as info:
            run_app(server, argv=command)
        assert info.value.code == 2
        assert "@server.rtc_session()" in capsys.readouterr().err


async def test_running_a_server_without_rtc_session_is_an_error() -> None:
    with pytest.raises(MissingRtcSessionError, match=r"@server\.rtc_session\(\)"):
        await AgentServer().run(unregistered=True)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(TypeError, match=r"entrypoint_fnc.*@server\.rtc_session\(\)"):
        AgentServer(entrypoint_fnc=entry)
    with pytest.raises(TypeError, match=r"agent_name.*rtc_session\(agent_name=\.\.\.\)"):
        AgentServer(agent_name="x")
    with pytest.raises(TypeError, match=r"request_fnc.*on_request"):
        AgentServer(request_fnc=accept_all)
    with pytest.raises(TypeError, match=r"unknown option.*num_idle_process\b"):
        AgentServer(num_idle_process=2)
    with pytest.raises(TypeError, match="both setup_fnc and prewarm_fnc"):
        AgentServer(setup_fnc=jobs.prewarm, prewarm_fnc=jobs.prewarm)
    with pytest.raises(ValueError, match="num_idle_processes must be >= 0"):
        AgentServer(num_idle_processes=-1)

    server = AgentServer()

    def not_async(ctx: JobContext) -> None:
        return None

    with pytest.raises(TypeError, match="must decorate an `async def` function"):
        server.rtc_session(not_async)  # type: ignore[type-var]
    with pytest.raises(TypeError, match=r"on_request=.*async def"):
        server.rtc_session(on_request=not_async)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"on_session_end=.*async def"):
        server.rtc_session(on_session_end=not_async)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ServerType\.ROOM or ServerType\.PUBLISHER"):
        server.rtc_session(type="room")  # type: ignore[call-overload]
    assert server.entrypoint is None  # nothing was registered by the failed attempts


def test_nested_entrypoint_is_refused_for_process_jobs() -> None:
    async def nested(ctx: JobContext) -> None:
        return None

    server = AgentServer()
    server.rtc_session(nested, on_session_end=session_fns.on_session_end)
    with pytest.raises(UnpicklableJobFunctionError, match="top level of a module"):
        Worker(server.to_server_options())

    async def nested_end(ctx: JobContext) -> None:
        return None

    server = AgentServer()
    server.rtc_session(entry, on_session_end=nested_end)
    with pytest.raises(UnpicklableJobFunctionError, match="session_end_fnc"):
        Worker(server.to_server_options())


# -- running in this process (thread executor) against the fake server -----------------------


@pytest.fixture
async def livekit() -> AsyncIterator[fake.FakeLiveKitServer]:
    server = fake.FakeLiveKitServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _thread_server(**overrides: Any) -> AgentServer:
    settings: dict[str, Any] = dict(
        setup_fnc=jobs.prewarm,
        room_factory=jobs.make_fake_room,
        job_executor_type=JobExecutorType.THREAD,
        num_idle_processes=1,
        load_fnc=lambda: 0.0,
        status_interval=0.05,
        shutdown_process_timeout=5.0,
        port=0,
    )
    settings.update(overrides)
    return AgentServer(**settings)


async def _wait_file(path: Path) -> dict[str, Any]:
    for _ in range(3000):
        if path.exists():  # noqa: ASYNC240 (written by another process or thread)
            data: dict[str, Any] = json.loads(path.read_text())  # noqa: ASYNC240
            return data
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path.name} was never written")


async def test_registration_on_request_setup_and_on_session_end(
    livekit: fake.FakeLiveKitServer, tmp_path: Path
) -> None:
    server = _thread_server(ws_url=livekit.url, api_key=fake.API_KEY, api_secret=fake.API_SECRET)
    server.rtc_session(
        jobs.entrypoint,
        agent_name="support-agent",
        on_request=session_fns.on_request,
        on_session_end=session_fns.on_session_end,
    )
    task = asyncio.create_task(server.run())
    try:
        conn = await livekit.wait_connection(0)
        assert conn.register is not None
        assert conn.register.agent_name == "support-agent"
        assert conn.register.type == agent.JobType.JT_ROOM

        refused = await conn.dispatch(
            "R1", metadata=json.dumps({"dir": str(tmp_path), "mode": "wait_release", "reject": 1})
        )
        assert not refused.available

        meta = json.dumps({"dir": str(tmp_path), "mode": "wait_release"})
        accepted = await conn.dispatch("A1", metadata=meta)
        assert accepted.available
        assert accepted.participant_identity == "server-agent-A1"
        assert accepted.participant_name == "Server Agent"
        assert accepted.participant_attributes["lk.agent.name"] == "support-agent"

        started = await _wait_file(tmp_path / "A1.started")
        assert started["userdata"]["model"] == "loaded"  # setup_fnc ran before the job
        assert not (tmp_path / "A1.session_end").exists()  # not before the session ended
        (tmp_path / "A1.release").write_text("go")
        ended = await _wait_file(tmp_path / "A1.session_end")
        assert ended["job_id"] == "A1" and ended["room"] == "room-1"
        assert ended["reason"] == "released"
        assert ended["userdata"]["model"] == "loaded"
        # it ran after the job's shutdown callbacks
        assert json.loads((tmp_path / "A1.shutdown").read_text())["reason"] == "released"
        status = await conn.wait_final_status("A1")
        assert status.status == agent.JobStatus.JS_SUCCESS, status.error
        assert server.worker.job_outcomes["A1"].shutdown_errors == []
        assert not (tmp_path / "R1.started").exists()
    finally:
        await server.aclose()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize(
    ("session_end", "timeout", "error"),
    [
        (session_fns.failing_session_end, 300.0, "on_session_end failed: RuntimeError: report"),
        (session_fns.hanging_session_end, 0.2, "within session_end_timeout (0.2 s)"),
    ],
)
async def test_on_session_end_errors_are_reported_and_the_job_still_ends(
    tmp_path: Path, session_end: Any, timeout: float, error: str
) -> None:
    server = _thread_server(session_end_timeout=timeout)
    server.rtc_session(jobs.entrypoint, on_session_end=session_end)
    task = asyncio.create_task(server.run(unregistered=True))
    try:
        await asyncio.sleep(0)
        ex = await server.worker.simulate_job(
            room="sim", metadata=json.dumps({"dir": str(tmp_path), "mode": "wait_release"})
        )
        job_id = ex.running_job.job.id  # type: ignore[union-attr]
        await _wait_file(tmp_path / f"{job_id}.started")
        (tmp_path / f"{job_id}.release").write_text("go")
        await ex.join()
        assert ex.outcome is not None and ex.outcome.success
        assert ex.outcome.reason == "released"
        assert any(error in e for e in ex.outcome.shutdown_errors), ex.outcome.shutdown_errors
    finally:
        await server.aclose()
        await asyncio.gather(task, return_exceptions=True)


async def test_on_session_end_runs_after_a_crashed_entrypoint(tmp_path: Path) -> None:
    server = _thread_server()
    server.rtc_session(jobs.entrypoint, on_session_end=session_fns.on_session_end)
    task = asyncio.create_task(server.run(unregistered=True))
    try:
        await asyncio.sleep(0)
        ex = await server.worker.simulate_job(
            room="sim", metadata=json.dumps({"dir": str(tmp_path), "mode": "crash"})
        )
        await ex.join()
        assert ex.outcome is not None and not ex.outcome.success
        assert "boom from the entrypoint" in (ex.outcome.error or "")
        job_id = ex.running_job.job.id  # type: ignore[union-attr]
        ended = await _wait_file(tmp_path / f"{job_id}.session_end")
        assert ended["reason"] == "the entrypoint raised an exception"
    finally:
        await server.aclose()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_long_on_session_end_gets_its_own_time_before_the_kill(tmp_path: Path) -> None:
    """The job process may take shutdown_process_timeout plus session_end_timeout to end: an
    on_session_end slower than shutdown_process_timeout + the kill grace period completes."""
    server = _thread_server(
        job_executor_type=JobExecutorType.PROCESS,
        num_idle_processes=0,
        shutdown_process_timeout=0.5,
        session_end_timeout=30.0,
        initialize_process_timeout=60.0,
    )
    server.rtc_session(jobs.entrypoint, on_session_end=session_fns.slow_session_end)
    task = asyncio.create_task(server.run(unregistered=True))
    try:
        await asyncio.sleep(0)
        ex = await server.worker.simulate_job(
            room="sim", metadata=json.dumps({"dir": str(tmp_path), "mode": "wait_release"})
        )
        job_id = ex.running_job.job.id  # type: ignore[union-attr]
        started = await _wait_file(tmp_path / f"{job_id}.started")
        (tmp_path / f"{job_id}.release").write_text("go")
        await ex.join()
        assert ex.outcome is not None and ex.outcome.success, ex.outcome
        assert not ex.outcome.killed
        ended = await _wait_file(tmp_path / f"{job_id}.session_end")
        assert ended["pid"] == started["pid"] == ex.pid
    finally:
        await server.aclose()
        await asyncio.gather(task, return_exceptions=True)


def test_download_files_needs_no_rtc_session(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from voxlane.agents.plugin import manager

    host = manager.PluginHost()
    monkeypatch.setattr(host, "load_entry_points", lambda: None)  # no installed plugins
    monkeypatch.setattr(manager, "get_plugin_host", lambda: host)
    with pytest.raises(SystemExit) as info:
        run_app(AgentServer(), argv=["download-files"])
    assert info.value.code == 0
    assert "No installed plugin has files to prepare." in capsys.readouterr().out


# -- the program, run with the command line (process executor) -------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups and signals")
async def test_start_runs_the_agent_server_program_and_drains_on_sigterm(
    livekit: fake.FakeLiveKitServer, tmp_path: Path
) -> None:
    """``python vx_server_agent.py start``: registration with the decorator's agent_name, jobs in
    their own processes (the top-level decorated entrypoint is found there), on_request,
    setup_fnc userdata, on_session_end in the job process; SIGTERM to the whole process group
    drains: the running job finishes, then the worker exits."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(AGENT),
        "start",
        "--url",
        livekit.url,
        "--api-key",
        fake.API_KEY,
        "--api-secret",
        fake.API_SECRET,
        env=_env(),
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        conn = await livekit.wait_connection(0, timeout=60)
        assert conn.register is not None and conn.register.agent_name == "vx-server-agent"
        meta = {"dir": str(tmp_path), "mode": "wait_release"}
        assert not (await conn.dispatch("S0", metadata=json.dumps({**meta, "reject": 1}))).available
        accepted = await conn.dispatch("S1", metadata=json.dumps(meta))
        assert accepted.available and accepted.participant_identity == "server-agent-S1"
        started = await _wait_file(tmp_path / "S1.started")
        assert started["pid"] not in (proc.pid, os.getpid())
        assert started["userdata"]["prewarmed_in"] == started["pid"]

        os.killpg(proc.pid, signal.SIGTERM)  # what a container runtime or a terminal does
        await conn.wait_for(lambda: any(s.draining for s in conn.statuses), timeout=30)
        assert not (await conn.dispatch("S2", metadata=json.dumps(meta))).available
        assert proc.returncode is None  # still waiting for S1

        (tmp_path / "S1.release").write_text("go")
        status = await conn.wait_final_status("S1")
        assert status.status == agent.JobStatus.JS_SUCCESS, status.error
        ended = await _wait_file(tmp_path / "S1.session_end")
        assert ended["pid"] == started["pid"] and ended["reason"] == "released"
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")
async def test_connect_runs_one_job_of_the_agent_server_program(tmp_path: Path) -> None:
    env = _env()
    env[jobs.META_ENV] = json.dumps({"dir": str(tmp_path), "mode": "wait_release"})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(AGENT),
        "connect",
        "--room",
        "support-room",
        "--participant-identity",
        "bob",
        "--url",
        "ws://127.0.0.1:7880",
        "--api-key",
        fake.API_KEY,
        "--api-secret",
        fake.API_SECRET,
        env=env,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        started: dict[str, Any] | None = None
        for _ in range(6000):
            found = sorted(tmp_path.glob("*.started"))  # noqa: ASYNC240 (the job writes it)
            if found:
                started = json.loads(found[0].read_text())
                break
            assert proc.returncode is None, "the program exited before its job started"
            await asyncio.sleep(0.01)
        assert started is not None, "the job never started"
        assert started["room"] == "support-room" and started["participant"] == "bob"
        assert started["userdata"]["model"] == "loaded"
        (tmp_path / f"{started['job_id']}.release").write_text("go")
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        ended = await _wait_file(tmp_path / f"{started['job_id']}.session_end")
        assert ended["room"] == "support-room" and ended["reason"] == "released"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_dev_registers_the_agent_server_program(livekit: fake.FakeLiveKitServer) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(AGENT),
        "dev",
        "--no-reload",
        "--url",
        livekit.url,
        "--api-key",
        fake.API_KEY,
        "--api-secret",
        fake.API_SECRET,
        env=_env(),
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        conn = await livekit.wait_connection(0, timeout=60)
        assert conn.register is not None and conn.register.agent_name == "vx-server-agent"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        await conn.wait_for(lambda: conn.closed, timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
