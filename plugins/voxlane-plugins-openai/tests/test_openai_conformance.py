"""The core conformance suites run against openai.LLM, openai.STT and openai.TTS.

The fake server runs on its own thread (its tasks are not the plugin's); faults are queued
on it to make the next requests fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import vx_openai_fake as fk
from livekit import rtc

from voxlane.agents._exceptions import APIError
from voxlane.agents.llm import LLM, ChatContext, function_tool
from voxlane.agents.stt import STT
from voxlane.agents.testing.conformance import (
    ErrorInjector,
    LLMConformance,
    STTConformance,
    TTSConformance,
)
from voxlane.agents.testing.conformance.llm import ToolCallRequest
from voxlane.agents.tts import TTS
from voxlane.plugins import openai as vx_openai


def _chat_default(body: dict[str, Any]) -> fk.ChatReply:
    tools = body.get("tools") or []
    if tools and body.get("tool_choice") == "required":
        name = tools[0]["function"]["name"]
        return fk.ChatReply(
            tool_calls=[fk.ToolCallSpec(name, json.dumps({"city": "Rome"}), "call_c")]
        )
    return fk.ChatReply(text=["Hello! ", "One, two, ", "three, four, five."])


def _tts_default(body: dict[str, Any]) -> bytes:
    n = int(24000 * 0.06 * len(body["input"]))  # 60 ms of audio per character
    t = np.arange(n) / 24000.0
    return (np.sin(2 * np.pi * 200 * t) * 7000).astype(np.int16).tobytes()


@pytest.fixture
def threaded_openai() -> Iterator[fk.FakeOpenAI]:
    server = fk.FakeOpenAI()
    server.chat_default = _chat_default
    server.stt_default = "hello from the fake transcriber"
    server.tts_default = _tts_default
    runner = fk.ServerThread(server)
    runner.start()
    try:
        yield server
    finally:
        runner.stop()


def _injector(queue: Any) -> ErrorInjector:
    def inject(error: APIError, times: int) -> None:
        status = 503 if error.retryable else 401
        for _ in range(times):
            queue.appendleft(fk.Fault("status", status=status, message=error.message))

    return inject


@function_tool
async def get_weather(city: str) -> str:
    """Weather of a city."""
    return "sunny"


class TestOpenAILLMConformance(LLMConformance):
    @pytest.fixture
    def llm(self, threaded_openai: fk.FakeOpenAI) -> LLM:
        return vx_openai.LLM(api_key="sk-conf", base_url=threaded_openai.base_url)

    @pytest.fixture
    def inject_error(self, threaded_openai: fk.FakeOpenAI) -> ErrorInjector:
        return _injector(threaded_openai.chat_queue)

    @pytest.fixture
    def tool_call_request(self) -> ToolCallRequest:
        ctx = ChatContext.empty()
        ctx.add_message(role="user", content="weather in Rome?")
        return ctx, [get_weather], "get_weather"


class TestOpenAISTTConformance(STTConformance):
    @pytest.fixture
    def stt(self, threaded_openai: fk.FakeOpenAI) -> STT:
        return vx_openai.STT(api_key="sk-conf", base_url=threaded_openai.base_url)

    @pytest.fixture
    def speech_audio(self) -> list[rtc.AudioFrame]:
        t = np.arange(1600) / 16000.0
        pcm = (np.sin(2 * np.pi * 180 * t) * 8000).astype(np.int16).tobytes()
        return [rtc.AudioFrame(pcm, 16000, 1, 1600) for _ in range(10)]

    @pytest.fixture
    def inject_error(self, threaded_openai: fk.FakeOpenAI) -> ErrorInjector:
        return _injector(threaded_openai.stt_queue)


class TestOpenAITTSConformance(TTSConformance):
    @pytest.fixture
    def tts(self, threaded_openai: fk.FakeOpenAI) -> TTS:
        return vx_openai.TTS(api_key="sk-conf", base_url=threaded_openai.base_url)

    @pytest.fixture
    def inject_error(self, threaded_openai: fk.FakeOpenAI) -> ErrorInjector:
        return _injector(threaded_openai.tts_queue)
