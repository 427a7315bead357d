"""Model errors: retries, fallback, no lost user turn, closing after repeated failures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxlane.agents import APIConnectionError, APIStatusError
from voxlane.agents.llm import FallbackAdapter
from voxlane.agents.testing.fakes import (
    FakeSTT,
    FakeTTS,
    FakeVAD,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.voice import Agent, AgentSession, CloseReason

pytestmark = pytest.mark.virtual_clock


async def test_provider_error_mid_turn_recovered_by_retry(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [vh.Reply(text="back online", error=APIConnectionError("reset"), fail_attempts=1)]
    )
    session: AgentSession[None] = AgentSession(
        vad=FakeVAD(segments=[(0.2, 1.0)]),
        stt=FakeSTT([ScriptedTranscript("are you there", 0.2, 1.0)]),
        llm=llm,
        tts=FakeTTS(),
        user_away_timeout=None,
    )
    audio_in, audio_out = vh.QueueAudioInput(), vh.MemoryAudioOutput()
    session.input.audio, session.output.audio = audio_in, audio_out
    log = vh.EventLog(session)
    await session.start(Agent(instructions="x"))
    audio_in.push(audio_pattern([(0.2, False), (0.8, True), (3.0, False)]))
    await asyncio.sleep(5.0)
    assert vh.history(session.history) == [
        ("user", "are you there"),
        ("assistant", "back online", "complete"),
    ]
    errors = log.of("error")
    assert len(errors) == 1 and errors[0].error.recoverable
    assert errors[0].source is llm
    assert log.of("close") == []
    await session.aclose()


async def test_provider_error_recovered_by_fallback(vh: Any) -> None:
    down = APIStatusError("down", status_code=503)
    # extra failing replies serve the adapter's background recovery attempts
    broken = vh.ScriptedLLM([vh.Reply(error=down) for _ in range(5)])
    backup = vh.ScriptedLLM(["the backup answers"])
    fallback = FallbackAdapter([broken, backup], max_retry_per_llm=0)
    session: AgentSession[None] = AgentSession(llm=fallback)
    log = vh.EventLog(session)
    await session.start(Agent(instructions="x"))
    await session.generate_reply(user_input="question")
    assert vh.history(session.history) == [
        ("user", "question"),
        ("assistant", "the backup answers", "complete"),
    ]
    assert len(backup.calls) == 1
    assert broken.calls[0].chat_ctx.items[-1].text_content == "question"
    assert backup.calls[0].chat_ctx.items[-1].text_content == "question"
    assert log.of("close") == []
    await session.aclose()


async def test_user_turn_not_lost_when_llm_fails_once(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [vh.Reply(error=APIStatusError("bad request", status_code=400)), "answer at last"]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    log = vh.EventLog(session)
    await session.start(Agent(instructions="x"))
    failed = session.generate_reply(user_input="what time is it?")
    await failed
    assert failed.exception() is not None
    # the user's message is in the history even though no answer was produced
    assert vh.history(session.history) == [("user", "what time is it?")]
    assert len(log.of("error")) == 1 and not log.of("error")[0].error.recoverable
    # the next reply sees the user's question
    await session.generate_reply()
    assert llm.calls[1].chat_ctx.items[-1].text_content == "what time is it?"
    assert vh.history(session.history)[-1] == ("assistant", "answer at last", "complete")
    assert log.of("close") == []
    await session.aclose()


async def test_session_closes_after_repeated_unrecoverable_errors(vh: Any) -> None:
    err = APIStatusError("unauthorized", status_code=401)
    llm = vh.ScriptedLLM([vh.Reply(error=err) for _ in range(3)])
    session: AgentSession[None] = AgentSession(llm=llm)
    log = vh.EventLog(session)
    await session.start(Agent(instructions="x"))
    for i in range(3):
        await session.generate_reply(user_input=f"try {i}")
    await asyncio.sleep(0.1)
    [close] = log.of("close")
    assert close.reason == CloseReason.ERROR
    assert close.error is not None and close.error.error is err
    with pytest.raises(RuntimeError, match="not running"):
        session.say("hello")
    await session.aclose()  # closing twice is harmless
    assert len(log.of("close")) == 1
