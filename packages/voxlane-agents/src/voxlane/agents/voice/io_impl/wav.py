"""WAV-file I/O: feed a session from a recording, record what the agent said.

Files are read and written with the standard library's ``wave`` module, in a worker thread so
the event loop never blocks on the disk. Audio is resampled with ``rtc.AudioResampler`` when the
file's rate differs from the requested one.
"""

from __future__ import annotations

import asyncio
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from livekit import rtc

from ..io import AudioInput
from ._playout import PacedAudioOutput


@dataclass(frozen=True)
class WavData:
    """Decoded 16-bit PCM of a WAV file."""

    pcm: bytes
    sample_rate: int
    num_channels: int

    @property
    def duration(self) -> float:
        return len(self.pcm) / (2 * self.num_channels * self.sample_rate)


def _to_int16(raw: bytes, sample_width: int, path: str) -> bytes:
    if sample_width == 2:
        return raw
    if sample_width == 1:  # unsigned 8-bit
        a = (np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8
        return a.astype("<i2").tobytes()
    if sample_width == 3:  # signed 24-bit little endian: keep the top 16 bits
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        out: bytes = b[:, 1:].copy().tobytes()
        return out
    if sample_width == 4:
        a32 = np.frombuffer(raw, dtype="<i4")
        return (a32 >> 16).astype("<i2").tobytes()
    raise ValueError(
        f"{path}: unsupported sample width of {sample_width} bytes; use 8, 16, 24 or 32-bit PCM"
    )


def read_wav(path: str | Path) -> WavData:
    """Read a PCM WAV file into 16-bit PCM (blocking: call it in a thread from async code)."""
    p = str(path)
    try:
        with wave.open(p, "rb") as w:
            sample_width = w.getsampwidth()
            rate = w.getframerate()
            channels = w.getnchannels()
            raw = w.readframes(w.getnframes())
    except FileNotFoundError:
        raise FileNotFoundError(f"WAV file not found: {p}") from None
    except (wave.Error, EOFError) as e:
        raise ValueError(
            f"{p} is not a PCM WAV file that the wave module can read ({e}); convert it to "
            "16-bit PCM WAV first (e.g. `sox in.ext -b 16 out.wav`)"
        ) from e
    if rate <= 0 or channels <= 0:
        raise ValueError(f"{p}: invalid WAV header (rate={rate}, channels={channels})")
    return WavData(pcm=_to_int16(raw, sample_width, p), sample_rate=rate, num_channels=channels)


def write_wav(path: str | Path, frames: list[rtc.AudioFrame]) -> None:
    """Write frames (all with the same format) to a 16-bit PCM WAV file (blocking)."""
    if not frames:
        raise ValueError("write_wav() needs at least one frame")
    rate, channels = frames[0].sample_rate, frames[0].num_channels
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        for f in frames:
            if f.sample_rate != rate or f.num_channels != channels:
                raise ValueError("write_wav(): every frame must have the same rate and channels")
            w.writeframes(bytes(memoryview(f.data).cast("B")))


def convert_channels(pcm: bytes, from_channels: int, to_channels: int) -> bytes:
    """Mix interleaved 16-bit ``pcm`` down to mono, or copy a mono signal to more channels."""
    if from_channels == to_channels:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, from_channels)
    if to_channels == 1:
        mono: bytes = samples.astype(np.int32).mean(axis=1).astype("<i2").tobytes()
        return mono
    if from_channels == 1:
        copied: bytes = np.repeat(samples, to_channels, axis=1).astype("<i2").tobytes()
        return copied
    raise ValueError(
        f"cannot convert {from_channels}-channel audio to {to_channels} channels; only mixing "
        "down to mono or copying mono is supported"
    )


class WavAudioInput(AudioInput):
    """Plays a WAV file into the session as if it were the user's microphone.

    Args:
        path: the WAV file (8/16/24/32-bit PCM, any rate, any channel count).
        sample_rate: resample to this rate (None: keep the file's rate).
        frame_duration: seconds of audio per frame (default 20 ms).
        realtime: deliver frames at the speed of speech on the loop clock (default). False
            delivers them as fast as they are read.
        trailing_silence: seconds of silence appended after the file, so that a turn detector
            sees the user stop talking before the input ends.
        num_channels: mix down to mono (1) or copy to stereo (2); None keeps the file's.

    ``finished`` is set once every frame was delivered.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sample_rate: int | None = None,
        frame_duration: float = 0.02,
        realtime: bool = True,
        trailing_silence: float = 0.0,
        num_channels: int | None = None,
        label: str = "",
    ) -> None:
        super().__init__(label=label or f"wav:{Path(path).name}")
        if sample_rate is not None and sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
        if num_channels is not None and num_channels not in (1, 2):
            raise ValueError(f"num_channels must be 1, 2 or None, got {num_channels}")
        if not 0.001 <= frame_duration <= 1.0:
            raise ValueError(f"frame_duration must be between 0.001 and 1 s, got {frame_duration}")
        if trailing_silence < 0:
            raise ValueError(f"trailing_silence must be >= 0 seconds, got {trailing_silence}")
        self._path = Path(path)
        self._sample_rate = sample_rate
        self._frame_duration = frame_duration
        self._realtime = realtime
        self._trailing_silence = trailing_silence
        self._num_channels = num_channels
        self._frames: list[rtc.AudioFrame] | None = None
        self._pos = 0
        self.finished = asyncio.Event()

    @property
    def path(self) -> Path:
        return self._path

    async def _load(self) -> list[rtc.AudioFrame]:
        data = await asyncio.to_thread(read_wav, self._path)
        if self._num_channels is not None and self._num_channels != data.num_channels:
            pcm = convert_channels(data.pcm, data.num_channels, self._num_channels)
            data = WavData(pcm=pcm, sample_rate=data.sample_rate, num_channels=self._num_channels)
        rate = self._sample_rate or data.sample_rate
        pcm = data.pcm
        if rate != data.sample_rate and pcm:
            resampler = rtc.AudioResampler(data.sample_rate, rate, num_channels=data.num_channels)
            src = rtc.AudioFrame(
                data=pcm,
                sample_rate=data.sample_rate,
                num_channels=data.num_channels,
                samples_per_channel=len(pcm) // (2 * data.num_channels),
            )
            out = resampler.push(src) + resampler.flush()
            pcm = b"".join(bytes(memoryview(f.data).cast("B")) for f in out)
        width = 2 * data.num_channels
        pcm += b"\x00" * (round(self._trailing_silence * rate) * width)
        step = max(1, round(self._frame_duration * rate)) * width
        frames = []
        for i in range(0, len(pcm), step):
            chunk = pcm[i : i + step]
            frames.append(
                rtc.AudioFrame(
                    data=chunk,
                    sample_rate=rate,
                    num_channels=data.num_channels,
                    samples_per_channel=len(chunk) // width,
                )
            )
        return frames

    async def __anext__(self) -> rtc.AudioFrame:
        if self._frames is None:
            self._frames = await self._load()
        if self._pos >= len(self._frames):
            self.finished.set()
            raise StopAsyncIteration
        frame = self._frames[self._pos]
        self._pos += 1
        if self._realtime:
            await asyncio.sleep(frame.samples_per_channel / frame.sample_rate)
        return frame


class WavAudioOutput(PacedAudioOutput):
    """Records the agent's speech into a WAV file, playing it in real time on the loop clock.

    Only the audio actually played is written: an interrupted segment stops where it was cut.
    The file is 16-bit PCM at ``sample_rate`` (default: the first frame's rate) with
    ``num_channels`` (default: the first frame's). Call :meth:`aclose` to finish the file.

    Args:
        path: where to write.
        sample_rate: resample to this rate (None: the first frame's rate).
        realtime: see :class:`PacedAudioOutput` (False writes as fast as audio arrives).
        can_pause: offer pause/resume (default True).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sample_rate: int | None = None,
        num_channels: int | None = None,
        realtime: bool = True,
        can_pause: bool = True,
        label: str = "",
    ) -> None:
        if num_channels is not None and num_channels not in (1, 2):
            raise ValueError(f"num_channels must be 1 or 2, got {num_channels}")
        super().__init__(
            label=label or f"wav:{Path(path).name}",
            sample_rate=sample_rate,
            can_pause=can_pause,
            realtime=realtime,
        )
        self._path = Path(path)
        self._num_channels = num_channels
        self._file: wave.Wave_write | None = None
        self._pending: list[bytes] = []
        self._writer: asyncio.Task[None] | None = None
        self._written_samples = 0
        self._file_rate: int | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def written_duration(self) -> float:
        """Seconds of audio written (or queued for writing) so far."""
        if not self._file_rate:
            return 0.0
        return self._written_samples / self._file_rate

    def _convert(self, frame: rtc.AudioFrame) -> bytes:
        if self._file_rate is None:
            self._file_rate = frame.sample_rate
            if self._num_channels is None:
                self._num_channels = frame.num_channels
        if frame.sample_rate != self._file_rate:
            raise ValueError(
                f"{self.label}: got a {frame.sample_rate} Hz frame for a {self._file_rate} Hz "
                "file; pass sample_rate= to resample"
            )
        assert self._num_channels is not None
        raw = bytes(memoryview(frame.data).cast("B"))
        return convert_channels(raw, frame.num_channels, self._num_channels)

    def _on_audio_played(self, index: int, frame: rtc.AudioFrame) -> None:
        self._pending.append(self._convert(frame))
        self._written_samples += frame.samples_per_channel
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending(), name=f"{self.label}_write")

    def _open(self) -> None:
        assert self._file_rate is not None and self._num_channels is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        w = wave.open(str(self._path), "wb")  # noqa: SIM115 (kept open until aclose)
        w.setnchannels(self._num_channels)
        w.setsampwidth(2)
        w.setframerate(self._file_rate)
        self._file = w

    def _write_blocking(self, chunks: list[bytes]) -> None:
        if self._file is None:
            self._open()
        assert self._file is not None
        self._file.writeframes(b"".join(chunks))

    async def _write_pending(self) -> None:
        while self._pending:
            chunks, self._pending = self._pending, []
            await asyncio.to_thread(self._write_blocking, chunks)

    async def aclose(self) -> None:
        """Stop playing, write what was played and close the file."""
        await super().aclose()
        if self._writer is not None:
            await self._writer
        if self._pending:
            await self._write_pending()
        if self._file is None and self._file_rate is None:
            # nothing was ever played: still leave a valid (empty) file behind
            self._file_rate = self.sample_rate or 24000
            self._num_channels = self._num_channels or 1
            await asyncio.to_thread(self._write_blocking, [])
        if self._file is not None:
            f, self._file = self._file, None
            await asyncio.to_thread(f.close)


__all__ = [
    "WavAudioInput",
    "WavAudioOutput",
    "WavData",
    "convert_channels",
    "read_wav",
    "write_wav",
]
