"""Realtime (speech-to-speech) models in the runtime, with a scripted RealtimeModel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from livekit import rtc

from voxlane.agents.llm import (
    ChatContext,
    ChatMessage,
    FunctionCall,
    RealtimeCapabilities,
    RealtimeModel,
    RealtimeSession,
    ToolContext,
    function_tool,
)
from voxlane.agents.llm.realtime import (
    GenerationCreatedEvent,
    InputSpeechStartedEvent,
    InputSpeechStoppedEvent,
    InputTranscriptionCompleted,
    MessageGeneration,
    Modality,
)
from voxlane.agents.testing.fakes import FakeVAD, audio_pattern, split_frame, tone
from voxlane.agents.types import NOT_GIVEN, NotGivenOr
from voxlane.agents.voice import Agent, AgentSession, ModelSettings, RunContext
from voxlane.agents.voice.io_impl import MemoryAudioOutput, MemoryTextOutput, QueueAudioInput

pytestmark = pytest.mark.virtual_clock


@dataclass
class Turn:
    """One scripted response: spoken text (audio length from ``seconds_per_char``) and calls."""

    text: str = ""
    calls: Sequence[tuple[str, dict[str, Any]]] = ()


@dataclass
class Recorded:
    generate_reply: list[dict[str, Any]] = field(default_factory=list)
    commits: int = 0
    interrupts: int = 0
    truncates: list[dict[str, Any]] = field(default_factory=list)
    chat_ctx_updates: list[ChatContext] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)
    tools: list[list[str]] = field(default_factory=list)
    pushed_frames: int = 0
    pushed_silent: int = 0


class ScriptedRealtimeSession(RealtimeSession):
    def __init__(self, model: ScriptedRealtimeModel) -> None:
        super().__init__(model)
        self.model = model
        self.rec = model.rec
        self._ctx = ChatContext()
        self._tools = ToolContext()
        self._count = 0
        self._stop: asyncio.Event | None = None

    @property
    def chat_ctx(self) -> ChatContext:
        return self._ctx

    @property
    def tools(self) -> ToolContext:
        return self._tools

    async def update_instructions(self, instructions: str) -> None:
        self.rec.instructions.append(instructions)

    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        self._ctx = chat_ctx.copy()
        self.rec.chat_ctx_updates.append(chat_ctx.copy())

    async def update_tools(self, tools: list[Any]) -> None:
        self._tools = ToolContext(tools)
        self.rec.tools.append(sorted(self._tools.function_tools))

    def update_options(self, *, tool_choice: NotGivenOr[Any] = NOT_GIVEN) -> None:
        pass

    def push_audio(self, frame: rtc.AudioFrame) -> None:
        self.rec.pushed_frames += 1
        if not any(memoryview(frame.data).cast("B")):
            self.rec.pushed_silent += 1

    def generate_reply(
        self,
        *,
        instructions: NotGivenOr[str] = NOT_GIVEN,
        tool_choice: NotGivenOr[Any] = NOT_GIVEN,
        tools: NotGivenOr[list[Any]] = NOT_GIVEN,
    ) -> asyncio.Future[GenerationCreatedEvent]:
        self.rec.generate_reply.append({"instructions": instructions, "tool_choice": tool_choice})
        fut: asyncio.Future[GenerationCreatedEvent] = asyncio.get_running_loop().create_future()
        fut.set_result(self._generation(self.model.next_turn(), user_initiated=True))
        return fut

    def commit_audio(self) -> None:
        self.rec.commits += 1

    def clear_audio(self) -> None:
        pass

    def interrupt(self) -> None:
        self.rec.interrupts += 1
        if self._stop is not None:
            self._stop.set()

    def truncate(
        self,
        *,
        message_id: str,
        modalities: list[Modality],
        audio_end_ms: int,
        audio_transcript: NotGivenOr[str] = NOT_GIVEN,
    ) -> None:
        self.rec.truncates.append(
            {
                "message_id": message_id,
                "modalities": modalities,
                "audio_end_ms": audio_end_ms,
                "audio_transcript": audio_transcript,
            }
        )

    async def aclose(self) -> None:
        self.model.closed_sessions += 1

    # -- scripting -------------------------------------------------------------------------

    def _generation(self, turn: Turn, *, user_initiated: bool) -> GenerationCreatedEvent:
        self._count += 1
        n = self._count
        stop = asyncio.Event()
        self._stop = stop
        spc = self.model.seconds_per_char

        async def text_stream() -> AsyncIterator[str]:
            for i, word in enumerate(turn.text.split(" ")):
                yield word if i == 0 else " " + word

        async def audio_stream() -> AsyncIterator[rtc.AudioFrame]:
            if not turn.text:
                return
            for frame in split_frame(tone(len(turn.text) * spc, sample_rate=24000), 0.05):
                if stop.is_set():
                    return
                yield frame

        async def messages() -> AsyncIterator[MessageGeneration]:
            if not turn.text:
                return
            modalities: asyncio.Future[list[Modality]] = asyncio.get_running_loop().create_future()
            modalities.set_result(["audio", "text"])
            yield MessageGeneration(
                message_id=f"msg_{n}",
                text_stream=text_stream(),
                audio_stream=audio_stream(),
                modalities=modalities,
            )

        async def functions() -> AsyncIterator[FunctionCall]:
            for i, (name, args) in enumerate(turn.calls):
                yield FunctionCall(call_id=f"call_{n}_{i}", name=name, arguments=json.dumps(args))

        return GenerationCreatedEvent(
            message_stream=messages(),
            function_stream=functions(),
            user_initiated=user_initiated,
            response_id=f"resp_{n}",
        )

    def server_turn(self, transcript: str, *, item_id: str = "user_1") -> None:
        """The model's VAD heard the user, transcribed it and answers (server turn detection)."""
        self.emit("input_speech_started", InputSpeechStartedEvent())
        self.emit("input_speech_stopped", InputSpeechStoppedEvent(user_transcription_enabled=True))
        self.emit(
            "input_audio_transcription_completed",
            InputTranscriptionCompleted(item_id=item_id, transcript=transcript, is_final=True),
        )
        self.emit(
            "generation_created", self._generation(self.model.next_turn(), user_initiated=False)
        )


class ScriptedRealtimeModel(RealtimeModel):
    def __init__(
        self,
        turns: Sequence[Turn | str] = (),
        *,
        auto_tool_reply_generation: bool = False,
        seconds_per_char: float = 0.05,
    ) -> None:
        super().__init__(
            capabilities=RealtimeCapabilities(
                message_truncation=True,
                turn_detection=True,
                user_transcription=True,
                auto_tool_reply_generation=auto_tool_reply_generation,
                audio_output=True,
            )
        )
        self.turns: list[Turn] = [Turn(text=t) if isinstance(t, str) else t for t in turns]
        self.rec = Recorded()
        self.sessions: list[ScriptedRealtimeSession] = []
        self.closed_sessions = 0
        self.seconds_per_char = seconds_per_char

    def next_turn(self) -> Turn:
        if not self.turns:
            raise AssertionError("ScriptedRealtimeModel ran out of turns")
        return self.turns.pop(0)

    def session(self) -> ScriptedRealtimeSession:
        s = ScriptedRealtimeSession(self)
        self.sessions.append(s)
        return s

    async def aclose(self) -> None:
        pass


async def _session(
    model: ScriptedRealtimeModel, agent: Agent | None = None, **kwargs: Any
) -> tuple[AgentSession[Any], MemoryAudioOutput, MemoryTextOutput, list[tuple[str, Any]]]:
    session: AgentSession[Any] = AgentSession(llm=model, user_away_timeout=None, **kwargs)
    audio = MemoryAudioOutput(can_pause=False)
    text = MemoryTextOutput()
    session.output.audio = audio
    session.output.transcription = text
    log: list[tuple[str, Any]] = []
    for name in (
        "user_state_changed",
        "agent_state_changed",
        "user_input_transcribed",
        "conversation_item_added",
        "function_tools_executed",
    ):
        session.on(name, lambda ev, n=name: log.append((n, ev)))
    await session.start(agent or Agent(instructions="be brief"))
    return session, audio, text, log


def _message(item: Any) -> ChatMessage:
    assert isinstance(item, ChatMessage), item
    return item


def _history(session: AgentSession[Any]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for item in session.history.items:
        if item.type == "message" and item.role in ("user", "assistant"):
            out.append((item.role, item.text_content or "", "!" if item.interrupted else ""))
        elif item.type == "function_call":
            out.append(("call", item.name, item.arguments))
        elif item.type == "function_call_output":
            out.append(("output", item.output, "error" if item.is_error else ""))
    return out


async def test_server_turn_detection_turns_a_response_into_speech() -> None:
    model = ScriptedRealtimeModel(["It is noon."])
    session, audio, text, log = await _session(model)
    activity = session._activity
    assert activity is not None and activity.turn_detection == "realtime_llm"
    rt = model.sessions[0]
    assert session.current_agent.realtime_llm_session is rt
    assert model.rec.instructions == ["be brief"]
    rt.server_turn("what time is it")
    await asyncio.sleep(2.0)
    assert _history(session) == [("user", "what time is it", ""), ("assistant", "It is noon.", "")]
    assert audio.segments[0].playback_position == pytest.approx(len("It is noon.") * 0.05)
    assert text.segments == ["It is noon."]
    names = [(n, getattr(ev, "new_state", None)) for n, ev in log if n != "agent_state_changed"]
    assert names[:3] == [
        ("user_state_changed", "speaking"),
        ("user_state_changed", "listening"),
        ("user_input_transcribed", None),
    ]
    states = [ev.new_state for n, ev in log if n == "agent_state_changed"]
    assert states[-3:] == ["thinking", "speaking", "listening"]
    await session.aclose()
    assert model.closed_sessions == 1


async def test_generate_reply_and_run_with_text_input() -> None:
    model = ScriptedRealtimeModel(["Hello!", "Paris."])
    session, _audio, _text, _log = await _session(model)
    handle = session.generate_reply(instructions="greet the user")
    await handle
    assert model.rec.generate_reply[0]["instructions"] == "greet the user"
    result = await session.run(user_input="capital of France?")
    result.expect.next_event().is_message(role="assistant").contains_text("Paris")
    result.expect.no_more_events()
    # the text input reached the model's context before it was asked to reply
    last_ctx = model.rec.chat_ctx_updates[-1]
    assert _message(last_ctx.items[-1]).text_content == "capital of France?"
    assert model.rec.commits == 0
    await session.aclose()


class Weather(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="weather")

    @function_tool
    async def get_weather(self, context: RunContext[Any], city: str) -> str:
        """Get the weather.

        Args:
            city: the city.
        """
        return f"sunny in {city}"


async def test_function_calls_run_and_outputs_go_back_to_the_model() -> None:
    model = ScriptedRealtimeModel(
        [Turn(calls=[("get_weather", {"city": "Oslo"})]), "It is sunny in Oslo."]
    )
    session, _audio, _text, log = await _session(model, Weather())
    assert model.rec.tools == [["get_weather"]]
    model.sessions[0].server_turn("weather in Oslo?")
    await asyncio.sleep(3.0)
    assert _history(session) == [
        ("user", "weather in Oslo?", ""),
        ("call", "get_weather", '{"city": "Oslo"}'),
        ("output", "sunny in Oslo", ""),
        ("assistant", "It is sunny in Oslo.", ""),
    ]
    executed = [ev for n, ev in log if n == "function_tools_executed"]
    assert len(executed) == 1 and executed[0].function_calls[0].name == "get_weather"
    # the output was sent back, then a reply was requested on the same speech
    sent = model.rec.chat_ctx_updates[-1]
    assert [i.type for i in sent.items[-2:]] == ["function_call", "function_call_output"]
    assert len(model.rec.generate_reply) == 1
    await session.aclose()


async def test_auto_tool_reply_models_are_not_asked_to_reply() -> None:
    model = ScriptedRealtimeModel(
        [Turn(calls=[("get_weather", {"city": "Rome"})])], auto_tool_reply_generation=True
    )
    session, _audio, _text, _log = await _session(model, Weather())
    model.sessions[0].server_turn("weather in Rome?")
    await asyncio.sleep(1.0)
    assert model.rec.generate_reply == []
    assert model.rec.chat_ctx_updates[-1].items[-1].type == "function_call_output"
    await session.aclose()


async def test_user_speech_interrupts_and_truncates_at_the_played_audio() -> None:
    reply = "one two three four five six seven eight nine ten"
    model = ScriptedRealtimeModel([reply])
    session, audio, _text, _log = await _session(model)
    rt = model.sessions[0]
    rt.server_turn("count to ten")
    await asyncio.sleep(1.0)
    rt.emit("input_speech_started", InputSpeechStartedEvent())
    await asyncio.sleep(0.5)
    assert rt.rec.interrupts == 1
    position = audio.segments[0].playback_position
    assert audio.segments[0].interrupted and position == pytest.approx(1.0, abs=1e-6)
    trunc = rt.rec.truncates[0]
    assert trunc["message_id"] == "msg_1"
    assert trunc["audio_end_ms"] == 1000
    said = _message(session.history.items[-1])
    assert said.role == "assistant" and said.interrupted
    assert said.text_content == trunc["audio_transcript"]
    assert reply.startswith(said.text_content or "-") and len(said.text_content or "") < len(reply)
    await session.aclose()


class HalfVolume(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="quiet")
        self.frames = 0

    async def realtime_audio_output_node(
        self, audio: Any, model_settings: ModelSettings
    ) -> AsyncIterator[rtc.AudioFrame]:
        async for frame in Agent.default.realtime_audio_output_node(self, audio, model_settings):
            self.frames += 1
            yield frame


async def test_audio_goes_through_realtime_audio_output_node() -> None:
    model = ScriptedRealtimeModel(["hi there"])
    agent = HalfVolume()
    session, audio, _text, _log = await _session(model, agent)
    await session.generate_reply()
    assert agent.frames == len(audio.segments[0].captured) > 0
    await session.aclose()


async def test_client_side_vad_commits_audio_and_asks_for_a_reply() -> None:
    model = ScriptedRealtimeModel(["Sure."])
    session, _audio, _text, log = await _session(
        model, vad=FakeVAD(segments=[(0.2, 1.0)]), turn_detection="vad", min_endpointing_delay=0.4
    )
    activity = session._activity
    assert activity is not None and activity.turn_detection == "vad"
    mic = QueueAudioInput()
    session.input.audio = mic
    mic.push(audio_pattern([(0.2, False), (0.8, True), (2.0, False)]))
    await asyncio.sleep(1.0)
    assert model.rec.pushed_frames > 0 and model.rec.commits == 0
    await asyncio.sleep(2.5)
    assert model.rec.commits == 1
    assert len(model.rec.generate_reply) == 1
    assert _history(session)[-1] == ("assistant", "Sure.", "")
    states = [ev.new_state for n, ev in log if n == "user_state_changed"]
    assert states == ["speaking", "listening"]
    await session.aclose()


async def test_uninterruptible_speech_sends_silence_to_the_model() -> None:
    model = ScriptedRealtimeModel(["a long message that must be heard completely"])
    session, _audio, _text, _log = await _session(model)
    mic = QueueAudioInput()
    session.input.audio = mic
    handle = session.generate_reply(allow_interruptions=False)
    await asyncio.sleep(0.1)
    mic.push(split_frame(tone(1.0, sample_rate=24000), 0.1))
    await asyncio.sleep(1.05)
    assert model.rec.pushed_frames == 10 and model.rec.pushed_silent == 10
    await handle
    assert not handle.interrupted
    await session.aclose()
