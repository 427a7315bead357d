"""``python examples/basic_agent.py console`` in a pseudo-terminal, with scripted models (the
``fake/*`` providers of ``vx_start_harness.py``, chosen through the example's ``VOXLANE_<KIND>``
variables): the prewarmed VAD, the greeting, a typed question answered, Ctrl+D ends it."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "basic_agent.py"
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import vx_start_harness as harness  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")

TIMEOUT = 60.0


def _env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import vx_start_harness  # noqa: F401\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "VOXLANE_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(site), str(Path(__file__).resolve().parent), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env["VOXLANE_HEALTH_PORT"] = "0"
    env.update(
        harness.config_env(
            input_audio=tmp_path / "unused.wav",
            transcript=tmp_path / "unused.txt",
            output_audio=tmp_path / "unused-out.wav",
            user_says="",
            replies={"time": "It is noon."},
            greeting="Hello! How can I help you?",
        )
    )
    return env


def test_basic_agent_console_text_mode(tmp_path: Path) -> None:
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "console", "--text"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=_env(tmp_path),
        close_fds=True,
    )
    os.close(slave)
    output = ""

    def expect(text: str) -> None:
        nonlocal output
        deadline = time.monotonic() + TIMEOUT
        while text not in output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} not seen; output so far:\n{output}")
            ready, _, _ = select.select([master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""
                if not data and proc.poll() is not None:
                    raise AssertionError(f"the console exited before {text!r}:\n{output}")
                output += data.decode("utf-8", errors="replace")

    try:
        expect("[text mode")
        expect("Agent: Hello! How can I help you?")
        expect("You: ")
        os.write(master, b"what time is it?\r")
        expect("Agent: It is noon.")
        os.write(master, b"\x04")
        assert proc.wait(TIMEOUT) == 0, output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
