from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from livekit import rtc

from voxlane.agents.llm import (
    ChatContext,
    FunctionCall,
    GenerationCreatedEvent,
    InputSpeechStoppedEvent,
    InputTranscriptionCompleted,
    MessageGeneration,
    RealtimeCapabilities,
    RealtimeError,
    RealtimeModel,
    RealtimeModelError,
    RealtimeSession,
    Tool,
    ToolChoice,
    ToolContext,
)
from voxlane.agents.types import NOT_GIVEN, NotGivenOr

CAPS = RealtimeCapabilities(
    message_truncation=True,
    turn_detection=True,
    user_transcription=True,
    auto_tool_reply_generation=False,
    audio_output=True,
)


class EchoModel(RealtimeModel):
    def __init__(self) -> None:
        super().__init__(capabilities=CAPS)
        self.closed = False

    def session(self) -> EchoSession:
        return EchoSession(self)

    async def aclose(self) -> None:
        self.closed = True


async def _once(text: str) -> AsyncIterator[str]:
    yield text


async def _no_audio() -> AsyncIterator[rtc.AudioFrame]:
    return
    yield


class EchoSession(RealtimeSession):
    """Replies with the number of audio frames it received (enough to exercise the ABC)."""

    def __init__(self, model: EchoModel) -> None:
        super().__init__(model)
        self._ctx = ChatContext.empty()
        self._tools = ToolContext.empty()
        self.frames = 0

    @property
    def chat_ctx(self) -> ChatContext:
        return self._ctx.copy()

    @property
    def tools(self) -> ToolContext:
        return self._tools.copy()

    async def update_instructions(self, instructions: str) -> None:
        if not instructions:
            raise RealtimeError("instructions cannot be empty")

    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        self._ctx = chat_ctx.copy()

    async def update_tools(self, tools: list[Tool]) -> None:
        self._tools = ToolContext(tools)

    def update_options(self, *, tool_choice: NotGivenOr[ToolChoice | None] = NOT_GIVEN) -> None:
        pass

    def push_audio(self, frame: rtc.AudioFrame) -> None:
        self.frames += 1

    def generate_reply(
        self,
        *,
        instructions: NotGivenOr[str] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        tools: NotGivenOr[list[Tool]] = NOT_GIVEN,
    ) -> asyncio.Future[GenerationCreatedEvent]:
        fut: asyncio.Future[GenerationCreatedEvent] = asyncio.get_running_loop().create_future()
        modalities: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        modalities.set_result(["text"])

        async def messages() -> AsyncIterator[MessageGeneration]:
            yield MessageGeneration(
                message_id="m1",
                text_stream=_once(f"{self.frames} frames"),
                audio_stream=_no_audio(),
                modalities=modalities,  # type: ignore[arg-type]
            )

        async def functions() -> AsyncIterator[FunctionCall]:
            return
            yield

        ev = GenerationCreatedEvent(
            message_stream=messages(), function_stream=functions(), user_initiated=True
        )
        fut.set_result(ev)
        self.emit("generation_created", ev)
        return fut

    def commit_audio(self) -> None:
        self.emit("input_speech_stopped", InputSpeechStoppedEvent(user_transcription_enabled=True))

    def clear_audio(self) -> None:
        self.frames = 0

    def interrupt(self) -> None:
        pass

    def truncate(
        self,
        *,
        message_id: str,
        modalities: list[str],  # type: ignore[override]
        audio_end_ms: int,
        audio_transcript: NotGivenOr[str] = NOT_GIVEN,
    ) -> None:
        pass

    async def aclose(self) -> None:
        pass


async def test_realtime_interface_round_trip() -> None:
    async with EchoModel() as model:
        assert model.capabilities.message_truncation
        assert not model.capabilities.supports_say
        session = model.session()
        assert session.realtime_model is model
        stopped: list[InputSpeechStoppedEvent] = []
        session.on("input_speech_stopped", stopped.append)
        session.push_audio(rtc.AudioFrame.create(16000, 1, 160))
        session.commit_audio()
        assert stopped == [InputSpeechStoppedEvent(user_transcription_enabled=True)]
        gen = await session.generate_reply()
        texts = []
        async for msg in gen.message_stream:
            assert await msg.modalities == ["text"]
            texts.extend([t async for t in msg.text_stream])
        assert texts == ["1 frames"]
        assert [f async for f in gen.function_stream] == []
        with pytest.raises(RealtimeError, match="cannot be empty"):
            await session.update_instructions("")
        with pytest.raises(NotImplementedError, match="supports_say=False"):
            await session.say("hello")
        session.start_user_activity()
        session.push_video(rtc.VideoFrame(2, 2, rtc.VideoBufferType.RGBA, bytes(16)))
        await session.aclose()
    assert model.closed


def test_realtime_models_and_errors() -> None:
    class BadModel(EchoModel):
        def __init__(self) -> None:
            RealtimeModel.__init__(self, capabilities=object())  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="RealtimeCapabilities"):
        BadModel()
    err = RealtimeModelError(
        timestamp=time.time(), label="x", error=RuntimeError("boom"), recoverable=False
    )
    assert "error" not in err.model_dump()
    ev = InputTranscriptionCompleted(item_id="i", transcript="hi", is_final=True)
    assert ev.confidence is None
