"""The linked participant's microphone as an `AudioInput` (resampled to the wanted format)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from livekit import rtc

from ...utils.aio import Chan, ChanClosed, cancel_and_wait
from ..io import AudioInput

logger = logging.getLogger("voxlane.agents.room_io")

AudioStreamFactory = Callable[[Any, int, int], AsyncIterator[rtc.AudioFrame]]
"""``factory(track, sample_rate, num_channels)`` -> async iterator of frames of ``track``."""

FrameFilter = Callable[[rtc.AudioFrame], rtc.AudioFrame]
"""Applied to each (resampled) frame before the session hears it, e.g. noise cancellation."""


async def default_audio_stream(
    track: Any, sample_rate: int, num_channels: int
) -> AsyncIterator[rtc.AudioFrame]:
    """Frames of a real ``rtc.RemoteAudioTrack`` through ``rtc.AudioStream``."""
    stream = rtc.AudioStream.from_track(
        track=track, sample_rate=sample_rate, num_channels=num_channels
    )
    try:
        async for ev in stream:
            yield ev.frame
    finally:
        await stream.aclose()


class ParticipantAudioInput(AudioInput):
    """Audio of one remote track at a time; switching tracks keeps the session's input."""

    def __init__(
        self,
        *,
        sample_rate: int,
        num_channels: int,
        stream_factory: AudioStreamFactory,
        frame_filter: FrameFilter | None = None,
    ) -> None:
        super().__init__(label="room-audio")
        self._rate = sample_rate
        self._channels = num_channels
        self._factory = stream_factory
        self._filter = frame_filter
        self._filter_failed = False
        self._ch: Chan[rtc.AudioFrame] = Chan(maxsize=200)
        self._task: asyncio.Task[None] | None = None
        self._track_sid: str | None = None

    @property
    def track_sid(self) -> str | None:
        return self._track_sid

    def attach(self, track: Any) -> None:
        """Start reading ``track`` (replacing the previous one)."""
        if self._task is not None:
            self._task.cancel()
        self._track_sid = getattr(track, "sid", None)
        self._task = asyncio.create_task(self._read(track))

    def stop_reading(self) -> None:
        """Stop reading the current track at once (before another one may be attached)."""
        if self._task is not None:
            self._task.cancel()
        self._task = None
        self._track_sid = None

    async def detach(self) -> None:
        task, self._task = self._task, None
        self._track_sid = None
        await cancel_and_wait(task)

    async def _read(self, track: Any) -> None:
        resampler: rtc.AudioResampler | None = None
        try:
            async for frame in self._factory(track, self._rate, self._channels):
                frames = [frame]
                if frame.sample_rate != self._rate:
                    if resampler is None:
                        resampler = rtc.AudioResampler(
                            frame.sample_rate, self._rate, num_channels=frame.num_channels
                        )
                    frames = resampler.push(frame)
                for f in frames:
                    f = self._apply_filter(f)
                    with contextlib.suppress(asyncio.QueueFull):
                        self._ch.send_nowait(f)  # drop audio rather than lag behind
        except ChanClosed:
            return
        except Exception:
            logger.exception("reading the participant's audio failed")

    def _apply_filter(self, frame: rtc.AudioFrame) -> rtc.AudioFrame:
        if self._filter is None or self._filter_failed:
            return frame
        try:
            out = self._filter(frame)
        except Exception:
            # a broken filter must not silence the user: log once, then pass audio through
            self._filter_failed = True
            logger.exception(
                "the audio filter (noise_cancellation) failed; audio passes unfiltered"
            )
            return frame
        if not isinstance(out, rtc.AudioFrame):
            self._filter_failed = True
            logger.error(
                "the audio filter (noise_cancellation) returned %s instead of an rtc.AudioFrame; "
                "audio passes unfiltered",
                type(out).__name__,
            )
            return frame
        return out

    async def __anext__(self) -> rtc.AudioFrame:
        try:
            return await self._ch.recv()
        except ChanClosed:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self.detach()
        self._ch.close()


__all__ = ["AudioStreamFactory", "FrameFilter", "ParticipantAudioInput", "default_audio_stream"]
