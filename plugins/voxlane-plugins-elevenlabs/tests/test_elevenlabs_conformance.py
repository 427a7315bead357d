"""The core conformance kit run against the ElevenLabs STT and TTS (on the fake server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import vx_elevenlabs_fake as fake
from livekit import rtc

from voxlane.agents.testing import speech
from voxlane.agents.testing.conformance import ErrorInjector, STTConformance, TTSConformance
from voxlane.agents.testing.fake_server import status_fault_injector
from voxlane.plugins import elevenlabs


class TestElevenLabsSTTConformance(STTConformance):
    @pytest.fixture
    async def stt(self, el_server: fake.FakeElevenLabs) -> AsyncIterator[elevenlabs.STT]:
        stt = elevenlabs.STT(api_key=fake.API_KEY, base_url=el_server.base_url)
        yield stt
        await stt.aclose()

    @pytest.fixture
    def speech_audio(self, clip: speech.SpeechClip) -> list[rtc.AudioFrame]:
        return clip.frames()

    @pytest.fixture
    def inject_error(self, el_server: fake.FakeElevenLabs) -> ErrorInjector:
        return status_fault_injector(el_server, "stt")


class TestElevenLabsTTSConformance(TTSConformance):
    @pytest.fixture
    async def tts(self, el_server: fake.FakeElevenLabs) -> AsyncIterator[elevenlabs.TTS]:
        tts = elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url)
        yield tts
        await tts.aclose()

    @pytest.fixture
    def inject_error(self, el_server: fake.FakeElevenLabs) -> ErrorInjector:
        return status_fault_injector(el_server, "tts")
