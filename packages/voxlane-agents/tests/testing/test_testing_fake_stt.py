"""FakeSTT: scripted transcripts with timing, streaming and not, errors and retries."""

from __future__ import annotations

import asyncio

import pytest

from voxlane.agents import APIConnectionError, APIConnectOptions, APIStatusError
from voxlane.agents.metrics import STTMetrics
from voxlane.agents.stt import SpeechEvent, SpeechEventType, StreamAdapter, STTError
from voxlane.agents.testing import advance, now, wait_idle
from voxlane.agents.testing.fakes import (
    FakeSTT,
    FakeVAD,
    ScriptedTranscript,
    audio_pattern,
)

pytestmark = pytest.mark.virtual_clock

FAST_RETRY = APIConnectOptions(max_retry=2, retry_interval=0.5, timeout=5.0)


def _summary(events: list[SpeechEvent]) -> list[tuple[str, str]]:
    return [
        (e.type.value, e.alternatives[0].text if e.alternatives else "")
        for e in events
        if e.type != SpeechEventType.RECOGNITION_USAGE
    ]


async def test_streaming_script_follows_the_pushed_audio() -> None:
    stt = FakeSTT(
        [
            ScriptedTranscript("turn the lights on", start=0.2, end=1.0, final_delay=0.1),
            ScriptedTranscript("thanks", start=1.5, end=1.8, interims=()),
        ]
    )
    stream = stt.stream()
    frames = audio_pattern([(2.0, True)], frame_duration=0.1)
    got: list[tuple[float, SpeechEvent]] = []

    async def read() -> None:
        async for ev in stream:
            got.append((stream.pushed_duration, ev))

    reader = asyncio.create_task(read())
    for frame in frames:
        stream.push_frame(frame)
        await wait_idle()
    stream.end_input()
    await reader
    events = [ev for _, ev in got]
    assert _summary(events) == [
        ("start_of_speech", ""),
        ("interim_transcript", "turn"),
        ("interim_transcript", "turn the"),
        ("interim_transcript", "turn the lights"),
        ("final_transcript", "turn the lights on"),
        ("end_of_speech", ""),
        ("start_of_speech", ""),
        ("final_transcript", "thanks"),
        ("end_of_speech", ""),
    ]
    # each event came out once enough audio had been pushed
    positions = [round(pos, 2) for pos, ev in got if ev.type == SpeechEventType.FINAL_TRANSCRIPT]
    assert positions == [1.1, 1.8]
    final = events[4]
    assert final.alternatives[0].start_time == 0.2
    assert final.alternatives[0].end_time == 1.0
    assert final.alternatives[0].language == "en"
    usage = [e for e in events if e.type == SpeechEventType.RECOGNITION_USAGE]
    assert sum(u.recognition_usage.audio_duration for u in usage if u.recognition_usage) == (
        pytest.approx(2.0)
    )
    await stream.aclose()


async def test_clock_timebase_fires_on_loop_time_without_audio() -> None:
    stt = FakeSTT(
        [ScriptedTranscript("hello", start=1.0, end=2.0, final_delay=0.5)], timebase="clock"
    )
    stream = stt.stream()
    received: list[tuple[str, float]] = []

    async def read() -> None:
        async for ev in stream:
            received.append((ev.type.value, now()))

    reader = asyncio.create_task(read())
    await advance(10)
    stream.end_input()
    await reader
    assert received == [
        ("start_of_speech", 1.0),
        ("final_transcript", 2.5),
        ("end_of_speech", 2.5),
    ]


async def test_untimed_transcripts_come_on_flush() -> None:
    stt = FakeSTT(["first", "second"], interim_results=False)
    stream = stt.stream()
    events: list[SpeechEvent] = []

    async def read() -> None:
        async for ev in stream:
            events.append(ev)

    reader = asyncio.create_task(read())
    for frame in audio_pattern([(0.5, True)]):
        stream.push_frame(frame)
    await asyncio.sleep(1)
    assert events == []
    stream.flush()
    await asyncio.sleep(1)
    assert _summary(events) == [("final_transcript", "first")]
    stream.end_input()  # the rest of the script is played at the end of input
    await reader
    assert _summary(events) == [("final_transcript", "first"), ("final_transcript", "second")]
    assert stream.flush_count == 2


async def test_start_time_offset_shifts_timestamps() -> None:
    stt = FakeSTT([ScriptedTranscript("hi", start=0.1, end=0.3)])
    stream = stt.stream()
    stream.start_time_offset = 10.0
    stream.push_frame(audio_pattern([(0.5, True)])[0])
    stream.end_input()
    finals = [ev async for ev in stream if ev.type == SpeechEventType.FINAL_TRANSCRIPT]
    assert finals[0].alternatives[0].start_time == pytest.approx(10.1)
    assert finals[0].alternatives[0].end_time == pytest.approx(10.3)


async def test_stream_retries_after_a_mid_stream_error_and_keeps_its_place() -> None:
    stt = FakeSTT(
        [
            ScriptedTranscript("one", start=0.1, end=0.3),
            ScriptedTranscript("two", start=1.0, end=1.4),
        ]
    )
    stt.fail_next(APIStatusError("server overloaded", status_code=503), after=0.6)
    errors: list[STTError] = []
    stt.on("error", errors.append)
    stream = stt.stream(conn_options=FAST_RETRY)
    for frame in audio_pattern([(2.0, True)], frame_duration=0.1):
        stream.push_frame(frame)
    stream.end_input()
    events = [ev async for ev in stream]
    finals = [e.alternatives[0].text for e in events if e.type == SpeechEventType.FINAL_TRANSCRIPT]
    assert finals == ["one", "two"]  # nothing lost or repeated across the reconnect
    assert [e.recoverable for e in errors] == [True]
    assert stt.faults.attempts == 2


async def test_stream_gives_up_on_a_non_retryable_error() -> None:
    stt = FakeSTT([ScriptedTranscript("one", start=0.1, end=0.3)])
    stt.fail_next(APIStatusError("bad api key", status_code=401))
    errors: list[STTError] = []
    stt.on("error", errors.append)
    stream = stt.stream(conn_options=FAST_RETRY)
    stream.push_frame(audio_pattern([(0.5, True)])[0])
    with pytest.raises(APIStatusError, match="bad api key"):
        async for _ in stream:
            pass
    assert [e.recoverable for e in errors] == [False]
    assert stt.faults.attempts == 1
    await stream.aclose()


async def test_stream_retries_are_bounded() -> None:
    stt = FakeSTT([])
    stt.fail_next(times=5)
    stream = stt.stream(conn_options=FAST_RETRY)
    with pytest.raises(APIConnectionError, match="after 3 attempts"):
        async for _ in stream:
            pass
    assert stt.faults.attempts == 3
    # first retry waits 0.1 s, then retry_interval
    assert now() == pytest.approx(0.6)
    await stream.aclose()


async def test_recognize_plays_the_script_in_order_with_metrics() -> None:
    stt = FakeSTT(
        [ScriptedTranscript("hello", start=0, end=1, language="fr"), "world"],
        streaming=False,
        recognize_delay=0.25,
    )
    metrics: list[STTMetrics] = []
    stt.on("metrics_collected", metrics.append)
    audio = audio_pattern([(1.0, True)])
    first = await stt.recognize(audio)
    second = await stt.recognize(audio[0], language="de")
    third = await stt.recognize(audio)
    assert [e.alternatives[0].text for e in (first, second, third)] == ["hello", "world", ""]
    assert first.alternatives[0].language == "fr"
    assert second.alternatives[0].language == "de"
    assert now() == 0.75
    assert [c.language for c in stt.recognize_calls] == [None, "de", None]
    assert stt.recognize_calls[0].audio_duration == pytest.approx(1.0)
    assert len(metrics) == 3
    assert all(not m.streamed and m.audio_duration > 0 for m in metrics)
    with pytest.raises(NotImplementedError, match="StreamAdapter"):
        stt.stream()


async def test_recognize_retries_then_succeeds() -> None:
    stt = FakeSTT(["ok"], streaming=False)
    stt.faults.fail_on_attempt(1, APIStatusError("rate limited", status_code=429))
    event = await stt.recognize(audio_pattern([(0.2, True)]), conn_options=FAST_RETRY)
    assert event.alternatives[0].text == "ok"
    assert len(stt.recognize_calls) == 2


async def test_recognize_timeout_is_virtual() -> None:
    stt = FakeSTT(["late"], streaming=False, recognize_delay=30)
    with pytest.raises(APIConnectionError):
        await stt.recognize(
            audio_pattern([(0.2, True)]),
            conn_options=APIConnectOptions(max_retry=1, retry_interval=1.0, timeout=2.0),
        )
    assert now() == pytest.approx(4.1)


async def test_non_streaming_fake_works_with_the_stream_adapter() -> None:
    stt = FakeSTT(["what time is it"], streaming=False)
    vad = FakeVAD(segments=[(0.3, 1.2)], update_interval=0.02)
    adapter = StreamAdapter(stt=stt, vad=vad)
    stream = adapter.stream()
    for frame in audio_pattern([(2.0, True)]):
        stream.push_frame(frame)
    stream.end_input()
    events = [ev async for ev in stream]
    finals = [e.alternatives[0].text for e in events if e.type == SpeechEventType.FINAL_TRANSCRIPT]
    assert finals == ["what time is it"]
    assert stt.recognize_calls[0].audio_duration > 0.8
    await stream.aclose()


def test_bad_scripts_are_explained() -> None:
    with pytest.raises(ValueError, match="must not overlap"):
        FakeSTT(
            [
                ScriptedTranscript("a", start=0, end=1, final_delay=0.5),
                ScriptedTranscript("b", start=1.2, end=2),
            ]
        )
    with pytest.raises(ValueError, match="start <= end"):
        ScriptedTranscript("a", start=2, end=1)
    with pytest.raises(ValueError, match="outside"):
        ScriptedTranscript("a b", start=0, end=1, interims=[(3.0, "a")])
    with pytest.raises(TypeError, match="transcripts\\[0\\]"):
        FakeSTT([42])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="timebase"):
        FakeSTT([], timebase="wall")  # type: ignore[arg-type]
