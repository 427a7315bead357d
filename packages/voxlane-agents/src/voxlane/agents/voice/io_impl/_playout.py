"""A paced audio output: plays captured segments in real time on the event loop's clock.

:class:`PacedAudioOutput` is the engine behind the in-memory and WAV-file outputs. It keeps a
queue of segments, "plays" each frame by waiting for the frame's duration on ``loop.time()`` (so
under the testing virtual clock playout is exact and instant), supports pause/resume and
``clear_buffer``, and reports ``playback_started``/``playback_finished`` with the exact number of
seconds played (a frame cut by an interruption counts for the part that was played).
Subclasses receive the played audio through :meth:`PacedAudioOutput._on_audio_played`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

from livekit import rtc

from ...utils import aio
from ..io import AudioOutput, AudioOutputCapabilities

logger = logging.getLogger("voxlane.agents.voice")


@dataclass
class _Segment:
    index: int
    frames: deque[rtc.AudioFrame | None] = field(default_factory=deque)
    """Frames waiting to be played; ``None`` marks the end of the segment."""
    cleared: bool = False
    ended: bool = False


def slice_frame(frame: rtc.AudioFrame, samples: int) -> rtc.AudioFrame:
    """The first ``samples`` samples (per channel) of ``frame``."""
    samples = max(0, min(samples, frame.samples_per_channel))
    width = 2 * frame.num_channels
    data = bytes(memoryview(frame.data).cast("B")[: samples * width])
    return rtc.AudioFrame(
        data=data,
        sample_rate=frame.sample_rate,
        num_channels=frame.num_channels,
        samples_per_channel=samples,
    )


class PacedAudioOutput(AudioOutput):
    """Plays segments in real time on the loop clock; see the module docstring.

    Args:
        label: a name for logs.
        sample_rate: resample every frame to this rate (None: play frames as they come).
        can_pause: whether ``pause()``/``resume()`` are offered (``capabilities.pause``).
        realtime: False plays every frame instantly (a segment finishes as soon as it is
            flushed), for offline processing where nothing waits for a listener.
    """

    def __init__(
        self,
        *,
        label: str = "",
        sample_rate: int | None = None,
        can_pause: bool = True,
        realtime: bool = True,
    ) -> None:
        super().__init__(
            label=label,
            capabilities=AudioOutputCapabilities(pause=can_pause),
            sample_rate=sample_rate,
        )
        self._realtime = realtime
        self._segments: deque[_Segment] = deque()
        self._capturing_seg: _Segment | None = None
        self._seg_index = 0
        self._resampler: rtc.AudioResampler | None = None
        self._resampler_key: tuple[int, int] | None = None
        self._paused = False
        self._wake: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # -- AudioOutput -------------------------------------------------------------------------

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        """Queue ``frame`` in the current segment (a new segment starts after a flush)."""
        if self._closed:
            raise RuntimeError(f"{self.label} is closed; create a new output")
        if not isinstance(frame, rtc.AudioFrame):
            raise TypeError(f"capture_frame() needs an rtc.AudioFrame, got {type(frame).__name__}")
        if frame.samples_per_channel == 0:
            return
        await super().capture_frame(frame)
        seg = self._capturing_seg
        if seg is None:
            seg = _Segment(index=self._seg_index)
            self._seg_index += 1
            self._capturing_seg = seg
            self._segments.append(seg)
            self._on_segment_created(seg.index)
            self._ensure_task()
        if seg.cleared:
            return
        for f in self._resample(frame):
            seg.frames.append(f)
            self._on_frame_queued(seg.index, f)
        self._notify()

    def flush(self) -> None:
        """End the current segment (what is queued still plays)."""
        super().flush()
        seg = self._capturing_seg
        if seg is None:
            return
        self._capturing_seg = None
        if self._resampler is not None:
            for f in self._resampler.flush():
                if f.samples_per_channel > 0 and not seg.cleared:
                    seg.frames.append(f)
                    self._on_frame_queued(seg.index, f)
            self._resampler = None
            self._resampler_key = None
        seg.ended = True
        seg.frames.append(None)
        self._notify()

    def clear_buffer(self) -> None:
        """Stop now: the playing segment and every queued one finish as interrupted."""
        for seg in self._segments:
            seg.cleared = True
        self._resampler = None
        self._resampler_key = None
        self._notify()

    def pause(self) -> None:
        if not self.capabilities.pause:
            raise NotImplementedError(f"{self.label} cannot pause (created with can_pause=False)")
        self._paused = True
        self._notify()

    def resume(self) -> None:
        if not self.capabilities.pause:
            raise NotImplementedError(f"{self.label} cannot resume (created with can_pause=False)")
        self._paused = False
        self._notify()

    @property
    def paused(self) -> bool:
        return self._paused

    async def aclose(self) -> None:
        """Stop playing; segments still queued finish as interrupted."""
        if self._closed:
            return
        self.clear_buffer()
        if self._task is not None and not self._task.done():
            # let the playout loop report the cleared segments before stopping it
            self._notify()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=1.0)
            except asyncio.TimeoutError:
                logger.warning("%s: playout did not stop in time; cancelled", self.label)
        self._closed = True
        await aio.cancel_and_wait(self._task)

    # -- hooks for subclasses ----------------------------------------------------------------

    def _on_segment_created(self, index: int) -> None:
        """A new segment received its first frame."""

    def _on_frame_queued(self, index: int, frame: rtc.AudioFrame) -> None:
        """``frame`` (resampled) was queued for playback in segment ``index``."""

    def _on_segment_started(self, index: int) -> None:
        """A segment's first frame started playing."""

    def _on_audio_played(self, index: int, frame: rtc.AudioFrame) -> None:
        """``frame`` (possibly the played part of a cut frame) was played in segment ``index``."""

    def _on_segment_finished(self, index: int, position: float, interrupted: bool) -> None:
        """A segment finished (``position`` seconds played)."""

    # -- internals ---------------------------------------------------------------------------

    def _resample(self, frame: rtc.AudioFrame) -> list[rtc.AudioFrame]:
        target = self.sample_rate
        if target is None or frame.sample_rate == target:
            return [frame]
        key = (frame.sample_rate, frame.num_channels)
        if self._resampler is None or self._resampler_key != key:
            self._resampler = rtc.AudioResampler(
                frame.sample_rate, target, num_channels=frame.num_channels
            )
            self._resampler_key = key
        return [f for f in self._resampler.push(frame) if f.samples_per_channel > 0]

    def _notify(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._playout_loop(), name=f"{self.label}_playout")

    async def _wait(self, timeout: float | None) -> None:
        """Sleep ``timeout`` seconds (None: forever), waking early on clear/pause/new frames."""
        loop = asyncio.get_running_loop()
        self._wake = loop.create_future()
        handle = None
        if timeout is not None:
            handle = loop.call_later(timeout, self._notify)
        try:
            await self._wake
        finally:
            if handle is not None:
                handle.cancel()
            self._wake = None

    async def _playout_loop(self) -> None:
        while self._segments:
            seg = self._segments[0]
            await self._play_segment(seg)
            self._segments.popleft()

    async def _play_segment(self, seg: _Segment) -> None:
        loop = asyncio.get_running_loop()
        position = 0.0
        started = False
        while not seg.cleared:
            if not seg.frames:
                await self._wait(None)
                continue
            frame = seg.frames.popleft()
            if frame is None:
                break
            if not started:
                started = True
                self.on_playback_started(created_at=loop.time())
                self._on_segment_started(seg.index)
            duration = frame.samples_per_channel / frame.sample_rate
            played = duration
            if self._realtime:
                played = 0.0
                while duration - played > 1e-9 and not seg.cleared:
                    if self._paused:
                        await self._wait(None)
                        continue
                    t0 = loop.time()
                    await self._wait(duration - played)
                    played += loop.time() - t0
                played = min(played, duration)
            if duration - played <= 1e-9:
                self._on_audio_played(seg.index, frame)
            elif played > 0:
                samples = int(played * frame.sample_rate)
                if samples > 0:
                    self._on_audio_played(seg.index, slice_frame(frame, samples))
            position += played
        interrupted = seg.cleared
        seg.frames.clear()
        if self._capturing_seg is seg:
            # interrupted before its flush: later frames of this segment are dropped
            seg.cleared = True
        self._on_segment_finished(seg.index, position, interrupted)
        self.on_playback_finished(playback_position=position, interrupted=interrupted)


__all__ = ["PacedAudioOutput", "slice_frame"]
