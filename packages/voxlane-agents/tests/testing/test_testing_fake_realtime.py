"""FakeRealtimeModel: server-side turn detection, scripted generations, interruptions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable

import pytest
from livekit import rtc

from voxlane.agents.llm import (
    ChatContext,
    FunctionCall,
    FunctionCallOutput,
    RealtimeError,
    function_tool,
)
from voxlane.agents.llm.realtime import (
    GenerationCreatedEvent,
    InputTranscriptionCompleted,
    MessageGeneration,
    RealtimeModelError,
)
from voxlane.agents.metrics import RealtimeModelMetrics
from voxlane.agents.testing import now
from voxlane.agents.testing.fakes import (
    FakeRealtimeModel,
    FakeResponse,
    FakeToolCall,
    audio_pattern,
)

pytestmark = pytest.mark.virtual_clock


@function_tool
async def get_time(city: str) -> str:
    """Current time in a city.

    Args:
        city: the city
    """
    return "noon"


async def _drain(event: GenerationCreatedEvent) -> tuple[str, float, list[FunctionCall], str]:
    text, audio, message_id = "", 0.0, ""
    async for msg in event.message_stream:
        assert isinstance(msg, MessageGeneration)
        message_id = msg.message_id
        assert await msg.modalities == ["audio", "text"]

        async def read_audio(stream: AsyncIterable[rtc.AudioFrame]) -> float:
            total = 0.0
            async for frame in stream:
                assert isinstance(frame, rtc.AudioFrame)
                total += frame.duration
            return total

        audio_task = asyncio.create_task(read_audio(msg.audio_stream))
        async for piece in msg.text_stream:
            text += piece
        audio += await audio_task
    calls = [c async for c in event.function_stream]
    return text, audio, calls, message_id


async def test_server_turn_detection_transcribes_and_replies() -> None:
    model = FakeRealtimeModel(user_transcripts=["what's the weather"], seconds_per_char=0.1)
    model.when("weather", "Sunny today.")
    session = model.session()
    seen: list[tuple[str, float]] = []
    generations: list[GenerationCreatedEvent] = []
    transcripts: list[InputTranscriptionCompleted] = []
    session.on("input_speech_started", lambda _: seen.append(("started", session.pushed_duration)))
    session.on("input_speech_stopped", lambda _: seen.append(("stopped", session.pushed_duration)))
    session.on("input_audio_transcription_completed", transcripts.append)
    session.on("generation_created", generations.append)
    for frame in audio_pattern([(0.3, False), (1.0, True), (0.6, False)], frame_duration=0.1):
        session.push_audio(frame)
    assert [name for name, _ in seen] == ["started", "stopped"]
    assert seen[0][1] == pytest.approx(0.4)
    assert seen[1][1] == pytest.approx(1.8)
    assert [t.transcript for t in transcripts] == ["what's the weather"]
    assert transcripts[0].is_final
    assert len(generations) == 1 and not generations[0].user_initiated
    text, audio, calls, message_id = await _drain(generations[0])
    assert text == "Sunny today."
    assert audio == pytest.approx(1.2)  # 12 characters at 0.1 s
    assert calls == []
    await asyncio.sleep(0)
    items = session.chat_ctx.items
    assert [(i.role, i.text_content) for i in items if i.type == "message"] == [
        ("user", "what's the weather"),
        ("assistant", "Sunny today."),
    ]
    assert items[-1].id == message_id
    await session.aclose()


async def test_manual_turns_tool_calls_and_followup() -> None:
    model = FakeRealtimeModel(
        [
            FakeResponse(
                tool_calls=[FakeToolCall("get_time", {"city": "Lima"}, call_id="t1")],
                followup="It is noon in Lima.",
            )
        ],
        user_transcripts=["time in Lima?"],
        turn_detection=False,
    )
    assert not model.capabilities.turn_detection
    session = model.session()
    await session.update_instructions("Be brief.")
    await session.update_tools([get_time])
    session.update_options(tool_choice="auto")
    for frame in audio_pattern([(1.0, True)]):
        session.push_audio(frame)
    session.commit_audio()
    event = await session.generate_reply(instructions="answer")
    assert event.user_initiated
    text, _, calls, _ = await _drain(event)
    assert text == ""
    assert [(c.name, json.loads(c.arguments), c.call_id) for c in calls] == [
        ("get_time", {"city": "Lima"}, "t1")
    ]
    # the runtime runs the tool and gives its output back
    ctx = session.chat_ctx
    ctx.insert(FunctionCallOutput(call_id="t1", name="get_time", output="noon", is_error=False))
    await session.update_chat_ctx(ctx)
    followup = await session.generate_reply()
    text, _, _, _ = await _drain(followup)
    assert text == "It is noon in Lima."
    first_call = model.brain.calls[0]
    assert first_call.tool_names == ["get_time"]
    assert first_call.chat_ctx.items[-1].type == "message"
    assert [c.instructions for c in session.generate_reply_calls] == ["answer", None]
    assert session.instructions == "Be brief."
    assert session.tool_choice == "auto"
    await session.aclose()


async def test_interrupt_stops_the_generation() -> None:
    model = FakeRealtimeModel(["one two three four five six"], chunk_delay=1.0)
    session = model.session()
    metrics: list[RealtimeModelMetrics] = []
    session.on("metrics_collected", metrics.append)
    event = await session.generate_reply()
    msg = await anext(aiter(event.message_stream))
    got: list[str] = []
    async for piece in msg.text_stream:
        got.append(piece)
        if len(got) == 2:
            session.interrupt()
    assert got == ["one ", "two "]
    assert now() == pytest.approx(1.0)
    await asyncio.sleep(0)
    assert session.interruptions == 1
    assistant = [i for i in session.chat_ctx.items if i.type == "message"][-1]
    assert assistant.interrupted and assistant.text_content == "one two "
    assert metrics[-1].cancelled
    session.truncate(
        message_id=assistant.id,
        modalities=["audio", "text"],
        audio_end_ms=300,
        audio_transcript="one",
    )
    assert session.truncations[0].audio_end_ms == 300
    truncated = session.chat_ctx.get_by_id(assistant.id)
    assert truncated is not None and truncated.type == "message"
    assert truncated.text_content == "one"
    await session.aclose()


async def test_missing_script_and_scripted_errors_are_reported() -> None:
    model = FakeRealtimeModel([FakeResponse(text="x y", error=RuntimeError("model crashed"))])
    session = model.session()
    errors: list[RealtimeModelError] = []
    session.on("error", errors.append)
    event = await session.generate_reply()
    await _drain(event)
    await asyncio.sleep(0)
    assert [str(e.error) for e in errors] == ["model crashed"]
    with pytest.raises(RealtimeError, match="no reply for call #2"):
        await session.generate_reply()
    assert len(errors) == 2
    await session.aclose()


async def test_aclose_mid_generation_leaves_no_task() -> None:
    model = FakeRealtimeModel(default="a b c d e", chunk_delay=5.0)
    session = model.session()
    event = await session.generate_reply()
    msg = await anext(aiter(event.message_stream))
    assert await anext(aiter(msg.text_stream)) == "a "
    await model.aclose()
    assert [p async for p in msg.text_stream] == []
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert leftovers == []
    with pytest.raises(RealtimeError, match="closed"):
        session.push_audio(audio_pattern([(0.1, True)])[0])
    with pytest.raises(RealtimeError, match="closed"):
        await session.update_chat_ctx(ChatContext.empty())


def test_bad_configuration_is_explained() -> None:
    with pytest.raises(TypeError, match=r"user_transcripts\[0\]"):
        FakeRealtimeModel(user_transcripts=[1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="threshold"):
        FakeRealtimeModel(threshold=0)
    with pytest.raises(ValueError, match="silence_duration"):
        FakeRealtimeModel(silence_duration=-1)
