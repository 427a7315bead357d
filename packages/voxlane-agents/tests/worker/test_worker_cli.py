"""cli.run_app: argument handling, download-files, and the dev-mode file watcher."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from voxlane.agents.cli import run_app
from voxlane.agents.cli.app import build_parser, download_files
from voxlane.agents.cli.app import run_app as run_app_module_fn
from voxlane.agents.cli.watcher import changed_files, run_with_reload, snapshot
from voxlane.agents.plugin import hookimpl

AGENT = Path(__file__).parent / "vx_worker_agent.py"
if str(AGENT.parent) not in sys.path:
    sys.path.insert(0, str(AGENT.parent))


def test_parser_knows_every_subcommand() -> None:
    parser = build_parser()
    assert parser.parse_args(["start"]).command == "start"
    assert parser.parse_args(["dev", "--no-reload"]).no_reload
    args = parser.parse_args(["connect", "--room", "r1", "--participant-identity", "bob"])
    assert (args.room, args.participant_identity) == ("r1", "bob")
    args = parser.parse_args(["console", "--input-audio", "q.wav", "--output-audio", "a.wav"])
    assert (args.input_audio, args.output_audio) == ("q.wav", "a.wav")
    assert parser.parse_args(["download-files"]).command == "download-files"
    with pytest.raises(SystemExit):
        parser.parse_args(["connect"])  # --room is required


def test_run_app_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="WorkerOptions"):
        run_app(object(), argv=["start"])  # type: ignore[arg-type]
    assert run_app is run_app_module_fn


def test_start_without_credentials_is_a_clear_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    proc = subprocess.run(
        [sys.executable, str(AGENT), "start"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 2
    assert "LIVEKIT_URL" in proc.stderr


class _Downloader:
    """A plugin whose ``download_files`` hook records what the console showed before it ran."""

    def __init__(self, capsys: pytest.CaptureFixture[str], error: str | None = None) -> None:
        self.capsys = capsys
        self.error = error
        self.shown_before: str | None = None

    @hookimpl
    def download_files(self) -> None:
        self.shown_before = self.capsys.readouterr().out
        sys.stdout.write(self.shown_before)  # keep it in the captured output
        if self.error:
            raise OSError(self.error)


def _isolated_host(monkeypatch: pytest.MonkeyPatch) -> Any:
    from voxlane.agents.plugin import manager

    host = manager.PluginHost()
    monkeypatch.setattr(host, "load_entry_points", lambda: None)  # only the plugins below
    monkeypatch.setattr(manager, "get_plugin_host", lambda: host)
    return host


def test_download_files_shows_progress_as_it_goes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    host = _isolated_host(monkeypatch)
    first = _Downloader(capsys)
    second = _Downloader(capsys, error="disk full")
    host.register_plugin(first, name="alpha", distribution="voxlane-plugins-alpha")
    host.register_plugin(second, name="beta")
    assert download_files() == 1
    captured = capsys.readouterr()
    # each line appears before its plugin's hook runs, and ends with the outcome
    assert first.shown_before is not None and first.shown_before.endswith(
        "[1/2] alpha (voxlane-plugins-alpha) ... "
    )
    assert second.shown_before is not None and second.shown_before.endswith("[2/2] beta ... ")
    assert "[1/2] alpha (voxlane-plugins-alpha) ... ok\n" in captured.out
    assert "[2/2] beta ... FAILED: OSError: disk full\n" in captured.out
    assert "Done: 1 ok, 1 failed." in captured.out
    assert "run download-files again" in captured.err

    host.unregister_plugin("beta")
    assert download_files() == 0
    assert "Done: 1 ok, 0 failed." in capsys.readouterr().out


def test_download_files_without_plugins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _isolated_host(monkeypatch)
    assert download_files() == 0
    assert "No installed plugin has files to prepare." in capsys.readouterr().out


def test_snapshot_detects_changes(tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text("a = 1\n")
    (tmp_path / "notes.bin").write_text("ignored")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.py").write_text("ignored")
    before = snapshot([tmp_path])
    assert list(before) == [str(tmp_path / "agent.py")]
    os.utime(tmp_path / "agent.py", ns=(1, 10**18))
    (tmp_path / "new.py").write_text("")
    assert changed_files(before, snapshot([tmp_path])) == [
        str(tmp_path / "agent.py"),
        str(tmp_path / "new.py"),
    ]


def test_dev_reload_restarts_the_worker_on_change(tmp_path: Path) -> None:
    watched = tmp_path / "agent.py"
    watched.write_text("x = 1\n")
    starts = tmp_path / "starts.txt"
    child = (
        "import pathlib, time; "
        f"p = pathlib.Path({str(starts)!r}); "
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x'); time.sleep(60)"
    )
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run_with_reload(
                [sys.executable, "-c", child], [tmp_path], poll_interval=0.05, max_restarts=1
            )
        ),
        daemon=True,
    )
    thread.start()

    def wait_starts(n: int) -> None:
        deadline = time.monotonic() + 30
        while not (starts.exists() and len(starts.read_text()) >= n):
            assert time.monotonic() < deadline, "the worker was not (re)started"
            time.sleep(0.02)

    wait_starts(1)
    os.utime(watched, ns=(1, 10**18))
    wait_starts(2)
    os.utime(watched, ns=(1, 2 * 10**18))
    thread.join(30)
    assert result == [0]
    assert starts.read_text() == "xx"


def _wait_json(path: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited early:\n{proc.communicate()[1]}")
        assert time.monotonic() < deadline, f"{path.name} was never written"
        time.sleep(0.02)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")
@pytest.mark.parametrize("mode", ["wait_release", "crash"])
def test_connect_runs_one_job_in_the_named_room(tmp_path: Path, mode: str) -> None:
    from livekit import api

    key, secret = "connect-key", "connect-secret-with-enough-length-0123456789"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env["VX_JOB_METADATA"] = json.dumps({"dir": str(tmp_path), "mode": mode})
    proc = subprocess.Popen(
        [
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
            key,
            "--api-secret",
            secret,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if mode == "crash":
            _, stderr = proc.communicate(timeout=60)
            assert proc.returncode == 1
            assert "boom from the entrypoint" in stderr
            return
        started = _wait_json(_started_file(tmp_path, proc), proc)
        # one job, in its own process, in the room named on the command line
        assert started["room"] == "support-room" and started["participant"] == "bob"
        assert started["pid"] != proc.pid and started["userdata"]["model"] == "loaded"
        assert started["url"] == "ws://127.0.0.1:7880"
        claims = api.TokenVerifier(key, secret).verify(started["token"])
        assert claims.video is not None
        assert claims.video.room == "support-room" and claims.video.room_join
        assert claims.video.agent
        assert claims.identity.startswith("agent-")
        (tmp_path / f"{started['job_id']}.release").write_text("go")
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _started_file(folder: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout
    while not (found := sorted(folder.glob("*.started"))):
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited early:\n{proc.communicate()[1]}")
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.02)
    return found[0]


@pytest.mark.parametrize("command", [["start"], ["connect", "--room", "r"]])
def test_unpicklable_entrypoint_is_a_clear_cli_error(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from voxlane.agents.job import JobContext
    from voxlane.agents.worker import WorkerOptions

    async def nested(ctx: JobContext) -> None:
        return None

    server = ["--url", "ws://127.0.0.1:1", "--api-key", "k", "--api-secret", "s" * 40]
    with pytest.raises(SystemExit) as info:
        run_app(WorkerOptions(entrypoint_fnc=nested), argv=[*command, *server])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "entrypoint_fnc" in err and "top level of a module" in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_dev_registers_reloads_on_change_and_stops_its_worker_on_sigterm(
    tmp_path: Path,
) -> None:
    import asyncio

    import vx_fake_livekit as fake

    server = fake.FakeLiveKitServer()
    url = await server.start()
    watched = tmp_path / "project"
    watched.mkdir()
    (watched / "agent.py").write_text("x = 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env["PYTHONUNBUFFERED"] = "1"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(AGENT),
        "dev",
        "--url",
        url,
        "--api-key",
        fake.API_KEY,
        "--api-secret",
        fake.API_SECRET,
        "--watch",
        str(watched),
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        first = await server.wait_connection(0, timeout=60)
        os.utime(watched / "agent.py", ns=(1, 10**18))
        # the reloader stopped the first worker and started a new one
        second = await server.wait_connection(1, timeout=60)
        await first.wait_for(lambda: first.closed, timeout=30)
        assert second.worker_id != first.worker_id
        # SIGTERM to `dev` stops the worker it runs, not only itself
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        await second.wait_for(lambda: second.closed, timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        assert proc.stderr is not None
        try:
            log = (await asyncio.wait_for(proc.stderr.read(), 10)).decode(errors="replace")
        except asyncio.TimeoutError:
            log = "(a process still holds the log open)"
        await server.stop()
    assert "change detected" in log
