"""FakeTTS: tone audio of the right duration, chunked and streamed, delays and errors."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voxlane.agents import APIConnectOptions, APIStatusError
from voxlane.agents.metrics import TTSMetrics
from voxlane.agents.testing import now
from voxlane.agents.testing.fakes import FakeTTS
from voxlane.agents.tts import TIMED_TRANSCRIPTS_KEY, SynthesizedAudio, TTSError

pytestmark = pytest.mark.virtual_clock

FAST_RETRY = APIConnectOptions(max_retry=2, retry_interval=0.5, timeout=5.0)


async def test_synthesize_produces_an_audible_tone_of_the_right_length() -> None:
    tts = FakeTTS(sample_rate=16000, seconds_per_char=0.1)
    metrics: list[TTSMetrics] = []
    tts.on("metrics_collected", metrics.append)
    frame = await tts.synthesize("  hello  ").collect()
    assert frame.sample_rate == 16000
    assert frame.num_channels == 1
    assert frame.duration == pytest.approx(0.5)
    assert tts.audio_duration_for("hello") == pytest.approx(0.5)
    samples = np.frombuffer(bytes(frame.data.cast("B")), dtype=np.int16)
    assert np.abs(samples).max() > 5000
    assert tts.requests == ["  hello  "]
    assert len(metrics) == 1
    assert metrics[0].audio_duration == pytest.approx(0.5)
    assert metrics[0].characters_count == 9
    assert not metrics[0].streamed


async def test_ttfb_and_chunk_delay_use_loop_time() -> None:
    tts = FakeTTS(seconds_per_char=0.05, ttfb=0.3, chunk_duration=0.1, chunk_delay=0.1)
    stream = tts.synthesize("ten chars!")  # 0.5 s of audio in 5 chunks
    arrivals: list[float] = []
    async for _ in stream:
        arrivals.append(now())
    assert arrivals[0] == pytest.approx(0.3)
    assert now() == pytest.approx(0.7)


async def test_word_timings_are_attached() -> None:
    tts = FakeTTS(seconds_per_char=0.1)
    events = [ev async for ev in tts.synthesize("hi there")]
    timed = [w for ev in events for w in ev.frame.userdata.get(TIMED_TRANSCRIPTS_KEY, [])]
    assert [str(w) for w in timed] == ["hi ", "there "]
    assert (timed[1].start_time, timed[1].end_time) == pytest.approx((0.3, 0.8))
    plain = FakeTTS(aligned_transcript=False)
    events = [ev async for ev in plain.synthesize("hi there")]
    assert all(TIMED_TRANSCRIPTS_KEY not in ev.frame.userdata for ev in events)


async def test_stream_makes_one_segment_per_flush() -> None:
    tts = FakeTTS(sample_rate=8000, seconds_per_char=0.02)
    stream = tts.stream()
    stream.push_text("Hello ")
    stream.push_text("there.")
    stream.flush()
    stream.push_text("Bye!")
    stream.end_input()
    events: list[SynthesizedAudio] = [ev async for ev in stream]
    segments: dict[str, float] = {}
    for ev in events:
        segments[ev.segment_id] = segments.get(ev.segment_id, 0.0) + ev.frame.duration
    assert list(segments.values()) == pytest.approx([0.24, 0.08])
    assert [ev.is_final for ev in events].count(True) == 2
    assert tts.requests == ["Hello there.", "Bye!"]
    assert stream.segments == ["Hello there.", "Bye!"]


async def test_retry_before_audio_then_success() -> None:
    tts = FakeTTS()
    tts.fail_next(APIStatusError("unavailable", status_code=503))
    errors: list[TTSError] = []
    tts.on("error", errors.append)
    frame = await tts.synthesize("again", conn_options=FAST_RETRY).collect()
    assert frame.duration == pytest.approx(0.25)
    assert [e.recoverable for e in errors] == [True]
    assert tts.faults.attempts == 2
    assert tts.requests == ["again"]  # recorded once despite the retry


async def test_no_retry_after_audio_went_out() -> None:
    tts = FakeTTS(chunk_duration=0.05)
    tts.fail_next(APIStatusError("dropped", status_code=503), after=0.1)
    stream = tts.synthesize("a rather long sentence", conn_options=FAST_RETRY)
    got: list[SynthesizedAudio] = []
    with pytest.raises(APIStatusError, match="dropped"):
        async for ev in stream:
            got.append(ev)
    assert tts.faults.attempts == 1
    assert sum(ev.frame.duration for ev in got) == pytest.approx(0.1)


async def test_stream_retry_replays_the_text() -> None:
    tts = FakeTTS()
    tts.fail_next(APIStatusError("unavailable", status_code=500))
    stream = tts.stream(conn_options=FAST_RETRY)
    stream.push_text("Hello.")
    stream.end_input()
    events = [ev async for ev in stream]
    assert sum(ev.frame.duration for ev in events) == pytest.approx(0.3)
    assert tts.requests == ["Hello."]


async def test_non_retryable_error_is_raised_at_once() -> None:
    tts = FakeTTS()
    tts.fail_next(APIStatusError("forbidden", status_code=403), times=3)
    with pytest.raises(APIStatusError, match="forbidden"):
        await tts.synthesize("x", conn_options=FAST_RETRY).collect()
    assert tts.faults.attempts == 1


async def test_aclose_mid_stream_cancels_everything() -> None:
    tts = FakeTTS(chunk_delay=1.0)
    stream = tts.stream()
    stream.push_text("a long text to speak slowly")
    stream.flush()
    first = await stream.__anext__()
    assert first.frame.duration > 0
    await stream.aclose()
    assert [ev async for ev in stream] == []
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert leftovers == []


async def test_non_streaming_fake_refuses_stream() -> None:
    tts = FakeTTS(streaming=False)
    with pytest.raises(NotImplementedError, match="StreamAdapter"):
        tts.stream()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seconds_per_char": -1.0}, "seconds_per_char"),
        ({"chunk_duration": 0.0}, "chunk_duration"),
        ({"frequency": 20000.0}, "Nyquist"),
        ({"sample_rate": 0}, "sample_rate"),
    ],
)
def test_bad_configuration_is_explained(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FakeTTS(**kwargs)  # type: ignore[arg-type]
