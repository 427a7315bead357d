"""16-bit PCM byte helpers for provider plugins: resampling, down-mixing, WAV files, rates.

Hosted speech APIs take and return raw 16-bit PCM at a few fixed rates. These helpers cover the
conversions a plugin needs between those bytes and ``rtc.AudioFrame``:

- :class:`PcmResampler` resamples a byte stream whose chunks may split a sample;
- :func:`mono_pcm` down-mixes a frame to mono bytes (what streaming STT sockets take);
- :func:`wav_bytes` wraps a frame in a WAV file (what REST transcription endpoints take);
- :func:`pick_sample_rate` chooses which offered provider rate to ask for.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence

import numpy as np
from livekit import rtc

__all__ = ["PcmResampler", "mono_pcm", "pick_sample_rate", "wav_bytes"]

_SAMPLE_WIDTH = 2  # bytes per 16-bit sample


class PcmResampler:
    """Resample 16-bit PCM bytes from ``input_rate`` to ``output_rate`` (a no-op when equal).

    :meth:`push` accepts chunks of any length (a sample split across two chunks is carried
    over); call :meth:`flush` once at the end of the stream for the resampler's tail.
    """

    def __init__(self, input_rate: int, output_rate: int, num_channels: int = 1) -> None:
        if input_rate <= 0 or output_rate <= 0:
            raise ValueError(
                f"sample rates must be positive numbers of Hz, got {input_rate} -> {output_rate}"
            )
        if num_channels <= 0:
            raise ValueError(f"num_channels must be at least 1, got {num_channels}")
        self._input_rate = input_rate
        self._channels = num_channels
        self._pending = b""
        self._resampler: rtc.AudioResampler | None = None
        if input_rate != output_rate:
            self._resampler = rtc.AudioResampler(
                input_rate=input_rate,
                output_rate=output_rate,
                num_channels=num_channels,
                quality=rtc.AudioResamplerQuality.HIGH,
            )

    def push(self, data: bytes) -> bytes:
        """The resampled audio available after ``data`` (may be empty)."""
        if self._resampler is None:
            return data
        data = self._pending + data
        frame_bytes = _SAMPLE_WIDTH * self._channels
        whole = len(data) - len(data) % frame_bytes
        self._pending = data[whole:]
        if whole == 0:
            return b""
        frame = rtc.AudioFrame(
            data=data[:whole],
            sample_rate=self._input_rate,
            num_channels=self._channels,
            samples_per_channel=whole // frame_bytes,
        )
        return _joined(self._resampler.push(frame))

    def flush(self) -> bytes:
        """The audio the resampler still holds; call once when the input ended."""
        if self._resampler is None:
            return b""
        return _joined(self._resampler.flush())


def _joined(frames: Sequence[rtc.AudioFrame]) -> bytes:
    return b"".join(bytes(f.data.cast("B")) for f in frames)


def mono_pcm(frame: rtc.AudioFrame) -> bytes:
    """The frame's samples as mono 16-bit bytes (channels averaged when there are several)."""
    if frame.num_channels == 1:
        return bytes(frame.data.cast("B"))
    samples = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, frame.num_channels)
    mixed: bytes = samples.mean(axis=1).astype(np.int16).tobytes()
    return mixed


def wav_bytes(frame: rtc.AudioFrame) -> bytes:
    """A complete 16-bit PCM WAV file holding ``frame`` (its rate and channels)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(frame.num_channels)
        w.setsampwidth(_SAMPLE_WIDTH)
        w.setframerate(frame.sample_rate)
        w.writeframes(bytes(frame.data.cast("B")))
    return out.getvalue()


def pick_sample_rate(sample_rate: int, offered: Sequence[int]) -> int:
    """The rate to ask a provider for: ``sample_rate`` if offered, else the next offered rate
    above it (resampling down keeps quality), else the highest one.

    ``offered`` must be sorted in increasing order.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    if not offered:
        raise ValueError("offered must list at least one sample rate")
    for rate in offered:
        if rate >= sample_rate:
            return rate
    return offered[-1]
