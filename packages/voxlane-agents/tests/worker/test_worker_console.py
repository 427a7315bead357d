"""The console subcommand: text mode through a pseudo-terminal, file mode through WAV files."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

AGENT = Path(__file__).parent / "vx_console_agent.py"
TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


class Pty:
    """A child process attached to a pseudo-terminal, read until expected text shows up."""

    def __init__(self, *args: str) -> None:
        import pty

        self.master, slave = pty.openpty()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, str(AGENT), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.output = ""

    def expect(self, text: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} not seen; output so far:\n{self.output}")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    data = b""
                if not data and self.proc.poll() is not None:
                    raise AssertionError(f"process exited before {text!r}:\n{self.output}")
                self.output += data.decode("utf-8", errors="replace")

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


def test_text_mode_through_a_pseudo_terminal() -> None:
    term = Pty("console", "--text")
    try:
        term.expect("[text mode")
        term.expect("You: ")
        term.send("hello")
        term.expect("hello")  # typed characters are echoed by the console itself
        term.send("\r")
        term.expect("Agent: Hello there, how can I help?")
        term.expect("You: ")
        term.send("what else\r")
        term.expect("Agent: I heard you.")
        term.send("\x04")  # Ctrl+D ends the console
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()


def test_session_closed_by_the_agent_ends_the_console() -> None:
    term = Pty("console", "--text")
    try:
        term.expect("You: ")
        term.send("goodbye\r")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()


def test_audio_mode_without_devices_falls_back_to_text() -> None:
    from voxlane.agents.voice.console.devices import find_audio_devices

    if not isinstance(find_audio_devices(), str):
        pytest.skip("this machine has audio devices")
    term = Pty("console")
    try:
        term.expect("No audio device available")
        term.expect("starting in text mode")
        term.expect("You: ")
        term.send("hello\r")
        term.expect("Agent: Hello there, how can I help?")
        term.send("\x04")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()


def _write_tone(path: Path, seconds: float, rate: int = 16000) -> None:
    t = np.arange(int(rate * seconds)) / rate
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def test_file_mode_writes_speech_and_transcript(tmp_path: Path) -> None:
    question = tmp_path / "question.wav"
    answer = tmp_path / "out" / "answer.wav"
    transcript = tmp_path / "out" / "transcript.txt"
    _write_tone(question, 1.0)
    proc = subprocess.run(
        [
            sys.executable,
            str(AGENT),
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
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    assert transcript.read_text().splitlines() == [
        "user: hello agent",
        "agent: Hello there, how can I help?",
    ]
    with wave.open(str(answer), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        seconds = len(pcm) / w.getframerate()
    # FakeTTS speaks 0.01 s per character of the reply
    expected = len("Hello there, how can I help?") * 0.01
    assert abs(seconds - expected) < 0.1
    assert np.abs(pcm).max() > 1000  # real speech audio, not silence


def test_file_mode_argument_errors(tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, str(AGENT), "console", "--input-audio", str(tmp_path / "nope.wav")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert missing.returncode == 2
    assert "input audio file not found" in missing.stderr
    orphan = subprocess.run(
        [sys.executable, str(AGENT), "console", "--output-audio", str(tmp_path / "a.wav")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert orphan.returncode == 2
    assert "need --input-audio" in orphan.stderr
    question = tmp_path / "q.wav"
    _write_tone(question, 0.2)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for flag, target in (
        ("--output-audio", blocker / "answer.wav"),  # its folder is a file
        ("--transcript", tmp_path),  # a folder
    ):
        bad = subprocess.run(
            [
                sys.executable,
                str(AGENT),
                "console",
                "--input-audio",
                str(question),
                flag,
                str(target),
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert bad.returncode == 2, bad.stderr
        assert f"error: cannot write {flag} {target}" in bad.stderr
        assert "Traceback" not in bad.stderr
