"""AgentSession.wait_for_inactive(): idle = nothing playing or queued, no reply pending."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxlane.agents.testing.fakes import (
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeVAD,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.io_impl import MemoryAudioOutput, QueueAudioInput

pytestmark = pytest.mark.virtual_clock


async def _session(**kwargs: Any) -> tuple[AgentSession[None], MemoryAudioOutput]:
    session: AgentSession[None] = AgentSession(
        tts=FakeTTS(seconds_per_char=0.1), user_away_timeout=None, **kwargs
    )
    audio = MemoryAudioOutput()
    session.output.audio = audio
    await session.start(Agent(instructions="test"))
    return session, audio


async def test_not_started_or_closed_session_is_never_inactive() -> None:
    session: AgentSession[None] = AgentSession()
    assert await session.wait_for_inactive() is False
    await session.start(Agent(instructions="test"))
    assert await session.wait_for_inactive() is True
    await session.aclose()
    assert await session.wait_for_inactive() is False


async def test_waits_for_queued_and_playing_speech() -> None:
    session, audio = await _session()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    session.say("0123456789")  # 1.0 s
    session.say("01234")  # 0.5 s, queued after the first
    assert await session.wait_for_inactive() is True
    assert loop.time() - t0 == pytest.approx(1.5, abs=1e-6)
    assert [s.done for s in audio.segments] == [True, True]
    await session.aclose()


async def test_waits_while_the_user_speaks_and_for_the_reply() -> None:
    llm = FakeLLM(default="01234")  # the reply: 0.5 s of audio
    session, audio = await _session(
        llm=llm,
        vad=FakeVAD(segments=[(0.5, 1.5)]),
        stt=FakeSTT([ScriptedTranscript("hello", 0.5, 1.5)]),
        min_endpointing_delay=0.5,
    )
    mic = QueueAudioInput()
    session.input.audio = mic
    mic.push(audio_pattern([(0.5, False), (1.0, True), (3.0, False)]))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.sleep(1.0)
    assert session.user_state == "speaking"
    assert await session.wait_for_inactive() is True
    # the user stopped at 1.5 s, the turn ended 0.5 s later and the reply played for 0.5 s
    assert loop.time() - t0 >= 2.5 - 1e-6
    assert len(audio.segments) == 1 and audio.segments[0].done
    assert [m.role for m in session.history.items if m.type == "message"][-2:] == [
        "user",
        "assistant",
    ]
    await session.aclose()


async def test_returns_false_when_the_session_closes_meanwhile() -> None:
    session, _audio = await _session()
    session.say("0123456789" * 10)  # 10 s
    waiter = asyncio.ensure_future(session.wait_for_inactive())
    await asyncio.sleep(1.0)
    assert not waiter.done()
    await session.aclose()
    assert await waiter is False
