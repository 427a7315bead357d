"""Console file mode: the agent's words follow its audio; an interrupted reply keeps the played
words in the history, on the terminal, in the transcript file and in the output WAV."""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

import numpy as np
import pytest

from voxlane.agents.testing.fakes import FakeTTS
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.console import FileConsole
from voxlane.agents.voice.console.room import ConsoleOptions
from voxlane.agents.voice.io_impl import WavAudioInput, WavAudioOutput

pytestmark = pytest.mark.virtual_clock

SECONDS_PER_CHAR = 0.05
SENTENCES = ["Cat dog pig hen cow elk.", "Rat bat owl fox ape yak."]
REPLY = " ".join(SENTENCES)


def _played_words(position: float) -> str:
    out: list[str] = []
    start = 0.0
    for sentence in SENTENCES:
        for i, word in enumerate(sentence.split()):
            # every word is 3 letters + a space (0.2 s of FakeTTS audio)
            if start + i * 4 * SECONDS_PER_CHAR <= position + 1e-6:
                out.append(word)
        start += len(sentence) * SECONDS_PER_CHAR
    return " ".join(out)


def _write_silence(path: Path, seconds: float) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)  # stereo on purpose: the console mixes it down
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 2 * int(16000 * seconds))


async def _file_console(
    tmp_path: Path, *, sync: bool = True
) -> tuple[AgentSession[None], FileConsole, io.StringIO, ConsoleOptions]:
    question = tmp_path / "question.wav"
    _write_silence(question, 0.2)
    options = ConsoleOptions(
        mode="file",
        input_audio=str(question),
        output_audio=str(tmp_path / "out" / "answer.wav"),
        transcript=str(tmp_path / "out" / "transcript.txt"),
        sync_transcription=sync,
    )
    session: AgentSession[None] = AgentSession(
        tts=FakeTTS(seconds_per_char=SECONDS_PER_CHAR, streaming=False),
        user_away_timeout=None,
    )
    stdout = io.StringIO()
    console = FileConsole(session, options, stdout=stdout)
    await console.start()
    await session.start(Agent(instructions="test"))
    return session, console, stdout, options


async def test_file_mode_interrupted_reply_keeps_exactly_the_played_words(tmp_path: Path) -> None:
    session, console, stdout, options = await _file_console(tmp_path)
    output = session.output.audio
    assert isinstance(output, WavAudioOutput)  # the io_impl WAV output, paced on the loop
    started = asyncio.Event()
    output.on("playback_started", lambda _: started.set())
    handle = session.say(REPLY)
    await started.wait()
    await asyncio.sleep(1.5)
    session.interrupt()
    await handle
    assert handle.interrupted
    msg = session.history.items[-1]
    said = msg.text_content
    assert msg.interrupted
    position = output.written_duration
    assert position == pytest.approx(1.5, abs=1e-3)
    assert said == _played_words(position) == "Cat dog pig hen cow elk. Rat bat"
    # the terminal showed exactly the played words
    assert f"Agent: {said}" in stdout.getvalue()
    assert REPLY not in stdout.getvalue()
    await session.aclose()
    await console.aclose()
    assert options.transcript is not None and options.output_audio is not None
    text = await asyncio.to_thread(Path(options.transcript).read_text)
    assert text.splitlines() == [f"agent: {said}"]
    with wave.open(options.output_audio, "rb") as w:
        assert (w.getnchannels(), w.getframerate()) == (1, 24000)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert len(pcm) / 24000 == pytest.approx(position, abs=0.01)
    assert np.abs(pcm).max() > 1000


async def test_wav_input_mixes_down_and_reports_the_end(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    left = (np.arange(1600) % 100).astype("<i2") * 100
    right = np.zeros(1600, dtype="<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.stack([left, right], axis=1).reshape(-1).tobytes())
    wav_in = WavAudioInput(path, num_channels=1, realtime=False, trailing_silence=0.1)
    frames = [f async for f in wav_in]
    assert wav_in.finished.is_set()
    assert {f.num_channels for f in frames} == {1}
    pcm = np.concatenate([np.frombuffer(bytes(f.data), dtype=np.int16) for f in frames])
    assert len(pcm) == 1600 + 1600  # 0.1 s of file + 0.1 s of trailing silence
    assert np.array_equal(pcm[:1600], (left.astype(np.int32) // 2).astype(np.int16))
    with pytest.raises(ValueError, match="num_channels must be 1, 2 or None"):
        WavAudioInput(path, num_channels=3)


async def test_file_mode_without_sync_prints_the_whole_reply(tmp_path: Path) -> None:
    session, console, stdout, _ = await _file_console(tmp_path, sync=False)
    assert not session.output.sync_transcription
    output = session.output.audio
    assert isinstance(output, WavAudioOutput)
    started = asyncio.Event()
    output.on("playback_started", lambda _: started.set())
    handle = session.say(REPLY)
    await started.wait()
    # not synchronised: the whole reply is on the terminal while the audio just started
    assert f"Agent: {REPLY}" in stdout.getvalue()
    session.interrupt()
    await handle
    await session.aclose()
    await console.aclose()
