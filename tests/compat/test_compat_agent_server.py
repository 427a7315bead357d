"""The newer LiveKit worker API (AgentServer + @server.rtc_session), rewritten and run.

``programs/agent_server_agent.py`` is written as a LiveKit 1.7 user writes it. It runs through
``console --text`` in a pseudo-terminal (provider strings answered by the scripted fakes of
``fake_provider_launcher.py``, silero real), and registers with the fake LiveKit server of the
worker tests, where its ``on_request`` answers a job offer.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

LAUNCHER = Path(__file__).parent / "fake_provider_launcher.py"
PROGRAM = "agent_server_agent"
TIMEOUT = 60.0
WORKER_TESTS = (
    Path(__file__).resolve().parents[2] / "packages" / "voxlane-agents" / "tests" / "worker"
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=TIMEOUT, env=_env()
    )


def test_help_lists_the_livekit_subcommands(rewritten_programs: Path) -> None:
    proc = _run(str(rewritten_programs / f"{PROGRAM}.py"), "--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("console", "dev", "start", "connect", "download-files"):
        assert command in proc.stdout


def test_start_without_a_server_url_is_a_clear_error(rewritten_programs: Path) -> None:
    proc = _run(str(rewritten_programs / f"{PROGRAM}.py"), "start")
    assert proc.returncode == 2
    assert "LIVEKIT_URL" in proc.stderr


def test_the_decorator_configured_the_server(load_program: Callable[[str], ModuleType]) -> None:
    program = load_program(PROGRAM)
    opts = program.server.to_server_options()
    assert opts.entrypoint_fnc is program.entrypoint
    assert opts.agent_name == "weather-agent"
    assert opts.request_fnc is program.on_request
    assert opts.session_end_fnc is program.on_session_end
    assert opts.prewarm_fnc is program.prewarm
    assert opts.job_memory_warn_mb == 700 and opts.shutdown_process_timeout == 20.0


async def test_registers_with_its_agent_name_and_answers_with_on_request(
    load_program: Callable[[str], ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    if str(WORKER_TESTS) not in sys.path:
        monkeypatch.syspath_prepend(str(WORKER_TESTS))
    fake = importlib.import_module("vx_fake_livekit")
    livekit = fake.FakeLiveKitServer()
    url = await livekit.start()
    monkeypatch.setenv("LIVEKIT_URL", url)
    monkeypatch.setenv("LIVEKIT_API_KEY", fake.API_KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", fake.API_SECRET)
    server = load_program(PROGRAM).server
    task = asyncio.create_task(server.run(devmode=True))  # dev: no idle job processes
    try:
        conn = await livekit.wait_connection(0)
        assert conn.register.agent_name == "weather-agent"
        # the offer is answered by the program's on_request; no assignment follows
        answer = await conn.dispatch("J1", assign=False)
        assert answer.available
        assert answer.participant_name == "Weather Agent"
        assert answer.participant_identity == "agent-J1"
        assert dict(answer.participant_attributes) == {
            "team": "weather",
            "lk.agent.name": "weather-agent",
        }
    finally:
        await server.aclose()
        await asyncio.gather(task, return_exceptions=True)
        await livekit.stop()


class _Terminal:
    """The program attached to a pseudo-terminal; ``expect`` reads until a text shows up."""

    def __init__(self, *argv: str) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=_env(),
            close_fds=True,
        )
        os.close(slave)
        self.output = ""

    def expect(self, text: str) -> int:
        """Wait for ``text``; its position in the output."""
        deadline = time.monotonic() + TIMEOUT
        while text not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} never came; output:\n{self.output}")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.5))
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                data = b""
            if not data and self.proc.poll() is not None:
                raise AssertionError(f"the program exited before {text!r}:\n{self.output}")
            self.output += data.decode("utf-8", errors="replace")
        return self.output.index(text)

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> int:
        try:
            return self.proc.wait(TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.master)


def test_console_text_mode_runs_setup_entrypoint_tools_and_on_session_end(
    rewritten_programs: Path,
) -> None:
    term = _Terminal(str(LAUNCHER), str(rewritten_programs / f"{PROGRAM}.py"), "console", "--text")
    try:
        term.expect("Agent: Hello, I can tell you the weather anywhere.")
        term.expect("You: ")
        term.send("hello\r")
        term.expect("Agent: Hi! Which city?")
        term.send("what is the weather in Paris\r")
        term.expect("Agent: It is sunny in Paris.")
        term.send("\x04")  # Ctrl+D ends the console job
        shutdown_at = term.expect("shutdown callback ran for room console")
        # on_session_end ran after the shutdown callbacks, with the job's context and process
        ended_at = term.expect("session ended in room console (vad loaded: True)")
        assert ended_at > shutdown_at
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
