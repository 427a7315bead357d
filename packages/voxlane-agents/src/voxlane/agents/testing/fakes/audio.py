"""Synthetic audio for tests: tones (audible, non-silent PCM) and tone/silence patterns."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from livekit import rtc

__all__ = ["audio_pattern", "split_frame", "tone", "tone_pcm"]


def _check_format(sample_rate: int, num_channels: int) -> None:
    if not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int (Hz), got {sample_rate!r}")
    if not isinstance(num_channels, int) or num_channels <= 0:
        raise ValueError(f"num_channels must be a positive int, got {num_channels!r}")


def tone_pcm(
    num_samples: int,
    *,
    sample_rate: int,
    num_channels: int = 1,
    frequency: float = 440.0,
    amplitude: float = 0.3,
    start_sample: int = 0,
) -> bytes:
    """``num_samples`` (per channel) of a sine tone as 16-bit interleaved PCM.

    ``start_sample`` keeps the phase continuous when a tone is produced in several pieces.
    """
    _check_format(sample_rate, num_channels)
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    if not 0.0 <= amplitude <= 1.0:
        raise ValueError(f"amplitude must be between 0 and 1 (full scale), got {amplitude}")
    if not math.isfinite(frequency) or frequency <= 0 or frequency >= sample_rate / 2:
        raise ValueError(
            f"frequency must be between 0 and the Nyquist frequency ({sample_rate / 2} Hz), "
            f"got {frequency}"
        )
    t = (np.arange(num_samples, dtype=np.float64) + start_sample) / sample_rate
    mono = np.round(np.sin(2.0 * np.pi * frequency * t) * amplitude * 32767.0).astype(np.int16)
    if num_channels > 1:
        mono = np.repeat(mono, num_channels)
    return mono.tobytes()


def tone(
    duration: float,
    *,
    sample_rate: int = 16000,
    num_channels: int = 1,
    frequency: float = 440.0,
    amplitude: float = 0.3,
) -> rtc.AudioFrame:
    """One frame holding ``duration`` seconds of a sine tone."""
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"duration must be a finite number of seconds >= 0, got {duration!r}")
    n = round(duration * sample_rate)
    return rtc.AudioFrame(
        data=tone_pcm(
            n,
            sample_rate=sample_rate,
            num_channels=num_channels,
            frequency=frequency,
            amplitude=amplitude,
        ),
        sample_rate=sample_rate,
        num_channels=num_channels,
        samples_per_channel=n,
    )


def split_frame(frame: rtc.AudioFrame, frame_duration: float = 0.02) -> list[rtc.AudioFrame]:
    """Cut a frame into frames of ``frame_duration`` seconds (the last one may be shorter)."""
    if not math.isfinite(frame_duration) or frame_duration <= 0:
        raise ValueError(f"frame_duration must be > 0 seconds, got {frame_duration!r}")
    step = max(1, round(frame_duration * frame.sample_rate))
    data = np.frombuffer(bytes(frame.data.cast("B")), dtype=np.int16).reshape(
        -1, frame.num_channels
    )
    out: list[rtc.AudioFrame] = []
    for i in range(0, data.shape[0], step):
        chunk = data[i : i + step]
        out.append(
            rtc.AudioFrame(
                data=chunk.tobytes(),
                sample_rate=frame.sample_rate,
                num_channels=frame.num_channels,
                samples_per_channel=chunk.shape[0],
            )
        )
    return out


def audio_pattern(
    segments: Sequence[tuple[float, bool]],
    *,
    frame_duration: float = 0.02,
    sample_rate: int = 16000,
    num_channels: int = 1,
    frequency: float = 220.0,
    amplitude: float = 0.3,
) -> list[rtc.AudioFrame]:
    """Frames of tone ("voiced", ``True``) and silence (``False``) in the given order.

    ``audio_pattern([(0.5, False), (1.0, True), (0.8, False)])`` is half a second of silence,
    one second of tone, then 0.8 s of silence, cut into ``frame_duration`` frames.
    """
    _check_format(sample_rate, num_channels)
    pieces: list[bytes] = []
    position = 0
    for i, seg in enumerate(segments):
        if not isinstance(seg, tuple) or len(seg) != 2:
            raise TypeError(f"segment {i} must be a (seconds, voiced) tuple, got {seg!r}")
        seconds, voiced = seg
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"segment {i}: seconds must be a finite number >= 0, got {seconds!r}")
        n = round(seconds * sample_rate)
        if voiced:
            pieces.append(
                tone_pcm(
                    n,
                    sample_rate=sample_rate,
                    num_channels=num_channels,
                    frequency=frequency,
                    amplitude=amplitude,
                    start_sample=position,
                )
            )
        else:
            pieces.append(b"\x00\x00" * n * num_channels)
        position += n
    whole = rtc.AudioFrame(
        data=b"".join(pieces),
        sample_rate=sample_rate,
        num_channels=num_channels,
        samples_per_channel=position,
    )
    if position == 0:
        return []
    return split_frame(whole, frame_duration)
