"""``AgentSession.wait_for_idle()`` (LiveKit's name) and ``wait_for_inactive()`` are one wait:
both honour the agent's hooks, the speeches, the pending end of turn and the speaking user."""

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
from voxlane.agents.voice.run_control import describe_pending

pytestmark = pytest.mark.virtual_clock

WAITS = ("wait_for_idle", "wait_for_inactive")


class SlowEnter(Agent):
    """``on_enter`` looks something up for 2 s before greeting."""

    def __init__(self) -> None:
        super().__init__(instructions="greet")

    async def on_enter(self) -> None:
        await asyncio.sleep(2.0)
        self.session.say("01234")  # 0.5 s of FakeTTS audio


async def _wait(session: AgentSession[None], name: str) -> None:
    await getattr(session, name)()


@pytest.mark.parametrize("name", WAITS)
async def test_both_wait_for_a_slow_on_enter_hook_and_its_speech(name: str) -> None:
    session: AgentSession[None] = AgentSession(
        tts=FakeTTS(seconds_per_char=0.1), user_away_timeout=None
    )
    session.output.audio = MemoryAudioOutput()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await session.start(SlowEnter())
    assert "on_enter hook" in describe_pending(session)
    await _wait(session, name)
    # 2 s in the hook, then 0.5 s of greeting
    assert loop.time() - t0 == pytest.approx(2.5, abs=1e-6)
    assert [m.text_content for m in session.history.messages()] == ["01234"]
    await session.aclose()


@pytest.mark.parametrize("name", WAITS)
async def test_both_wait_for_the_users_turn_and_the_reply(name: str) -> None:
    session: AgentSession[None] = AgentSession(
        llm=FakeLLM(default="01234"),
        tts=FakeTTS(seconds_per_char=0.1),
        vad=FakeVAD(segments=[(0.5, 1.5)]),
        stt=FakeSTT([ScriptedTranscript("hello", 0.5, 1.5)]),
        min_endpointing_delay=0.5,
        user_away_timeout=None,
    )
    audio = MemoryAudioOutput()
    session.output.audio = audio
    mic = QueueAudioInput()
    session.input.audio = mic
    await session.start(Agent(instructions="test"))
    mic.push(audio_pattern([(0.5, False), (1.0, True), (3.0, False)]))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.sleep(1.7)  # the user stopped at 1.5 s: the end of turn is pending
    activity = session._activity
    assert activity is not None and activity.pending_end_of_turn() is not None
    assert "end of the user's turn" in describe_pending(session)
    await _wait(session, name)
    # turn ended at 2.0 s, then 0.5 s of reply
    assert loop.time() - t0 >= 2.5 - 1e-6
    assert [m.role for m in session.history.messages()] == ["user", "assistant"]
    assert len(audio.segments) == 1 and audio.segments[0].done
    await session.aclose()


async def test_wait_for_idle_needs_a_running_session_and_returns_on_close() -> None:
    session: AgentSession[None] = AgentSession(
        tts=FakeTTS(seconds_per_char=0.1), user_away_timeout=None
    )
    with pytest.raises(RuntimeError, match="not running"):
        await session.wait_for_idle()
    assert await session.wait_for_inactive() is False
    session.output.audio = MemoryAudioOutput()
    await session.start(Agent(instructions="test"))
    session.say("0123456789" * 10)  # 10 s
    waiters: list[asyncio.Future[Any]] = [
        asyncio.ensure_future(session.wait_for_idle()),
        asyncio.ensure_future(session.wait_for_inactive()),
    ]
    await asyncio.sleep(1.0)
    assert not any(w.done() for w in waiters)
    await session.aclose()
    assert await asyncio.gather(*waiters) == [None, False]
