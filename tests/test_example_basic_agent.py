"""``python examples/basic_agent.py start`` as a real worker process: it registers with the fake
LiveKit server of the worker tests, accepts a dispatched job, runs its entrypoint (a greeting and
a spoken user turn answered, with scripted models: see ``vx_start_harness.py``), and on SIGTERM
refuses new jobs, lets the running one finish, then exits cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import signal
import sys
import wave
from pathlib import Path

import pytest
from livekit.protocol import agent

from voxlane.agents.testing import audio_pattern

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "basic_agent.py"
WORKER_TESTS = ROOT / "packages" / "voxlane-agents" / "tests" / "worker"
for folder in (WORKER_TESTS, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

fake = importlib.import_module("vx_fake_livekit")  # the fake LiveKit server of the worker tests
harness = importlib.import_module("vx_start_harness")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals")

# generous bounds: a loaded 2-core CI machine spawns and imports the job process slowly
TIMEOUT = 120.0
GREETING = "Hello! How can I help you?"
QUESTION = "what time is it"
ANSWER = "It is noon."
# 1.5 s of silence (the greeting plays meanwhile), 1 s of "speech" (a tone), 1 s of silence
SPEECH_PATTERN = [(1.5, False), (1.0, True), (1.0, False)]


def _write_wav(path: Path) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        for frame in audio_pattern(SPEECH_PATTERN, sample_rate=16000):
            w.writeframes(bytes(frame.data.cast("B")))


def _env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import vx_start_harness  # noqa: F401\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "VOXLANE_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(site), str(Path(__file__).resolve().parent), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env["VOXLANE_HEALTH_PORT"] = "0"  # no fixed port: tests may run side by side
    env.update(
        harness.config_env(
            input_audio=tmp_path / "question.wav",
            transcript=tmp_path / "transcript.txt",
            output_audio=tmp_path / "answer.wav",
            user_says=QUESTION,
            replies={"time": ANSWER},
            greeting=GREETING,
        )
    )
    return env


def _first_line(path: Path) -> str | None:
    if not path.exists():
        return None
    text = path.read_text()
    return text.splitlines()[0] if text.endswith("\n") else None


async def _wait_first_line(path: Path) -> str:
    async def wait() -> str:
        # another process writes the file
        while (line := await asyncio.to_thread(_first_line, path)) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return line

    return await asyncio.wait_for(wait(), TIMEOUT)


@pytest.mark.timeout(600)
async def test_start_registers_runs_a_job_and_drains_on_sigterm(tmp_path: Path) -> None:
    _write_wav(tmp_path / "question.wav")
    server = fake.FakeLiveKitServer()
    url = await server.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "start",
        "--url",
        url,
        "--api-key",
        fake.API_KEY,
        "--api-secret",
        fake.API_SECRET,
        "--log-level",
        "INFO",
        env=_env(tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    log: list[bytes] = []

    async def read_stderr() -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            log.append(line)

    reader = asyncio.create_task(read_stderr())
    try:
        # 1. it registers as a room worker
        conn = await server.wait_connection(0, timeout=TIMEOUT)
        assert conn.register is not None
        assert conn.register.type == agent.JobType.JT_ROOM
        assert conn.register.agent_name == ""

        # 2. it takes a job and runs the entrypoint: the greeting is said
        meta = json.dumps({"from": "test"})
        assert (await conn.dispatch("job-1", metadata=meta)).available
        first = await _wait_first_line(tmp_path / "transcript.txt")
        assert first == f"agent: {GREETING}"

        # 3. SIGTERM while the user is still talking: draining, new jobs refused ...
        proc.send_signal(signal.SIGTERM)
        await conn.wait_for(lambda: any(s.draining for s in conn.statuses), timeout=TIMEOUT)
        refused = await conn.dispatch("job-2", metadata=meta)
        assert not refused.available
        assert proc.returncode is None  # still serving job-1

        # ... and the running job completes its conversation before the worker exits
        status = await conn.wait_final_status("job-1", timeout=TIMEOUT)
        assert status.status == agent.JobStatus.JS_SUCCESS, status.error
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader, 10)
        await server.stop()

    transcript = (tmp_path / "transcript.txt").read_text().splitlines()
    assert transcript == [f"agent: {GREETING}", f"user: {QUESTION}", f"agent: {ANSWER}"], b"".join(
        log
    ).decode(errors="replace")
    # the agent's speech was written too (FakeTTS: 0.01 s per character, at 24 kHz)
    with wave.open(str(tmp_path / "answer.wav"), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds >= 0.01 * len(GREETING + ANSWER) - 0.05
    text = b"".join(log).decode(errors="replace")
    assert "draining" in text
    assert "Traceback" not in text
