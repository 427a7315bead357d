"""``commit_user_turn(transcript_timeout=, stt_flush_duration=, skip_reply=) -> Future[str]``
(push-to-talk) and ``interrupt(force=)``, on the virtual clock."""

from __future__ import annotations

import asyncio

import pytest

from voxlane.agents.testing.fakes import (
    FakeLLM,
    FakeSTT,
    FakeTTS,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.io_impl import MemoryAudioOutput, QueueAudioInput

pytestmark = pytest.mark.virtual_clock

# The user holds the button for 1.0 s of audio and says "book a table for two" from 0.1 s; the
# STT (audio timebase) gives interims as it hears the words and its final only at 1.4 s of
# audio, i.e. after 0.4 s more than the user sent: only a flush brings it.
SPEECH = ScriptedTranscript(
    "book a table for two", 0.1, 1.4, interims=[(0.5, "book a"), (0.9, "book a table")]
)


async def _push_to_talk(
    script: list[ScriptedTranscript] | None = None, **session_kwargs: object
) -> tuple[AgentSession[None], FakeLLM, QueueAudioInput]:
    llm = FakeLLM(default="For when?")
    kwargs: dict[str, object] = {"turn_handling": {"turn_detection": "manual"}}
    if "turn_detection" in session_kwargs:
        kwargs = {}
    session: AgentSession[None] = AgentSession(
        stt=FakeSTT([SPEECH] if script is None else script),
        llm=llm,
        user_away_timeout=None,
        **kwargs,  # type: ignore[arg-type]
        **session_kwargs,  # type: ignore[arg-type]
    )
    mic = QueueAudioInput()
    session.input.audio = mic
    await session.start(Agent(instructions="restaurant"))
    mic.push(audio_pattern([(0.1, False), (0.9, True)]))
    await asyncio.sleep(1.2)  # the 1.0 s of audio has been heard
    return session, llm, mic


def _messages(session: AgentSession[None]) -> list[tuple[str, str | None]]:
    return [
        (m.role, m.text_content)
        for m in session.history.items
        if m.type == "message" and m.role in ("user", "assistant")
    ]


async def test_commit_flushes_the_stt_and_returns_the_final_transcript() -> None:
    session, llm, _mic = await _push_to_talk()
    assert llm.calls == []  # manual turns: nothing happens by itself
    fut = session.commit_user_turn(transcript_timeout=2.0, stt_flush_duration=1.0)
    assert isinstance(fut, asyncio.Future)
    assert await fut == "book a table for two"
    await session.drain()
    assert [c.last_user_message for c in llm.calls] == ["book a table for two"]
    assert _messages(session) == [("user", "book a table for two"), ("assistant", "For when?")]
    await session.aclose()


async def test_commit_waits_for_the_final_only_until_the_timeout() -> None:
    session, llm, _mic = await _push_to_talk()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    # no flush: the STT never reaches its final; after 0.5 s the interim text is committed
    transcript = await session.commit_user_turn(transcript_timeout=0.5, stt_flush_duration=0.0)
    assert transcript == "book a table"
    assert loop.time() - t0 == pytest.approx(0.5, abs=1e-3)
    await session.drain()
    assert [c.last_user_message for c in llm.calls] == ["book a table"]
    await session.aclose()


async def test_commit_does_not_wait_when_the_transcript_is_already_final() -> None:
    session, _llm, _mic = await _push_to_talk([ScriptedTranscript("hello", 0.1, 0.6, interims=())])
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await session.commit_user_turn() == "hello"  # the no-argument call
    assert loop.time() - t0 == pytest.approx(0.0, abs=1e-3)
    await session.drain()
    assert _messages(session) == [("user", "hello"), ("assistant", "For when?")]
    await session.aclose()


async def test_skip_reply_commits_the_message_without_a_reply() -> None:
    session, llm, _mic = await _push_to_talk(tts=FakeTTS(seconds_per_char=0.05))
    session.output.audio = MemoryAudioOutput()
    speech = session.say("One moment please.")  # the agent is speaking
    await asyncio.sleep(0.2)
    transcript = await session.commit_user_turn(stt_flush_duration=1.0, skip_reply=True)
    assert transcript == "book a table for two"
    assert _messages(session)[-1] == ("user", "book a table for two")
    await speech
    assert not speech.interrupted  # skip_reply leaves the agent's speech alone
    await session.drain()
    assert llm.calls == []
    assert _messages(session) == [
        ("assistant", "One moment please."),
        ("user", "book a table for two"),
    ]
    # the turn is over: a later commit starts from nothing
    assert await session.commit_user_turn(transcript_timeout=0.0, stt_flush_duration=0.0) == ""
    await session.aclose()


async def test_an_empty_turn_commits_nothing_and_gets_no_reply() -> None:
    llm = FakeLLM(default="?")
    session: AgentSession[None] = AgentSession(
        stt=FakeSTT([]), llm=llm, turn_detection="manual", user_away_timeout=None
    )
    mic = QueueAudioInput()
    session.input.audio = mic
    await session.start(Agent(instructions="x"))
    mic.push(audio_pattern([(0.5, False)]))
    await asyncio.sleep(0.6)
    assert await session.commit_user_turn(transcript_timeout=1.0, stt_flush_duration=0.5) == ""
    await asyncio.sleep(1.0)
    assert llm.calls == [] and _messages(session) == []
    await session.aclose()


async def test_commit_holds_automatic_endpointing_until_it_is_done() -> None:
    # STT turn detection: the STT's end of speech (brought by the flush) would end the turn
    # by itself; the pending commit ends it instead, once
    session, llm, _mic = await _push_to_talk(turn_detection="stt")
    fut = session.commit_user_turn(transcript_timeout=2.0, stt_flush_duration=1.0)
    assert await fut == "book a table for two"
    await session.drain()
    await asyncio.sleep(1.0)
    assert _messages(session) == [("user", "book a table for two"), ("assistant", "For when?")]
    assert len(llm.calls) == 1
    await session.aclose()


async def test_a_second_commit_while_one_is_pending_returns_the_same_future() -> None:
    session, llm, _mic = await _push_to_talk()
    first = session.commit_user_turn(transcript_timeout=0.5, stt_flush_duration=0.0)
    second = session.commit_user_turn()
    assert second is first
    assert await first == "book a table"
    await session.drain()
    assert len(llm.calls) == 1
    await session.aclose()


async def test_clear_user_turn_cancels_a_pending_commit() -> None:
    session, llm, _mic = await _push_to_talk()
    fut = session.commit_user_turn(transcript_timeout=1.0, stt_flush_duration=0.0)
    await asyncio.sleep(0.1)
    session.clear_user_turn()
    with pytest.raises(asyncio.CancelledError):
        await fut
    await asyncio.sleep(1.5)
    assert llm.calls == [] and _messages(session) == []
    await session.aclose()


async def test_commit_argument_errors() -> None:
    session: AgentSession[None] = AgentSession(stt=FakeSTT([]), turn_detection="manual")
    with pytest.raises(RuntimeError, match="not running"):
        session.commit_user_turn()
    await session.start(Agent(instructions="x"))
    with pytest.raises(ValueError, match=r"transcript_timeout=...\) must be seconds >= 0"):
        session.commit_user_turn(transcript_timeout=-1)
    with pytest.raises(ValueError, match=r"stt_flush_duration=...\) must be seconds >= 0"):
        session.commit_user_turn(stt_flush_duration="2")  # type: ignore[arg-type]
    await session.aclose()


# -- interrupt(force=) -----------------------------------------------------------------------


async def test_interrupt_spares_uninterruptible_speech_unless_forced() -> None:
    session: AgentSession[None] = AgentSession(tts=FakeTTS(seconds_per_char=0.05))
    out = MemoryAudioOutput()
    session.output.audio = out
    await session.start(Agent(instructions="x"))
    first = session.say("a" * 40, allow_interruptions=False)  # 2 s
    queued = session.say("b" * 40)  # interruptible, waiting in the queue
    await asyncio.sleep(0.5)
    plain = session.interrupt()
    await asyncio.sleep(0.1)
    assert queued.interrupted and not first.interrupted
    assert not plain.done()  # it resolves when the uninterruptible speech has ended
    forced = session.interrupt(force=True)
    await forced
    assert first.interrupted and first.done()
    await plain
    assert out.segments[0].interrupted is True
    assert len(out.segments) == 1  # the queued speech never played
    await session.aclose()


async def test_interrupt_with_nothing_playing_resolves_at_once() -> None:
    session: AgentSession[None] = AgentSession()
    await session.start(Agent(instructions="x"))
    fut = session.interrupt(force=True)
    assert fut.done()
    await session.aclose()
