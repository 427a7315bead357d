"""Speech-to-text base classes: the ``STT`` model object and its ``RecognizeStream``.

A plugin author subclasses :class:`STT` and implements ``_recognize_impl`` (one-shot recognition
of a buffer), and, for streaming engines, returns a :class:`RecognizeStream` subclass from
``stream()`` whose ``_run`` reads audio from ``self._input_ch`` and sends :class:`SpeechEvent`
objects to ``self._event_ch``. The base classes own retries, metrics, resampling, error events
and cancellation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum, unique
from types import TracebackType
from typing import Any, Literal

from livekit import rtc
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import Self

from .._exceptions import APIError, APITimeoutError
from ..metrics import Metadata, STTMetrics
from ..tts.audio_emitter import TimedString
from ..types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from ..utils import aio
from ..utils.audio import AudioBuffer, calculate_audio_duration
from ..utils.event_stream import AudioEventStream
from ..utils.events import EventEmitter
from ..utils.retry import Retrier

logger = logging.getLogger("voxlane.agents.stt")


@dataclass
class STTCapabilities:
    """What an STT engine can do.

    ``streaming``: ``stream()`` works natively (otherwise wrap it in ``stt.StreamAdapter``).
    ``interim_results``: the stream sends INTERIM_TRANSCRIPT events before the final one.
    ``aligned_transcript``: word or chunk timestamps are filled in (``"word"``/``"chunk"``).
    ``offline_recognize``: ``recognize()`` works on a whole buffer.
    """

    streaming: bool
    interim_results: bool
    diarization: bool = False
    aligned_transcript: Literal["word", "chunk"] | Literal[False] = False
    offline_recognize: bool = True
    keyterms: bool = False
    chat_context: bool = False


@unique
class SpeechEventType(str, Enum):
    """Kinds of :class:`SpeechEvent`."""

    START_OF_SPEECH = "start_of_speech"
    """The user started speaking (only sent by engines with their own endpointing)."""
    INTERIM_TRANSCRIPT = "interim_transcript"
    """A partial transcript that may still change."""
    PREFLIGHT_TRANSCRIPT = "preflight_transcript"
    """A transcript stable enough to start preparing a reply, before the final one."""
    FINAL_TRANSCRIPT = "final_transcript"
    """The final transcript of a segment of speech."""
    RECOGNITION_USAGE = "recognition_usage"
    """Usage (audio seconds, tokens) since the previous usage event; used for metrics."""
    END_OF_SPEECH = "end_of_speech"
    """The user stopped speaking."""


@dataclass
class SpeechData:
    """One transcription hypothesis.

    Times are in seconds from the start of the stream's audio (including ``start_time_offset``).
    ``words`` holds the words with their times (``TimedString``) when the engine aligns its
    transcript.
    """

    language: str
    text: str
    start_time: float = 0.0
    end_time: float = 0.0
    confidence: float = 0.0
    speaker_id: str | None = None
    is_primary_speaker: bool | None = None
    words: list[TimedString] | None = None
    source_languages: list[str] | None = None
    target_language: str | None = None
    source_text: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class RecognitionUsage:
    """Usage reported by a RECOGNITION_USAGE event."""

    audio_duration: float
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class SpeechEvent:
    """An event produced by ``recognize()`` or by a recognition stream."""

    type: SpeechEventType
    request_id: str = ""
    alternatives: list[SpeechData] = field(default_factory=list)
    recognition_usage: RecognitionUsage | None = None
    speech_start_time: float | None = None


class STTError(BaseModel):
    """Payload of the ``"error"`` event of an :class:`STT`.

    ``recoverable`` is True when the base class is going to retry.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    type: Literal["stt_error"] = "stt_error"
    timestamp: float
    label: str
    error: Exception = Field(..., exclude=True)
    recoverable: bool


class STT(ABC, EventEmitter[str]):
    """Base class of every speech-to-text engine.

    Events: ``"metrics_collected"`` (:class:`~voxlane.agents.metrics.STTMetrics`) and ``"error"``
    (:class:`STTError`); adapters add their own (``"stt_availability_changed"``). Subclasses
    implement ``_recognize_impl`` and, when ``capabilities.streaming`` is True, ``stream()``.
    """

    def __init__(self, *, capabilities: STTCapabilities) -> None:
        super().__init__()
        if not isinstance(capabilities, STTCapabilities):
            raise TypeError(
                f"capabilities must be an stt.STTCapabilities, got {type(capabilities).__name__}"
            )
        self._capabilities = capabilities
        self._label = f"{type(self).__module__}.{type(self).__name__}"

    @property
    def label(self) -> str:
        """A human-readable identifier of this engine (module and class name by default)."""
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
    def capabilities(self) -> STTCapabilities:
        return self._capabilities

    def _metadata(self) -> Metadata:
        return Metadata(model_name=self.model, model_provider=self.provider)

    def _emit_error(self, error: Exception, *, recoverable: bool) -> None:
        self.emit(
            "error",
            STTError(timestamp=time.time(), label=self.label, error=error, recoverable=recoverable),
        )

    @abstractmethod
    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> SpeechEvent:
        """Recognize one buffer of audio and return a FINAL_TRANSCRIPT event (plugin hook)."""

    async def recognize(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> SpeechEvent:
        """Transcribe a buffer of audio (one frame or a list of frames).

        Each attempt is bounded by ``conn_options.timeout`` (``APITimeoutError``, retryable).
        Retryable :class:`~voxlane.agents.APIError` failures are retried up to
        ``conn_options.max_retry`` times; each failure emits an ``"error"`` event. After the last
        attempt an :class:`~voxlane.agents.APIConnectionError` is raised.
        """
        if isinstance(buffer, list):
            if not buffer:
                raise ValueError(
                    "recognize() got an empty list of frames: pass at least one rtc.AudioFrame"
                )
            bad = [type(f).__name__ for f in buffer if not isinstance(f, rtc.AudioFrame)]
            if bad:
                raise TypeError(f"recognize() expects rtc.AudioFrame items, got {bad[0]}")
        elif not isinstance(buffer, rtc.AudioFrame):
            raise TypeError(
                "recognize() expects an rtc.AudioFrame or a list of them, "
                f"got {type(buffer).__name__}"
            )

        retrier = Retrier(
            label=self.label,
            conn_options=conn_options,
            emit_error=self._emit_error,
            logger=logger,
            failure="failed to recognize speech",
        )
        while True:
            started = time.perf_counter()
            try:
                event = await self._recognize_attempt(buffer, language, conn_options)
            except APIError as e:
                await retrier.on_error(e)
                continue
            except Exception as e:
                self._emit_error(e, recoverable=False)
                raise
            duration = time.perf_counter() - started

            self.emit(
                "metrics_collected",
                STTMetrics(
                    label=self.label,
                    request_id=event.request_id,
                    timestamp=time.time(),
                    duration=duration,
                    audio_duration=calculate_audio_duration(buffer),
                    streamed=False,
                    metadata=self._metadata(),
                ),
            )
            return event

    async def _recognize_attempt(
        self, buffer: AudioBuffer, language: NotGivenOr[str], conn_options: APIConnectOptions
    ) -> SpeechEvent:
        try:
            return await asyncio.wait_for(
                self._recognize_impl(buffer, language=language, conn_options=conn_options),
                timeout=conn_options.timeout,
            )
        except asyncio.TimeoutError:
            raise APITimeoutError(
                f"{self.label}: recognize() took longer than {conn_options.timeout} s "
                "(conn_options.timeout)"
            ) from None

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> RecognizeStream:
        """Open a streaming recognition session.

        Engines without native streaming raise ``NotImplementedError``: wrap them in
        ``stt.StreamAdapter(stt=..., vad=...)``.
        """
        if not self._capabilities.streaming:
            raise NotImplementedError(
                f"{self.label} does not support streaming recognition; wrap it with a VAD: "
                "stt.StreamAdapter(stt=your_stt, vad=your_vad)"
            )
        raise NotImplementedError(
            f"{self.label} declares streaming=True but does not implement stream(); "
            "the plugin must override STT.stream()"
        )

    def prewarm(self) -> None:
        """Pre-load models or open connections before the first request (optional)."""

    async def aclose(self) -> None:
        """Release resources held by the engine."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _FlushSentinel:
    """Marks the end of a segment in a stream's input channel (``stream.flush()``)."""


class _AudioInputChan(aio.Chan[rtc.AudioFrame | _FlushSentinel]):
    """The input channel of a recognition stream; counts the seconds of audio received."""

    def __init__(self) -> None:
        super().__init__()
        self.consumed_duration = 0.0

    def recv_nowait(self) -> rtc.AudioFrame | _FlushSentinel:
        item = super().recv_nowait()
        if isinstance(item, rtc.AudioFrame):
            self.consumed_duration += item.samples_per_channel / item.sample_rate
        return item


class _SpeechEventChan(aio.Chan[SpeechEvent]):
    """The event channel of a recognition stream; resets the retry budget on each final."""

    def __init__(self, stream: RecognizeStream) -> None:
        super().__init__()
        self._stream = stream

    def send_nowait(self, item: SpeechEvent) -> None:
        super().send_nowait(item)
        if item.type == SpeechEventType.FINAL_TRANSCRIPT:
            # a final transcript proves the connection works: the next failure starts afresh
            self._stream._retrier.reset()


class RecognizeStream(AudioEventStream[SpeechEvent]):
    """A streaming recognition session.

    Push audio with :meth:`push_frame`, mark segment ends with :meth:`flush`, finish with
    :meth:`end_input`, and iterate over :class:`SpeechEvent` objects. Plugins implement
    :meth:`_run`, which reads ``self._input_ch`` (frames and ``_FlushSentinel`` markers) and
    sends events to ``self._event_ch``. When ``_run`` raises a retryable ``APIError`` it is run
    again (a reconnect); timestamps stay monotonic if plugins add ``self.start_time_offset``,
    which then includes the audio consumed by earlier attempts.
    """

    _FlushSentinel = _FlushSentinel

    def __init__(
        self,
        *,
        stt: STT,
        conn_options: APIConnectOptions,
        sample_rate: NotGivenOr[int] = NOT_GIVEN,
    ) -> None:
        if isinstance(sample_rate, int) and sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
        self._stt = stt
        self._conn_options = conn_options
        self._needed_sr: int | None = sample_rate if isinstance(sample_rate, int) else None
        self._pushed_sr = 0
        self._pushed_channels = 0
        self._resampler: rtc.AudioResampler | None = None

        self._input_ch: _AudioInputChan = _AudioInputChan()
        self._event_ch: aio.Chan[SpeechEvent] = _SpeechEventChan(self)

        self._user_offset = 0.0
        self._attempt_offset = 0.0
        self._start_time = time.time()
        self._retrier = Retrier(
            label=stt.label,
            conn_options=conn_options,
            emit_error=stt._emit_error,
            logger=logger,
            failure="recognition stream failed",
        )
        self._start_tasks()

    def _on_main_done(self, task: asyncio.Task[None]) -> None:
        self._event_ch.close()
        if not task.cancelled():
            # the failure was emitted as an "error" event and is raised to the consumer; mark
            # it retrieved so a stream nobody iterates does not log "never retrieved"
            task.exception()

    @property
    def start_time_offset(self) -> float:
        """Seconds to add to timestamps produced by the current attempt of ``_run``.

        It is the offset set by the caller plus the audio consumed by previous attempts.
        """
        return self._user_offset + self._attempt_offset

    @start_time_offset.setter
    def start_time_offset(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"start_time_offset must be >= 0 seconds, got {value}")
        self._user_offset = value

    @property
    def start_time(self) -> float:
        """Wall-clock time (``time.time()``) at which the stream's audio starts."""
        return self._start_time

    @start_time.setter
    def start_time(self, value: float) -> None:
        self._start_time = value

    @abstractmethod
    async def _run(self) -> None:
        """Read ``self._input_ch`` and send ``SpeechEvent`` objects to ``self._event_ch``."""

    async def _main_task(self) -> None:
        await self._retrier.run(self._run_attempt)

    async def _run_attempt(self) -> None:
        # timestamps of this attempt start after the audio consumed by the previous ones
        self._attempt_offset = self._input_ch.consumed_duration
        await self._run()

    async def _forward_events(self) -> None:
        try:
            async for ev in self._event_ch:
                if ev.type == SpeechEventType.RECOGNITION_USAGE:
                    self._emit_usage_metrics(ev)
                self._out_ch.send_nowait(ev)
        finally:
            self._out_ch.close()

    def _emit_usage_metrics(self, ev: SpeechEvent) -> None:
        usage = ev.recognition_usage
        if usage is None:
            logger.warning("%s: RECOGNITION_USAGE event without recognition_usage", self._stt.label)
            return
        self._stt.emit(
            "metrics_collected",
            STTMetrics(
                label=self._stt.label,
                request_id=ev.request_id,
                timestamp=time.time(),
                duration=0.0,
                audio_duration=usage.audio_duration,
                streamed=True,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                metadata=self._stt._metadata(),
            ),
        )

    def push_frame(self, frame: rtc.AudioFrame) -> None:
        """Queue one frame of audio; it is resampled to the stream's sample rate if needed."""
        self._check_can_push("push_frame")
        if not isinstance(frame, rtc.AudioFrame):
            raise TypeError(f"push_frame expects an rtc.AudioFrame, got {type(frame).__name__}")
        if self._pushed_sr and (
            frame.sample_rate != self._pushed_sr or frame.num_channels != self._pushed_channels
        ):
            raise ValueError(
                "the format of pushed frames must stay constant: got "
                f"{frame.sample_rate} Hz/{frame.num_channels} ch after "
                f"{self._pushed_sr} Hz/{self._pushed_channels} ch; open a new stream instead"
            )
        self._pushed_sr = frame.sample_rate
        self._pushed_channels = frame.num_channels

        if self._needed_sr is not None and frame.sample_rate != self._needed_sr:
            if self._resampler is None:
                self._resampler = rtc.AudioResampler(
                    input_rate=frame.sample_rate,
                    output_rate=self._needed_sr,
                    num_channels=frame.num_channels,
                    quality=rtc.AudioResamplerQuality.HIGH,
                )
            for out in self._resampler.push(frame):
                self._input_ch.send_nowait(out)
        else:
            self._input_ch.send_nowait(frame)

    def flush(self) -> None:
        """Mark the end of a segment: buffered audio is sent and the engine may finalize."""
        self._check_can_push("flush")
        if self._resampler is not None:
            for out in self._resampler.flush():
                self._input_ch.send_nowait(out)
            self._resampler = None
        self._input_ch.send_nowait(_FlushSentinel())


SpeechStream = RecognizeStream
"""Former name of :class:`RecognizeStream`."""
