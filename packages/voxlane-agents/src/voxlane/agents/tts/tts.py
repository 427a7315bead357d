"""Text-to-speech base classes: ``TTS``, ``ChunkedStream`` and ``SynthesizeStream``.

A plugin subclasses ``TTS`` and implements ``synthesize()`` (returning its ``ChunkedStream``
subclass) and, for streaming providers, ``stream()`` (returning its ``SynthesizeStream``
subclass). Each stream implements a single coroutine, ``_run(output_emitter)``, that pushes audio
bytes into the :class:`AudioEmitter`. The base classes own everything else: the retry loop, error
events, metrics, framing, cancellation and ``aclose()``.

Retry rule: an attempt is retried (up to ``conn_options.max_retry`` times) only when it raised a
retryable :class:`APIError` *before any audio was pushed*, because audio that already went out
cannot be taken back. A stream's retry replays all the text pushed so far. The rule is the one
of :mod:`voxlane.agents.utils.retry`, shared with the LLM and STT base classes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from livekit import rtc
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import Self

from .._exceptions import APIError
from ..metrics import Metadata, TTSMetrics
from ..types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from ..utils import aio
from ..utils.audio import merge_frames
from ..utils.events import EventEmitter
from ..utils.misc import shortuuid
from ..utils.retry import Retrier
from .audio_emitter import AudioEmitter, SynthesizedAudio

logger = logging.getLogger("voxlane.agents.tts")


@dataclass
class TTSCapabilities:
    """What a TTS can do.

    ``streaming``: accepts text incrementally through ``stream()``.
    ``aligned_transcript``: pushes timed transcripts, usable to sync text with audio.
    """

    streaming: bool
    aligned_transcript: bool = False


class TTSError(BaseModel):
    """Payload of the ``"error"`` event of a :class:`TTS`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    type: Literal["tts_error"] = "tts_error"
    timestamp: float
    label: str
    error: Exception = Field(..., exclude=True)
    recoverable: bool


class TTS(ABC, EventEmitter[str]):
    """Base class of every text-to-speech model.

    Events: ``"metrics_collected"`` (:class:`TTSMetrics`) and ``"error"`` (:class:`TTSError`).
    """

    def __init__(
        self, *, capabilities: TTSCapabilities, sample_rate: int, num_channels: int
    ) -> None:
        super().__init__()
        if not isinstance(capabilities, TTSCapabilities):
            raise TypeError(
                f"capabilities must be a TTSCapabilities, got {type(capabilities).__name__}"
            )
        if not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive int (Hz), got {sample_rate!r}")
        if not isinstance(num_channels, int) or num_channels <= 0:
            raise ValueError(f"num_channels must be a positive int, got {num_channels!r}")
        self._capabilities = capabilities
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._label = f"{type(self).__module__}.{type(self).__name__}"

    @property
    def label(self) -> str:
        return self._label

    @property
    def model(self) -> str:
        """The provider's model name; plugins override this."""
        return "unknown"

    @property
    def provider(self) -> str:
        """The provider's name; plugins override this."""
        return "unknown"

    @property
    def capabilities(self) -> TTSCapabilities:
        return self._capabilities

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def num_channels(self) -> int:
        return self._num_channels

    @abstractmethod
    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        """Synthesize a whole text in one request."""

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        """Open a streaming synthesis (text pushed incrementally).

        Non-streaming TTSs raise; wrap them in :class:`voxlane.agents.tts.StreamAdapter`.
        """
        raise NotImplementedError(
            f"{self.label} does not support streaming synthesis (capabilities.streaming is "
            "False); wrap it in tts.StreamAdapter(tts=..., sentence_tokenizer=...) to stream "
            "sentence by sentence"
        )

    def _synthesize_with_stream(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        """Implement ``synthesize()`` on top of ``stream()`` for stream-only providers."""
        return _StreamBackedChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def prewarm(self) -> None:
        """Open connections or load models ahead of the first request (optional)."""

    async def aclose(self) -> None:
        """Release resources held by the TTS (connections, models)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _SynthesisBase(ABC):
    """Machinery shared by both stream kinds: retry loop, output channel, metrics, closing."""

    _streamed: bool = False
    _report_metrics: bool = True

    def __init__(self, *, tts: TTS, conn_options: APIConnectOptions) -> None:
        if not isinstance(conn_options, APIConnectOptions):
            raise TypeError(
                f"conn_options must be an APIConnectOptions, got {type(conn_options).__name__}"
            )
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"{type(self).__name__} must be created inside a running event loop "
                "(call synthesize()/stream() from async code)"
            ) from None
        self._tts = tts
        self._conn_options = conn_options
        self._retrier = Retrier(
            label=tts.label,
            conn_options=conn_options,
            emit_error=self._emit_error,
            logger=logger,
            failure="failed to synthesize speech",
        )
        self._attempt_emitter: AudioEmitter | None = None  # the emitter of the current attempt
        self._event_ch: aio.Chan[SynthesizedAudio] = aio.Chan()
        self._raw_ch: aio.Chan[SynthesizedAudio] = aio.Chan()
        self._started_at = time.perf_counter()
        self._cancelled = False
        self._closed = False
        self._main_atask = asyncio.create_task(
            self._main_task(), name=f"{type(self).__name__}._main_task"
        )
        self._main_atask.add_done_callback(_retrieve_exception)
        self._metrics_atask = asyncio.create_task(
            self._metrics_task(), name=f"{type(self).__name__}._metrics_task"
        )

    @abstractmethod
    async def _run(self, output_emitter: AudioEmitter) -> None:
        """Produce the audio: call ``output_emitter.initialize(...)`` then ``push(...)``."""

    # -- hooks for the two stream kinds ---------------------------------------------------

    def _before_attempt(self, attempt: int) -> None:
        """Called before each attempt (0-based)."""

    def _check_output(self, emitter: AudioEmitter) -> None:
        """Raise if the attempt produced no audio although there was text."""

    def _segment_text(self, index: int) -> tuple[int, float | None]:
        """Characters count and text start time (perf_counter) of output segment ``index``."""
        return 0, None

    # -- public ---------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._main_atask.done()

    @property
    def exception(self) -> BaseException | None:
        """The error that ended the synthesis, if it failed."""
        if not self._main_atask.done() or self._main_atask.cancelled():
            return None
        return self._main_atask.exception()

    async def aclose(self) -> None:
        """Stop synthesizing and release every task; safe to call more than once."""
        if not self._main_atask.done():
            self._cancelled = True
        self._closed = True
        await aio.cancel_and_wait(self._main_atask)
        self._raw_ch.close()
        await asyncio.wait([self._metrics_atask])
        self._event_ch.close()

    def __aiter__(self) -> AsyncIterator[SynthesizedAudio]:
        return self

    async def __anext__(self) -> SynthesizedAudio:
        if self._closed:
            raise StopAsyncIteration  # aclose() discards audio that was not consumed yet
        try:
            return await self._event_ch.recv()
        except aio.ChanClosed:
            pass
        await asyncio.wait([self._main_atask])
        if not self._main_atask.cancelled():
            exc = self._main_atask.exception()
            if exc is not None:
                raise exc
        raise StopAsyncIteration

    # -- internals ------------------------------------------------------------------------

    def _emit_error(self, error: Exception, *, recoverable: bool) -> None:
        self._tts.emit(
            "error",
            TTSError(
                timestamp=time.time(),
                label=self._tts.label,
                error=error,
                recoverable=recoverable,
            ),
        )

    async def _main_task(self) -> None:
        try:
            await self._retrier.run(
                self._synthesize_attempt, output_sent=self._attempt_pushed_audio
            )
        finally:
            self._raw_ch.close()

    async def _synthesize_attempt(self) -> None:
        self._before_attempt(self._retrier.retries)
        emitter = AudioEmitter(label=self._tts.label, dst_ch=self._raw_ch)
        self._attempt_emitter = emitter
        try:
            await self._run_attempt(emitter)
            self._check_output(emitter)
        finally:
            await emitter.aclose()

    def _attempt_pushed_audio(self) -> bool:
        # audio that already went out cannot be taken back: never retry after it
        return self._attempt_emitter is not None and self._attempt_emitter.has_pushed_audio

    async def _run_attempt(self, emitter: AudioEmitter) -> None:
        run_task = asyncio.create_task(self._run(emitter), name=f"{type(self).__name__}._run")
        try:
            await asyncio.wait([run_task, emitter.task], return_when=asyncio.FIRST_COMPLETED)
            if not run_task.done() and not emitter.task.cancelled():
                exc = emitter.task.exception()
                if exc is not None:
                    raise exc  # decoding failed: stop the plugin, report the decoder's error
            try:
                await run_task
            except Exception:
                if emitter.has_pushed_audio and not emitter.task.done():
                    # deliver the audio that was pushed before the failure, then fail
                    emitter.end_input()
                    with contextlib.suppress(Exception):
                        await emitter.join()
                raise
            emitter.end_input()
            await emitter.join()
        finally:
            await aio.cancel_and_wait(run_task)

    async def _metrics_task(self) -> None:
        # a segment's metrics are emitted when the next segment starts or the output ends
        seg: _SegmentAccount | None = None
        seg_index = -1
        first_frame_at: float | None = None
        request_id = ""
        total_audio = 0.0
        try:
            async for ev in self._raw_ch:
                now = time.perf_counter()
                if first_frame_at is None:
                    first_frame_at = now
                    request_id = ev.request_id
                if seg is None or ev.segment_id != seg.segment_id:
                    if seg is not None and self._streamed:
                        self._emit_segment_metrics(seg, cancelled=False)
                    seg_index += 1
                    seg = _SegmentAccount(seg_index, ev.segment_id, ev.request_id, now)
                duration = ev.frame.samples_per_channel / ev.frame.sample_rate
                seg.audio_duration += duration
                total_audio += duration
                with contextlib.suppress(aio.ChanClosed):
                    self._event_ch.send_nowait(ev)
            failed = self._cancelled or self.exception is not None
            if self._streamed:
                if seg is not None:
                    self._emit_segment_metrics(seg, cancelled=failed)
            elif first_frame_at is not None:
                self._emit_metrics(
                    request_id=request_id,
                    ttfb=first_frame_at - self._started_at,
                    duration=time.perf_counter() - self._started_at,
                    audio_duration=total_audio,
                    characters_count=self._segment_text(0)[0],
                    cancelled=failed,
                    segment_id=None,
                )
        finally:
            self._event_ch.close()

    def _emit_segment_metrics(self, seg: _SegmentAccount, *, cancelled: bool) -> None:
        chars, text_started = self._segment_text(seg.index)
        start = text_started if text_started is not None else self._started_at
        self._emit_metrics(
            request_id=seg.request_id,
            ttfb=max(0.0, seg.first_frame_at - start),
            duration=time.perf_counter() - start,
            audio_duration=seg.audio_duration,
            characters_count=chars,
            cancelled=cancelled or self._cancelled,
            segment_id=seg.segment_id or None,
        )

    def _emit_metrics(
        self,
        *,
        request_id: str,
        ttfb: float,
        duration: float,
        audio_duration: float,
        characters_count: int,
        cancelled: bool,
        segment_id: str | None,
    ) -> None:
        if not self._report_metrics:
            return
        metrics = TTSMetrics(
            label=self._tts.label,
            request_id=request_id,
            timestamp=time.time(),
            ttfb=ttfb,
            duration=duration,
            audio_duration=audio_duration,
            cancelled=cancelled,
            characters_count=characters_count,
            streamed=self._streamed,
            segment_id=segment_id,
            metadata=Metadata(model_name=self._tts.model, model_provider=self._tts.provider),
        )
        self._tts.emit("metrics_collected", metrics)


@dataclass
class _SegmentAccount:
    index: int
    segment_id: str
    request_id: str
    first_frame_at: float
    audio_duration: float = 0.0


def _retrieve_exception(task: asyncio.Task[None]) -> None:
    # errors are reported through the "error" event and re-raised to the consumer; this only
    # keeps asyncio from logging "exception was never retrieved" when nobody iterates.
    if not task.cancelled():
        task.exception()


class ChunkedStream(_SynthesisBase):
    """One synthesis request for a whole text; iterate it for :class:`SynthesizedAudio`."""

    _streamed = False

    def __init__(
        self,
        *,
        tts: TTS,
        input_text: str,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> None:
        if not isinstance(input_text, str):
            raise TypeError(f"input_text must be a str, got {type(input_text).__name__}")
        self._input_text = input_text
        super().__init__(tts=tts, conn_options=conn_options)

    @property
    def input_text(self) -> str:
        return self._input_text

    @abstractmethod
    async def _run(self, output_emitter: AudioEmitter) -> None:
        """Call ``output_emitter.initialize(request_id=..., sample_rate=..., ...)`` then push."""

    def _check_output(self, emitter: AudioEmitter) -> None:
        if self._input_text.strip() and emitter.total_pushed_duration <= 0:
            if not emitter.initialized:
                raise RuntimeError(
                    f"{type(self).__name__}._run() returned without calling "
                    "output_emitter.initialize(); a TTS plugin must initialize the emitter"
                )
            raise APIError(f"no audio frames were pushed for text: {self._input_text!r}")

    def _segment_text(self, index: int) -> tuple[int, float | None]:
        return len(self._input_text), self._started_at

    async def collect(self) -> rtc.AudioFrame:
        """Wait for the whole synthesis and return it as a single frame."""
        frames = [ev.frame async for ev in self]
        if not frames:
            return rtc.AudioFrame(
                data=b"",
                sample_rate=self._tts.sample_rate,
                num_channels=self._tts.num_channels,
                samples_per_channel=0,
            )
        return merge_frames(frames)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@dataclass
class _TextSegment:
    characters: int
    started_at: float


class SynthesizeStream(_SynthesisBase):
    """Streaming synthesis: ``push_text`` pieces, ``flush`` to end a segment, ``end_input``.

    A plugin's ``_run`` reads ``self._input_ch`` (``str`` or ``self._FlushSentinel``), calls
    ``output_emitter.initialize(..., stream=True)`` and wraps each segment's audio in
    ``start_segment``/``end_segment``.
    """

    class _FlushSentinel:
        """Marks a segment boundary in ``_input_ch``."""

        def __repr__(self) -> str:
            return "<flush>"

    _streamed = True

    def __init__(
        self, *, tts: TTS, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> None:
        self._input_ch: aio.Chan[str | SynthesizeStream._FlushSentinel] = aio.Chan()
        self._input_log: list[str | SynthesizeStream._FlushSentinel] = []
        self._input_ended = False
        self._segments: list[_TextSegment] = []
        self._segment_has_text = False
        super().__init__(tts=tts, conn_options=conn_options)

    @abstractmethod
    async def _run(self, output_emitter: AudioEmitter) -> None:
        """Read ``self._input_ch`` and push each segment's audio into the emitter."""

    def push_text(self, token: str) -> None:
        """Add text to the current segment."""
        if not isinstance(token, str):
            raise TypeError(f"push_text() expects a str, got {type(token).__name__}")
        self._check_input("push_text")
        if not token:
            return
        if not self._segment_has_text:
            self._segments.append(_TextSegment(characters=0, started_at=time.perf_counter()))
            self._segment_has_text = True
        self._segments[-1].characters += len(token)
        self._send_input(token)

    def flush(self) -> None:
        """End the current segment: the TTS synthesizes it without waiting for more text."""
        self._check_input("flush")
        if not self._segment_has_text:
            return
        self._segment_has_text = False
        self._send_input(self._FlushSentinel())

    def end_input(self) -> None:
        """No more text: flushes the current segment and closes the input."""
        if self._input_ended:
            return
        if self._closed:
            raise RuntimeError("cannot call end_input() on a closed stream")
        self.flush()
        self._input_ended = True
        self._input_ch.close()

    def _check_input(self, method: str) -> None:
        if self._closed:
            raise RuntimeError(f"cannot call {method}() on a closed stream")
        if self._input_ended:
            raise RuntimeError(f"cannot call {method}() after end_input()")

    def _send_input(self, item: str | _FlushSentinel) -> None:
        self._input_log.append(item)
        with contextlib.suppress(aio.ChanClosed):
            self._input_ch.send_nowait(item)

    def _before_attempt(self, attempt: int) -> None:
        if attempt == 0:
            return
        replay: aio.Chan[str | SynthesizeStream._FlushSentinel] = aio.Chan()
        for item in self._input_log:
            replay.send_nowait(item)
        if self._input_ended:
            replay.close()
        self._input_ch = replay

    def _check_output(self, emitter: AudioEmitter) -> None:
        text = "".join(i for i in self._input_log if isinstance(i, str))
        if text.strip() and emitter.total_pushed_duration <= 0:
            if not emitter.initialized:
                raise RuntimeError(
                    f"{type(self).__name__}._run() returned without calling "
                    "output_emitter.initialize(); a TTS plugin must initialize the emitter"
                )
            raise APIError(f"no audio frames were pushed for text: {text!r}")

    def _segment_text(self, index: int) -> tuple[int, float | None]:
        if 0 <= index < len(self._segments):
            return self._segments[index].characters, self._segments[index].started_at
        return 0, None

    async def aclose(self) -> None:
        self._input_ch.close()
        await super().aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _StreamBackedChunkedStream(ChunkedStream):
    """``synthesize()`` for stream-only providers: one stream, one segment, same audio."""

    _report_metrics = False  # the inner stream already reports them

    async def _run(self, output_emitter: AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=shortuuid("TTS_"),
            sample_rate=self._tts.sample_rate,
            num_channels=self._tts.num_channels,
            mime_type="audio/pcm",
        )
        # the inner stream retries on its own; don't multiply attempts
        inner_opts = APIConnectOptions(
            max_retry=0,
            retry_interval=self._conn_options.retry_interval,
            timeout=self._conn_options.timeout,
        )
        async with self._tts.stream(conn_options=inner_opts) as stream:
            stream.push_text(self._input_text)
            stream.end_input()
            async for ev in stream:
                output_emitter.push(ev.frame.data.cast("B"))
        output_emitter.flush()


__all__ = [
    "TTS",
    "ChunkedStream",
    "SynthesizeStream",
    "SynthesizedAudio",
    "TTSCapabilities",
    "TTSError",
]
