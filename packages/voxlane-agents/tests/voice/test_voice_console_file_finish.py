"""Console file mode ends deterministically: after the input WAV, it waits for the STT to finish
the user's last words and for the session to be idle, however slow the models are; a run that
never settles ends after ``finish_timeout`` with a clear error."""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

import pytest

from voxlane.agents.testing.fakes import FakeLLM, FakeSTT, FakeTTS, FakeVAD, audio_pattern
from voxlane.agents.types import APIConnectOptions
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.agent_session import SessionConnectOptions
from voxlane.agents.voice.console import FileConsole
from voxlane.agents.voice.console.file_mode import TRAILING_SILENCE
from voxlane.agents.voice.console.room import ConsoleOptions, ConsoleRoom

pytestmark = pytest.mark.virtual_clock

QUESTION = [(0.3, False), (1.0, True), (0.3, False)]
QUESTION_SECONDS = 1.6
OLD_QUIET_WINDOW = 2.0  # the previous implementation ended after this much "quiet"


def _write_question(path: Path) -> None:
    frames = audio_pattern(QUESTION, sample_rate=16000)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        for f in frames:
            w.writeframes(bytes(f.data.cast("B")))


def _options(tmp_path: Path) -> ConsoleOptions:
    question = tmp_path / "question.wav"
    _write_question(question)
    return ConsoleOptions(
        mode="file",
        input_audio=str(question),
        output_audio=str(tmp_path / "answer.wav"),
        transcript=str(tmp_path / "transcript.txt"),
    )


def _session(recognize_delay: float) -> AgentSession[None]:
    # a batch STT made streaming by the VAD: each utterance takes `recognize_delay` to transcribe
    # (with no request timeout getting in the way)
    return AgentSession(
        conn_options=SessionConnectOptions(
            stt_conn_options=APIConnectOptions(max_retry=0, timeout=1_000_000.0)
        ),
        vad=FakeVAD(),
        stt=FakeSTT(["what time is it"], streaming=False, recognize_delay=recognize_delay),
        llm=FakeLLM(default="It is noon."),
        tts=FakeTTS(seconds_per_char=0.01),
        min_endpointing_delay=0.3,
        user_away_timeout=None,
    )


@pytest.mark.parametrize("recognize_delay", [0.0, 5.0, 60.0])
async def test_slow_stt_still_gives_the_whole_conversation(
    tmp_path: Path, recognize_delay: float
) -> None:
    options = _options(tmp_path)
    session = _session(recognize_delay)
    console = FileConsole(session, options, stdout=io.StringIO())
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await console.start()
    await session.start(Agent(instructions="tell the time"))
    await console.wait_done()
    elapsed = loop.time() - t0
    await console.aclose()
    transcript = (tmp_path / "transcript.txt").read_text().splitlines()
    assert transcript == ["user: what time is it", "agent: It is noon."]
    assert console.error is None
    # the end came after the recognition (not after a fixed quiet window), and as soon as the
    # short reply (0.11 s of audio) had played
    assert elapsed >= QUESTION_SECONDS + TRAILING_SILENCE
    if recognize_delay > OLD_QUIET_WINDOW:
        assert elapsed >= QUESTION_SECONDS + recognize_delay
    assert elapsed <= QUESTION_SECONDS + TRAILING_SILENCE + recognize_delay + 1.0
    assert session.agent_state in ("listening", "idle")
    await session.aclose()


async def test_a_stuck_stt_ends_after_the_timeout_with_a_clear_error(tmp_path: Path) -> None:
    options = _options(tmp_path)
    session = _session(recognize_delay=10_000.0)
    console = FileConsole(session, options, stdout=io.StringIO(), finish_timeout=30.0)
    loop = asyncio.get_running_loop()
    await console.start()
    await session.start(Agent(instructions="tell the time"))
    t0 = loop.time()
    await console.wait_done()
    assert console.error is not None
    assert "30 s after the input audio ended" in console.error
    assert "the STT finishing the user's last words" in console.error
    assert "finish_timeout" in console.error
    # the input took its real-time length; the wait after it was the timeout
    assert loop.time() - t0 == pytest.approx(QUESTION_SECONDS + TRAILING_SILENCE + 30.0, abs=0.1)
    await console.aclose()
    await session.aclose()


async def test_the_room_records_the_error_and_the_session_closes(tmp_path: Path) -> None:
    """Through ``session.start(room=ConsoleRoom(...))``, as ``cli console --input-audio`` runs
    it: the error lands on the room (the CLI prints it and exits with status 1)."""
    room = ConsoleRoom(_options(tmp_path))
    session = _session(recognize_delay=10_000.0)
    closed = asyncio.Event()
    session.on("close", lambda _: closed.set())
    await session.start(Agent(instructions="tell the time"), room=room)
    await asyncio.wait_for(closed.wait(), 400)
    assert room.error is not None and "300 s after the input audio ended" in room.error


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan")])
def test_finish_timeout_is_validated(tmp_path: Path, bad: float) -> None:
    with pytest.raises(ValueError, match="finish_timeout"):
        FileConsole(_session(0.0), _options(tmp_path), finish_timeout=bad)


async def test_a_session_closed_before_the_end_of_the_file_ends_the_console(
    tmp_path: Path,
) -> None:
    options = _options(tmp_path)
    session = _session(0.0)
    console = FileConsole(session, options, stdout=io.StringIO())
    await console.start()
    await session.start(Agent(instructions="tell the time"))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.sleep(0.5)  # the file lasts 3.1 s with its trailing silence
    await session.aclose()
    await asyncio.wait_for(console.wait_done(), 1.0)
    assert loop.time() - t0 < QUESTION_SECONDS
    assert console.error is None
    await console.aclose()
