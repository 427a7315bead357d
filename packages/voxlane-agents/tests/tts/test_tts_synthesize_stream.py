"""SynthesizeStream: segments per flush, retries with replay, no retry after audio, closing."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voxlane.agents import APIConnectionError, APIConnectOptions, APIStatusError
from voxlane.agents.metrics import TTSMetrics
from voxlane.agents.tts import (
    TTS,
    AudioEmitter,
    ChunkedStream,
    SynthesizedAudio,
    SynthesizeStream,
    TTSCapabilities,
    TTSError,
)

SR = 24000
SECONDS_PER_CHAR = 0.01
FAST = APIConnectOptions(max_retry=2, retry_interval=0.0, timeout=5.0)


def tone(seconds: float) -> bytes:
    t = np.arange(round(seconds * SR)) / SR
    return (np.sin(2 * np.pi * 220 * t) * 9000).astype(np.int16).tobytes()


class StreamingToneTTS(TTS):
    """A streaming TTS that speaks a tone per segment (SECONDS_PER_CHAR per character).

    ``fail_on_segment[attempt] = k`` makes attempt ``attempt`` raise when segment ``k`` ends,
    after the audio of the previous segments was pushed.
    """

    def __init__(
        self,
        *,
        fail_on_segment: dict[int, tuple[int, BaseException]] | None = None,
        silent: bool = False,
    ) -> None:
        super().__init__(
            capabilities=TTSCapabilities(streaming=True, aligned_transcript=True),
            sample_rate=SR,
            num_channels=1,
        )
        self.fail_on_segment = fail_on_segment or {}
        self.silent = silent
        self.attempts = 0
        self.retry_started = asyncio.Event()
        self.texts_per_attempt: list[list[str]] = []
        self.errors: list[TTSError] = []
        self.metrics: list[TTSMetrics] = []
        self.on("error", self.errors.append)
        self.on("metrics_collected", self.metrics.append)

    def synthesize(self, text: str, *, conn_options: APIConnectOptions = FAST) -> ChunkedStream:
        return self._synthesize_with_stream(text, conn_options=conn_options)

    def stream(self, *, conn_options: APIConnectOptions = FAST) -> SynthesizeStream:
        return ToneStream(tts=self, conn_options=conn_options)


class ToneStream(SynthesizeStream):
    async def _run(self, output_emitter: AudioEmitter) -> None:
        tts = self._tts
        assert isinstance(tts, StreamingToneTTS)
        attempt = tts.attempts
        tts.attempts += 1
        if attempt > 0:
            tts.retry_started.set()
        seen: list[str] = []
        tts.texts_per_attempt.append(seen)
        output_emitter.initialize(
            request_id=f"req-{attempt}", sample_rate=SR, num_channels=1, stream=True
        )
        text = ""
        index = 0
        async for item in self._input_ch:
            if not isinstance(item, self._FlushSentinel):
                text += item
                continue
            seen.append(text)
            fail = tts.fail_on_segment.get(attempt)
            if fail is not None and fail[0] == index:
                raise fail[1]
            output_emitter.start_segment(segment_id=f"seg-{index}")
            output_emitter.push_timed_transcript(text)  # type: ignore[arg-type]
            if not tts.silent:
                output_emitter.push(tone(len(text) * SECONDS_PER_CHAR))
            output_emitter.end_segment()
            text = ""
            index += 1


async def collect_all(stream: SynthesizeStream) -> list[SynthesizedAudio]:
    return [ev async for ev in stream]


async def test_one_segment_per_flush_with_final_frames_and_metrics() -> None:
    tts = StreamingToneTTS()
    async with tts.stream() as stream:
        stream.push_text("Hello ")
        stream.push_text("world, this is one.")  # 25 chars -> 0.25 s
        stream.flush()
        stream.flush()  # nothing pushed since the last flush: no empty segment
        stream.push_text("And two.")  # 8 chars -> 0.08 s
        stream.end_input()
        events = await collect_all(stream)

    by_seg: dict[str, list[SynthesizedAudio]] = {}
    for ev in events:
        by_seg.setdefault(ev.segment_id, []).append(ev)
    assert list(by_seg) == ["seg-0", "seg-1"]
    for evs in by_seg.values():
        assert [e.is_final for e in evs] == [False] * (len(evs) - 1) + [True]
    durations = {k: sum(e.frame.duration for e in v) for k, v in by_seg.items()}
    assert durations["seg-0"] == pytest.approx(0.25)
    assert durations["seg-1"] == pytest.approx(0.08)
    assert "".join(e.delta_text for e in by_seg["seg-0"]) == "Hello world, this is one."

    assert [(m.segment_id, m.characters_count, m.streamed) for m in tts.metrics] == [
        ("seg-0", 25, True),
        ("seg-1", 8, True),
    ]
    assert [m.audio_duration for m in tts.metrics] == pytest.approx([0.25, 0.08])
    assert not any(m.cancelled for m in tts.metrics)
    assert tts.texts_per_attempt == [["Hello world, this is one.", "And two."]]


async def test_first_audio_arrives_before_end_input() -> None:
    tts = StreamingToneTTS()
    stream = tts.stream()
    stream.push_text("first sentence here.")
    stream.flush()
    first = await stream.__anext__()  # no end_input yet
    assert first.segment_id == "seg-0"
    stream.push_text("second.")
    stream.end_input()
    rest = await collect_all(stream)
    assert rest[-1].segment_id == "seg-1" and rest[-1].is_final
    await stream.aclose()


async def test_retry_before_audio_replays_all_text() -> None:
    tts = StreamingToneTTS(fail_on_segment={0: (0, APIConnectionError("reset"))})
    stream = tts.stream()
    stream.push_text("one two ")
    stream.push_text("three.")
    stream.flush()
    stream.push_text("four.")
    stream.end_input()
    events = await collect_all(stream)
    assert tts.attempts == 2
    assert tts.texts_per_attempt == [["one two three."], ["one two three.", "four."]]
    assert {ev.segment_id for ev in events} == {"seg-0", "seg-1"}
    assert {ev.request_id for ev in events} == {"req-1"}
    assert [e.recoverable for e in tts.errors] == [True]
    await stream.aclose()


async def test_retry_replays_text_pushed_after_the_failure() -> None:
    tts = StreamingToneTTS(fail_on_segment={0: (0, APIStatusError("overloaded", status_code=503))})
    stream = tts.stream()
    stream.push_text("early text.")
    stream.flush()
    await tts.retry_started.wait()  # push more only once the retry is running
    stream.push_text("late text.")
    stream.end_input()
    events = await collect_all(stream)
    assert tts.texts_per_attempt[1] == ["early text.", "late text."]
    assert sum(ev.frame.duration for ev in events) == pytest.approx(0.21)
    await stream.aclose()


async def test_no_retry_after_audio_was_pushed() -> None:
    tts = StreamingToneTTS(fail_on_segment={0: (1, APIConnectionError("socket dropped"))})
    stream = tts.stream()
    stream.push_text("segment one.")
    stream.flush()
    stream.push_text("segment two.")
    stream.end_input()
    got: list[SynthesizedAudio] = []
    with pytest.raises(APIConnectionError, match="socket dropped"):
        async for ev in stream:
            got.append(ev)
    assert tts.attempts == 1
    assert got and {ev.segment_id for ev in got} == {"seg-0"}
    assert [e.recoverable for e in tts.errors] == [False]
    assert isinstance(stream.exception, APIConnectionError)
    await stream.aclose()


async def test_retries_exhausted() -> None:
    err = APIConnectionError("unreachable")
    tts = StreamingToneTTS(fail_on_segment={i: (0, err) for i in range(5)})
    stream = tts.stream()
    stream.push_text("hello.")
    stream.end_input()
    with pytest.raises(APIConnectionError, match="after 3 attempts"):
        await collect_all(stream)
    assert tts.attempts == 3
    assert [e.recoverable for e in tts.errors] == [True, True, False]
    await stream.aclose()


async def test_silent_provider_is_an_error() -> None:
    tts = StreamingToneTTS(silent=True)
    stream = tts.stream(conn_options=APIConnectOptions(max_retry=0))
    stream.push_text("please speak")
    stream.end_input()
    with pytest.raises(Exception, match="no audio frames were pushed for text: 'please speak'"):
        await collect_all(stream)
    await stream.aclose()


async def test_empty_stream_ends_without_error() -> None:
    tts = StreamingToneTTS()
    stream = tts.stream()
    stream.end_input()
    assert await collect_all(stream) == []
    assert tts.errors == [] and tts.metrics == []
    await stream.aclose()


async def test_aclose_mid_stream_leaves_no_task() -> None:
    before = asyncio.all_tasks()
    tts = StreamingToneTTS()
    stream = tts.stream()
    stream.push_text("a sentence that is spoken.")
    stream.flush()
    await stream.__anext__()
    stream.push_text("more text that never gets flushed")
    await stream.aclose()
    assert asyncio.all_tasks() == before
    assert stream.done
    with pytest.raises(RuntimeError, match="closed"):
        stream.push_text("too late")
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_input_misuse_errors() -> None:
    tts = StreamingToneTTS()
    stream = tts.stream()
    with pytest.raises(TypeError, match="str"):
        stream.push_text(42)  # type: ignore[arg-type]
    stream.end_input()
    stream.end_input()  # idempotent
    with pytest.raises(RuntimeError, match="after end_input"):
        stream.push_text("x")
    with pytest.raises(RuntimeError, match="after end_input"):
        stream.flush()
    await stream.aclose()
