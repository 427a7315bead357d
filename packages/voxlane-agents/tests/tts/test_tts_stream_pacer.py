"""tts.SentenceStreamPacer and StreamAdapter(text_pacing=...): fewer requests, sent when the
buffered audio runs low (run on the virtual clock, so the request times are exact)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from voxlane.agents import APIConnectOptions
from voxlane.agents.testing import FakeTTS, run_with_virtual_clock
from voxlane.agents.tokenize import SentenceStream, SentenceTokenizer, TokenData
from voxlane.agents.tts import SentenceStreamPacer, StreamAdapter, SynthesizeStream
from voxlane.agents.tts.stream_pacer import PlayoutEstimate
from voxlane.agents.types import NOT_GIVEN, NotGivenOr

FAST = APIConnectOptions(max_retry=0, retry_interval=0.0, timeout=30.0)


class _EachPushIsASentence(SentenceStream):
    """A sentence stream that emits every pushed text as one sentence, at once."""

    def push_text(self, text: str) -> None:
        self._event_ch.send_nowait(TokenData(segment_id="s", token=text))

    def flush(self) -> None:
        pass

    def end_input(self) -> None:
        self._event_ch.close()


class PushedSentences(SentenceTokenizer):
    def tokenize(self, text: str, *, language: NotGivenOr[str] = NOT_GIVEN) -> list[str]:
        return [text]

    def stream(self, *, language: NotGivenOr[str] = NOT_GIVEN) -> SentenceStream:
        return _EachPushIsASentence()


class TimedFakeTTS(FakeTTS):
    """FakeTTS (non-streaming) that also records when each request started (loop time)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(streaming=False, **kwargs)  # type: ignore[arg-type]
        self.request_times: list[float] = []

    def synthesize(self, text: str, *, conn_options: APIConnectOptions = FAST):  # type: ignore[no-untyped-def]
        self.request_times.append(asyncio.get_running_loop().time())
        return super().synthesize(text, conn_options=conn_options)


def sentence(i: int) -> str:
    text = f"This is sentence {i:02d}."
    assert len(text) == 20
    return text


async def drain(stream: SynthesizeStream) -> float:
    """Consume the stream; returns the seconds of audio it produced."""
    total = 0.0
    async for ev in stream:
        total += ev.frame.samples_per_channel / ev.frame.sample_rate
    return total


async def feed(stream: SynthesizeStream, texts: list[str], every: float) -> None:
    for i, text in enumerate(texts):
        if i:
            await asyncio.sleep(every)
        stream.push_text(text)
    stream.end_input()


def make_adapter(pacing: SentenceStreamPacer | bool) -> tuple[TimedFakeTTS, StreamAdapter]:
    # 0.1 s of audio per character (a 20-character sentence is 2 s), ready 0.2 s after the request
    inner = TimedFakeTTS(seconds_per_char=0.1, ttfb=0.2, chunk_duration=0.5)
    adapter = StreamAdapter(tts=inner, sentence_tokenizer=PushedSentences(), text_pacing=pacing)
    return inner, adapter


def test_without_pacing_every_sentence_is_one_request() -> None:
    run_with_virtual_clock(_test_without_pacing_every_sentence_is_one_request())


async def _test_without_pacing_every_sentence_is_one_request() -> None:
    inner, adapter = make_adapter(False)
    assert adapter.text_pacing is None
    texts = [sentence(i) for i in range(1, 9)]
    async with adapter.stream(conn_options=FAST) as stream:
        feeder = asyncio.create_task(feed(stream, texts, every=0.5))
        seconds = await drain(stream)
        await feeder
    assert inner.requests == texts
    assert seconds == pytest.approx(16.0)


def test_pacer_sends_the_next_batch_when_the_buffered_audio_runs_low() -> None:
    run_with_virtual_clock(_test_pacer_sends_the_next_batch_when_the_buffered_audio_runs_low())


async def _test_pacer_sends_the_next_batch_when_the_buffered_audio_runs_low() -> None:
    pacer = SentenceStreamPacer(min_remaining_audio=3.0, max_text_length=300)
    inner, adapter = make_adapter(pacer)
    assert adapter.text_pacing is pacer
    texts = [sentence(i) for i in range(1, 9)]  # one every 0.5 s, 2 s of audio each
    async with adapter.stream(conn_options=FAST) as stream:
        feeder = asyncio.create_task(feed(stream, texts, every=0.5))
        seconds = await drain(stream)
        await feeder
    # t=0: nothing buffered, the first sentence goes at once (audio until 2.2 s)
    # t=0.5: 1.7 s left <= 3 s: the 2nd goes as soon as it arrives (audio until 4.2 s)
    # t=1.0: the 3rd waits until only 3 s are left, at t=1.2 (audio until 6.2 s)
    # t=1.5..3.0: the 4th to 7th wait together until t=3.2, then go as one request
    # t=3.5: the 8th arrives with the end of the input: nothing to wait for, it goes at once
    assert inner.requests == [
        texts[0],
        texts[1],
        texts[2],
        " ".join(texts[3:7]),
        texts[7],
    ]
    assert inner.request_times == pytest.approx([0.0, 0.5, 1.2, 3.2, 3.5])
    assert seconds == pytest.approx(2.0 * 8 + 0.1 * 3)  # the joined text has 3 more spaces


def test_batches_respect_max_text_length() -> None:
    run_with_virtual_clock(_test_batches_respect_max_text_length())


async def _test_batches_respect_max_text_length() -> None:
    pacer = SentenceStreamPacer(min_remaining_audio=0.5, max_text_length=50)
    inner, adapter = make_adapter(pacer)
    texts = [sentence(i) for i in range(1, 8)]
    long_one = "A single sentence that is longer than the fifty character limit."
    async with adapter.stream(conn_options=FAST) as stream:
        feeder = asyncio.create_task(feed(stream, [*texts, long_one], every=0.1))
        await drain(stream)
        await feeder
    assert inner.requests[0] == texts[0]
    assert inner.requests[-1] == long_one  # sent whole even though it is too long
    assert all(len(r) <= 50 for r in inner.requests[:-1])
    # two 20-character sentences (41 with the space) fit in 50, a third does not
    assert any(r == f"{texts[1]} {texts[2]}" for r in inner.requests)
    assert " ".join(inner.requests) == " ".join([*texts, long_one])
    assert len(inner.requests) < len(texts) + 1


def test_text_pacing_true_uses_the_defaults_and_flush_keeps_segments() -> None:
    run_with_virtual_clock(_test_text_pacing_true_uses_the_defaults_and_flush_keeps_segments())


async def _test_text_pacing_true_uses_the_defaults_and_flush_keeps_segments() -> None:
    inner, adapter = make_adapter(True)
    assert adapter.text_pacing is not None
    assert adapter.text_pacing.min_remaining_audio == 5.0
    assert adapter.text_pacing.max_text_length == 300
    async with adapter.stream(conn_options=FAST) as stream:
        stream.push_text(sentence(1))
        stream.push_text(sentence(2))
        stream.flush()
        stream.push_text(sentence(3))
        stream.end_input()
        segment_ids: list[str] = []
        async for ev in stream:
            if not segment_ids or segment_ids[-1] != ev.segment_id:
                segment_ids.append(ev.segment_id)
    assert len(segment_ids) == 2  # one per flush, as without pacing
    assert " ".join(inner.requests) == " ".join(sentence(i) for i in (1, 2, 3))
    assert len(inner.requests) <= 3


def test_bad_pacing_arguments_are_rejected() -> None:
    inner = FakeTTS(streaming=False)
    with pytest.raises(TypeError, match="text_pacing must be"):
        StreamAdapter(tts=inner, text_pacing="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_remaining_audio"):
        SentenceStreamPacer(min_remaining_audio=-1.0)
    with pytest.raises(ValueError, match="min_remaining_audio"):
        SentenceStreamPacer(min_remaining_audio=float("nan"))
    with pytest.raises(ValueError, match="max_text_length"):
        SentenceStreamPacer(max_text_length=0)
    with pytest.raises(TypeError, match="max_text_length"):
        SentenceStreamPacer(max_text_length=12.5)  # type: ignore[arg-type]
    assert "min_remaining_audio=5.0" in repr(SentenceStreamPacer())


def test_playout_estimate_queues_audio_and_forgets_gaps() -> None:
    run_with_virtual_clock(_test_playout_estimate_queues_audio_and_forgets_gaps())


async def _test_playout_estimate_queues_audio_and_forgets_gaps() -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    playout = PlayoutEstimate()
    assert playout.remaining() == 0.0
    playout.add(2.0)
    playout.add(1.0)  # plays after the first 2 s
    assert playout.remaining() == pytest.approx(3.0)
    await asyncio.sleep(5.0)  # everything played, then 2 s of silence
    assert playout.remaining() == 0.0
    playout.add(1.5)  # starts now, not when the earlier audio ended
    assert playout.remaining() == pytest.approx(1.5)
    assert loop.time() - t0 == pytest.approx(5.0)
    with pytest.raises(ValueError, match="duration"):
        playout.add(-1.0)


def test_pacer_surfaces_a_failing_sentence_source() -> None:
    run_with_virtual_clock(_test_pacer_surfaces_a_failing_sentence_source())


async def _test_pacer_surfaces_a_failing_sentence_source() -> None:
    pacer = SentenceStreamPacer()

    async def broken() -> AsyncIterator[str]:
        yield "First sentence."
        raise RuntimeError("tokenizer broke")

    playout = PlayoutEstimate()
    seen: list[str] = []
    with pytest.raises(RuntimeError, match="tokenizer broke"):
        async for text in pacer.pace(broken(), playout):
            seen.append(text)
    assert seen in ([], ["First sentence."])
