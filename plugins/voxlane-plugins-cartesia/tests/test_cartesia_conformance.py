"""The core conformance kit run against the Cartesia STT and TTS (on the fake server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import vx_cartesia_fake as fake
from livekit import rtc

from voxlane.agents.testing import speech
from voxlane.agents.testing.conformance import ErrorInjector, STTConformance, TTSConformance
from voxlane.agents.testing.fake_server import status_fault_injector
from voxlane.plugins import cartesia


class TestCartesiaSTTConformance(STTConformance):
    @pytest.fixture
    async def stt(self, ct_server: fake.FakeCartesia) -> AsyncIterator[cartesia.STT]:
        stt = cartesia.STT(api_key=fake.API_KEY, base_url=ct_server.base_url)
        yield stt
        await stt.aclose()

    @pytest.fixture
    def speech_audio(self, clip: speech.SpeechClip) -> list[rtc.AudioFrame]:
        return clip.frames()

    @pytest.fixture
    def inject_error(self, ct_server: fake.FakeCartesia) -> ErrorInjector:
        return status_fault_injector(ct_server, "stt")


class TestCartesiaTTSConformance(TTSConformance):
    @pytest.fixture
    async def tts(self, ct_server: fake.FakeCartesia) -> AsyncIterator[cartesia.TTS]:
        tts = cartesia.TTS(api_key=fake.API_KEY, base_url=ct_server.base_url)
        yield tts
        await tts.aclose()

    @pytest.fixture
    def inject_error(self, ct_server: fake.FakeCartesia) -> ErrorInjector:
        return status_fault_injector(ct_server, "tts")
