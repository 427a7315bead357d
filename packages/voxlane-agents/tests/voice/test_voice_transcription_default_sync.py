"""Transcription synchronised with playout by default (memory I/O), sentence-level TTS timings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxlane.agents.testing.fakes import FakeTTS, split_frame, tone
from voxlane.agents.tts import TIMED_TRANSCRIPTS_KEY, TimedString
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.io_impl import MemoryAudioOutput, MemoryTextOutput
from voxlane.agents.voice.transcription import TranscriptSynchronizer
from voxlane.agents.voice.transcription.synchronizer import is_synchronized

pytestmark = pytest.mark.virtual_clock

SECONDS_PER_CHAR = 0.05
# three sentences of six one-syllable, three-letter words: every word takes 4 characters
# (0.2 s) of FakeTTS audio, so a word's start is the same whether it is estimated from
# characters or from syllables
SENTENCES = [
    "Cat dog pig hen cow elk.",
    "Rat bat owl fox ape yak.",
    "Ant bee eel emu gnu hog.",
]
REPLY = " ".join(SENTENCES)


def played_words(position: float) -> str:
    """The words whose audio started within ``position`` seconds (FakeTTS per sentence)."""
    out: list[str] = []
    sentence_start = 0.0
    for sentence in SENTENCES:
        cursor = 0
        for word in sentence.split():
            begin = sentence.index(word, cursor)
            cursor = begin + len(word)
            if sentence_start + begin * SECONDS_PER_CHAR <= position + 1e-6:
                out.append(word)
        sentence_start += len(sentence) * SECONDS_PER_CHAR
    return " ".join(out)


async def _session(**opts: Any) -> tuple[AgentSession[None], MemoryAudioOutput, MemoryTextOutput]:
    # streaming=False: the default tts_node wraps FakeTTS in tts.StreamAdapter, which pushes
    # one TimedString per sentence
    session: AgentSession[None] = AgentSession(
        tts=FakeTTS(seconds_per_char=SECONDS_PER_CHAR, streaming=False),
        user_away_timeout=None,
        **opts,
    )
    audio = MemoryAudioOutput(can_pause=False)
    captions = MemoryTextOutput()
    session.output.audio = audio
    session.output.transcription = captions
    await session.start(Agent(instructions="test"))
    return session, audio, captions


def _started(audio: MemoryAudioOutput) -> asyncio.Event:
    """Set when the audio output starts playing."""
    ev = asyncio.Event()
    audio.on("playback_started", lambda _: ev.set())
    return ev


async def test_memory_io_interrupted_reply_keeps_exactly_the_played_words() -> None:
    session, audio, captions = await _session()
    started = _started(audio)
    handle = session.say(REPLY)
    await started.wait()
    # 1.7 s in: sentence 1 (1.2 s) and "Rat" (1.2), "bat" (1.4), "owl" (1.6) have started
    await asyncio.sleep(1.7)
    seen_before = captions.current
    session.interrupt()
    await handle
    assert handle.interrupted
    position = audio.segments[0].playback_position
    assert position == pytest.approx(1.7, abs=1e-6)
    msg = session.history.items[-1]
    assert msg.role == "assistant" and msg.interrupted
    expected = played_words(position)
    assert expected == "Cat dog pig hen cow elk. Rat bat owl"
    assert msg.text_content == expected
    # the text output got exactly those words, and only as they were played
    assert [s.strip() for s in captions.segments] == [expected]
    assert seen_before.strip() == expected
    await session.aclose()
    await audio.aclose()


async def test_memory_io_words_appear_as_the_audio_plays() -> None:
    session, audio, captions = await _session()
    started = _started(audio)
    handle = session.say(REPLY)
    await started.wait()
    await asyncio.sleep(0.5)  # "Cat" 0.0, "dog" 0.2, "pig" 0.4
    assert captions.current.strip() == "Cat dog pig"
    await asyncio.sleep(1.0)  # 1.5 s: sentence 1, "Rat" 1.2, "bat" 1.4
    assert captions.current.strip() == "Cat dog pig hen cow elk. Rat bat"
    await handle
    assert not handle.interrupted
    assert captions.segments == [REPLY]
    assert session.history.items[-1].text_content == REPLY
    await session.aclose()
    await audio.aclose()


async def test_sync_can_be_switched_off_for_the_session() -> None:
    session, audio, captions = await _session(sync_transcription=False)
    assert not session.output.sync_transcription
    started = _started(audio)
    handle = session.say(REPLY)
    await started.wait()
    await asyncio.sleep(0.1)
    # not synchronised: the whole text is shown at once
    assert "".join(captions.deltas) == REPLY
    await handle
    await session.aclose()
    await audio.aclose()


async def test_sync_switched_off_on_the_outputs_and_bad_speed() -> None:
    session, audio, captions = await _session()
    session.output.set_sync_transcription(False)
    started = _started(audio)
    handle = session.say(REPLY)
    await started.wait()
    await asyncio.sleep(0.1)
    assert "".join(captions.deltas) == REPLY
    await handle
    with pytest.raises(ValueError, match="speed must be > 0"):
        session.output.set_sync_transcription(True, speed=0)
    await session.aclose()
    await audio.aclose()


async def test_explicit_synchronizer_is_not_wrapped_twice() -> None:
    session: AgentSession[None] = AgentSession(tts=FakeTTS(), user_away_timeout=None)
    audio = MemoryAudioOutput(can_pause=False)
    captions = MemoryTextOutput()
    sync = TranscriptSynchronizer(next_in_chain_audio=audio, next_in_chain_text=captions)
    session.output.audio = sync.audio_output
    session.output.transcription = sync.text_output
    assert session.output._playout_outputs() == (sync.audio_output, sync.text_output)
    # plain outputs get one synchronizer, reused while the outputs stay the same
    session.output.audio = audio
    session.output.transcription = captions
    first = session.output._playout_outputs()
    assert all(is_synchronized(o) for o in first)
    assert session.output._playout_outputs() == first
    # only one of the two outputs: nothing to synchronise
    session.output.transcription = None
    assert session.output._playout_outputs() == (audio, None)
    await session.output._aclose()
    await sync.aclose()


async def test_sentence_timed_strings_anchor_each_sentence() -> None:
    """Directly on the synchronizer: one TimedString per sentence (as tts.StreamAdapter)."""
    audio = MemoryAudioOutput(can_pause=False)
    captions = MemoryTextOutput()
    sync = TranscriptSynchronizer(next_in_chain_audio=audio, next_in_chain_text=captions)
    # sentence 2 starts at 1.0 s although sentence 1 has six words: an unusually slow first
    # sentence, which a speaking-rate estimate alone would get wrong
    first, second = "one two three four five six. ", "seven eight nine ten."
    frames = split_frame(tone(2.0, sample_rate=24000), 0.05)
    frames[0].userdata[TIMED_TRANSCRIPTS_KEY] = [TimedString(first, start_time=0.0)]
    frames[20].userdata[TIMED_TRANSCRIPTS_KEY] = [TimedString(second, start_time=1.0)]
    await sync.text_output.capture_text(first + second)
    sync.text_output.flush()
    for f in frames:
        await sync.audio_output.capture_frame(f)
    sync.audio_output.flush()
    await asyncio.sleep(1.05)
    # "seven" is anchored at 1.0 s, "eight" (1 syllable of 5 in sentence 2) follows later
    assert captions.current.split()[-1] == "seven"
    assert len(captions.current.split()) == 7
    sync.audio_output.clear_buffer()
    ev = await sync.audio_output.wait_for_playout()
    assert ev.interrupted
    assert ev.synchronized_transcript == "one two three four five six. seven"
    await sync.aclose()
    await audio.aclose()
