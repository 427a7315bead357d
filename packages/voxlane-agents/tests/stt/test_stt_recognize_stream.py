"""RecognizeStream: lifecycle, resampling, reconnects, metrics and cancellation."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents import APIConnectionError, APIConnectOptions, APIStatusError, NotGivenOr
from voxlane.agents.metrics import STTMetrics
from voxlane.agents.stt import (
    STT,
    RecognitionUsage,
    RecognizeStream,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    SpeechStream,
    STTCapabilities,
    STTError,
)
from voxlane.agents.types import NOT_GIVEN
from voxlane.agents.utils.audio import AudioBuffer

FAST = APIConnectOptions(max_retry=3, retry_interval=0.0, timeout=5.0)


def noise_frame(duration: float, sample_rate: int = 16000, seed: int = 0) -> rtc.AudioFrame:
    n = round(duration * sample_rate)
    pcm = np.random.default_rng(seed).integers(-8000, 8000, n, dtype=np.int16)
    return rtc.AudioFrame(
        data=pcm.tobytes(), sample_rate=sample_rate, num_channels=1, samples_per_channel=n
    )


class SegmentSTT(STT):
    """A streaming engine: one FINAL_TRANSCRIPT (and usage) per flushed segment.

    ``fail_plan[i]`` tells attempt ``i`` to raise that error after emitting that many finals
    (``None`` entries mean "never fail").
    """

    def __init__(
        self,
        *,
        fail_plan: list[tuple[int, Exception] | None] | None = None,
        block: bool = False,
    ) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=True, interim_results=True))
        self.fail_plan = list(fail_plan or [])
        self.block = block
        self.attempts = 0
        self.received_rates: list[int] = []
        self.received_samples = 0

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> SpeechEvent:
        raise AssertionError("not used")

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = FAST,
        sample_rate: NotGivenOr[int] = NOT_GIVEN,
    ) -> RecognizeStream:
        return SegmentStream(stt=self, conn_options=conn_options, sample_rate=sample_rate)


class SegmentStream(RecognizeStream):
    def __init__(
        self, *, stt: SegmentSTT, conn_options: APIConnectOptions, sample_rate: NotGivenOr[int]
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options, sample_rate=sample_rate)
        self._engine = stt

    async def _run(self) -> None:
        engine = self._engine
        attempt = engine.attempts
        engine.attempts += 1
        plan = engine.fail_plan[attempt] if attempt < len(engine.fail_plan) else None
        if engine.block:
            await asyncio.Event().wait()
        seg_start = 0.0
        pos = 0.0  # seconds of audio seen by this attempt (its own clock)
        finals = 0
        if plan is not None and plan[0] == 0:
            raise plan[1]
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                if pos == seg_start:
                    continue
                offset = self.start_time_offset
                self._event_ch.send_nowait(
                    SpeechEvent(type=SpeechEventType.START_OF_SPEECH, request_id=f"a{attempt}")
                )
                self._event_ch.send_nowait(
                    SpeechEvent(
                        type=SpeechEventType.INTERIM_TRANSCRIPT,
                        request_id=f"a{attempt}",
                        alternatives=[SpeechData(language="en", text="par")],
                    )
                )
                self._event_ch.send_nowait(
                    SpeechEvent(
                        type=SpeechEventType.FINAL_TRANSCRIPT,
                        request_id=f"a{attempt}",
                        alternatives=[
                            SpeechData(
                                language="en",
                                text=f"segment of {pos - seg_start:.2f}s",
                                start_time=offset + seg_start,
                                end_time=offset + pos,
                            )
                        ],
                    )
                )
                self._event_ch.send_nowait(
                    SpeechEvent(
                        type=SpeechEventType.RECOGNITION_USAGE,
                        request_id=f"a{attempt}",
                        recognition_usage=RecognitionUsage(audio_duration=pos - seg_start),
                    )
                )
                self._event_ch.send_nowait(
                    SpeechEvent(type=SpeechEventType.END_OF_SPEECH, request_id=f"a{attempt}")
                )
                seg_start = pos
                finals += 1
                if plan is not None and finals == plan[0]:
                    raise plan[1]
            else:
                engine.received_rates.append(item.sample_rate)
                engine.received_samples += item.samples_per_channel
                pos += item.samples_per_channel / item.sample_rate


def watch(stt: STT) -> tuple[list[STTError], list[STTMetrics]]:
    errors: list[STTError] = []
    metrics: list[STTMetrics] = []
    stt.on("error", errors.append)
    stt.on("metrics_collected", metrics.append)
    return errors, metrics


def finals(events: list[SpeechEvent]) -> list[SpeechData]:
    return [e.alternatives[0] for e in events if e.type == SpeechEventType.FINAL_TRANSCRIPT]


async def drain(stream: RecognizeStream) -> list[SpeechEvent]:
    return [ev async for ev in stream]


async def test_stream_lifecycle_and_usage_metrics() -> None:
    stt = SegmentSTT()
    errors, metrics = watch(stt)
    async with stt.stream() as stream:
        assert SpeechStream is RecognizeStream
        stream.push_frame(noise_frame(0.5))
        stream.push_frame(noise_frame(0.5, seed=1))
        stream.flush()
        stream.push_frame(noise_frame(0.25, seed=2))
        stream.end_input()
        events = await drain(stream)
    types = [e.type for e in events]
    assert types.count(SpeechEventType.FINAL_TRANSCRIPT) == 2
    assert types[:2] == [SpeechEventType.START_OF_SPEECH, SpeechEventType.INTERIM_TRANSCRIPT]
    assert [d.text for d in finals(events)] == ["segment of 1.00s", "segment of 0.25s"]
    assert errors == []
    assert [m.streamed for m in metrics] == [True, True]
    assert [m.audio_duration for m in metrics] == pytest.approx([1.0, 0.25])


async def test_push_frame_resamples_to_the_stream_rate() -> None:
    stt = SegmentSTT()
    stream = stt.stream(sample_rate=16000)
    for i in range(10):
        stream.push_frame(noise_frame(0.1, sample_rate=48000, seed=i))
    stream.end_input()
    events = await drain(stream)
    assert stt.received_rates and set(stt.received_rates) == {16000}
    # 1 s of 48 kHz audio becomes about 16000 samples once the resampler is flushed
    assert abs(stt.received_samples - 16000) <= 160
    assert len(finals(events)) == 1
    await stream.aclose()


async def test_push_frame_without_target_rate_keeps_frames() -> None:
    stt = SegmentSTT()
    stream = stt.stream()
    stream.push_frame(noise_frame(0.1, sample_rate=24000))
    stream.end_input()
    await drain(stream)
    assert stt.received_rates == [24000]
    assert stt.received_samples == 2400


async def test_push_frame_rejects_format_changes_and_bad_input() -> None:
    stream = SegmentSTT().stream()
    stream.push_frame(noise_frame(0.1, sample_rate=16000))
    with pytest.raises(ValueError, match="must stay constant"):
        stream.push_frame(noise_frame(0.1, sample_rate=8000))
    with pytest.raises(TypeError, match=r"rtc\.AudioFrame"):
        stream.push_frame(b"\x00\x00")  # type: ignore[arg-type]
    stream.end_input()
    with pytest.raises(RuntimeError, match="end_input"):
        stream.push_frame(noise_frame(0.1))
    with pytest.raises(RuntimeError, match="end_input"):
        stream.flush()
    await stream.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        stream.push_frame(noise_frame(0.1))


async def test_invalid_sample_rate_is_rejected() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        SegmentSTT().stream(sample_rate=0)


async def test_reconnect_keeps_timestamps_monotonic() -> None:
    # attempt 0 fails right after its first final; attempt 1 carries on
    stt = SegmentSTT(fail_plan=[(1, APIConnectionError("socket dropped"))])
    errors, _ = watch(stt)
    stream = stt.stream()
    stream.start_time_offset = 10.0
    stream.push_frame(noise_frame(1.0))
    stream.flush()
    # attempt 0 fails as soon as it has sent the first final: the rest is left for attempt 1
    stream.push_frame(noise_frame(0.5, seed=3))
    stream.flush()
    stream.push_frame(noise_frame(0.5, seed=4))
    stream.end_input()
    events = await drain(stream)
    data = finals(events)
    assert stt.attempts == 2
    assert [t for d in data for t in (d.start_time, d.end_time)] == pytest.approx(
        [10.0, 11.0, 11.0, 11.5, 11.5, 12.0]
    )
    starts = [d.start_time for d in data]
    assert starts == sorted(starts)
    assert [e.recoverable for e in errors] == [True]
    assert stream.start_time_offset == pytest.approx(11.0)
    await stream.aclose()


async def test_retry_counter_resets_after_each_final() -> None:
    # every attempt fails after one final; with max_retry=1 this only works if finals reset
    plan: list[tuple[int, Exception] | None] = [
        (1, APIConnectionError(f"drop {i}")) for i in range(3)
    ]
    stt = SegmentSTT(fail_plan=[*plan, None])
    errors, _ = watch(stt)
    stream = stt.stream(conn_options=APIConnectOptions(max_retry=1, retry_interval=0.0))
    for i in range(4):
        stream.push_frame(noise_frame(0.2, seed=i))
        stream.flush()
    stream.end_input()
    events = await drain(stream)
    assert len(finals(events)) == 4
    assert stt.attempts == 4
    assert all(e.recoverable for e in errors)


async def test_retry_exhausted_raises_from_iteration() -> None:
    stt = SegmentSTT(fail_plan=[(0, APIConnectionError(f"down {i}")) for i in range(5)])
    errors, _ = watch(stt)
    stream = stt.stream(conn_options=APIConnectOptions(max_retry=2, retry_interval=0.0))
    stream.push_frame(noise_frame(0.1))
    with pytest.raises(APIConnectionError, match="after 3 attempts"):
        await drain(stream)
    assert stt.attempts == 3
    assert [e.recoverable for e in errors] == [True, True, False]
    await stream.aclose()


async def test_non_retryable_status_stops_the_stream() -> None:
    stt = SegmentSTT(fail_plan=[(0, APIStatusError("forbidden", status_code=403))])
    errors, _ = watch(stt)
    stream = stt.stream()
    with pytest.raises(APIStatusError, match="forbidden"):
        await drain(stream)
    assert stt.attempts == 1
    assert [e.recoverable for e in errors] == [False]
    await stream.aclose()


async def test_status_499_ends_the_stream_quietly() -> None:
    stt = SegmentSTT(fail_plan=[(0, APIStatusError("client closed", status_code=499))])
    errors, _ = watch(stt)
    stream = stt.stream()
    assert await drain(stream) == []
    assert errors == []
    assert stt.attempts == 1


async def test_unexpected_exception_is_not_retried() -> None:
    stt = SegmentSTT(fail_plan=[(0, KeyError("bug"))])
    errors, _ = watch(stt)
    stream = stt.stream()
    with pytest.raises(KeyError):
        await drain(stream)
    assert stt.attempts == 1
    assert [e.recoverable for e in errors] == [False]


async def test_aclose_while_streaming_leaves_no_task_behind() -> None:
    before = asyncio.all_tasks()
    stt = SegmentSTT(block=True)
    stream = stt.stream()
    stream.push_frame(noise_frame(0.1))
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks() - before) == 2
    await stream.aclose()
    assert asyncio.all_tasks() - before == set()
    # iteration of a closed stream ends instead of hanging
    assert await drain(stream) == []


async def test_cancelling_the_consumer_mid_stream() -> None:
    before = asyncio.all_tasks()
    stt = SegmentSTT()
    stream = stt.stream()
    got: list[SpeechEvent] = []
    segment_done = asyncio.Event()

    async def consume() -> None:
        async for ev in stream:
            got.append(ev)
            if ev.type == SpeechEventType.END_OF_SPEECH:
                segment_done.set()

    consumer = asyncio.create_task(consume())
    stream.push_frame(noise_frame(0.2))
    stream.flush()
    await segment_done.wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await stream.aclose()
    assert asyncio.all_tasks() - before == set()
    assert len(finals(got)) == 1


async def test_start_time_offset_validation() -> None:
    stream = SegmentSTT().stream()
    with pytest.raises(ValueError, match="start_time_offset"):
        stream.start_time_offset = -1.0
    stream.start_time = 123.0
    assert stream.start_time == 123.0
    await stream.aclose()
