"""WAV-file audio I/O: the user's speech from a file, the agent's speech into a file."""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path

from livekit import rtc

from ..io import AudioInput, AudioOutput

FRAME_MS = 20


def read_wav(path: str | Path) -> tuple[bytes, int, int]:
    """Read a 16-bit PCM WAV: ``(pcm, sample_rate, num_channels)``, with clear errors."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"input audio file not found: {p}")
    try:
        with wave.open(str(p), "rb") as w:
            if w.getsampwidth() != 2:
                raise ValueError(
                    f"{p} uses {8 * w.getsampwidth()}-bit samples; only 16-bit PCM WAV is "
                    "supported (convert it, e.g. `sox in.wav -b 16 out.wav`)"
                )
            return w.readframes(w.getnframes()), w.getframerate(), w.getnchannels()
    except wave.Error as e:
        raise ValueError(f"{p} is not a readable PCM WAV file: {e}") from e


def _to_mono(frame: rtc.AudioFrame) -> rtc.AudioFrame:
    if frame.num_channels == 1:
        return frame
    import numpy as np

    data = np.frombuffer(bytes(frame.data), dtype=np.int16).reshape(-1, frame.num_channels)
    mono = data.mean(axis=1).astype(np.int16)
    return rtc.AudioFrame(mono.tobytes(), frame.sample_rate, 1, len(mono))


class WavAudioInput(AudioInput):
    """Yields the WAV's audio in 20 ms frames, then ``tail_silence`` seconds of silence."""

    def __init__(
        self, path: str | Path, *, realtime: bool = True, tail_silence: float = 1.5
    ) -> None:
        super().__init__(label="wav-input")
        pcm, self._rate, self._channels = read_wav(path)
        silence = bytes(int(self._rate * tail_silence) * self._channels * 2)
        self._pcm = pcm + silence
        self._realtime = realtime
        self._pos = 0
        self._start: float | None = None
        self._frame_bytes = self._rate * FRAME_MS // 1000 * self._channels * 2
        self.finished = asyncio.Event()
        self.duration = len(pcm) / (self._rate * self._channels * 2)

    async def __anext__(self) -> rtc.AudioFrame:
        if self._pos >= len(self._pcm):
            self.finished.set()
            raise StopAsyncIteration
        if self._start is None:
            self._start = time.monotonic()
        chunk = self._pcm[self._pos : self._pos + self._frame_bytes]
        sent_seconds = self._pos / (self._rate * self._channels * 2)
        self._pos += len(chunk)
        if self._realtime:
            delay = self._start + sent_seconds - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)
        samples = len(chunk) // (2 * self._channels)
        frame = rtc.AudioFrame(chunk, self._rate, self._channels, samples)
        return _to_mono(frame)


class WavAudioOutput(AudioOutput):
    """Writes the agent's speech (all segments, in order) to a mono 16-bit WAV file.

    Playback is immediate: each segment counts as fully played when it is flushed.
    """

    def __init__(self, path: str | Path, *, sample_rate: int = 24000) -> None:
        super().__init__(label="wav-output", sample_rate=sample_rate)
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._rate = sample_rate
        self._wav = wave.open(str(self._path), "wb")  # noqa: SIM115 (closed in close())
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)
        self._resampler: rtc.AudioResampler | None = None
        self._resampler_rate = 0
        self._segment_samples = 0
        self._started_segment = False
        self.total_seconds = 0.0

    def _write(self, frame: rtc.AudioFrame) -> None:
        self._wav.writeframes(bytes(frame.data))
        self._segment_samples += frame.samples_per_channel

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self._started_segment:
            self._started_segment = True
            self._segment_samples = 0
            self.on_playback_started(created_at=time.time())
        frame = _to_mono(frame)
        if frame.sample_rate != self._rate:
            if self._resampler is None or self._resampler_rate != frame.sample_rate:
                self._resampler = rtc.AudioResampler(frame.sample_rate, self._rate, num_channels=1)
                self._resampler_rate = frame.sample_rate
            for out in self._resampler.push(frame):
                self._write(out)
        else:
            self._write(frame)

    def _finish_segment(self, interrupted: bool) -> None:
        if self._resampler is not None:
            for out in self._resampler.flush():
                self._write(out)
            self._resampler = None
        if not self._started_segment:
            return
        self._started_segment = False
        played = self._segment_samples / self._rate
        self.total_seconds += played
        self.on_playback_finished(playback_position=played, interrupted=interrupted)

    def flush(self) -> None:
        super().flush()
        self._finish_segment(interrupted=False)

    def clear_buffer(self) -> None:
        self._finish_segment(interrupted=True)

    def close(self) -> None:
        self._wav.close()


__all__ = ["WavAudioInput", "WavAudioOutput", "read_wav"]
