"""The core VAD conformance suite, run against the Silero VAD on espeak-ng speech."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents.testing.conformance import VADConformance
from voxlane.plugins import silero


@pytest.fixture(scope="module")
def _vad() -> silero.VAD:
    return silero.VAD.load()


@pytest.fixture(scope="module")
def _speech(tmp_path_factory: pytest.TempPathFactory) -> list[rtc.AudioFrame]:
    path: Path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(path), "Voice activity detection needs some speech."],
        check=True,
        capture_output=True,
    )
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    pad = np.zeros(rate, dtype=np.int16)
    audio = np.concatenate([pad, pcm, pad])
    step = rate // 50
    return [
        rtc.AudioFrame(audio[i : i + step].tobytes(), rate, 1, audio[i : i + step].size)
        for i in range(0, audio.size, step)
    ]


class TestSileroConformance(VADConformance):
    @pytest.fixture
    def vad(self, _vad: silero.VAD) -> silero.VAD:
        return _vad

    @pytest.fixture
    def speech_audio(self, _speech: list[rtc.AudioFrame]) -> list[rtc.AudioFrame]:
        return _speech
