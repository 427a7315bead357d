"""The core STT conformance suite, run against whisper (non-streaming recognize).

Failures are injected by making the engine's next transcriptions raise, which exercises the
retry and error paths exactly as a failing model would.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents._exceptions import APIError
from voxlane.agents.testing.conformance import ErrorInjector, STTConformance
from voxlane.plugins import whisper


@pytest.fixture(scope="module")
def _whisper() -> whisper.STT:
    model = whisper.STT()
    model.engine.load()
    return model


@pytest.fixture(scope="module")
def _speech() -> list[rtc.AudioFrame]:
    with wave.open(str(Path(__file__).parent / "data" / "hello_weather_22k.wav"), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
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
