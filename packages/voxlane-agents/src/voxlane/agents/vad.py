"""Voice activity detection base classes: ``VAD`` and ``VADStream``.

A plugin subclasses :class:`VAD` (returning its stream from ``stream()``) and :class:`VADStream`
(implementing ``_main_task``, which reads ``self._input_ch`` and sends :class:`VADEvent` objects
to ``self._event_ch``). The base classes own the channels, iteration, cancellation, and the
periodic :class:`~voxlane.agents.metrics.VADMetrics`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum, unique
from typing import Literal

from livekit import rtc

from .metrics import Metadata, VADMetrics
from .utils import aio
from .utils.event_stream import AudioEventStream
from .utils.events import EventEmitter

logger = logging.getLogger("voxlane.agents.vad")


@unique
class VADEventType(str, Enum):
    """Kinds of :class:`VADEvent`."""

    START_OF_SPEECH = "start_of_speech"
    INFERENCE_DONE = "inference_done"
    END_OF_SPEECH = "end_of_speech"


@dataclass
class VADEvent:
    """An event of a :class:`VADStream`.

    ``samples_index`` and ``timestamp`` locate the event in the pushed audio (samples and
    seconds). ``frames`` holds the speech audio (with its prefix padding) on END_OF_SPEECH, the
    analysed window on INFERENCE_DONE. ``raw_accumulated_*`` are the unsmoothed durations.
    """

    type: VADEventType
    samples_index: int
    timestamp: float
    speech_duration: float
    silence_duration: float
    frames: list[rtc.AudioFrame] = field(default_factory=list)
    probability: float = 0.0
    inference_duration: float = 0.0
    speaking: bool = False
    raw_accumulated_silence: float = 0.0
    raw_accumulated_speech: float = 0.0


@dataclass
class VADCapabilities:
    """``update_interval``: seconds of audio between two INFERENCE_DONE events."""

    update_interval: float

    def __post_init__(self) -> None:
        if self.update_interval <= 0:
            raise ValueError(
                f"update_interval must be a positive number of seconds, got {self.update_interval}"
            )


class VAD(ABC, EventEmitter[Literal["metrics_collected"]]):
    """Base class of every voice activity detector.

    Emits ``"metrics_collected"`` with :class:`~voxlane.agents.metrics.VADMetrics` about once
    per second of analysed audio.
    """

    def __init__(self, *, capabilities: VADCapabilities) -> None:
        super().__init__()
        if not isinstance(capabilities, VADCapabilities):
            raise TypeError(
                f"capabilities must be a vad.VADCapabilities, got {type(capabilities).__name__}"
            )
        self._capabilities = capabilities
        self._label = f"{type(self).__module__}.{type(self).__name__}"

    @property
    def label(self) -> str:
        return self._label

    @property
    def model(self) -> str:
        """The model name; plugins override this."""
        return "unknown"

    @property
    def provider(self) -> str:
        """The provider name; plugins override this."""
        return "unknown"

    @property
    def capabilities(self) -> VADCapabilities:
        return self._capabilities

    @abstractmethod
    def stream(self) -> VADStream:
        """Open a detection stream over a sequence of audio frames."""


class _FlushSentinel:
    """Marks a segment boundary in a VAD stream's input channel (``stream.flush()``)."""


class VADStream(AudioEventStream[VADEvent]):
    """A detection session: push frames, iterate over :class:`VADEvent` objects."""

    _FlushSentinel = _FlushSentinel
    _stream_name = "VAD stream"

    def __init__(self, vad: VAD) -> None:
        self._vad = vad
        self._input_ch: aio.Chan[rtc.AudioFrame | _FlushSentinel] = aio.Chan()
        self._event_ch: aio.Chan[VADEvent] = aio.Chan()
        self._start_tasks()

    def _on_main_done(self, task: asyncio.Task[None]) -> None:
        self._event_ch.close()
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("%s: VAD stream failed", self._vad.label, exc_info=exc)

    @abstractmethod
    async def _main_task(self) -> None:
        """Read ``self._input_ch`` and send ``VADEvent`` objects to ``self._event_ch``."""

    async def _forward_events(self) -> None:
        interval = self._vad.capabilities.update_interval
        # about one metrics event per second of analysed audio
        per_report = max(1, round(1.0 / interval))
        inference_total = 0.0
        count = 0
        speaking = False
        idle_since = time.perf_counter()
        try:
            async for ev in self._event_ch:
                if ev.type == VADEventType.START_OF_SPEECH:
                    speaking = True
                elif ev.type == VADEventType.END_OF_SPEECH:
                    speaking = False
                    idle_since = time.perf_counter()
                elif ev.type == VADEventType.INFERENCE_DONE:
                    inference_total += ev.inference_duration
                    count += 1
                    if count >= per_report:
                        idle = 0.0 if speaking else time.perf_counter() - idle_since
                        self._vad.emit(
                            "metrics_collected",
                            VADMetrics(
                                label=self._vad.label,
                                timestamp=time.time(),
                                idle_time=idle,
                                inference_duration_total=inference_total,
                                inference_count=count,
                                metadata=Metadata(
                                    model_name=self._vad.model, model_provider=self._vad.provider
                                ),
                            ),
                        )
                        inference_total = 0.0
                        count = 0
                self._out_ch.send_nowait(ev)
        finally:
            self._out_ch.close()

    def push_frame(self, frame: rtc.AudioFrame) -> None:
        """Queue one frame of audio for analysis."""
        self._check_can_push("push_frame")
        if not isinstance(frame, rtc.AudioFrame):
            raise TypeError(f"push_frame expects an rtc.AudioFrame, got {type(frame).__name__}")
        self._input_ch.send_nowait(frame)

    def flush(self) -> None:
        """Mark a segment boundary in the input."""
        self._check_can_push("flush")
        self._input_ch.send_nowait(_FlushSentinel())
