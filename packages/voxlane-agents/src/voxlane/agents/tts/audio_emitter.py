"""``AudioEmitter``: the sink a TTS plugin pushes audio bytes into.

A plugin's ``_run(output_emitter)`` calls ``initialize(...)`` once, then ``push(bytes)`` as audio
arrives (raw PCM, WAV, or an encoded format decoded with PyAV), ``push_timed_transcript(...)`` when
the provider reports word/sentence timings, and, for streams, ``start_segment``/``end_segment``
around each flushed piece of text. The emitter decodes, re-cuts the audio into fixed-size frames,
marks the last frame before each flush (so the last one of each segment) ``is_final`` and
attaches the timed transcripts to the frames (``frame.userdata["lk.timed_transcripts"]``) so the
runtime can sync transcriptions with playout.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from livekit import rtc

from ..types import NOT_GIVEN, NotGivenOr
from ..utils import aio
from ..utils.audio import AudioByteStream
from ._decoders import AVDecoder, SyncDecoder, create_sync_decoder, require_av

TIMED_TRANSCRIPTS_KEY = "lk.timed_transcripts"
"""``frame.userdata`` key holding the ``list[TimedString]`` attached to an emitted frame."""


class TimedString(str):
    """A piece of text with optional timing, in seconds from the start of its segment.

    ``start_time_offset`` is added by whoever concatenates segments (e.g. the audio pushed before
    this segment), so that ``start_time + start_time_offset`` is an absolute playout time.
    """

    start_time: NotGivenOr[float]
    end_time: NotGivenOr[float]
    confidence: NotGivenOr[float]
    start_time_offset: NotGivenOr[float]

    def __new__(
        cls,
        text: str,
        start_time: NotGivenOr[float] = NOT_GIVEN,
        end_time: NotGivenOr[float] = NOT_GIVEN,
        confidence: NotGivenOr[float] = NOT_GIVEN,
        start_time_offset: NotGivenOr[float] = NOT_GIVEN,
    ) -> TimedString:
        obj = super().__new__(cls, text)
        obj.start_time = start_time
        obj.end_time = end_time
        obj.confidence = confidence
        obj.start_time_offset = start_time_offset
        return obj

    def __repr__(self) -> str:
        return (
            f"TimedString({str.__repr__(self)}, start_time={self.start_time}, "
            f"end_time={self.end_time})"
        )


@dataclass
class SynthesizedAudio:
    """One frame of synthesized speech.

    ``is_final`` marks the last frame before a flush: the end of a segment (streams), of the
    request (chunked), or of any unit the plugin flushed explicitly.
    ``delta_text`` is the text of the timed transcripts attached to this frame, if any.
    """

    frame: rtc.AudioFrame
    request_id: str
    is_final: bool = False
    segment_id: str = ""
    delta_text: str = ""


@dataclass(frozen=True)
class _Config:
    request_id: str
    sample_rate: int
    num_channels: int
    mime_type: str
    frame_size_ms: int
    stream: bool

    @property
    def samples_per_frame(self) -> int:
        return max(1, self.sample_rate * self.frame_size_ms // 1000)


@dataclass(frozen=True)
class _StartSegment:
    segment_id: str


@dataclass(frozen=True)
class _EndSegment:
    pass


@dataclass(frozen=True)
class _Flush:
    pass


@dataclass(frozen=True)
class _Data:
    data: bytes


@dataclass(frozen=True)
class _Transcript:
    items: list[TimedString]


_Message = _StartSegment | _EndSegment | _Flush | _Data | _Transcript


class _Segment:
    """Decoding and framing state of one segment; owned by the emitter's task."""

    def __init__(
        self,
        *,
        cfg: _Config,
        segment_id: str,
        dst_ch: aio.Chan[SynthesizedAudio],
        on_duration: _DurationSink,
    ) -> None:
        self._cfg = cfg
        self._segment_id = segment_id
        self._dst_ch = dst_ch
        self._on_duration = on_duration
        self._bstream = AudioByteStream(
            cfg.sample_rate, cfg.num_channels, samples_per_channel=cfg.samples_per_frame
        )
        self._held: rtc.AudioFrame | None = None
        self._transcripts: list[TimedString] = []
        self._sync: SyncDecoder | None = create_sync_decoder(
            mime_type=cfg.mime_type, sample_rate=cfg.sample_rate, num_channels=cfg.num_channels
        )
        self._av: AVDecoder | None = None
        self._av_task: asyncio.Task[None] | None = None
        if self._sync is None:
            self._av = AVDecoder(
                mime_type=cfg.mime_type, sample_rate=cfg.sample_rate, num_channels=cfg.num_channels
            )
            self._av_task = asyncio.create_task(self._forward_decoded(self._av))

    async def _forward_decoded(self, decoder: AVDecoder) -> None:
        async for pcm in decoder.output():
            self._frame_pcm(pcm)

    def push(self, data: bytes) -> None:
        if self._sync is not None:
            self._frame_pcm(self._sync.convert(data))
        elif self._av is not None:
            self._check_av()
            self._av.push(data)

    def _check_av(self) -> None:
        # surface a decoding failure as soon as it happened
        if self._av_task is not None and self._av_task.done():
            self._av_task.result()

    def add_transcripts(self, items: list[TimedString]) -> None:
        self._transcripts.extend(items)

    def flush(self) -> None:
        """Emit everything decoded so far; the last frame sent is marked ``is_final``."""
        if self._av_task is not None:
            self._check_av()
        for frame in self._bstream.flush():
            self._hold(frame)
        if self._held is not None:
            self._send(self._held, is_final=True)
            self._held = None

    async def finish(self) -> None:
        """End of segment: drain the decoder, then flush."""
        if self._sync is not None:
            self._frame_pcm(self._sync.finish())
        if self._av is not None and self._av_task is not None:
            self._av.end_input()
            await self._av_task
        self.flush()

    async def aclose(self) -> None:
        if self._av is not None:
            await self._av.aclose()
        await aio.cancel_and_wait(self._av_task)

    def _frame_pcm(self, pcm: bytes) -> None:
        if pcm:
            for frame in self._bstream.push(pcm):
                self._hold(frame)

    def _hold(self, frame: rtc.AudioFrame) -> None:
        self._on_duration(frame.samples_per_channel / frame.sample_rate)
        if self._held is not None:
            self._send(self._held, is_final=False)
        self._held = frame

    def _send(self, frame: rtc.AudioFrame, *, is_final: bool) -> None:
        transcripts, self._transcripts = self._transcripts, []
        if transcripts:
            frame.userdata[TIMED_TRANSCRIPTS_KEY] = transcripts
        audio = SynthesizedAudio(
            frame=frame,
            request_id=self._cfg.request_id,
            is_final=is_final,
            segment_id=self._segment_id,
            delta_text="".join(transcripts),
        )
        with contextlib.suppress(aio.ChanClosed):
            self._dst_ch.send_nowait(audio)


class _DurationSink:
    """Adds framed audio durations to the emitter's per-segment totals."""

    def __init__(self, durations: list[float], index: int) -> None:
        self._durations = durations
        self._index = index

    def __call__(self, seconds: float) -> None:
        self._durations[self._index] += seconds


class AudioEmitter:
    """Plugin-facing audio sink: decodes, frames and forwards audio as ``SynthesizedAudio``.

    Methods are synchronous and cheap (they queue work for an internal task); ``join()`` waits
    until everything pushed before ``end_input()`` was emitted and raises any decoding error.
    """

    def __init__(self, *, label: str, dst_ch: aio.Chan[SynthesizedAudio]) -> None:
        self._label = label
        self._dst_ch = dst_ch
        self._cfg: _Config | None = None
        self._msg_ch: aio.Chan[_Message] = aio.Chan()
        self._segment_open = False
        self._input_ended = False
        self._segment_ids: list[str] = []
        self._durations: list[float] = []
        self._bytes_pushed = 0
        self._task = asyncio.create_task(self._main_task(), name=f"AudioEmitter[{label}]")

    # -- configuration --------------------------------------------------------------------

    def initialize(
        self,
        *,
        request_id: str,
        sample_rate: int,
        num_channels: int,
        mime_type: str = "audio/pcm",
        frame_size_ms: int = 200,
        stream: bool = False,
    ) -> None:
        """Declare the audio format; call once, before any other method.

        ``sample_rate``/``num_channels`` are the output format (encoded input is decoded and
        resampled to it). ``stream=True`` is for ``SynthesizeStream``: audio then goes into
        segments opened by ``start_segment``.
        """
        if self._cfg is not None:
            raise RuntimeError("AudioEmitter.initialize() was already called for this request")
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
        if num_channels <= 0:
            raise ValueError(f"num_channels must be >= 1, got {num_channels}")
        if frame_size_ms <= 0:
            raise ValueError(f"frame_size_ms must be > 0, got {frame_size_ms}")
        if not mime_type or "/" not in mime_type:
            raise ValueError(
                f"mime_type must look like 'audio/pcm' or 'audio/mpeg', got {mime_type!r}"
            )
        if (
            create_sync_decoder(
                mime_type=mime_type, sample_rate=sample_rate, num_channels=num_channels
            )
            is None
        ):
            require_av(mime_type)  # fail now, with install instructions, if PyAV is missing
        self._cfg = _Config(
            request_id=request_id,
            sample_rate=sample_rate,
            num_channels=num_channels,
            mime_type=mime_type,
            frame_size_ms=frame_size_ms,
            stream=stream,
        )
        if not stream:
            self._open_segment("")

    # -- plugin API -----------------------------------------------------------------------

    def start_segment(self, *, segment_id: str) -> None:
        """Open a segment (streaming only); its last frame will be marked ``is_final``."""
        cfg = self._require_config("start_segment")
        if not cfg.stream:
            raise RuntimeError(
                "start_segment() is only for streams: call initialize(..., stream=True) first"
            )
        self._require_open_input("start_segment")
        if self._segment_open:
            raise RuntimeError(
                "a segment is already open: call end_segment() before start_segment() again"
            )
        self._open_segment(segment_id)

    def end_segment(self) -> None:
        """Close the current segment (streaming only)."""
        cfg = self._require_config("end_segment")
        if not cfg.stream:
            raise RuntimeError("end_segment() is only for streams (initialize(..., stream=True))")
        if not self._segment_open:
            raise RuntimeError("end_segment() called without an open segment (start_segment())")
        self._segment_open = False
        self._msg_ch.send_nowait(_EndSegment())

    def push(self, data: bytes | bytearray | memoryview) -> None:
        """Push audio bytes in the format declared in ``initialize`` (any chunk size)."""
        self._require_config("push")
        self._require_open_input("push")
        if not self._segment_open:
            raise RuntimeError("push() needs an open segment: call start_segment() first")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"push() expects audio bytes, got {type(data).__name__}")
        chunk = bytes(data)
        if not chunk:
            return
        self._bytes_pushed += len(chunk)
        self._msg_ch.send_nowait(_Data(chunk))

    def push_timed_transcript(self, delta_text: TimedString | list[TimedString]) -> None:
        """Attach timed text (word or sentence timings) to the audio of the current segment."""
        self._require_config("push_timed_transcript")
        self._require_open_input("push_timed_transcript")
        if not self._segment_open:
            raise RuntimeError(
                "push_timed_transcript() needs an open segment: call start_segment() first"
            )
        items = [delta_text] if isinstance(delta_text, str) else list(delta_text)
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"timed transcripts must be TimedString, got {type(item).__name__}")
        converted = [i if isinstance(i, TimedString) else TimedString(i) for i in items]
        if converted:
            self._msg_ch.send_nowait(_Transcript(converted))

    def flush(self) -> None:
        """Send the audio buffered so far now (a short frame if needed), marked ``is_final``.

        Without a flush the emitter keeps the latest frame back until more audio arrives or the
        segment ends, so it can mark the real last frame ``is_final``. Call ``flush()`` when the
        provider finished a unit (e.g. a sentence) and no more audio is coming soon.
        """
        self._require_config("flush")
        if self._segment_open and not self._input_ended:
            self._msg_ch.send_nowait(_Flush())

    def end_input(self) -> None:
        """No more input: ends the open segment (if any) and lets ``join()`` complete."""
        if self._input_ended:
            return
        self._input_ended = True
        if self._segment_open:
            self._segment_open = False
            self._msg_ch.send_nowait(_EndSegment())
        self._msg_ch.close()

    async def join(self) -> None:
        """Wait until all pushed audio was emitted; raises a decoding error if one happened."""
        await asyncio.shield(self._task)

    async def aclose(self) -> None:
        """Stop processing immediately and release the decoder."""
        self._input_ended = True
        self._segment_open = False
        self._msg_ch.close()
        await aio.cancel_and_wait(self._task)

    # -- introspection --------------------------------------------------------------------

    @property
    def num_segments(self) -> int:
        """Number of segments opened so far (1 for a chunked request once initialized)."""
        return len(self._segment_ids)

    @property
    def request_id(self) -> str | None:
        return self._cfg.request_id if self._cfg else None

    @property
    def initialized(self) -> bool:
        return self._cfg is not None

    @property
    def sample_rate(self) -> int | None:
        return self._cfg.sample_rate if self._cfg else None

    @property
    def has_pushed_audio(self) -> bool:
        """True once any audio bytes were pushed (decoded or not)."""
        return self._bytes_pushed > 0

    def pushed_duration(self, idx: int = -1) -> float:
        """Seconds of audio framed so far for segment ``idx`` (default: the latest)."""
        if not self._durations:
            return 0.0
        return self._durations[idx]

    @property
    def total_pushed_duration(self) -> float:
        return sum(self._durations)

    @property
    def task(self) -> asyncio.Task[None]:
        """The processing task; it ends after ``end_input()`` once everything was emitted."""
        return self._task

    # -- internals ------------------------------------------------------------------------

    def _open_segment(self, segment_id: str) -> None:
        self._segment_open = True
        self._segment_ids.append(segment_id)
        self._durations.append(0.0)
        self._msg_ch.send_nowait(_StartSegment(segment_id))

    def _require_config(self, method: str) -> _Config:
        if self._cfg is None:
            raise RuntimeError(f"AudioEmitter.initialize() must be called before {method}()")
        return self._cfg

    def _require_open_input(self, method: str) -> None:
        if self._input_ended:
            raise RuntimeError(f"cannot call {method}() after end_input()")

    async def _main_task(self) -> None:
        segment: _Segment | None = None
        index = -1
        try:
            async for msg in self._msg_ch:
                if isinstance(msg, _StartSegment):
                    assert self._cfg is not None
                    index += 1
                    segment = _Segment(
                        cfg=self._cfg,
                        segment_id=msg.segment_id,
                        dst_ch=self._dst_ch,
                        on_duration=_DurationSink(self._durations, index),
                    )
                elif segment is None:
                    continue
                elif isinstance(msg, _Data):
                    segment.push(msg.data)
                elif isinstance(msg, _Transcript):
                    segment.add_transcripts(msg.items)
                elif isinstance(msg, _Flush):
                    segment.flush()
                elif isinstance(msg, _EndSegment):
                    await segment.finish()
                    await segment.aclose()
                    segment = None
        finally:
            if segment is not None:
                await segment.aclose()


__all__ = ["TIMED_TRANSCRIPTS_KEY", "AudioEmitter", "SynthesizedAudio", "TimedString"]
