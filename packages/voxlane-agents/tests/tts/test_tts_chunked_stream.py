"""TTS + ChunkedStream: synthesis, retries, errors, metrics, cancellation."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voxlane.agents import (
    APIConnectionError,
    APIConnectOptions,
    APIStatusError,
)
from voxlane.agents.metrics import TTSMetrics
from voxlane.agents.tts import (
    TTS,
    AudioEmitter,
    ChunkedStream,
    SynthesizeStream,
    TTSCapabilities,
    TTSError,
)

SR = 16000
SECONDS_PER_CHAR = 0.02
FAST = APIConnectOptions(max_retry=2, retry_interval=0.0, timeout=5.0)


def tone(seconds: float, sample_rate: int = SR) -> bytes:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (np.sin(2 * np.pi * 330 * t) * 9000).astype(np.int16).tobytes()


class ToneTTS(TTS):
    """A real (tiny) TTS: a tone lasting SECONDS_PER_CHAR per character.

    ``failures[i]`` is raised on attempt ``i`` (None = succeed). ``audio_before_failure`` pushes
    some audio before raising. ``gate`` (if set) is awaited after the first chunk of audio.
    """

    def __init__(
        self,
        *,
        failures: list[BaseException | None] | None = None,
        audio_before_failure: bool = False,
        push_audio: bool = True,
        initialize: bool = True,
        gate: asyncio.Event | None = None,
    ) -> None:
        super().__init__(
            capabilities=TTSCapabilities(streaming=False), sample_rate=SR, num_channels=1
        )
        self.failures = failures or []
        self.audio_before_failure = audio_before_failure
        self.push_audio = push_audio
        self.initialize = initialize
        self.gate = gate
        self.attempts = 0
        self.errors: list[TTSError] = []
        self.metrics: list[TTSMetrics] = []
        self.on("error", self.errors.append)
        self.on("metrics_collected", self.metrics.append)

    @property
    def model(self) -> str:
        return "tone-1"

    @property
    def provider(self) -> str:
        return "test"

    def synthesize(self, text: str, *, conn_options: APIConnectOptions = FAST) -> ChunkedStream:
        return ToneChunkedStream(tts=self, input_text=text, conn_options=conn_options)


class ToneChunkedStream(ChunkedStream):
    async def _run(self, output_emitter: AudioEmitter) -> None:
        tts = self._tts
        assert isinstance(tts, ToneTTS)
        attempt = tts.attempts
        tts.attempts += 1
        if tts.initialize:
            output_emitter.initialize(
                request_id=f"req-{attempt}", sample_rate=SR, num_channels=1, mime_type="audio/pcm"
            )
        failure = tts.failures[attempt] if attempt < len(tts.failures) else None
        pcm = tone(len(self.input_text) * SECONDS_PER_CHAR)
        if failure is not None:
            if tts.audio_before_failure:
                output_emitter.push(pcm[: len(pcm) // 2])
                output_emitter.flush()
            await asyncio.sleep(0)
            raise failure
        if not tts.push_audio:
            return
        half = len(pcm) // 2 - (len(pcm) // 2) % 2
        output_emitter.push(pcm[:half])
        if tts.gate is not None:
            await tts.gate.wait()
        output_emitter.push(pcm[half:])


async def test_synthesize_collect_and_metrics() -> None:
    tts = ToneTTS()
    text = "Hello there, how are you?"
    frame = await tts.synthesize(text).collect()
    assert frame.sample_rate == SR and frame.num_channels == 1
    assert frame.duration == pytest.approx(len(text) * SECONDS_PER_CHAR)
    assert len(tts.metrics) == 1
    m = tts.metrics[0]
    assert m.characters_count == len(text)
    assert m.audio_duration == pytest.approx(len(text) * SECONDS_PER_CHAR)
    assert not m.streamed and not m.cancelled
    assert m.request_id == "req-0"
    assert m.ttfb >= 0 and m.duration >= m.ttfb
    assert m.metadata is not None and m.metadata.model_name == "tone-1"
    assert m.metadata.model_provider == "test"
    assert tts.errors == []


async def test_iteration_marks_only_last_frame_final() -> None:
    tts = ToneTTS()
    async with tts.synthesize("x" * 30) as stream:  # 0.6 s -> 3 frames of 200 ms
        events = [ev async for ev in stream]
        assert stream.done and stream.exception is None
        assert stream.input_text == "x" * 30
    assert [ev.is_final for ev in events] == [False, False, True]
    assert {ev.frame.samples_per_channel for ev in events} == {3200}


async def test_retry_then_succeed() -> None:
    tts = ToneTTS(failures=[APIConnectionError("boom"), APIStatusError("busy", status_code=503)])
    frame = await tts.synthesize("retry me").collect()
    assert tts.attempts == 3
    assert frame.duration == pytest.approx(8 * SECONDS_PER_CHAR)
    assert [e.recoverable for e in tts.errors] == [True, True]
    assert isinstance(tts.errors[0].error, APIConnectionError)
    assert tts.metrics[0].request_id == "req-2"


async def test_retry_exhausted_raises_connection_error() -> None:
    tts = ToneTTS(failures=[APIConnectionError("down")] * 5)
    stream = tts.synthesize("never")
    with pytest.raises(APIConnectionError, match="after 3 attempts"):
        await stream.collect()
    assert tts.attempts == 3
    assert [e.recoverable for e in tts.errors] == [True, True, False]
    assert isinstance(stream.exception, APIConnectionError)
    assert tts.metrics == []


async def test_non_retryable_error_is_not_retried() -> None:
    tts = ToneTTS(failures=[APIStatusError("bad voice", status_code=400)])
    with pytest.raises(APIStatusError, match="bad voice"):
        await tts.synthesize("hello").collect()
    assert tts.attempts == 1
    assert [e.recoverable for e in tts.errors] == [False]


async def test_max_retry_zero_fails_on_first_error() -> None:
    tts = ToneTTS(failures=[APIConnectionError("once")])
    opts = APIConnectOptions(max_retry=0, retry_interval=0.0)
    with pytest.raises(APIConnectionError, match="once"):
        await tts.synthesize("hello", conn_options=opts).collect()
    assert tts.attempts == 1


async def test_no_retry_after_audio_went_out() -> None:
    tts = ToneTTS(failures=[APIConnectionError("dropped")], audio_before_failure=True)
    got = []
    with pytest.raises(APIConnectionError, match="dropped"):
        async for ev in tts.synthesize("some words here"):
            got.append(ev)
    assert tts.attempts == 1
    assert got, "audio pushed before the failure is still delivered"
    assert [e.recoverable for e in tts.errors] == [False]


async def test_unexpected_exception_is_not_retried() -> None:
    tts = ToneTTS(failures=[ValueError("plugin bug")])
    with pytest.raises(ValueError, match="plugin bug"):
        await tts.synthesize("hello").collect()
    assert tts.attempts == 1
    assert [e.recoverable for e in tts.errors] == [False]


async def test_status_499_ends_quietly() -> None:
    tts = ToneTTS(failures=[APIStatusError("client closed", status_code=499)])
    frame = await tts.synthesize("hello").collect()
    assert frame.samples_per_channel == 0
    assert tts.attempts == 1 and tts.errors == []


async def test_text_without_audio_is_an_error() -> None:
    tts = ToneTTS(push_audio=False)
    with pytest.raises(APIConnectionError, match="no audio frames were pushed for text"):
        await tts.synthesize("say something").collect()
    assert tts.attempts == 3  # retryable: the provider may answer next time


async def test_empty_text_without_audio_is_fine() -> None:
    tts = ToneTTS(push_audio=False)
    frame = await tts.synthesize("   ").collect()
    assert frame.samples_per_channel == 0
    assert tts.errors == []


async def test_missing_initialize_is_reported_clearly() -> None:
    tts = ToneTTS(initialize=False, push_audio=False)
    with pytest.raises(RuntimeError, match=r"initialize\(\)"):
        await tts.synthesize("hello").collect()
    assert tts.attempts == 1


async def test_aclose_mid_stream_leaves_no_task_and_reports_cancelled() -> None:
    before = asyncio.all_tasks()
    gate = asyncio.Event()  # never set: the provider stalls after the first half
    tts = ToneTTS(gate=gate)
    stream = tts.synthesize("x" * 50)  # 1 s of audio, 0.5 s before the stall
    first = await stream.__anext__()
    assert first.frame.samples_per_channel == 3200
    await stream.aclose()
    assert stream.done
    assert asyncio.all_tasks() == before
    assert len(tts.metrics) == 1 and tts.metrics[0].cancelled
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    await stream.aclose()  # idempotent


async def test_cancelling_the_consumer_task_then_aclose() -> None:
    before = asyncio.all_tasks()
    tts = ToneTTS(gate=asyncio.Event())
    stream = tts.synthesize("x" * 50)

    async def consume() -> None:
        async for _ in stream:
            pass

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await stream.aclose()
    assert asyncio.all_tasks() == before


async def test_stream_on_non_streaming_tts_points_to_stream_adapter() -> None:
    tts = ToneTTS()
    with pytest.raises(NotImplementedError, match="StreamAdapter"):
        tts.stream()


async def test_constructor_validation() -> None:
    class Bad(TTS):
        def synthesize(self, text: str, *, conn_options: APIConnectOptions = FAST) -> ChunkedStream:
            raise AssertionError

    with pytest.raises(ValueError, match="sample_rate"):
        Bad(capabilities=TTSCapabilities(streaming=False), sample_rate=0, num_channels=1)
    with pytest.raises(ValueError, match="num_channels"):
        Bad(capabilities=TTSCapabilities(streaming=False), sample_rate=8000, num_channels=0)
    with pytest.raises(TypeError, match="TTSCapabilities"):
        Bad(capabilities=True, sample_rate=8000, num_channels=1)  # type: ignore[arg-type]
    tts = ToneTTS()
    with pytest.raises(TypeError, match="input_text"):
        ToneChunkedStream(tts=tts, input_text=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="conn_options"):
        ToneChunkedStream(tts=tts, input_text="x", conn_options={"max_retry": 1})  # type: ignore[arg-type]


async def test_tts_async_context_manager_and_label() -> None:
    async with ToneTTS() as tts:
        assert tts.label.endswith("ToneTTS")
        assert tts.sample_rate == SR and tts.num_channels == 1
        assert not tts.capabilities.streaming
        tts.prewarm()


class StreamOnlyTTS(TTS):
    """A streaming-only provider whose synthesize() goes through _synthesize_with_stream."""

    def __init__(self) -> None:
        super().__init__(
            capabilities=TTSCapabilities(streaming=True), sample_rate=SR, num_channels=1
        )
        self.metrics: list[TTSMetrics] = []
        self.on("metrics_collected", self.metrics.append)

    def synthesize(self, text: str, *, conn_options: APIConnectOptions = FAST) -> ChunkedStream:
        return self._synthesize_with_stream(text, conn_options=conn_options)

    def stream(self, *, conn_options: APIConnectOptions = FAST) -> SynthesizeStream:
        return _ToneSynthStream(tts=self, conn_options=conn_options)


class _ToneSynthStream(SynthesizeStream):
    async def _run(self, output_emitter: AudioEmitter) -> None:
        output_emitter.initialize(request_id="s", sample_rate=SR, num_channels=1, stream=True)
        text = ""
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                output_emitter.start_segment(segment_id="seg")
                output_emitter.push(tone(len(text) * SECONDS_PER_CHAR))
                output_emitter.end_segment()
                text = ""
            else:
                text += item


async def test_synthesize_with_stream_for_stream_only_providers() -> None:
    tts = StreamOnlyTTS()
    frame = await tts.synthesize("abcdefghij" * 3).collect()
    assert frame.duration == pytest.approx(30 * SECONDS_PER_CHAR)
    # the inner stream reports its metrics once; the wrapper does not double count
    assert len(tts.metrics) == 1 and tts.metrics[0].characters_count == 30


def test_creating_a_stream_outside_an_event_loop_is_a_clear_error() -> None:
    tts = ToneTTS()
    with pytest.raises(RuntimeError, match="running event loop"):
        tts.synthesize("hello")
