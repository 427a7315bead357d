"""tts.StreamAdapter: sentence-by-sentence streaming over a non-streaming TTS."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voxlane.agents import APIConnectionError, APIConnectOptions, APIStatusError
from voxlane.agents.metrics import TTSMetrics
from voxlane.agents.tokenize import basic
from voxlane.agents.tts import (
    TIMED_TRANSCRIPTS_KEY,
    TTS,
    AudioEmitter,
    ChunkedStream,
    StreamAdapter,
    SynthesizedAudio,
    TTSCapabilities,
    TTSError,
)

SR = 22050
SECONDS_PER_CHAR = 0.01
FAST = APIConnectOptions(max_retry=1, retry_interval=0.0, timeout=5.0)


def tone(seconds: float) -> bytes:
    t = np.arange(round(seconds * SR)) / SR
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16).tobytes()


class SentenceTTS(TTS):
    """Non-streaming TTS recording each request; ``gates[text]`` holds that request open."""

    def __init__(self, *, fail_texts: dict[str, list[BaseException]] | None = None) -> None:
        super().__init__(
            capabilities=TTSCapabilities(streaming=False), sample_rate=SR, num_channels=1
        )
        self.requests: list[str] = []
        self.fail_texts = fail_texts or {}
        self.gates: dict[str, asyncio.Event] = {}
        self.started: dict[str, asyncio.Event] = {}

    @property
    def model(self) -> str:
        return "sentence-tts"

    def synthesize(self, text: str, *, conn_options: APIConnectOptions = FAST) -> ChunkedStream:
        return _SentenceChunked(tts=self, input_text=text, conn_options=conn_options)


class _SentenceChunked(ChunkedStream):
    async def _run(self, output_emitter: AudioEmitter) -> None:
        tts = self._tts
        assert isinstance(tts, SentenceTTS)
        tts.requests.append(self.input_text)
        tts.started.setdefault(self.input_text, asyncio.Event()).set()
        failures = tts.fail_texts.get(self.input_text)
        if failures:
            raise failures.pop(0)
        output_emitter.initialize(request_id="x", sample_rate=SR, num_channels=1)
        gate = tts.gates.get(self.input_text)
        if gate is not None:
            await gate.wait()
        output_emitter.push(tone(len(self.input_text) * SECONDS_PER_CHAR))


async def collect(stream: object) -> list[SynthesizedAudio]:
    return [ev async for ev in stream]  # type: ignore[attr-defined]


async def test_one_synthesize_per_sentence_and_segments_per_flush() -> None:
    inner = SentenceTTS()
    adapter = StreamAdapter(tts=inner, sentence_tokenizer=basic.SentenceTokenizer())
    assert adapter.capabilities.streaming and adapter.capabilities.aligned_transcript
    assert adapter.sample_rate == SR and adapter.model == "sentence-tts"
    metrics: list[TTSMetrics] = []
    adapter.on("metrics_collected", metrics.append)

    s1 = "The first sentence is long enough."
    s2 = "The second one is also long enough."
    s3 = "A new segment starts right here."
    async with adapter.stream(conn_options=FAST) as stream:
        for word in f"{s1} {s2}".split(" "):
            stream.push_text(word + " ")
        stream.flush()
        stream.push_text(s3)
        stream.end_input()
        events = await collect(stream)

    assert inner.requests == [s1, s2, s3]
    segments = list(dict.fromkeys(ev.segment_id for ev in events))
    assert len(segments) == 2
    # every sentence is flushed as soon as it is synthesized: its last frame is final
    finals = [ev for ev in events if ev.is_final]
    assert [ev.segment_id for ev in finals] == [segments[0], segments[0], segments[1]]
    seg1 = [ev for ev in events if ev.segment_id == segments[0]]
    assert sum(ev.frame.duration for ev in seg1) == pytest.approx(
        len(s1 + s2) * SECONDS_PER_CHAR, abs=1e-3
    )

    # sentence-level aligned transcript with start offsets inside the segment
    timed = [t for ev in seg1 for t in ev.frame.userdata.get(TIMED_TRANSCRIPTS_KEY, [])]
    assert [t.strip() for t in timed] == [s1, s2]
    assert timed[0].start_time == 0.0
    assert timed[1].start_time == pytest.approx(len(s1) * SECONDS_PER_CHAR, abs=1e-3)
    # the wrapped TTS's per-sentence metrics are re-emitted by the adapter, once each
    assert [m.characters_count for m in metrics] == [len(s1), len(s2), len(s3)]
    await adapter.aclose()


async def test_first_audio_before_the_whole_text_is_synthesized() -> None:
    inner = SentenceTTS()
    s1 = "Here is the opening sentence."
    s2 = "And this one is held back for now."
    inner.gates[s2] = asyncio.Event()
    inner.started[s2] = asyncio.Event()
    stream = StreamAdapter(tts=inner).stream(conn_options=FAST)
    stream.push_text(f"{s1} {s2} ")
    stream.push_text("Still talking here.")
    first = await stream.__anext__()  # arrives while s2 is still being synthesized
    assert first.frame.sample_rate == SR
    await inner.started[s2].wait()
    assert s2 in inner.requests and "Still talking here." not in inner.requests
    inner.gates[s2].set()
    stream.end_input()
    rest = await collect(stream)
    assert rest[-1].is_final
    assert inner.requests == [s1, s2, "Still talking here."]
    await stream.aclose()


async def test_inner_retry_is_used_then_success() -> None:
    s1 = "A sentence that fails once before working."
    inner = SentenceTTS(fail_texts={s1: [APIConnectionError("flaky")]})
    errors: list[TTSError] = []
    inner.on("error", errors.append)
    stream = StreamAdapter(tts=inner).stream(conn_options=FAST)
    stream.push_text(s1)
    stream.end_input()
    events = await collect(stream)
    assert inner.requests == [s1, s1]
    assert sum(ev.frame.duration for ev in events) == pytest.approx(
        len(s1) * SECONDS_PER_CHAR, abs=1e-3
    )
    assert [e.recoverable for e in errors] == [True]
    await stream.aclose()


async def test_failure_after_audio_is_not_retried_by_the_stream() -> None:
    s1 = "This first sentence works fine."
    s2 = "This second sentence will fail badly."
    inner = SentenceTTS(fail_texts={s2: [APIStatusError("bad request", status_code=400)]})
    adapter = StreamAdapter(tts=inner)
    adapter_errors: list[TTSError] = []
    adapter.on("error", adapter_errors.append)
    stream = adapter.stream(conn_options=FAST)
    stream.push_text(f"{s1} {s2}")
    stream.end_input()
    got: list[SynthesizedAudio] = []
    with pytest.raises(APIStatusError, match="bad request"):
        async for ev in stream:
            got.append(ev)
    assert inner.requests == [s1, s2]  # s2 not retried: non-retryable, and audio went out
    assert sum(ev.frame.duration for ev in got) == pytest.approx(
        len(s1) * SECONDS_PER_CHAR, abs=1e-3
    )
    assert [e.recoverable for e in adapter_errors] == [False]
    await stream.aclose()


async def test_aclose_mid_sentence_leaves_no_task() -> None:
    before = asyncio.all_tasks()
    inner = SentenceTTS()
    s1 = "This sentence never finishes synthesizing."
    inner.gates[s1] = asyncio.Event()
    inner.started[s1] = asyncio.Event()
    stream = StreamAdapter(tts=inner).stream(conn_options=FAST)
    stream.push_text(s1 + " More text keeps coming in.")
    await inner.started[s1].wait()
    await stream.aclose()
    assert asyncio.all_tasks() == before


async def test_adapter_validation_and_synthesize_passthrough() -> None:
    with pytest.raises(TypeError, match="tts must be"):
        StreamAdapter(tts="piper")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sentence_tokenizer"):
        StreamAdapter(tts=SentenceTTS(), sentence_tokenizer=basic.WordTokenizer())  # type: ignore[arg-type]
    inner = SentenceTTS()
    adapter = StreamAdapter(tts=inner)
    frame = await adapter.synthesize("Just one call.").collect()
    assert inner.requests == ["Just one call."]
    assert frame.duration == pytest.approx(14 * SECONDS_PER_CHAR, abs=1e-3)
