"""The core conformance kit run against the ElevenLabs STT and TTS (on the fake server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import vx_el_speech as speech
import vx_elevenlabs_fake as fake
from livekit import rtc

from voxlane.agents._exceptions import APIError
from voxlane.agents.testing.conformance import ErrorInjector, STTConformance, TTSConformance
from voxlane.plugins import elevenlabs


def _injector(server: fake.FakeElevenLabs, route: str) -> ErrorInjector:
    def inject(error: APIError, times: int) -> None:
        status = 503 if error.retryable else 401
        server.fail_next(route, fake.Fault("status", status=status), times=times)

    return inject


class TestElevenLabsSTTConformance(STTConformance):
    @pytest.fixture
    async def stt(self, el_server: fake.FakeElevenLabs) -> AsyncIterator[elevenlabs.STT]:
        stt = elevenlabs.STT(api_key=fake.API_KEY, base_url=el_server.base_url)
        yield stt
        await stt.aclose()

    @pytest.fixture
    def speech_audio(self, clip: speech.Clip) -> list[rtc.AudioFrame]:
        return clip.frames()

    @pytest.fixture
    def inject_error(self, el_server: fake.FakeElevenLabs) -> ErrorInjector:
        return _injector(el_server, "stt")


class TestElevenLabsTTSConformance(TTSConformance):
    @pytest.fixture
    async def tts(self, el_server: fake.FakeElevenLabs) -> AsyncIterator[elevenlabs.TTS]:
        tts = elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url)
        yield tts
        await tts.aclose()

    @pytest.fixture
    def inject_error(self, el_server: fake.FakeElevenLabs) -> ErrorInjector:
        return _injector(el_server, "tts")
