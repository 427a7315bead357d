"""FakeRealtimeModel's ``update_turn_detection``: client-side turn detection switches the model's
own off, so only the session's end of turn starts a reply."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxlane.agents.llm import ChatMessage
from voxlane.agents.llm.realtime import RealtimeError
from voxlane.agents.testing import FakeRealtimeModel, FakeVAD, audio_pattern
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.io_impl import MemoryAudioOutput, QueueAudioInput

pytestmark = pytest.mark.virtual_clock

SPEECH = [(0.2, False), (1.0, True), (3.0, False)]


async def _session(model: FakeRealtimeModel, **kwargs: Any) -> tuple[AgentSession[Any], Any]:
    session: AgentSession[Any] = AgentSession(llm=model, user_away_timeout=None, **kwargs)
    mic = QueueAudioInput()
    session.input.audio = mic
    session.output.audio = MemoryAudioOutput(can_pause=False)
    await session.start(Agent(instructions="be brief"))
    return session, mic


def _said(session: AgentSession[Any]) -> list[tuple[str, str]]:
    return [
        (m.role, m.text_content or "")
        for m in session.history.items
        if isinstance(m, ChatMessage) and m.role in ("user", "assistant")
    ]


async def test_session_switch_stops_and_restarts_the_energy_turns() -> None:
    model = FakeRealtimeModel(user_transcripts=["one", "two"], default="ok", seconds_per_char=0.01)
    rt = model.session()
    started: list[Any] = []
    rt.on("input_speech_started", started.append)
    assert rt.turn_detection_enabled
    assert rt.update_turn_detection(enabled=False) is True
    assert not rt.turn_detection_enabled
    for frame in audio_pattern(SPEECH):
        rt.push_audio(frame)
    assert started == []  # no turn detected: the audio waits for commit_audio()
    assert rt.generate_reply_calls == []
    assert rt.update_turn_detection(enabled=True) is True
    for frame in audio_pattern(SPEECH):
        rt.push_audio(frame)
    assert len(started) == 1
    assert rt.turn_detection_calls == [False, True]
    await model.aclose()
    with pytest.raises(RealtimeError, match="closed"):
        rt.update_turn_detection(enabled=False)


async def test_a_model_that_cannot_switch_says_so() -> None:
    model = FakeRealtimeModel(can_disable_turn_detection=False)
    assert model.capabilities.can_disable_turn_detection is False
    rt = model.session()
    assert rt.update_turn_detection(enabled=False) is False
    assert rt.turn_detection_enabled  # unchanged
    with pytest.raises(TypeError, match="bool"):
        rt.update_turn_detection(enabled="no")  # type: ignore[arg-type]
    await model.aclose()


async def test_client_vad_switches_the_fake_models_turn_detection_off() -> None:
    model = FakeRealtimeModel(user_transcripts=["hello there"], seconds_per_char=0.05)
    model.when("hello", "Hi!")
    session, mic = await _session(
        model, vad=FakeVAD(segments=[(0.2, 1.2)]), turn_detection="vad", min_endpointing_delay=0.5
    )
    rt = model.sessions[0]
    assert rt.turn_detection_calls == [False] and not rt.turn_detection_enabled
    activity = session._activity
    assert activity is not None and activity._realtime is not None
    assert not activity._realtime.ignores_model_turns
    mic.push(audio_pattern(SPEECH))
    await asyncio.sleep(5.0)
    # the model started nothing by itself; the session asked once, at its end of turn
    assert rt.interruptions == 0
    assert len(rt.generate_reply_calls) == 1
    assert _said(session) == [("user", "hello there"), ("assistant", "Hi!")]
    await session.aclose()


async def test_server_turn_detection_keeps_the_fake_models_vad() -> None:
    model = FakeRealtimeModel(user_transcripts=["hello there"], seconds_per_char=0.05)
    model.when("hello", "Hi!")
    session, mic = await _session(model)
    rt = model.sessions[0]
    assert rt.turn_detection_calls == [] and rt.turn_detection_enabled
    mic.push(audio_pattern(SPEECH))
    await asyncio.sleep(5.0)
    assert rt.generate_reply_calls == []  # the model answered its own turn
    assert _said(session) == [("user", "hello there"), ("assistant", "Hi!")]
    await session.aclose()
