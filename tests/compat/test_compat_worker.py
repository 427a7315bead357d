"""The worker program (cli.run_app + WorkerOptions + JobContext), rewritten and run as a process.

``console --text`` runs in a pseudo-terminal and ``console --input-audio`` on a WAV of
espeak-ng speech. The provider strings ("deepgram/nova-3", "openai/gpt-4.1-mini",
"cartesia/sonic-2") are answered by scripted fakes registered under the same provider names by
``fake_provider_launcher.py``; silero is the real plugin (loaded in ``prewarm``).
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

LAUNCHER = Path(__file__).parent / "fake_provider_launcher.py"
TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Terminal:
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

    def expect(self, text: str) -> None:
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

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self) -> int:
        try:
            return self.proc.wait(TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.master)


def test_help_lists_the_livekit_subcommands(rewritten_programs: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(rewritten_programs / "worker_agent.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("console", "dev", "start", "connect", "download-files"):
        assert command in proc.stdout


def test_start_without_a_server_url_is_a_clear_error(rewritten_programs: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(rewritten_programs / "worker_agent.py"), "start"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
    )
    assert proc.returncode == 2
    assert "LIVEKIT_URL" in proc.stderr


def test_console_text_mode_runs_prewarm_entrypoint_tools_and_shutdown(
    rewritten_programs: Path,
) -> None:
    term = Terminal(str(LAUNCHER), str(rewritten_programs / "worker_agent.py"), "console", "--text")
    try:
        term.expect("Agent: Hello, I can tell you the weather anywhere.")
        term.expect("You: ")
        term.send("hello\r")
        term.expect("Agent: Hi! Which city?")
        term.send("what is the weather in Paris\r")
        term.expect("Agent: It is sunny in Paris.")
        term.send("\x04")  # Ctrl+D ends the console job
        term.expect("shutdown callback ran for room console")
        assert term.wait() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()


def _speech_wav(path: Path, text: str, *, lead: float, tail: float) -> None:
    """``text`` spoken by espeak-ng, with ``lead`` / ``tail`` seconds of silence around it."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, timeout=TIMEOUT)
    with wave.open(str(raw), "rb") as r:
        rate, width, channels = r.getframerate(), r.getsampwidth(), r.getnchannels()
        speech = r.readframes(r.getnframes())
    silence = b"\x00" * width * channels
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(silence * int(lead * rate) + speech + silence * int(tail * rate))


def test_console_file_mode_with_real_speech_and_silero(
    rewritten_programs: Path, tmp_path: Path
) -> None:
    """WAV in, WAV and transcript out: the real Silero VAD finds the spoken question, the batch
    STT fake (wrapped by the session in stt.StreamAdapter) transcribes it, the scripted LLM runs
    the tool, the fake TTS speaks."""
    question = tmp_path / "question.wav"
    # the greeting (44 characters at FakeTTS's 0.05 s each) ends before the user speaks
    _speech_wav(question, "What is the weather in Paris?", lead=3.5, tail=2.0)
    answer = tmp_path / "out" / "answer.wav"
    transcript = tmp_path / "out" / "transcript.txt"
    proc = subprocess.run(
        [
            sys.executable,
            str(LAUNCHER),
            str(rewritten_programs / "worker_agent.py"),
            "console",
            "--input-audio",
            str(question),
            "--output-audio",
            str(answer),
            "--transcript",
            str(transcript),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert transcript.read_text().splitlines() == [
        "agent: Hello, I can tell you the weather anywhere.",
        "user: What is the weather in Paris?",
        "agent: It is sunny in Paris.",
    ]
    assert "shutdown callback ran for room console" in proc.stderr
    # ctx.wait_for_participant() returned the console's simulated user
    assert "talking to console-user in room console" in proc.stderr
    with wave.open(str(answer), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    spoken = len("Hello, I can tell you the weather anywhere.It is sunny in Paris.")
    assert abs(seconds - spoken * 0.05) < 0.15
