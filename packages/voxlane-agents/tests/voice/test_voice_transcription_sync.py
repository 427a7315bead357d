"""TranscriptSynchronizer: text released with the audio, exactly the played words kept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from livekit import rtc

from voxlane.agents.testing.fakes import FakeTTS, split_frame, tone
from voxlane.agents.tts import TIMED_TRANSCRIPTS_KEY, TimedString
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.io import PlaybackFinishedEvent, TextOutput
from voxlane.agents.voice.io_impl import MemoryAudioOutput, MemoryTextOutput
from voxlane.agents.voice.transcription import (
    STANDARD_SPEECH_RATE,
    TranscriptSynchronizer,
    count_syllables,
    split_words,
)

pytestmark = pytest.mark.virtual_clock


class TimedTextOutput(TextOutput):
    """Records every piece of text with the loop time it arrived."""

    def __init__(self) -> None:
        super().__init__(label="timed")
        self.pieces: list[tuple[float, str]] = []
        self.segments: list[str] = []
        self._current = ""

    async def capture_text(self, text: str) -> None:
        self.pieces.append((asyncio.get_running_loop().time(), text))
        self._current += text

    def flush(self) -> None:
        self.segments.append(self._current)
        self._current = ""

    def text_at(self, t: float) -> str:
        return "".join(p for at, p in self.pieces if at <= t + 1e-9)


def _timed_frames(words: list[tuple[str, float]], duration: float) -> list[rtc.AudioFrame]:
    frames = split_frame(tone(duration, sample_rate=24000), 0.05)
    frames[0].userdata[TIMED_TRANSCRIPTS_KEY] = [
        TimedString(w, start_time=start) for w, start in words
    ]
    return frames


async def _feed(sync: TranscriptSynchronizer, text: str, frames: list[rtc.AudioFrame]) -> None:
    await sync.text_output.capture_text(text)
    sync.text_output.flush()
    for f in frames:
        await sync.audio_output.capture_frame(f)
    sync.audio_output.flush()


def test_syllables_and_words() -> None:
    assert [count_syllables(w) for w in ("one", "seven", "table", "hello", "2024", "!!")] == [
        1,
        2,
        2,
        2,
        4,
        0,
    ]
    assert count_syllables("你好") == 2
    assert split_words(" hi there  you", text_done=False) == [" hi ", "there  "]
    assert split_words("a b", text_done=True) == ["a ", "b"]


async def test_words_follow_tts_timings_and_interruption_keeps_played_words() -> None:
    audio = MemoryAudioOutput(can_pause=False)
    text = TimedTextOutput()
    sync = TranscriptSynchronizer(next_in_chain_audio=audio, next_in_chain_text=text)
    t0 = asyncio.get_running_loop().time()
    words = [("alpha ", 0.0), ("bravo ", 0.5), ("charlie ", 1.0), ("delta", 1.5)]
    await _feed(sync, "alpha bravo charlie delta", _timed_frames(words, 2.0))
    await asyncio.sleep(0.25)
    assert text.text_at(t0 + 0.25) == "alpha "
    await asyncio.sleep(0.5)
    assert text.text_at(t0 + 0.75) == "alpha bravo "
    sync.audio_output.clear_buffer()
    ev: PlaybackFinishedEvent = await sync.audio_output.wait_for_playout()
    assert ev.interrupted
    assert ev.playback_position == pytest.approx(0.75, abs=1e-6)
    assert ev.synchronized_transcript == "alpha bravo"
    await asyncio.sleep(0)
    assert text.segments == ["alpha bravo "]
    # each word arrived when its audio started
    assert [round(at - t0, 6) for at, _ in text.pieces] == [0.0, 0.5]
    await sync.aclose()
    await audio.aclose()


async def test_played_out_segment_releases_all_text_and_pause_holds_words() -> None:
    audio = MemoryAudioOutput(can_pause=True)
    text = TimedTextOutput()
    sync = TranscriptSynchronizer(next_in_chain_audio=audio, next_in_chain_text=text)
    assert sync.audio_output.can_pause
    t0 = asyncio.get_running_loop().time()
    words = [("one ", 0.0), ("two ", 0.4), ("three", 0.8)]
    await _feed(sync, "one two three", _timed_frames(words, 1.2))
    await asyncio.sleep(0.3)
    sync.audio_output.pause()
    await asyncio.sleep(1.0)  # paused: "two" is not due while the audio is held
    assert text.text_at(t0 + 1.3) == "one "
    sync.audio_output.resume()
    ev = await sync.audio_output.wait_for_playout()
    assert not ev.interrupted and ev.synchronized_transcript == "one two three"
    await asyncio.sleep(0)
    assert text.segments == ["one two three"]
    times = [round(at - t0, 6) for at, _ in text.pieces]
    assert times == [0.0, 1.4, 1.8]
    await sync.aclose()
    await audio.aclose()


async def test_speaking_rate_estimate_spreads_words_over_the_audio() -> None:
    audio = MemoryAudioOutput(can_pause=False)
    text = TimedTextOutput()
    sync = TranscriptSynchronizer(next_in_chain_audio=audio, next_in_chain_text=text)
    t0 = asyncio.get_running_loop().time()
    sentence = "seven table hello one two"  # 2 + 2 + 2 + 1 + 1 syllables
    await _feed(sync, sentence, split_frame(tone(4.0, sample_rate=24000), 0.05))
    ev = await sync.audio_output.wait_for_playout()
    assert ev.synchronized_transcript == sentence
    await asyncio.sleep(0)
    # 8 syllables over 4 s of audio: 0.5 s per syllable
    assert [(round(at - t0, 6), w) for at, w in text.pieces] == [
        (0.0, "seven "),
        (1.0, "table "),
        (2.0, "hello "),
        (3.0, "one "),
        (3.5, "two"),
    ]
    await sync.aclose()
    await audio.aclose()


async def test_speed_sets_the_rate_while_the_audio_length_is_unknown() -> None:
    audio = MemoryAudioOutput(can_pause=False)
    text = TimedTextOutput()
    sync = TranscriptSynchronizer(next_in_chain_audio=audio, next_in_chain_text=text, speed=2.0)
    t0 = asyncio.get_running_loop().time()
    await sync.text_output.capture_text(" ".join(["hello"] * 6))
    sync.text_output.flush()
    for f in split_frame(tone(3.0, sample_rate=24000), 0.05):
        await sync.audio_output.capture_frame(f)
    # audio not flushed yet: the standard rate times speed is used
    await asyncio.sleep(1.0)
    per_word = 2 / (STANDARD_SPEECH_RATE * 2.0)
    assert [round(at - t0, 6) for at, _ in text.pieces] == [
        round(k * per_word, 6) for k in range(4)
    ]
    sync.audio_output.clear_buffer()
    ev = await sync.audio_output.wait_for_playout()
    assert ev.synchronized_transcript == "hello hello hello hello"
    await sync.aclose()
    await audio.aclose()


async def test_text_without_audio_passes_through_and_disabled_sync_is_transparent() -> None:
    audio = MemoryAudioOutput()
    text = TimedTextOutput()
    sync = TranscriptSynchronizer(next_in_chain_audio=audio, next_in_chain_text=text)
    await sync.text_output.capture_text("never spoken")
    sync.text_output.flush()
    await asyncio.sleep(1.0)
    assert text.segments == []
    # the next segment starts: the first one will never get audio
    await _feed(sync, "spoken", _timed_frames([("spoken", 0.0)], 0.3))
    await sync.audio_output.wait_for_playout()
    await asyncio.sleep(0)
    assert text.segments == ["never spoken", "spoken"]
    sync.set_enabled(False)
    await sync.text_output.capture_text("direct")
    assert text.pieces[-1][1] == "direct"
    sync.text_output.flush()
    assert text.segments[-1] == "direct"
    await sync.aclose()
    await audio.aclose()


def test_synchronizer_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="next_in_chain_audio"):
        TranscriptSynchronizer(next_in_chain_audio=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="speed"):
        TranscriptSynchronizer(next_in_chain_audio=MemoryAudioOutput(), speed=0)


async def _synced_session(vh: Any, *, aligned: bool) -> tuple[Any, ...]:
    session: AgentSession[None] = AgentSession(
        llm=vh.ScriptedLLM([]),
        tts=FakeTTS(seconds_per_char=0.05, chunk_duration=0.05, aligned_transcript=aligned),
        user_away_timeout=None,
    )
    audio = MemoryAudioOutput(can_pause=False)
    captions = MemoryTextOutput()
    sync = TranscriptSynchronizer(next_in_chain_audio=audio, next_in_chain_text=captions)
    session.output.audio = sync.audio_output
    session.output.transcription = sync.text_output
    await session.start(Agent(instructions="test"))
    return session, sync, audio, captions


@pytest.mark.parametrize("aligned", [True, False])
async def test_interrupted_reply_keeps_exactly_the_played_words(vh: Any, aligned: bool) -> None:
    session, sync, audio, captions = await _synced_session(vh, aligned=aligned)
    sentence = "one two three four five six seven eight nine ten"
    handle = session.say(sentence)
    await asyncio.sleep(1.1)
    session.interrupt()
    await handle
    assert handle.interrupted
    position = audio.segments[0].playback_position
    assert position == pytest.approx(1.1, abs=1e-6)
    msg = session.history.items[-1]
    assert msg.role == "assistant" and msg.interrupted
    said = msg.text_content
    await captions.wait_for_segments(1)
    # what the user saw is what the history holds
    assert captions.segments[0].strip() == said
    if aligned:
        # FakeTTS timings: a word starts at its character offset * 0.05 s
        starts = {w: sentence.index(w) * 0.05 for w in sentence.split()}
        expected = " ".join(w for w in sentence.split() if starts[w] <= position)
        assert said == expected == "one two three four five"
    else:
        assert said and sentence.startswith(said) and len(said) < len(sentence)
    await session.aclose()
    await sync.aclose()
    await audio.aclose()


async def test_completed_reply_shows_the_whole_text(vh: Any) -> None:
    session, sync, audio, captions = await _synced_session(vh, aligned=True)
    handle = session.say("all of this is heard")
    await handle
    assert not handle.interrupted
    assert session.history.items[-1].text_content == "all of this is heard"
    assert await captions.wait_for_segments(1) == ["all of this is heard"]
    assert not audio.segments[0].interrupted
    await session.aclose()
    await sync.aclose()
    await audio.aclose()
