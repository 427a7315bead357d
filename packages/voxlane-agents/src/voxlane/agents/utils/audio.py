"""Audio helpers on ``livekit.rtc.AudioFrame`` (16-bit signed PCM, interleaved)."""

from __future__ import annotations

from livekit import rtc

AudioBuffer = list[rtc.AudioFrame] | rtc.AudioFrame


def frame_duration(frame: rtc.AudioFrame) -> float:
    """Duration of one frame in seconds."""
    return frame.samples_per_channel / frame.sample_rate


def calculate_audio_duration(frames: AudioBuffer) -> float:
    """Total duration of a frame or a list of frames, in seconds."""
    if isinstance(frames, rtc.AudioFrame):
        return frame_duration(frames)
    return sum(frame_duration(f) for f in frames)


def merge_frames(buffer: AudioBuffer) -> rtc.AudioFrame:
    """Concatenate frames of one sample rate and channel count into a single frame."""
    if isinstance(buffer, rtc.AudioFrame):
        return buffer
    if not buffer:
        raise ValueError("cannot merge an empty list of audio frames")
    sample_rate = buffer[0].sample_rate
    num_channels = buffer[0].num_channels
    data = bytearray()
    samples = 0
    for f in buffer:
        if f.sample_rate != sample_rate or f.num_channels != num_channels:
            raise ValueError(
                "cannot merge frames with different formats: "
                f"{sample_rate} Hz/{num_channels} ch vs {f.sample_rate} Hz/{f.num_channels} ch; "
                "resample them first (livekit.rtc.AudioResampler)"
            )
        data += bytes(f.data.cast("B"))
        samples += f.samples_per_channel
    return rtc.AudioFrame(
        data=bytes(data),
        sample_rate=sample_rate,
        num_channels=num_channels,
        samples_per_channel=samples,
    )


combine_frames = merge_frames
"""Alias of :func:`merge_frames` (LiveKit's other name for it)."""


class AudioByteStream:
    """Cut a stream of raw PCM bytes into frames of a fixed number of samples.

    ``push`` returns the complete frames available so far; ``flush`` returns the remainder
    (a shorter final frame), if any.
    """

    def __init__(
        self, sample_rate: int, num_channels: int, samples_per_channel: int | None = None
    ) -> None:
        if sample_rate <= 0 or num_channels <= 0:
            raise ValueError(
                f"invalid audio format: sample_rate={sample_rate}, num_channels={num_channels}"
            )
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._samples_per_channel = samples_per_channel or sample_rate // 10
        self._bytes_per_frame = self._samples_per_channel * num_channels * 2
        self._buf = bytearray()

    def push(self, data: bytes | bytearray | memoryview) -> list[rtc.AudioFrame]:
        self._buf += data
        frames: list[rtc.AudioFrame] = []
        while len(self._buf) >= self._bytes_per_frame:
            chunk = bytes(self._buf[: self._bytes_per_frame])
            del self._buf[: self._bytes_per_frame]
            frames.append(self._make(chunk))
        return frames

    write = push

    def flush(self) -> list[rtc.AudioFrame]:
        frame_bytes = 2 * self._num_channels
        usable = len(self._buf) - len(self._buf) % frame_bytes
        if usable == 0:
            self._buf.clear()
            return []
        chunk = bytes(self._buf[:usable])
        self._buf.clear()
        return [self._make(chunk)]

    def _make(self, chunk: bytes) -> rtc.AudioFrame:
        return rtc.AudioFrame(
            data=chunk,
            sample_rate=self._sample_rate,
            num_channels=self._num_channels,
            samples_per_channel=len(chunk) // (2 * self._num_channels),
        )


def silence(duration: float, sample_rate: int = 16000, num_channels: int = 1) -> rtc.AudioFrame:
    """A frame of digital silence."""
    n = round(duration * sample_rate)
    return rtc.AudioFrame(
        data=bytes(n * num_channels * 2),
        sample_rate=sample_rate,
        num_channels=num_channels,
        samples_per_channel=n,
    )


__all__ = [
    "AudioBuffer",
    "AudioByteStream",
    "calculate_audio_duration",
    "combine_frames",
    "frame_duration",
    "merge_frames",
    "silence",
]
