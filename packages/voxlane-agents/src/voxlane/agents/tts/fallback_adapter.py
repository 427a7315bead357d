"""``FallbackAdapter``: several TTS engines behind one, failing over when one breaks.

Requests go to the first available engine. When it fails (after its own retries) *before any of
its audio went out*, it is marked unavailable (``"tts_availability_changed"``), a background task
re-tries the failed text on it to detect recovery, and the next engine takes over with the same
text. Once audio was emitted, a failure is raised instead: switching voices mid-sentence would
replay or skip speech. An engine that sends no audio within ``conn_options.timeout`` of being
asked for it (from the request for ``synthesize()``; from the first flushed or ended text for
``stream()``) counts as failed too. Audio from every engine is resampled to one common rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc

from .._exceptions import APIConnectionError, APITimeoutError
from ..tokenize import basic as basic_tokenize
from ..types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from ..utils import aio
from ..utils.misc import shortuuid
from .audio_emitter import AudioEmitter, SynthesizedAudio
from .stream_adapter import StreamAdapter
from .tts import TTS, ChunkedStream, SynthesizeStream, TTSCapabilities

logger = logging.getLogger("voxlane.agents.tts")

_PROBE_TEXT = "Hello."


@dataclass
class AvailabilityChangedEvent:
    """Payload of ``"tts_availability_changed"``: ``tts`` became (un)available."""

    tts: TTS
    available: bool


@dataclass
class _Member:
    tts: TTS  # as given by the user
    streaming: TTS  # what stream() uses: the TTS itself or a StreamAdapter around it
    available: bool = True
    recovering: asyncio.Task[None] | None = field(default=None, repr=False)


class FallbackAdapter(TTS):
    """Use the first available TTS of a list, failing over to the next on errors.

    ``max_retry_per_tts`` is the number of retries each engine gets before it is declared failed.
    ``sample_rate`` is the output rate (default: the highest rate of the engines); engines at
    another rate are resampled. All engines must have the same number of channels.
    Non-streaming engines are wrapped in ``tts.StreamAdapter`` for ``stream()``.
    """

    def __init__(
        self,
        tts: list[TTS],
        *,
        max_retry_per_tts: int = 2,
        sample_rate: int | None = None,
    ) -> None:
        if not isinstance(tts, (list, tuple)) or not tts:
            raise ValueError("FallbackAdapter needs a non-empty list of TTS instances")
        bad = [type(t).__name__ for t in tts if not isinstance(t, TTS)]
        if bad:
            raise TypeError(f"FallbackAdapter accepts only tts.TTS instances, got {bad[0]}")
        channels = {t.num_channels for t in tts}
        if len(channels) != 1:
            raise ValueError(
                "all TTS instances of a FallbackAdapter must have the same number of channels, "
                f"got {sorted(channels)}"
            )
        if max_retry_per_tts < 0:
            raise ValueError(f"max_retry_per_tts must be >= 0, got {max_retry_per_tts}")
        rate = sample_rate if sample_rate is not None else max(t.sample_rate for t in tts)
        super().__init__(
            capabilities=TTSCapabilities(
                streaming=True,
                aligned_transcript=all(t.capabilities.aligned_transcript for t in tts),
            ),
            sample_rate=rate,
            num_channels=channels.pop(),
        )
        self._members = [
            _Member(
                tts=t,
                streaming=t
                if t.capabilities.streaming
                else StreamAdapter(tts=t, sentence_tokenizer=basic_tokenize.SentenceTokenizer()),
            )
            for t in tts
        ]
        self._max_retry_per_tts = max_retry_per_tts
        self._label = "tts.FallbackAdapter<" + ", ".join(t.label for t in tts) + ">"
        for m in self._members:
            m.tts.on("metrics_collected", self._forward_metrics)

    def _forward_metrics(self, metrics: Any, *args: Any) -> None:
        self.emit("metrics_collected", metrics)

    @property
    def tts_instances(self) -> list[TTS]:
        """The engines, in order of preference."""
        return [m.tts for m in self._members]

    def is_available(self, tts: TTS) -> bool:
        """Whether ``tts`` (one of :attr:`tts_instances`) is currently in use."""
        for m in self._members:
            if m.tts is tts:
                return m.available
        raise ValueError(f"{tts.label} is not one of this FallbackAdapter's TTS instances")

    def _active(self) -> _Member:
        return next((m for m in self._members if m.available), self._members[0])

    @property
    def model(self) -> str:
        """The model of the engine currently preferred."""
        return self._active().tts.model

    @property
    def provider(self) -> str:
        return self._active().tts.provider

    def _member_options(self, conn_options: APIConnectOptions) -> APIConnectOptions:
        return APIConnectOptions(
            max_retry=self._max_retry_per_tts,
            retry_interval=conn_options.retry_interval,
            timeout=conn_options.timeout,
        )

    def _candidates(self) -> list[_Member]:
        """Available engines in order; if none is available, all of them (last resort)."""
        available = [m for m in self._members if m.available]
        if available:
            for m in self._members:
                if not m.available:
                    self._start_recovery(m, _PROBE_TEXT)
            return available
        return list(self._members)

    def _mark_failed(self, member: _Member, text: str, error: BaseException) -> None:
        logger.warning("%s failed, falling back: %s", member.tts.label, error)
        if member.available:
            member.available = False
            self.emit(
                "tts_availability_changed",
                AvailabilityChangedEvent(tts=member.tts, available=False),
            )
        self._start_recovery(member, text)

    def _mark_recovered(self, member: _Member) -> None:
        if not member.available:
            member.available = True
            logger.info("%s recovered", member.tts.label)
            self.emit(
                "tts_availability_changed", AvailabilityChangedEvent(tts=member.tts, available=True)
            )

    def _start_recovery(self, member: _Member, text: str) -> None:
        if member.recovering is not None and not member.recovering.done():
            return
        probe = text if text.strip() else _PROBE_TEXT
        member.recovering = asyncio.create_task(
            self._recover(member, probe), name=f"FallbackAdapter.recover[{member.tts.label}]"
        )

    async def _recover(self, member: _Member, text: str) -> None:
        opts = APIConnectOptions(max_retry=0, retry_interval=0.0)

        async def probe() -> bool:
            async with member.tts.synthesize(text, conn_options=opts) as stream:
                got_audio = False
                async for _ in stream:
                    got_audio = True
            return got_audio

        try:
            # bounded, so that a hung engine is probed again on a later request
            if await asyncio.wait_for(probe(), opts.timeout):
                self._mark_recovered(member)
        except (Exception, asyncio.TimeoutError) as e:
            logger.debug("%s is still failing: %r", member.tts.label, e)

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return FallbackChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return FallbackSynthesizeStream(tts=self, conn_options=conn_options)

    def prewarm(self) -> None:
        for m in self._members:
            m.tts.prewarm()

    async def aclose(self) -> None:
        """Stop recovery probes and detach (the engines stay open: they belong to the caller)."""
        for m in self._members:
            m.tts.off("metrics_collected", self._forward_metrics)
        await aio.cancel_and_wait(*(m.recovering for m in self._members))
        for m in self._members:
            if isinstance(m.streaming, StreamAdapter):
                await m.streaming.aclose()


class _Resampled:
    """Pushes frames of one engine into the emitter at the adapter's rate."""

    def __init__(self, emitter: AudioEmitter, out_rate: int) -> None:
        self._emitter = emitter
        self._out_rate = out_rate
        self._resampler: rtc.AudioResampler | None = None
        self._in_rate: int | None = None
        self.pushed = False
        self.received = asyncio.Event()
        """Set when the engine delivered its first non-empty frame (even if still resampling)."""

    def push(self, frame: rtc.AudioFrame) -> None:
        if frame.samples_per_channel:
            self.received.set()
        if frame.sample_rate == self._out_rate:
            self.flush()
            self._emit(frame)
            return
        if self._resampler is None or self._in_rate != frame.sample_rate:
            self.flush()
            self._resampler = rtc.AudioResampler(
                input_rate=frame.sample_rate,
                output_rate=self._out_rate,
                num_channels=frame.num_channels,
            )
            self._in_rate = frame.sample_rate
        for out in self._resampler.push(frame):
            self._emit(out)

    def flush(self) -> None:
        if self._resampler is not None:
            for out in self._resampler.flush():
                self._emit(out)
            self._resampler = None

    def _emit(self, frame: rtc.AudioFrame) -> None:
        if frame.samples_per_channel:
            self._emitter.push(frame.data.cast("B"))
            self.pushed = True


def _no_retry(conn_options: APIConnectOptions) -> APIConnectOptions:
    return APIConnectOptions(
        max_retry=0, retry_interval=conn_options.retry_interval, timeout=conn_options.timeout
    )


def _no_audio_error(member: _Member, timeout: float) -> APITimeoutError:
    return APITimeoutError(
        f"{member.tts.label} sent no audio within {timeout} s (conn_options.timeout); "
        "trying the next TTS"
    )


class FallbackChunkedStream(ChunkedStream):
    """``FallbackAdapter.synthesize()``: tries each engine in turn until one succeeds."""

    _report_metrics = False  # the engine that answered reports its own metrics

    def __init__(
        self, *, tts: FallbackAdapter, input_text: str, conn_options: APIConnectOptions
    ) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=_no_retry(conn_options))
        self._adapter = tts
        self._member_opts = tts._member_options(conn_options)

    async def _run(self, output_emitter: AudioEmitter) -> None:
        adapter = self._adapter
        output_emitter.initialize(
            request_id=shortuuid("TTS_"),
            sample_rate=adapter.sample_rate,
            num_channels=adapter.num_channels,
        )
        started = time.perf_counter()
        for member in adapter._candidates():
            sink = _Resampled(output_emitter, adapter.sample_rate)
            try:
                async with member.tts.synthesize(
                    self.input_text, conn_options=self._member_opts
                ) as stream:
                    events = stream.__aiter__()
                    while True:
                        try:
                            if sink.received.is_set():
                                ev = await events.__anext__()
                            else:
                                ev = await asyncio.wait_for(
                                    events.__anext__(), self._member_opts.timeout
                                )
                        except StopAsyncIteration:
                            break
                        except asyncio.TimeoutError:
                            raise _no_audio_error(member, self._member_opts.timeout) from None
                        sink.push(ev.frame)
                sink.flush()
                output_emitter.flush()
                return
            except Exception as e:
                if sink.pushed:
                    raise  # audio already went out: do not speak the text twice
                adapter._mark_failed(member, self.input_text, e)
        raise APIConnectionError(
            f"all TTS engines failed ({', '.join(m.tts.label for m in adapter._members)}) "
            f"after {time.perf_counter() - started:.2f}s",
            retryable=False,
        )


class _InputLog:
    """Everything pushed into the stream, readable from the start by each engine in turn."""

    def __init__(self) -> None:
        self.items: list[str | SynthesizeStream._FlushSentinel] = []
        self.ended = False
        self._changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def add(self, item: str | SynthesizeStream._FlushSentinel) -> None:
        self.items.append(item)
        self._notify()

    def end(self) -> None:
        self.ended = True
        self._notify()

    def _notify(self) -> None:
        if not self._changed.done():
            self._changed.set_result(None)
        self._changed = asyncio.get_running_loop().create_future()

    async def wait_changed(self) -> None:
        await asyncio.shield(self._changed)

    @property
    def text(self) -> str:
        return "".join(i for i in self.items if isinstance(i, str))

    @property
    def owes_audio(self) -> bool:
        """Whether some text was flushed or ended: an engine must answer it with audio."""
        pending = ""
        for item in self.items:
            if isinstance(item, str):
                pending += item
            elif pending.strip():
                return True
        return self.ended and bool(pending.strip())


class FallbackSynthesizeStream(SynthesizeStream):
    """``FallbackAdapter.stream()``: falls back to the next engine only before audio went out."""

    _report_metrics = False

    def __init__(self, *, tts: FallbackAdapter, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=_no_retry(conn_options))
        self._adapter = tts
        self._member_opts = tts._member_options(conn_options)

    async def _run(self, output_emitter: AudioEmitter) -> None:
        adapter = self._adapter
        output_emitter.initialize(
            request_id=shortuuid("TTS_"),
            sample_rate=adapter.sample_rate,
            num_channels=adapter.num_channels,
            stream=True,
        )
        log = _InputLog()
        collector = asyncio.create_task(self._collect_input(log), name="FallbackStream.input")
        started = time.perf_counter()
        try:
            for member in adapter._candidates():
                sink = _Resampled(output_emitter, adapter.sample_rate)
                try:
                    await self._run_member(member, log, output_emitter, sink)
                    return
                except Exception as e:
                    if sink.pushed:
                        raise  # audio already went out: cannot switch voices mid-speech
                    adapter._mark_failed(member, log.text, e)
            raise APIConnectionError(
                f"all TTS engines failed ({', '.join(m.tts.label for m in adapter._members)}) "
                f"after {time.perf_counter() - started:.2f}s",
                retryable=False,
            )
        finally:
            await aio.cancel_and_wait(collector)

    async def _collect_input(self, log: _InputLog) -> None:
        try:
            async for item in self._input_ch:
                log.add(item)
        finally:
            log.end()

    async def _run_member(
        self, member: _Member, log: _InputLog, output_emitter: AudioEmitter, sink: _Resampled
    ) -> None:
        stream = member.streaming.stream(conn_options=self._member_opts)
        forward = asyncio.create_task(self._forward(log, stream), name="FallbackStream.forward")
        consume = asyncio.create_task(
            self._consume(stream, output_emitter, sink), name="FallbackStream.consume"
        )
        watchdog = asyncio.create_task(
            self._watch_first_audio(member, log, sink), name="FallbackStream.first_audio"
        )
        try:
            await asyncio.wait({consume, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            if watchdog.done():
                watchdog.result()  # raises the no-audio timeout, if that is what ended it
            await consume
        finally:
            await aio.cancel_and_wait(watchdog, consume, forward)
            await stream.aclose()

    async def _consume(
        self, stream: SynthesizeStream, output_emitter: AudioEmitter, sink: _Resampled
    ) -> None:
        segment: str | None = None
        async for ev in stream:
            segment = self._switch_segment(output_emitter, sink, segment, ev)
            sink.push(ev.frame)
            if ev.is_final:
                sink.flush()
                output_emitter.flush()
        if segment is not None:
            sink.flush()
            output_emitter.end_segment()

    async def _watch_first_audio(self, member: _Member, log: _InputLog, sink: _Resampled) -> None:
        """Raise if no audio came within the timeout after text was flushed or ended."""
        while not log.owes_audio:
            await log.wait_changed()
        try:
            await asyncio.wait_for(sink.received.wait(), self._member_opts.timeout)
        except asyncio.TimeoutError:
            raise _no_audio_error(member, self._member_opts.timeout) from None

    @staticmethod
    def _switch_segment(
        output_emitter: AudioEmitter, sink: _Resampled, current: str | None, ev: SynthesizedAudio
    ) -> str:
        if current == ev.segment_id:
            return current
        if current is not None:
            sink.flush()
            output_emitter.end_segment()
        output_emitter.start_segment(segment_id=ev.segment_id or shortuuid("SEG_"))
        return ev.segment_id

    @staticmethod
    async def _forward(log: _InputLog, stream: SynthesizeStream) -> None:
        index = 0
        while True:
            while index < len(log.items):
                item = log.items[index]
                index += 1
                with contextlib.suppress(RuntimeError):  # the engine's stream already closed
                    if isinstance(item, str):
                        stream.push_text(item)
                    else:
                        stream.flush()
            if log.ended:
                with contextlib.suppress(RuntimeError):
                    stream.end_input()
                return
            await log.wait_changed()


__all__ = [
    "AvailabilityChangedEvent",
    "FallbackAdapter",
    "FallbackChunkedStream",
    "FallbackSynthesizeStream",
]
