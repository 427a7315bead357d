"""Synthetic audio helpers and the fault plan shared by the fakes."""

from __future__ import annotations

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents import APIConnectionError, APIStatusError
from voxlane.agents.testing.fakes import FaultPlan, audio_pattern, split_frame, tone, tone_pcm


def _samples(frame: rtc.AudioFrame) -> np.ndarray:
    return np.frombuffer(bytes(frame.data.cast("B")), dtype=np.int16)


def test_tone_has_the_requested_length_level_and_pitch() -> None:
    frame = tone(0.5, sample_rate=16000, frequency=400.0, amplitude=0.5)
    assert frame.sample_rate == 16000
    assert frame.samples_per_channel == 8000
    samples = _samples(frame).astype(np.float64) / 32768.0
    rms = float(np.sqrt(np.mean(samples**2)))
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    # 400 Hz over 0.5 s: 200 periods, i.e. about 400 zero crossings
    crossings = int(np.sum(np.diff(np.signbit(samples[1:]).astype(np.int8)) != 0))
    assert 395 <= crossings <= 401


def test_tone_pcm_is_phase_continuous_and_interleaved() -> None:
    whole = tone_pcm(200, sample_rate=8000, frequency=300.0)
    parts = tone_pcm(120, sample_rate=8000, frequency=300.0) + tone_pcm(
        80, sample_rate=8000, frequency=300.0, start_sample=120
    )
    assert whole == parts
    stereo = np.frombuffer(tone_pcm(10, sample_rate=8000, num_channels=2), dtype=np.int16)
    assert stereo.shape == (20,)
    assert np.array_equal(stereo[0::2], stereo[1::2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"amplitude": 1.5}, "amplitude"),
        ({"frequency": 9000.0}, "Nyquist"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"num_channels": 0}, "num_channels"),
    ],
)
def test_tone_pcm_rejects_bad_parameters(kwargs: dict[str, float], match: str) -> None:
    args: dict[str, float] = {"sample_rate": 16000}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        tone_pcm(10, **args)  # type: ignore[arg-type]


def test_audio_pattern_alternates_tone_and_silence() -> None:
    frames = audio_pattern([(0.1, False), (0.2, True), (0.05, False)], frame_duration=0.01)
    assert len(frames) == 35
    assert all(f.samples_per_channel == 160 for f in frames)
    energies = [float(np.abs(_samples(f)).max()) for f in frames]
    assert all(e == 0 for e in energies[:10])
    assert all(e > 1000 for e in energies[10:30])
    assert all(e == 0 for e in energies[30:])
    assert audio_pattern([]) == []
    with pytest.raises(ValueError, match="segment 0"):
        audio_pattern([(-1.0, True)])
    with pytest.raises(TypeError, match="segment 0"):
        audio_pattern([0.5])  # type: ignore[list-item]


def test_split_frame_keeps_every_sample() -> None:
    frame = tone(0.105, sample_rate=16000, num_channels=2)
    parts = split_frame(frame, 0.02)
    assert [p.samples_per_channel for p in parts] == [320] * 5 + [80]
    assert b"".join(bytes(p.data.cast("B")) for p in parts) == bytes(frame.data.cast("B"))
    with pytest.raises(ValueError, match="frame_duration"):
        split_frame(frame, 0)


def test_fault_plan_next_and_numbered_attempts() -> None:
    plan = FaultPlan()
    boom = APIStatusError("boom", status_code=500)
    plan.fail_next(boom, times=2, after=0.5)
    plan.fail_on_attempt(4)
    assert plan.pending == 3
    first = plan.start_attempt()
    assert first is not None and first.error is boom and first.after == 0.5
    second = plan.start_attempt()
    assert second is not None and second.error is boom
    assert plan.start_attempt() is None
    fourth = plan.start_attempt()
    assert fourth is not None and isinstance(fourth.error, APIConnectionError)
    assert fourth.error.retryable
    assert plan.attempts == 4
    assert plan.pending == 0


def test_fault_plan_rejects_bad_requests() -> None:
    plan = FaultPlan()
    plan.start_attempt()
    with pytest.raises(ValueError, match="already started"):
        plan.fail_on_attempt(1)
    with pytest.raises(ValueError, match="times"):
        plan.fail_next(times=0)
    with pytest.raises(ValueError, match="after"):
        plan.fail_next(after=-1)
    with pytest.raises(TypeError, match="exception instance"):
        plan.fail_next(ValueError)  # type: ignore[arg-type]
    plan.fail_next()
    plan.clear()
    assert plan.pending == 0
    assert plan.start_attempt() is None
