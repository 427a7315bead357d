"""The core conformance kit run against the Deepgram STT and TTS (on the fake server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import vx_deepgram_fake as fake
from livekit import rtc

from voxlane.agents.testing import speech
from voxlane.agents.testing.conformance import ErrorInjector, STTConformance, TTSConformance
from voxlane.agents.testing.fake_server import status_fault_injector
from voxlane.plugins import deepgram


class TestDeepgramSTTConformance(STTConformance):
    @pytest.fixture
    async def stt(self, dg_server: fake.FakeDeepgram) -> AsyncIterator[deepgram.STT]:
        stt = deepgram.STT(api_key=fake.API_KEY, base_url=dg_server.base_url)
        yield stt
        await stt.aclose()

    @pytest.fixture
    def speech_audio(self, clip: speech.SpeechClip) -> list[rtc.AudioFrame]:
        return clip.frames()

    @pytest.fixture
    def inject_error(self, dg_server: fake.FakeDeepgram) -> ErrorInjector:
        return status_fault_injector(dg_server, "listen")


class TestDeepgramTTSConformance(TTSConformance):
    @pytest.fixture
    async def tts(self, dg_server: fake.FakeDeepgram) -> AsyncIterator[deepgram.TTS]:
        tts = deepgram.TTS(api_key=fake.API_KEY, base_url=dg_server.base_url)
        yield tts
        await tts.aclose()

    @pytest.fixture
    def inject_error(self, dg_server: fake.FakeDeepgram) -> ErrorInjector:
        return status_fault_injector(dg_server, "speak")
