"""The agent's audio track and transcription streams published to the room."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from livekit import rtc

from ...utils.aio import Chan, ChanClosed, cancel_and_wait
from ...utils.misc import shortuuid
from ..io import AudioOutput, TextOutput
from .options import (
    ATTRIBUTE_SEGMENT_ID,
    ATTRIBUTE_TRANSCRIBED_TRACK_ID,
    ATTRIBUTE_TRANSCRIPTION_FINAL,
    TOPIC_TRANSCRIPTION,
)

logger = logging.getLogger("voxlane.agents.room_io")


class RoomAudioOutput(AudioOutput):
    """Plays the agent's speech into an ``rtc.AudioSource`` published as a track."""

    def __init__(self, room: Any, *, sample_rate: int, num_channels: int, track_name: str) -> None:
        super().__init__(label="room-audio", sample_rate=sample_rate)
        self._room = room
        self._rate = sample_rate
        self._channels = num_channels
        self._track_name = track_name
        self._source = rtc.AudioSource(sample_rate, num_channels, queue_size_ms=200)
        self._track: rtc.LocalAudioTrack | None = None
        self._publication: Any = None
        self._resampler: rtc.AudioResampler | None = None
        self._pushed = 0.0
        self._segment_open = False
        self._playout_task: asyncio.Task[None] | None = None
        self._interrupted = False

    @property
    def track_sid(self) -> str:
        sid = getattr(self._publication, "sid", None) or (self._track.sid if self._track else "")
        return str(sid or "")

    async def publish(self) -> None:
        self._track = rtc.LocalAudioTrack.create_audio_track(self._track_name, self._source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        self._publication = await self._room.local_participant.publish_track(self._track, options)

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self._segment_open:
            await cancel_and_wait(self._playout_task)
            self._segment_open = True
            self._interrupted = False
            self._pushed = 0.0
            self.on_playback_started(created_at=time.time())
        frames = [frame]
        if frame.sample_rate != self._rate or frame.num_channels != self._channels:
            if self._resampler is None:
                self._resampler = rtc.AudioResampler(
                    frame.sample_rate, self._rate, num_channels=self._channels
                )
            frames = self._resampler.push(frame)
        for f in frames:
            if self._interrupted:
                return
            self._pushed += f.samples_per_channel / f.sample_rate
            await self._source.capture_frame(f)

    def flush(self) -> None:
        super().flush()
        # the resampler's last few milliseconds are dropped: segments end on silence anyway
        self._resampler = None
        if self._segment_open and self._playout_task is None:
            self._playout_task = asyncio.create_task(self._wait_playout())

    async def _wait_playout(self) -> None:
        try:
            await self._source.wait_for_playout()
        finally:
            self._playout_task = None
        self._end_segment(interrupted=False)

    def _end_segment(self, *, interrupted: bool) -> None:
        if not self._segment_open:
            return
        self._segment_open = False
        played = max(0.0, self._pushed - (self._source.queued_duration if interrupted else 0.0))
        self.on_playback_finished(playback_position=played, interrupted=interrupted)

    def clear_buffer(self) -> None:
        if not self._segment_open:
            return
        self._interrupted = True
        played = max(0.0, self._pushed - self._source.queued_duration)
        self._source.clear_queue()
        if self._playout_task is not None:
            self._playout_task.cancel()
            self._playout_task = None
        self._segment_open = False
        self.on_playback_finished(playback_position=played, interrupted=True)

    async def aclose(self) -> None:
        await cancel_and_wait(self._playout_task)
        if self._publication is not None:
            with contextlib.suppress(Exception):
                await self._room.local_participant.unpublish_track(self._publication.sid)
        await self._source.aclose()


class RoomTranscriptionOutput(TextOutput):
    """Streams the agent's text on ``lk.transcription``, one text stream per segment."""

    def __init__(self, room: Any, *, track_sid: Any) -> None:
        super().__init__(label="room-transcription")
        self._room = room
        self._track_sid = track_sid
        self._ops: Chan[tuple[str, str]] = Chan()
        self._task = asyncio.create_task(self._run())

    async def capture_text(self, text: str) -> None:
        with contextlib.suppress(ChanClosed):
            self._ops.send_nowait(("text", text))

    def flush(self) -> None:
        with contextlib.suppress(ChanClosed):
            self._ops.send_nowait(("flush", ""))

    async def _run(self) -> None:
        writer: Any = None
        async for op, text in self._ops:
            try:
                if op == "text":
                    if writer is None:
                        writer = await self._room.local_participant.stream_text(
                            topic=TOPIC_TRANSCRIPTION,
                            attributes={
                                ATTRIBUTE_SEGMENT_ID: shortuuid("SG_"),
                                ATTRIBUTE_TRANSCRIBED_TRACK_ID: self._track_sid(),
                                ATTRIBUTE_TRANSCRIPTION_FINAL: "true",
                            },
                        )
                    await writer.write(text)
                elif writer is not None:
                    await writer.aclose()
                    writer = None
            except Exception:
                logger.exception("publishing the agent transcription failed")
                writer = None
        if writer is not None:
            with contextlib.suppress(Exception):
                await writer.aclose()

    async def aclose(self) -> None:
        self._ops.close()
        await asyncio.gather(self._task, return_exceptions=True)


__all__ = ["RoomAudioOutput", "RoomTranscriptionOutput"]
