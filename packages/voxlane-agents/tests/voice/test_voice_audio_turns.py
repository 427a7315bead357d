"""Voice turns under the virtual clock: audio in -> VAD -> STT -> LLM -> TTS -> audio out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxlane.agents.testing.fakes import (
    FakeSTT,
    FakeTTS,
    FakeVAD,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.voice import Agent, AgentSession

pytestmark = pytest.mark.virtual_clock

# FakeVAD reports the end of speech one analysis window after the speech really ended; the
# endpointing delay is counted from the real end, so the commit comes this much earlier
VAD_WINDOW = 0.032


async def _voice_session(
    vh: Any,
    *,
    replies: list[Any],
    segments: list[tuple[float, float]],
    transcripts: list[ScriptedTranscript],
    can_pause: bool = False,
    agent: Agent | None = None,
    **opts: Any,
) -> tuple[AgentSession[None], Any, Any, Any, Any]:
    llm = vh.ScriptedLLM(replies)
    session: AgentSession[None] = AgentSession(
        vad=FakeVAD(segments=segments),
        stt=FakeSTT(transcripts, interim_results=True),
        llm=llm,
        tts=FakeTTS(seconds_per_char=0.05, chunk_duration=0.1),
        **opts,
    )
    audio_in = vh.QueueAudioInput()
    audio_out = vh.MemoryAudioOutput(can_pause=can_pause)
    text_out = vh.MemoryTextOutput()
    session.input.audio = audio_in
    session.output.audio = audio_out
    session.output.transcription = text_out
    log = vh.EventLog(session)
    await session.start(agent or Agent(instructions="voice agent"))
    return session, log, audio_in, audio_out, llm


async def test_full_voice_turn_events_in_order(vh: Any) -> None:
    session, log, audio_in, audio_out, llm = await _voice_session(
        vh,
        replies=["Hi! I am here."],
        segments=[(0.5, 1.5)],
        transcripts=[ScriptedTranscript("hello agent", 0.5, 1.5)],
        user_away_timeout=None,
    )
    audio_in.push(audio_pattern([(0.5, False), (1.0, True), (3.0, False)]))
    await asyncio.sleep(6.0)
    assert vh.history(session.history) == [
        ("user", "hello agent"),
        ("assistant", "Hi! I am here.", "complete"),
    ]
    names = [n for n in log.names() if n != "user_input_transcribed"]
    assert names == [
        "agent_state_changed",  # -> listening (start)
        "user_state_changed",  # -> speaking
        "user_state_changed",  # -> listening
        "speech_created",
        "conversation_item_added",  # user
        "agent_state_changed",  # thinking
        "agent_state_changed",  # speaking
        "conversation_item_added",  # assistant, after playout
        "agent_state_changed",  # listening
    ]
    transcribed = log.of("user_input_transcribed")
    assert transcribed[-1].is_final and transcribed[-1].transcript == "hello agent"
    assert any(not t.is_final for t in transcribed)
    # the whole reply was played: 14 chars * 0.05 s
    assert audio_out.finished == [(pytest.approx(0.7, abs=0.051), False)]
    assert "".join(llm.calls[0].chat_ctx.items[-1].content) == "hello agent"
    # endpointing: the user turn was committed min_endpointing_delay after speech ended
    stop_t = log.times("user_state_changed")[1]
    commit_t = log.times("conversation_item_added")[0]
    assert commit_t - stop_t == pytest.approx(0.5 - VAD_WINDOW, abs=1e-3)
    kinds = {type(e.metrics).__name__ for e in log.of("metrics_collected")}
    assert "EOUMetrics" in kinds
    await session.aclose()


class _UnsureDetector:
    """A turn detector that thinks the user is not done (probability below threshold)."""

    def __init__(self, probability: float) -> None:
        self.probability = probability
        self.calls = 0

    async def predict_end_of_turn(self, chat_ctx: Any) -> float:
        self.calls += 1
        return self.probability

    def unlikely_threshold(self, language: str | None) -> float:
        return 0.5

    def supports_language(self, language: str | None) -> bool:
        return True


@pytest.mark.parametrize(("probability", "expected_delay"), [(0.9, 0.4), (0.1, 2.0)])
async def test_endpointing_min_and_max_delay(
    vh: Any, probability: float, expected_delay: float
) -> None:
    detector = _UnsureDetector(probability)
    session, log, audio_in, _, _ = await _voice_session(
        vh,
        replies=["ok"],
        segments=[(0.2, 1.0)],
        transcripts=[ScriptedTranscript("so I was thinking", 0.2, 1.0)],
        turn_detection=detector,
        min_endpointing_delay=0.4,
        max_endpointing_delay=2.0,
    )
    audio_in.push(audio_pattern([(0.2, False), (0.8, True), (4.0, False)]))
    await asyncio.sleep(5.0)
    assert detector.calls >= 1
    stop_t = log.times("user_state_changed")[1]
    commit_t = log.times("conversation_item_added")[0]
    assert commit_t - stop_t == pytest.approx(expected_delay - VAD_WINDOW, abs=1e-3)
    await session.aclose()


async def test_new_speech_cancels_pending_end_of_turn(vh: Any) -> None:
    session, _log, audio_in, _, llm = await _voice_session(
        vh,
        replies=["got it"],
        segments=[(0.2, 1.0), (1.3, 2.0)],
        transcripts=[
            ScriptedTranscript("I want", 0.2, 1.0),
            ScriptedTranscript("a pizza", 1.3, 2.0),
        ],
        min_endpointing_delay=0.5,
    )
    # a 0.3 s pause (shorter than the 0.5 s delay) does not end the turn
    audio_in.push(audio_pattern([(0.2, False), (0.8, True), (0.3, False), (0.7, True), (2, False)]))
    await asyncio.sleep(4.0)
    assert vh.history(session.history)[0] == ("user", "I want a pizza")
    assert len(llm.calls) == 1
    await session.aclose()


async def test_interruption_keeps_only_the_played_part(vh: Any) -> None:
    long_reply = "one two three four five six seven eight nine ten eleven twelve"
    session, _log, audio_in, audio_out, _ = await _voice_session(
        vh,
        replies=[long_reply, "sure, stopping"],
        segments=[(0.2, 0.8), (3.0, 4.0)],
        transcripts=[
            ScriptedTranscript("tell me numbers", 0.2, 0.8),
            ScriptedTranscript("stop please", 3.0, 4.0),
        ],
        min_interruption_duration=0.3,
        user_away_timeout=None,
    )
    audio_in.push(audio_pattern([(0.2, False), (0.6, True), (2.2, False), (1.0, True), (3, False)]))
    await asyncio.sleep(8.0)
    hist = vh.history(session.history)
    assert hist[0] == ("user", "tell me numbers")
    role, said, state = hist[1]
    assert role == "assistant" and state == "interrupted"
    assert said and long_reply.startswith(said) and len(said) < len(long_reply)
    # what was played matches the text kept: playback position vs the full audio
    position, interrupted = audio_out.finished[0]
    assert interrupted
    total = len(long_reply) * 0.05
    expected_chars = len(long_reply) * position / total
    assert abs(len(said) - expected_chars) <= 7  # cut back to a whole word
    assert hist[2] == ("user", "stop please")
    assert hist[3] == ("assistant", "sure, stopping", "complete")
    await session.aclose()


async def test_uninterruptible_speech_ignores_user_and_discards_audio(vh: Any) -> None:
    session, _log, audio_in, audio_out, llm = await _voice_session(
        vh,
        replies=[],
        segments=[(0.5, 1.5)],
        transcripts=[ScriptedTranscript("hey listen to me", 0.5, 1.5)],
        min_interruption_duration=0.2,
        user_away_timeout=None,
    )
    handle = session.say(
        "this is an important message that cannot be interrupted", allow_interruptions=False
    )
    audio_in.push(audio_pattern([(0.5, False), (1.0, True), (2.0, False)]))
    await handle
    assert not handle.interrupted
    assert audio_out.finished[0][1] is False
    await asyncio.sleep(3.0)
    # the STT heard silence while the speech played: no user turn, no LLM call
    assert [h[0] for h in vh.history(session.history)] == ["assistant"]
    assert llm.calls == []
    with pytest.raises(RuntimeError, match="does not allow interruptions"):
        handle.interrupt()
    await session.aclose()


async def test_false_interruption_resumes_speech(vh: Any) -> None:
    # the user makes a noise (VAD speech) but the STT hears no words
    session, log, audio_in, audio_out, _ = await _voice_session(
        vh,
        replies=[],
        segments=[(1.0, 1.6)],
        transcripts=[],
        can_pause=True,
        min_interruption_duration=0.3,
        false_interruption_timeout=1.0,
        user_away_timeout=None,
    )
    text = "a fairly long sentence that keeps going for a few seconds at least"
    handle = session.say(text)
    audio_in.push(audio_pattern([(1.0, False), (0.6, True), (6.0, False)]))
    await handle
    assert audio_out.pauses == 1
    resumed = log.of("agent_false_interruption")
    assert len(resumed) == 1 and resumed[0].resumed
    assert not handle.interrupted
    assert vh.history(session.history) == [("assistant", text, "complete")]
    states = [e.new_state for e in log.of("agent_state_changed")]
    assert states[-4:] == ["speaking", "listening", "speaking", "listening"]
    await session.aclose()


async def test_user_away_timeout(vh: Any) -> None:
    session: AgentSession[None] = AgentSession(user_away_timeout=5.0)
    log = vh.EventLog(session)
    await session.start(Agent(instructions="x"))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.sleep(4.9)
    assert session.user_state == "listening"
    await asyncio.sleep(0.2)
    assert session.user_state == "away"
    [ev] = log.of("user_state_changed")
    assert (ev.old_state, ev.new_state) == ("listening", "away")
    assert log.times("user_state_changed")[0] - t0 == pytest.approx(5.0, abs=1e-6)
    await session.aclose()


async def test_user_away_timer_restarts_after_agent_speech(vh: Any) -> None:
    session: AgentSession[None] = AgentSession(user_away_timeout=5.0)
    session.output.transcription = vh.MemoryTextOutput()
    await session.start(Agent(instructions="x"))
    await asyncio.sleep(3.0)
    await session.say("still there?")
    await asyncio.sleep(4.0)
    assert session.user_state == "listening"  # the timer restarted when the agent spoke
    await asyncio.sleep(1.5)
    assert session.user_state == "away"
    await session.aclose()
