"""Turn the bytes a TTS provider sends into 16-bit PCM at a requested rate and channel count.

- raw PCM (``audio/pcm``, ``audio/l16``...) passes bytes through unchanged;
- WAV is parsed incrementally (header first, then the data chunk), without any dependency;
- every other format (mp3, opus/ogg, aac, flac, webm...) is decoded with PyAV (``av``) in a
  worker thread, so the event loop never blocks on decoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import struct
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
from livekit import rtc

_PCM_MIME_TYPES = frozenset(
    {"audio/pcm", "audio/raw", "audio/l16", "audio/x-raw", "audio/s16le", "audio/x-pcm"}
)
_WAV_MIME_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"})

# container/demuxer names PyAV understands, keyed by mime type
_AV_FORMATS: dict[str, str] = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/ogg; codecs=opus": "ogg",
    "audio/webm": "webm",
    "audio/aac": "aac",
    "audio/x-aac": "aac",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/mp4": "mp4",
}


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _decoder_executor() -> ThreadPoolExecutor:
    """Threads for decoders, separate from the loop's default executor.

    A decoder holds its thread while it waits for more bytes from the provider, so sharing the
    default executor could starve other ``to_thread`` users (e.g. local model inference).
    """
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="voxlane-tts-decode")
        return _executor


def normalize_mime_type(mime_type: str) -> str:
    """Lower-case a mime type and drop parameters other than an opus codec hint."""
    value = mime_type.strip().lower()
    if value.startswith("audio/ogg") and "opus" in value:
        return "audio/ogg; codecs=opus"
    return value.split(";", 1)[0].strip()


def is_pcm(mime_type: str) -> bool:
    return normalize_mime_type(mime_type) in _PCM_MIME_TYPES


def is_wav(mime_type: str) -> bool:
    return normalize_mime_type(mime_type) in _WAV_MIME_TYPES


def require_av(mime_type: str) -> Any:
    """Import PyAV or raise an error that says which package to install."""
    try:
        import av
    except ImportError as e:
        raise ImportError(
            f"decoding {mime_type!r} audio needs the PyAV package, which is not installed: "
            "install it with `pip install av` (or have the TTS send raw PCM / WAV instead)"
        ) from e
    return av


class SyncDecoder(Protocol):
    """A decoder that converts each chunk immediately (no thread needed)."""

    def convert(self, data: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class PcmDecoder:
    """Pass-through for raw interleaved 16-bit little-endian PCM."""

    def convert(self, data: bytes) -> bytes:
        return bytes(data)

    def finish(self) -> bytes:
        return b""


class WavDecoder:
    """Incremental RIFF/WAVE parser for 16-bit PCM, resampling if the rate differs.

    The data chunk size is ignored on purpose: streaming encoders often write a placeholder.
    Raises ``ValueError`` for anything that is not 16-bit PCM in the expected channel count.
    """

    def __init__(self, *, sample_rate: int, num_channels: int) -> None:
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._header = bytearray()
        self._in_data = False
        self._pending = bytearray()  # data bytes that do not make a whole sample frame yet
        self._resampler: rtc.AudioResampler | None = None
        self._src_rate = sample_rate

    def convert(self, data: bytes) -> bytes:
        if not data:
            return b""
        if self._in_data:
            return self._on_data(bytes(data))
        self._header += data
        rest = self._parse_header()
        if rest is None:
            return b""
        self._in_data = True
        self._header.clear()
        return self._on_data(rest)

    def finish(self) -> bytes:
        if not self._in_data:
            if self._header:
                raise ValueError("the WAV stream ended before its header was complete")
            return b""
        if self._resampler is None:
            return b""
        return b"".join(bytes(f.data.cast("B")) for f in self._resampler.flush())

    def _parse_header(self) -> bytes | None:
        """Return the data bytes after the header once it is complete, else None."""
        buf = bytes(self._header)
        if len(buf) < 12:
            return None
        if buf[0:4] != b"RIFF" or buf[8:12] != b"WAVE":
            raise ValueError(
                "the audio pushed as audio/wav does not start with a RIFF/WAVE header; "
                "initialize the AudioEmitter with the mime type the provider really sends"
            )
        pos = 12
        fmt_seen = False
        while pos + 8 <= len(buf):
            chunk_id = buf[pos : pos + 4]
            (size,) = struct.unpack("<I", buf[pos + 4 : pos + 8])
            body = pos + 8
            if chunk_id == b"data":
                if not fmt_seen:
                    raise ValueError("the WAV stream has a data chunk before its fmt chunk")
                return buf[body:]
            if body + size > len(buf):
                return None
            if chunk_id == b"fmt ":
                self._read_fmt(buf[body : body + size])
                fmt_seen = True
            pos = body + size + (size & 1)
        return None

    def _read_fmt(self, fmt: bytes) -> None:
        if len(fmt) < 16:
            raise ValueError("the WAV fmt chunk is truncated")
        audio_format, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
        if audio_format not in (1, 0xFFFE) or bits != 16:
            raise ValueError(
                f"only 16-bit integer PCM WAV is supported (got format tag {audio_format}, "
                f"{bits} bits); ask the provider for 16-bit PCM or use an encoded mime type"
            )
        if channels != self._num_channels:
            raise ValueError(
                f"the WAV audio has {channels} channel(s) but the AudioEmitter was initialized "
                f"with num_channels={self._num_channels}; pass the provider's channel count"
            )
        if rate <= 0:
            raise ValueError(f"the WAV header has an invalid sample rate: {rate}")
        self._src_rate = rate
        if rate != self._sample_rate:
            self._resampler = rtc.AudioResampler(
                input_rate=rate, output_rate=self._sample_rate, num_channels=channels
            )

    def _on_data(self, data: bytes) -> bytes:
        if self._resampler is None:
            return data
        self._pending += data
        frame_bytes = 2 * self._num_channels
        usable = len(self._pending) - len(self._pending) % frame_bytes
        if usable == 0:
            return b""
        chunk = bytes(self._pending[:usable])
        del self._pending[:usable]
        frame = rtc.AudioFrame(
            data=chunk,
            sample_rate=self._src_rate,
            num_channels=self._num_channels,
            samples_per_channel=usable // frame_bytes,
        )
        return b"".join(bytes(f.data.cast("B")) for f in self._resampler.push(frame))


class _BlockingReader(io.RawIOBase):
    """A read-only file object fed from the event loop and read by the decoding thread."""

    def __init__(self) -> None:
        super().__init__()
        self._buf = bytearray()
        self._eof = False
        self._cond = threading.Condition()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def feed(self, data: bytes) -> None:
        with self._cond:
            self._buf += data
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        with self._cond:
            while not self._buf and not self._eof:
                self._cond.wait()
            n = min(len(view), len(self._buf))
            view[:n] = self._buf[:n]
            del self._buf[:n]
            return n


class AVDecoder:
    """Decode any container/codec PyAV knows, in a worker thread, to s16 PCM."""

    def __init__(self, *, mime_type: str, sample_rate: int, num_channels: int) -> None:
        self._av = require_av(mime_type)
        self._format = _AV_FORMATS.get(normalize_mime_type(mime_type))
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._reader = _BlockingReader()
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        self._closed = False
        self._ended = False
        self._thread_fut = self._loop.run_in_executor(_decoder_executor(), self._decode_blocking)

    def push(self, data: bytes) -> None:
        if self._ended:
            raise RuntimeError("cannot push audio after end_input()")
        if data:
            self._reader.feed(bytes(data))

    def end_input(self) -> None:
        self._ended = True
        self._reader.finish()

    async def output(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    async def aclose(self) -> None:
        self._closed = True
        self._ended = True
        self._reader.finish()
        with contextlib.suppress(Exception):
            await asyncio.shield(self._thread_fut)

    def _send(self, item: bytes | BaseException | None) -> None:
        if self._closed:
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _decode_blocking(self) -> None:
        av = self._av
        container = None
        try:
            try:
                container = av.open(self._reader, mode="r", format=self._format)
            except Exception as e:
                if self._closed:
                    return
                raise ValueError(
                    f"could not open the encoded audio stream (format hint {self._format!r}): {e}"
                ) from e
            if not container.streams.audio:
                raise ValueError("the encoded stream contains no audio track")
            layout = "mono" if self._num_channels == 1 else "stereo"
            if self._num_channels not in (1, 2):
                raise ValueError(
                    f"decoding encoded audio supports 1 or 2 channels, got {self._num_channels}"
                )
            resampler = av.AudioResampler(format="s16", layout=layout, rate=self._sample_rate)
            for frame in container.decode(container.streams.audio[0]):
                if self._closed:
                    return
                for out in resampler.resample(frame):
                    self._send(_s16_bytes(out))
            for out in resampler.resample(None):
                self._send(_s16_bytes(out))
        except Exception as e:
            self._send(e)
        finally:
            if container is not None:
                with contextlib.suppress(Exception):
                    container.close()
            self._send(None)


def _s16_bytes(frame: Any) -> bytes:
    arr = frame.to_ndarray()  # packed s16: shape (1, samples * channels)
    return bytes(np.ascontiguousarray(arr, dtype=np.int16).tobytes())


def create_sync_decoder(
    *, mime_type: str, sample_rate: int, num_channels: int
) -> SyncDecoder | None:
    """The in-loop decoder for PCM or WAV, or None when the format needs PyAV."""
    if is_pcm(mime_type):
        return PcmDecoder()
    if is_wav(mime_type):
        return WavDecoder(sample_rate=sample_rate, num_channels=num_channels)
    return None
