"""The core conformance kit run against the tone TTS, as a third-party plugin would run it.

The synthesizer is local and cannot fail on its own, so fault injection wraps the real streams:
the next ``times`` attempts raise the injected error before synthesizing, and the core base
classes must retry or give up exactly as they do for a network provider.
"""

from __future__ import annotations

import pytest
from voxlane_tone_tts import ToneChunkedStream, ToneSynthesizeStream, ToneTTS

from voxlane.agents import APIError
from voxlane.agents.testing.conformance import ErrorInjector, TTSConformance
from voxlane.agents.tts import TTS, AudioEmitter, ChunkedStream, SynthesizeStream
from voxlane.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions


class FaultyToneTTS(ToneTTS):
    """``ToneTTS`` whose next attempts can be made to fail with a given error."""

    def __init__(self) -> None:
        super().__init__()
        self.pending_errors: list[APIError] = []

    def raise_pending(self) -> None:
        if self.pending_errors:
            raise self.pending_errors.pop(0)

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return _FaultyChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return _FaultySynthesizeStream(tts=self, conn_options=conn_options)


class _FaultyChunkedStream(ToneChunkedStream):
    async def _run(self, output_emitter: AudioEmitter) -> None:
        assert isinstance(self._tts, FaultyToneTTS)
        self._tts.raise_pending()
        await super()._run(output_emitter)


class _FaultySynthesizeStream(ToneSynthesizeStream):
    async def _run(self, output_emitter: AudioEmitter) -> None:
        assert isinstance(self._tts, FaultyToneTTS)
        self._tts.raise_pending()
        await super()._run(output_emitter)


class TestToneTTSConformance(TTSConformance):
    max_seconds_per_char = 0.1

    @pytest.fixture
    def tts(self) -> TTS:
        return FaultyToneTTS()

    @pytest.fixture
    def inject_error(self, tts: TTS) -> ErrorInjector:
        assert isinstance(tts, FaultyToneTTS)

        def inject(error: APIError, times: int) -> None:
            tts.pending_errors.extend([error] * times)

        return inject
