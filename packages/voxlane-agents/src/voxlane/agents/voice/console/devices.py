"""Microphone and speaker through sounddevice, with WebRTC echo cancellation (rtc.APM)."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Any

import numpy as np
from livekit import rtc

from ...utils.aio import Chan, ChanClosed
from ..io import AudioInput, AudioOutput

SAMPLE_RATE = 24000
APM_FRAME = SAMPLE_RATE // 100  # the APM works on 10 ms frames
BLOCK = APM_FRAME * 10  # 100 ms device blocks


def find_audio_devices() -> tuple[Any, Any] | str:
    """``(input_device, output_device)`` or the reason why audio mode is impossible here."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as e:
        return f"sounddevice is not usable ({e}); install it with the `console` extra"
    try:
        devices = sd.query_devices()
    except Exception as e:  # PortAudio errors
        return f"audio devices cannot be listed ({e})"
    if len(devices) == 0:
        return "no audio device found"
    in_dev, out_dev = sd.default.device
    has_in = in_dev is not None and in_dev >= 0
    has_out = out_dev is not None and out_dev >= 0
    if not has_in:
        return "no microphone found"
    if not has_out:
        return "no speaker found"
    return in_dev, out_dev


class MicrophoneInput(AudioInput):
    """Frames captured from the microphone, echo-cancelled against what the speaker plays."""

    def __init__(self, apm: rtc.AudioProcessingModule, device: Any) -> None:
        super().__init__(label="microphone")
        import sounddevice as sd

        self._apm = apm
        self._loop = asyncio.get_running_loop()
        self._ch: Chan[rtc.AudioFrame] = Chan()
        self.level_dbfs = -100.0
        self.output_delay = 0.0
        self._stream = sd.InputStream(
            samplerate=SAMPLE_RATE,
            channels=1,
            dtype="int16",
            blocksize=BLOCK,
            device=device,
            callback=self._callback,
        )
        self._stream.start()

    def _callback(self, indata: Any, frames: int, timeinfo: Any, status: Any) -> None:
        input_delay = max(0.0, timeinfo.currentTime - timeinfo.inputBufferAdcTime)
        self._apm.set_stream_delay_ms(int((input_delay + self.output_delay) * 1000))
        pcm = np.asarray(indata[:, 0], dtype=np.int16)
        for start in range(0, frames - APM_FRAME + 1, APM_FRAME):
            frame = rtc.AudioFrame(
                pcm[start : start + APM_FRAME].tobytes(), SAMPLE_RATE, 1, APM_FRAME
            )
            self._apm.process_stream(frame)
            samples = np.frombuffer(bytes(frame.data), dtype=np.int16).astype(np.float32)
            rms = math.sqrt(float(np.mean(samples**2))) if len(samples) else 0.0
            self.level_dbfs = 20 * math.log10(rms / 32767 + 1e-9)
            self._loop.call_soon_threadsafe(self._push, frame)

    def _push(self, frame: rtc.AudioFrame) -> None:
        try:
            self._ch.send_nowait(frame)
        except ChanClosed:
            pass

    async def __anext__(self) -> rtc.AudioFrame:
        try:
            return await self._ch.recv()
        except ChanClosed:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
        self._ch.close()


class SpeakerOutput(AudioOutput):
    """Plays the agent's speech; feeds what is played to the APM as the echo reference."""

    def __init__(self, apm: rtc.AudioProcessingModule, device: Any) -> None:
        super().__init__(label="speaker", sample_rate=SAMPLE_RATE)
        import sounddevice as sd

        self._apm = apm
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._buf = bytearray()
        self._pushed = 0
        self._played = 0
        self._segment_open = False
        self._flushed = False
        self._resampler: rtc.AudioResampler | None = None
        self.output_delay = 0.0
        self._stream = sd.OutputStream(
            samplerate=SAMPLE_RATE,
            channels=1,
            dtype="int16",
            blocksize=BLOCK,
            device=device,
            callback=self._callback,
        )
        self._stream.start()

    def _callback(self, outdata: Any, frames: int, timeinfo: Any, status: Any) -> None:
        self.output_delay = max(0.0, timeinfo.outputBufferDacTime - timeinfo.currentTime)
        with self._lock:
            n = min(len(self._buf), frames * 2)
            chunk = bytes(self._buf[:n])
            del self._buf[:n]
            self._played += n // 2
            finished = self._flushed and not self._buf and self._segment_open
        pcm = np.zeros(frames, dtype=np.int16)
        if n:
            pcm[: n // 2] = np.frombuffer(chunk, dtype=np.int16)
        outdata[:, 0] = pcm
        for start in range(0, frames - APM_FRAME + 1, APM_FRAME):
            ref = rtc.AudioFrame(
                pcm[start : start + APM_FRAME].tobytes(), SAMPLE_RATE, 1, APM_FRAME
            )
            self._apm.process_reverse_stream(ref)
        if finished:
            self._loop.call_soon_threadsafe(self._finish, False)

    def _finish(self, interrupted: bool) -> None:
        with self._lock:
            if not self._segment_open:
                return
            self._segment_open = False
            self._flushed = False
            played = self._played / SAMPLE_RATE
        self.on_playback_finished(playback_position=played, interrupted=interrupted)

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        with self._lock:
            if not self._segment_open:
                self._segment_open = True
                self._flushed = False
                self._played = 0
                self._pushed = 0
                started = True
            else:
                started = False
        if started:
            self.on_playback_started(created_at=time.time())
        frames = [frame]
        if frame.sample_rate != SAMPLE_RATE or frame.num_channels != 1:
            if self._resampler is None:
                self._resampler = rtc.AudioResampler(
                    frame.sample_rate, SAMPLE_RATE, num_channels=frame.num_channels
                )
            frames = self._resampler.push(frame)
        with self._lock:
            for f in frames:
                self._buf += bytes(f.data)
                self._pushed += f.samples_per_channel

    def flush(self) -> None:
        super().flush()
        self._resampler = None
        with self._lock:
            self._flushed = True
            empty = not self._buf
        if empty:
            self._finish(False)

    def clear_buffer(self) -> None:
        with self._lock:
            self._buf.clear()
        self._finish(True)

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()


__all__ = ["MicrophoneInput", "SpeakerOutput", "find_audio_devices"]
