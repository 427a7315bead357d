"""In-memory I/O for tests and embedding: a queue audio input, a recording audio output and a
recording text output.

``MemoryAudioOutput`` plays in real time on the loop clock (instant under the testing virtual
clock) and keeps what was actually played per segment, so a test can check that an interrupted
reply kept exactly the played part.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from livekit import rtc

from ...utils.audio import merge_frames
from ..io import AudioInput, TextOutput
from ._playout import PacedAudioOutput


class QueueAudioInput(AudioInput):
    """User audio pushed by the caller, delivered frame by frame.

    Args:
        label: a name for logs.
        realtime: deliver each frame only after its duration elapsed on the loop clock (like a
            live microphone). False delivers frames as fast as they are read.
    """

    def __init__(self, *, label: str = "queue", realtime: bool = True) -> None:
        super().__init__(label=label)
        self._queue: asyncio.Queue[rtc.AudioFrame | None] = asyncio.Queue()
        self._realtime = realtime
        self._ended = False
        self._pushed = 0.0

    @property
    def pushed_duration(self) -> float:
        """Seconds of audio pushed so far."""
        return self._pushed

    def push(self, frames: rtc.AudioFrame | Iterable[rtc.AudioFrame]) -> None:
        """Queue one frame or several."""
        if self._ended:
            raise RuntimeError(f"{self.label}: end_input() was called; no more frames accepted")
        items = [frames] if isinstance(frames, rtc.AudioFrame) else list(frames)
        for f in items:
            if not isinstance(f, rtc.AudioFrame):
                raise TypeError(f"push() needs rtc.AudioFrame objects, got {type(f).__name__}")
            self._pushed += f.samples_per_channel / f.sample_rate
            self._queue.put_nowait(f)

    def end_input(self) -> None:
        """No more frames: iteration stops once the queued ones are delivered."""
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(None)

    async def __anext__(self) -> rtc.AudioFrame:
        frame = await self._queue.get()
        if frame is None:
            self._queue.put_nowait(None)  # stay ended for later readers
            raise StopAsyncIteration
        if self._realtime:
            await asyncio.sleep(frame.samples_per_channel / frame.sample_rate)
        return frame


@dataclass
class PlayedSegment:
    """One playback segment of a :class:`MemoryAudioOutput`."""

    index: int
    captured: list[rtc.AudioFrame] = field(default_factory=list)
    """Every frame captured for the segment (after resampling)."""
    played: list[rtc.AudioFrame] = field(default_factory=list)
    """The audio really played (the last frame cut where playback stopped)."""
    started_at: float | None = None
    finished_at: float | None = None
    playback_position: float = 0.0
    interrupted: bool = False

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    @property
    def captured_duration(self) -> float:
        return sum(f.samples_per_channel / f.sample_rate for f in self.captured)

    @property
    def played_duration(self) -> float:
        return sum(f.samples_per_channel / f.sample_rate for f in self.played)


class MemoryAudioOutput(PacedAudioOutput):
    """An audio output that plays in real time on the loop clock and records everything.

    ``segments`` lists one :class:`PlayedSegment` per playback segment. Pause/resume are
    supported unless ``can_pause=False`` (then the runtime interrupts instead of pausing).
    """

    def __init__(
        self,
        *,
        label: str = "memory_audio",
        sample_rate: int | None = None,
        can_pause: bool = True,
        realtime: bool = True,
    ) -> None:
        super().__init__(
            label=label, sample_rate=sample_rate, can_pause=can_pause, realtime=realtime
        )
        self.segments: list[PlayedSegment] = []
        self._seg_by_index: dict[int, PlayedSegment] = {}

    def _on_segment_created(self, index: int) -> None:
        rec = PlayedSegment(index=index)
        self.segments.append(rec)
        self._seg_by_index[index] = rec

    def _on_frame_queued(self, index: int, frame: rtc.AudioFrame) -> None:
        self._seg_by_index[index].captured.append(frame)

    def _on_segment_started(self, index: int) -> None:
        self._seg_by_index[index].started_at = asyncio.get_running_loop().time()

    def _on_audio_played(self, index: int, frame: rtc.AudioFrame) -> None:
        self._seg_by_index[index].played.append(frame)

    def _on_segment_finished(self, index: int, position: float, interrupted: bool) -> None:
        rec = self._seg_by_index[index]
        rec.finished_at = asyncio.get_running_loop().time()
        rec.playback_position = position
        rec.interrupted = interrupted

    def played_audio(self, segment: int = -1) -> rtc.AudioFrame | None:
        """The audio played in one segment (the last by default) as one frame, or None."""
        if not self.segments:
            return None
        frames = self.segments[segment].played
        return merge_frames(frames) if frames else None


class MemoryTextOutput(TextOutput):
    """A text output that records each segment's text.

    ``segments`` holds the finished segments; ``current`` the text of the open one; ``deltas``
    every piece received, in order. ``await wait_for_segments(n)`` waits until ``n`` segments
    were flushed.
    """

    def __init__(self, *, label: str = "memory_text") -> None:
        super().__init__(label=label)
        self.segments: list[str] = []
        self.current = ""
        self.deltas: list[str] = []
        self._changed = asyncio.Event()

    async def capture_text(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"capture_text() needs a str, got {type(text).__name__}")
        self.current += text
        self.deltas.append(text)
        self._changed.set()

    def flush(self) -> None:
        self.segments.append(self.current)
        self.current = ""
        self._changed.set()

    async def wait_for_segments(self, count: int) -> list[str]:
        """Wait until at least ``count`` segments were flushed; return them."""
        while len(self.segments) < count:
            self._changed.clear()
            await self._changed.wait()
        return list(self.segments)


__all__ = ["MemoryAudioOutput", "MemoryTextOutput", "PlayedSegment", "QueueAudioInput"]
