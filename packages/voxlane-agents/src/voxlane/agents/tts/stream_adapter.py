"""``StreamAdapter``: a streaming facade over a TTS that only synthesizes whole texts.

Pushed text goes through a sentence tokenizer; every complete sentence is synthesized with the
wrapped TTS's ``synthesize()`` while more text keeps arriving, so the first audio comes out as soon
as the first sentence is done. Each ``flush()`` of the stream is one output segment, and each
sentence is pushed as a timed transcript (sentence-level alignment).

With ``text_pacing`` (a :class:`~voxlane.agents.tts.SentenceStreamPacer`), sentences are batched
instead: the next ``synthesize()`` call is issued, with all the sentences that arrived meanwhile,
only when the audio already produced is about to run out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ..metrics import TTSMetrics
from ..tokenize import SentenceStream, SentenceTokenizer
from ..tokenize import basic as basic_tokenize
from ..types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from ..utils import aio
from ..utils.misc import shortuuid
from .audio_emitter import AudioEmitter, TimedString
from .stream_pacer import PlayoutEstimate, SentenceStreamPacer
from .tts import TTS, ChunkedStream, SynthesizeStream, TTSCapabilities


class StreamAdapter(TTS):
    """Make a non-streaming TTS streamable, one ``synthesize()`` call per sentence.

    ``sentence_tokenizer`` defaults to ``tokenize.basic.SentenceTokenizer()``. ``text_pacing``:
    ``False`` (default) sends each sentence as soon as it is complete; a
    :class:`SentenceStreamPacer` (or ``True`` for one with default settings) batches sentences
    and sends the next request only when the buffered audio runs low. Metrics of the wrapped
    TTS (one per request) are re-emitted by the adapter.
    """

    def __init__(
        self,
        *,
        tts: TTS,
        sentence_tokenizer: NotGivenOr[SentenceTokenizer] = NOT_GIVEN,
        text_pacing: SentenceStreamPacer | bool = False,
    ) -> None:
        if not isinstance(tts, TTS):
            raise TypeError(f"tts must be a voxlane.agents.tts.TTS, got {type(tts).__name__}")
        super().__init__(
            capabilities=TTSCapabilities(streaming=True, aligned_transcript=True),
            sample_rate=tts.sample_rate,
            num_channels=tts.num_channels,
        )
        self._wrapped_tts = tts
        self._label = f"tts.StreamAdapter<{tts.label}>"
        if isinstance(sentence_tokenizer, SentenceTokenizer):
            self._sentence_tokenizer: SentenceTokenizer = sentence_tokenizer
        elif sentence_tokenizer is NOT_GIVEN:
            self._sentence_tokenizer = basic_tokenize.SentenceTokenizer()
        else:
            raise TypeError(
                "sentence_tokenizer must be a tokenize.SentenceTokenizer, got "
                f"{type(sentence_tokenizer).__name__}"
            )
        if isinstance(text_pacing, SentenceStreamPacer):
            self._text_pacing: SentenceStreamPacer | None = text_pacing
        elif text_pacing is True:
            self._text_pacing = SentenceStreamPacer()
        elif text_pacing is False:
            self._text_pacing = None
        else:
            raise TypeError(
                "text_pacing must be True, False or a tts.SentenceStreamPacer, got "
                f"{type(text_pacing).__name__}"
            )
        self._wrapped_tts.on("metrics_collected", self._forward_metrics)

    def _forward_metrics(self, metrics: TTSMetrics, *args: Any) -> None:
        self.emit("metrics_collected", metrics)

    @property
    def wrapped_tts(self) -> TTS:
        return self._wrapped_tts

    @property
    def sentence_tokenizer(self) -> SentenceTokenizer:
        return self._sentence_tokenizer

    @property
    def text_pacing(self) -> SentenceStreamPacer | None:
        """The pacer batching sentences, or None when each sentence is sent on its own."""
        return self._text_pacing

    @property
    def model(self) -> str:
        return self._wrapped_tts.model

    @property
    def provider(self) -> str:
        return self._wrapped_tts.provider

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return self._wrapped_tts.synthesize(text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return StreamAdapterWrapper(tts=self, conn_options=conn_options)

    def prewarm(self) -> None:
        self._wrapped_tts.prewarm()

    async def aclose(self) -> None:
        """Detach from the wrapped TTS (which stays open: it belongs to the caller)."""
        self._wrapped_tts.off("metrics_collected", self._forward_metrics)


class StreamAdapterWrapper(SynthesizeStream):
    """The stream returned by :meth:`StreamAdapter.stream`."""

    _report_metrics = False  # the wrapped TTS reports one TTSMetrics per sentence

    def __init__(self, *, tts: StreamAdapter, conn_options: APIConnectOptions) -> None:
        # retries happen inside each synthesize() call; the stream itself does not retry
        outer = APIConnectOptions(
            max_retry=0, retry_interval=conn_options.retry_interval, timeout=conn_options.timeout
        )
        super().__init__(tts=tts, conn_options=outer)
        self._adapter = tts
        self._inner_conn_options = conn_options

    async def _run(self, output_emitter: AudioEmitter) -> None:
        wrapped = self._adapter.wrapped_tts
        output_emitter.initialize(
            request_id=shortuuid("TTS_"),
            sample_rate=wrapped.sample_rate,
            num_channels=wrapped.num_channels,
            mime_type="audio/pcm",
            stream=True,
        )
        segments: aio.Chan[SentenceStream] = aio.Chan()
        forward = asyncio.create_task(self._split_input(segments), name="StreamAdapter._split")
        synth = asyncio.create_task(
            self._synthesize_segments(segments, output_emitter), name="StreamAdapter._synth"
        )
        try:
            done, _ = await asyncio.wait([forward, synth], return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # raise the first failure
            await synth
        finally:
            segments.close()
            await aio.cancel_and_wait(forward, synth)

    async def _split_input(self, segments: aio.Chan[SentenceStream]) -> None:
        current: SentenceStream | None = None
        try:
            async for item in self._input_ch:
                if isinstance(item, self._FlushSentinel):
                    if current is not None:
                        current.end_input()
                        current = None
                    continue
                if current is None:
                    current = self._adapter.sentence_tokenizer.stream()
                    segments.send_nowait(current)
                current.push_text(item)
        finally:
            if current is not None:
                current.end_input()
            segments.close()

    async def _synthesize_segments(
        self, segments: aio.Chan[SentenceStream], output_emitter: AudioEmitter
    ) -> None:
        pacer = self._adapter.text_pacing
        playout = PlayoutEstimate()
        async for sentences in segments:
            output_emitter.start_segment(segment_id=shortuuid("SEG_"))
            offset = 0.0
            texts = _sentence_texts(sentences)
            requests = texts if pacer is None else pacer.pace(texts, playout)
            try:
                async for text in requests:
                    output_emitter.push_timed_transcript(TimedString(text + " ", start_time=offset))
                    offset += await self._synthesize_one(text, output_emitter, playout)
                    output_emitter.flush()  # release this request's audio without waiting
            finally:
                await _aclose(requests)
                await _aclose(texts)
                await sentences.aclose()
            output_emitter.end_segment()

    async def _synthesize_one(
        self, text: str, output_emitter: AudioEmitter, playout: PlayoutEstimate
    ) -> float:
        """Synthesize ``text`` with the wrapped TTS into the emitter; returns its duration."""
        wrapped = self._adapter.wrapped_tts
        duration = 0.0
        async with wrapped.synthesize(text, conn_options=self._inner_conn_options) as stream:
            async for audio in stream:
                frame = audio.frame
                if (
                    frame.sample_rate != wrapped.sample_rate
                    or frame.num_channels != wrapped.num_channels
                ):
                    raise ValueError(
                        f"{wrapped.label} produced {frame.sample_rate} Hz/"
                        f"{frame.num_channels} ch audio but declares "
                        f"{wrapped.sample_rate} Hz/{wrapped.num_channels} ch"
                    )
                output_emitter.push(frame.data.cast("B"))
                seconds = frame.samples_per_channel / frame.sample_rate
                playout.add(seconds)
                duration += seconds
        return duration


async def _sentence_texts(sentences: SentenceStream) -> AsyncIterator[str]:
    async for token in sentences:
        yield token.token


async def _aclose(it: AsyncIterator[str]) -> None:
    close = getattr(it, "aclose", None)
    if close is not None:
        await close()


__all__ = ["StreamAdapter", "StreamAdapterWrapper"]
