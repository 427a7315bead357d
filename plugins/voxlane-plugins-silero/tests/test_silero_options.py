"""Each Silero option changes the decisions the way its documentation says (espeak-ng speech).

The thresholds are checked against the probabilities the stream itself reported, so the tests
hold whatever the exact scores of the model are.
"""

from __future__ import annotations

import logging
import subprocess
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from livekit import rtc

from voxlane.agents.vad import VADEvent, VADEventType
from voxlane.plugins import silero

RATE = 16000
WINDOW = 512  # samples per inference window at 16 kHz


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> npt.NDArray[np.int16]:
    """About two seconds of English speech at 16 kHz, a whole number of windows long."""
    path: Path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(path), "Hello world, how are you doing today?"],
        check=True,
        capture_output=True,
    )
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    resampler = rtc.AudioResampler(rate, RATE, num_channels=1)
    out = [*resampler.push(rtc.AudioFrame(pcm.tobytes(), rate, 1, pcm.size)), *resampler.flush()]
    merged = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in out])
    usable: npt.NDArray[np.int16] = merged[: (merged.size // WINDOW) * WINDOW].copy()
    return usable


def _silence(seconds: float) -> npt.NDArray[np.int16]:
    # whole windows, so the speech starts on a window boundary
    return np.zeros(round(seconds * RATE / WINDOW) * WINDOW, dtype=np.int16)


async def _run(vad: silero.VAD, pcm: npt.NDArray[np.int16]) -> list[VADEvent]:
    stream = vad.stream()
    step = RATE // 50
    for i in range(0, pcm.size, step):
        chunk = pcm[i : i + step]
        stream.push_frame(rtc.AudioFrame(chunk.tobytes(), RATE, 1, chunk.size))
    stream.end_input()
    events = [ev async for ev in stream]
    await stream.aclose()
    return events


def _only(events: list[VADEvent], kind: VADEventType) -> list[VADEvent]:
    return [e for e in events if e.type == kind]


def _seconds(event: VADEvent) -> float:
    return sum(f.samples_per_channel for f in event.frames) / RATE


async def test_activation_threshold_decides_what_counts_as_speech(
    speech: npt.NDArray[np.int16],
) -> None:
    # very quiet speech: the model is unsure, so its scores stay well below 1
    quiet = (speech.astype(np.float32) * 0.01).astype(np.int16)
    audio = np.concatenate([_silence(1.0), quiet, _silence(1.0)])
    probe = silero.VAD.load(min_speech_duration=0.0)
    peak = max(e.probability for e in _only(await _run(probe, audio), VADEventType.INFERENCE_DONE))
    assert 0.2 < peak < 0.98, f"the quiet speech should score in between, got {peak}"

    above = silero.VAD.load(activation_threshold=peak + 0.01, min_speech_duration=0.0)
    assert _only(await _run(above, audio), VADEventType.START_OF_SPEECH) == []

    below = silero.VAD.load(activation_threshold=peak - 0.1, min_speech_duration=0.0)
    events = await _run(below, audio)
    assert len(_only(events, VADEventType.START_OF_SPEECH)) == 1
    assert len(_only(events, VADEventType.END_OF_SPEECH)) == 1


async def test_min_speech_duration_ignores_a_short_sound(speech: npt.NDArray[np.int16]) -> None:
    blip = speech[: 6 * WINDOW]  # about 0.2 s of the utterance
    audio = np.concatenate([_silence(1.0), blip, _silence(1.5)])
    eager = silero.VAD.load(min_speech_duration=0.05)
    assert len(_only(await _run(eager, audio), VADEventType.START_OF_SPEECH)) == 1
    patient = silero.VAD.load(min_speech_duration=0.5)
    assert _only(await _run(patient, audio), VADEventType.START_OF_SPEECH) == []


async def test_prefix_padding_is_kept_before_the_speech(speech: npt.NDArray[np.int16]) -> None:
    audio = np.concatenate([_silence(1.5), speech, _silence(1.0)])
    ends = {}
    for padding in (0.0, 0.5):
        vad = silero.VAD.load(prefix_padding_duration=padding)
        (end,) = _only(await _run(vad, audio), VADEventType.END_OF_SPEECH)
        ends[padding] = end
    extra = _seconds(ends[0.5]) - _seconds(ends[0.0])
    assert extra == pytest.approx(0.5, abs=WINDOW / RATE + 0.001)
    # the padding is audio from before the speech: the END frames start with (near) silence
    start = np.frombuffer(ends[0.5].frames[0].data, dtype=np.int16)[: RATE // 4]
    assert np.abs(start).max() < 100


async def test_max_buffered_speech_caps_the_end_frames(
    speech: npt.NDArray[np.int16], caplog: pytest.LogCaptureFixture
) -> None:
    audio = np.concatenate([_silence(1.0), speech, _silence(1.0)])
    full_vad = silero.VAD.load()
    (full,) = _only(await _run(full_vad, audio), VADEventType.END_OF_SPEECH)
    assert _seconds(full) > 1.5

    capped_vad = silero.VAD.load(max_buffered_speech=0.8)
    with caplog.at_level(logging.WARNING, logger="voxlane.plugins.silero"):
        events = await _run(capped_vad, audio)
    (capped,) = _only(events, VADEventType.END_OF_SPEECH)
    assert _seconds(capped) <= 0.8
    assert _seconds(capped) > 0.8 - 2 * WINDOW / RATE
    # the utterance itself is still measured in full; only the kept audio is capped
    assert capped.speech_duration == pytest.approx(full.speech_duration)
    warnings = [r.getMessage() for r in caplog.records if "max_buffered_speech" in r.getMessage()]
    assert len(warnings) == 1
