"""The realtime path with the testing kit's FakeRealtimeModel (virtual clock)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxlane.agents.llm import ChatMessage, function_tool
from voxlane.agents.testing import (
    FakeRealtimeModel,
    FakeRealtimeSession,
    FakeResponse,
    FakeToolCall,
    FakeVAD,
    audio_pattern,
)
from voxlane.agents.voice import Agent, AgentSession, RunContext
from voxlane.agents.voice.io_impl import MemoryAudioOutput, MemoryTextOutput, QueueAudioInput

pytestmark = pytest.mark.virtual_clock

SPC = 0.05  # FakeRealtimeModel's audio: seconds per character of reply text


async def _session(
    model: FakeRealtimeModel, agent: Agent | None = None, **kwargs: Any
) -> tuple[AgentSession[Any], QueueAudioInput, MemoryAudioOutput, MemoryTextOutput]:
    session: AgentSession[Any] = AgentSession(llm=model, user_away_timeout=None, **kwargs)
    mic = QueueAudioInput()
    audio = MemoryAudioOutput(can_pause=False)
    text = MemoryTextOutput()
    session.input.audio = mic
    session.output.audio = audio
    session.output.transcription = text
    await session.start(agent or Agent(instructions="be brief"))
    return session, mic, audio, text


def _history(session: AgentSession[Any]) -> list[tuple[str, str, bool]]:
    return [
        (item.role, item.text_content or "", item.interrupted)
        for item in session.history.items
        if isinstance(item, ChatMessage) and item.role in ("user", "assistant")
    ]


async def test_audio_in_transcript_and_reply_audio() -> None:
    model = FakeRealtimeModel(
        user_transcripts=["what is the capital of France"], seconds_per_char=SPC
    )
    model.when("capital", "Paris is the capital.")
    session, mic, audio, text = await _session(model)
    transcribed: list[Any] = []
    session.on("user_input_transcribed", transcribed.append)
    # 1 s of speech, then silence: the model's own VAD ends the turn after 0.5 s of silence
    mic.push(audio_pattern([(0.2, False), (1.0, True), (1.5, False)]))
    await asyncio.sleep(5.0)
    rt = model.sessions[0]
    assert rt.pushed_duration == pytest.approx(2.7, abs=0.01)
    assert [t.transcript for t in transcribed] == ["what is the capital of France"]
    assert _history(session) == [
        ("user", "what is the capital of France", False),
        ("assistant", "Paris is the capital.", False),
    ]
    # the reply's audio was played in full, and its text shown
    seg = audio.segments[0]
    assert not seg.interrupted
    assert seg.played_duration == pytest.approx(len("Paris is the capital.") * SPC, abs=1e-3)
    assert text.segments == ["Paris is the capital."]
    await session.aclose()


class WeatherAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="weather")
        self.asked: list[str] = []

    @function_tool
    async def get_weather(self, context: RunContext[Any], city: str) -> str:
        """Look up the weather in a city."""
        self.asked.append(city)
        return f"sunny in {city}"


async def test_function_call_runs_and_the_model_answers_its_output() -> None:
    model = FakeRealtimeModel(user_transcripts=["weather in Paris please"], seconds_per_char=SPC)
    model.when(
        "weather",
        FakeResponse(
            tool_calls=[FakeToolCall("get_weather", {"city": "Paris"}, call_id="call_1")],
            followup="It is sunny in Paris.",
        ),
    )
    agent = WeatherAgent()
    session, mic, audio, _text = await _session(model, agent)
    executed: list[Any] = []
    session.on("function_tools_executed", executed.append)
    mic.push(audio_pattern([(0.2, False), (1.0, True), (1.0, False)]))
    await asyncio.sleep(5.0)
    assert agent.asked == ["Paris"]
    assert [o.output for o in executed[0].function_call_outputs] == ["sunny in Paris"]
    rt = model.sessions[0]
    # the output went back to the model, which was asked to answer it
    outputs = [i for i in rt.chat_ctx.items if i.type == "function_call_output"]
    assert [o.output for o in outputs] == ["sunny in Paris"]
    assert len(rt.generate_reply_calls) == 1
    assert _history(session)[-1] == ("assistant", "It is sunny in Paris.", False)
    assert audio.segments[-1].played_duration == pytest.approx(
        len("It is sunny in Paris.") * SPC, abs=1e-3
    )
    await session.aclose()


async def test_user_speech_interrupts_and_truncates_at_the_played_ms() -> None:
    reply = "one two three four five six seven eight nine ten"
    model = FakeRealtimeModel(
        user_transcripts=["count to ten", "stop"], seconds_per_char=SPC, default="Okay."
    )
    model.when("count", reply)
    session, mic, audio, text = await _session(model)
    # turn 1 ends at 1.2 + 0.5 s of silence; the reply (2.5 s of audio) starts playing, and
    # the user talks over it 1.3 s later
    mic.push(audio_pattern([(0.2, False), (1.0, True), (1.8, False), (0.5, True), (1.0, False)]))
    await asyncio.sleep(6.0)
    rt = model.sessions[0]
    seg = audio.segments[0]
    assert seg.interrupted
    trunc = rt.truncations[0]
    assert trunc.audio_end_ms == round(seg.playback_position * 1000)
    assert trunc.audio_end_ms == pytest.approx(1300, abs=20)
    said = next(m for m in _history(session) if m[0] == "assistant")
    assert said[2] is True  # interrupted
    assert said[1] == trunc.audio_transcript
    assert reply.startswith(said[1]) and 0 < len(said[1]) < len(reply)
    # the text output showed what was heard, and the model's own context was cut the same way
    assert text.segments[0].strip() == said[1]
    assert rt.chat_ctx.get_by_id(trunc.message_id).text_content == said[1]
    # the user's new turn got its answer
    assert _history(session)[-2:] == [("user", "stop", False), ("assistant", "Okay.", False)]
    await session.aclose()


async def test_client_vad_with_a_model_that_keeps_its_turn_detection() -> None:
    """A FakeRealtimeModel that cannot switch its VAD off: the runtime drops its own responses."""
    # the session commits the audio again at its end of turn: an empty transcript, which the
    # model answers with its default
    model = FakeRealtimeModel(
        user_transcripts=["hello there"],
        seconds_per_char=SPC,
        default="Hi!",
        can_disable_turn_detection=False,
    )
    session, mic, _audio, _text = await _session(
        model, vad=FakeVAD(segments=[(0.2, 1.2)]), turn_detection="vad", min_endpointing_delay=1.0
    )
    activity = session._activity
    assert activity is not None and activity._realtime is not None
    assert activity._realtime.ignores_model_turns
    states: list[str] = []
    session.on("user_state_changed", lambda ev: states.append(ev.new_state))
    mic.push(audio_pattern([(0.2, False), (1.0, True), (3.0, False)]))
    await asyncio.sleep(5.0)
    rt = model.sessions[0]
    # one reply, asked for by the session at its end of turn (not the model's own)
    assert len(rt.generate_reply_calls) == 1
    assert _history(session) == [("user", "hello there", False), ("assistant", "Hi!", False)]
    assert states == ["speaking", "listening"]  # from the session's VAD only
    await session.aclose()


class SwitchableSession(FakeRealtimeSession):
    """A fake session whose own turn detection can be switched off."""

    def __init__(self, model: FakeRealtimeModel) -> None:
        super().__init__(model)
        self.turn_detection_calls: list[bool] = []

    def update_turn_detection(self, *, enabled: bool) -> bool:
        self.turn_detection_calls.append(enabled)
        return True

    def push_audio(self, frame: Any) -> None:
        if self.turn_detection_calls and not self.turn_detection_calls[-1]:
            # turn detection off: only record the audio until the client commits it
            self.pushed_duration += frame.duration
            self._pending_audio += frame.duration
            return
        super().push_audio(frame)


class SwitchableModel(FakeRealtimeModel):
    def session(self) -> FakeRealtimeSession:
        session = SwitchableSession(self)
        self.sessions.append(session)
        return session


async def test_client_vad_switches_the_model_turn_detection_off() -> None:
    model = SwitchableModel(user_transcripts=["hello there"], seconds_per_char=SPC)
    model.when("hello", "Hi!")
    session, mic, _audio, _text = await _session(
        model, vad=FakeVAD(segments=[(0.2, 1.2)]), turn_detection="vad", min_endpointing_delay=0.5
    )
    rt = model.sessions[0]
    assert isinstance(rt, SwitchableSession) and rt.turn_detection_calls == [False]
    activity = session._activity
    assert activity is not None and activity._realtime is not None
    assert not activity._realtime.ignores_model_turns
    mic.push(audio_pattern([(0.2, False), (1.0, True), (3.0, False)]))
    await asyncio.sleep(5.0)
    assert rt.interruptions == 0  # the model never started a response by itself
    assert len(rt.generate_reply_calls) == 1
    assert _history(session) == [("user", "hello there", False), ("assistant", "Hi!", False)]
    await session.aclose()


async def test_server_turn_detection_is_left_on() -> None:
    model = SwitchableModel(seconds_per_char=SPC)
    session, _mic, _audio, _text = await _session(model)
    rt = model.sessions[0]
    assert isinstance(rt, SwitchableSession) and rt.turn_detection_calls == []
    await session.aclose()
