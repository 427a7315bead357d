"""The conformance kit run against the voxlane fakes (proves both the kit and the fakes)."""

from __future__ import annotations

import pytest
from livekit import rtc

from voxlane.agents.llm import ChatContext, function_tool
from voxlane.agents.stt import STT
from voxlane.agents.testing.conformance import (
    LLMConformance,
    STTConformance,
    ToolCallRequest,
    TTSConformance,
    VADConformance,
)
from voxlane.agents.testing.fakes import (
    FakeLLM,
    FakeResponse,
    FakeSTT,
    FakeToolCall,
    FakeTTS,
    FakeVAD,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.tts import TTS
from voxlane.agents.vad import VAD

pytestmark = pytest.mark.virtual_clock


def _speech() -> list[rtc.AudioFrame]:
    return audio_pattern([(0.6, False), (1.2, True), (0.8, False)], frame_duration=0.02)


class TestFakeSTTStreamingConformance(STTConformance):
    @pytest.fixture
    def stt(self) -> STT:
        return FakeSTT(
            [
                ScriptedTranscript("hello world", start=0.6, end=1.8, final_delay=0.1),
                ScriptedTranscript("and more", start=2.0, end=2.4),
            ]
        )

    @pytest.fixture
    def speech_audio(self) -> list[rtc.AudioFrame]:
        return _speech()


class TestFakeSTTNonStreamingConformance(STTConformance):
    @pytest.fixture
    def stt(self) -> STT:
        return FakeSTT(["hello world", "again"], streaming=False, interim_results=False)

    @pytest.fixture
    def speech_audio(self) -> list[rtc.AudioFrame]:
        return _speech()


class TestFakeTTSStreamingConformance(TTSConformance):
    @pytest.fixture
    def tts(self) -> TTS:
        return FakeTTS(sample_rate=16000, ttfb=0.05, chunk_delay=0.02)


class TestFakeTTSChunkedOnlyConformance(TTSConformance):
    @pytest.fixture
    def tts(self) -> TTS:
        return FakeTTS(streaming=False, num_channels=2)


@function_tool
async def lookup_order(order_id: str) -> str:
    """Find an order.

    Args:
        order_id: the order number
    """
    return f"order {order_id} shipped"


class TestFakeLLMConformance(LLMConformance):
    @pytest.fixture
    def llm(self) -> FakeLLM:
        llm = FakeLLM(default="Hello! One, two, three, four, five.", ttft=0.2, chunk_delay=0.05)
        llm.when(
            "order",
            FakeResponse(tool_calls=[FakeToolCall("lookup_order", {"order_id": "42"})]),
        )
        return llm

    @pytest.fixture
    def tool_call_request(self) -> ToolCallRequest:
        ctx = ChatContext.empty()
        ctx.add_message(role="user", content="Where is my order 42?")
        return ctx, [lookup_order], "lookup_order"


class TestFakeVADEnergyConformance(VADConformance):
    @pytest.fixture
    def vad(self) -> VAD:
        return FakeVAD()

    @pytest.fixture
    def speech_audio(self) -> list[rtc.AudioFrame]:
        return _speech()


class TestFakeVADScriptedConformance(VADConformance):
    @pytest.fixture
    def vad(self) -> VAD:
        return FakeVAD(segments=[(0.6, 1.8)], inference_delay=0.001)

    @pytest.fixture
    def speech_audio(self) -> list[rtc.AudioFrame]:
        return _speech()

    @pytest.fixture
    def silence_audio(self) -> list[rtc.AudioFrame]:
        # the script marks 0.6-1.8 s as speech whatever the audio holds: stop before it
        return audio_pattern([(0.5, False)])
