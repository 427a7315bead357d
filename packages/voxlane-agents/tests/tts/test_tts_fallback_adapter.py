"""tts.FallbackAdapter: switching, resampling, recovery, no fallback after audio went out."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voxlane.agents import APIConnectionError, APIConnectOptions, APIStatusError
from voxlane.agents.metrics import TTSMetrics
from voxlane.agents.testing import run_with_virtual_clock
from voxlane.agents.tts import (
    TTS,
    AudioEmitter,
    AvailabilityChangedEvent,
    ChunkedStream,
    FallbackAdapter,
    SynthesizedAudio,
    SynthesizeStream,
    TTSCapabilities,
)

SECONDS_PER_CHAR = 0.01
OPTS = APIConnectOptions(max_retry=3, retry_interval=0.0, timeout=5.0)


def tone(seconds: float, rate: int) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 300 * t) * 8000).astype(np.int16).tobytes()


class EngineTTS(TTS):
    """A tone engine that can be broken on purpose, streaming or not."""

    def __init__(self, name: str, *, sample_rate: int, streaming: bool) -> None:
        super().__init__(
            capabilities=TTSCapabilities(streaming=streaming),
            sample_rate=sample_rate,
            num_channels=1,
        )
        self.name = name
        self.broken = False
        self.fail_after_audio = False
        self.hang = False  # never answer (no audio, no error)
        self.first_audio_delay = 0.0  # seconds (loop time) before the first audio
        self.error: Exception = APIConnectionError(f"{name} is down")
        self.calls: list[str] = []  # synthesize() requests (including recovery probes)
        self.stream_calls: list[str] = []  # segments received by stream()

    @property
    def model(self) -> str:
        return self.name

    def synthesize(self, text: str, *, conn_options: APIConnectOptions = OPTS) -> ChunkedStream:
        return _EngineChunked(tts=self, input_text=text, conn_options=conn_options)

    def stream(self, *, conn_options: APIConnectOptions = OPTS) -> SynthesizeStream:
        if not self.capabilities.streaming:
            return super().stream(conn_options=conn_options)
        return _EngineStream(tts=self, conn_options=conn_options)


class _EngineChunked(ChunkedStream):
    async def _run(self, output_emitter: AudioEmitter) -> None:
        tts = self._tts
        assert isinstance(tts, EngineTTS)
        tts.calls.append(self.input_text)
        output_emitter.initialize(request_id="c", sample_rate=tts.sample_rate, num_channels=1)
        if tts.hang:
            await asyncio.Event().wait()
        await asyncio.sleep(tts.first_audio_delay)
        pcm = tone(len(self.input_text) * SECONDS_PER_CHAR, tts.sample_rate)
        if tts.fail_after_audio:
            output_emitter.push(pcm[: len(pcm) // 2])
            output_emitter.flush()
            await asyncio.sleep(0)
            raise tts.error
        if tts.broken:
            raise tts.error
        output_emitter.push(pcm)


class _EngineStream(SynthesizeStream):
    async def _run(self, output_emitter: AudioEmitter) -> None:
        tts = self._tts
        assert isinstance(tts, EngineTTS)
        output_emitter.initialize(
            request_id="s", sample_rate=tts.sample_rate, num_channels=1, stream=True
        )
        text = ""
        segments = 0
        async for item in self._input_ch:
            if isinstance(item, str):
                text += item
                continue
            tts.stream_calls.append(text)
            if tts.hang:
                await asyncio.Event().wait()
            if tts.broken or (tts.fail_after_audio and segments == 1):
                raise tts.error
            output_emitter.start_segment(segment_id=f"{tts.name}-{segments}")
            output_emitter.push(tone(len(text) * SECONDS_PER_CHAR, tts.sample_rate))
            output_emitter.end_segment()
            segments += 1
            text = ""


def events_of(adapter: FallbackAdapter) -> list[AvailabilityChangedEvent]:
    got: list[AvailabilityChangedEvent] = []
    adapter.on("tts_availability_changed", got.append)
    return got


async def test_primary_serves_and_rate_is_the_highest() -> None:
    a = EngineTTS("a", sample_rate=24000, streaming=True)
    b = EngineTTS("b", sample_rate=16000, streaming=False)
    adapter = FallbackAdapter([a, b])
    assert adapter.sample_rate == 24000 and adapter.capabilities.streaming
    assert adapter.model == "a" and adapter.tts_instances == [a, b]
    metrics: list[TTSMetrics] = []
    adapter.on("metrics_collected", metrics.append)
    frame = await adapter.synthesize("hello there", conn_options=OPTS).collect()
    assert frame.sample_rate == 24000
    assert frame.duration == pytest.approx(0.11, abs=1e-3)
    assert a.calls == ["hello there"] and b.calls == []
    assert len(metrics) == 1 and metrics[0].metadata is not None
    assert metrics[0].metadata.model_name == "a"
    await adapter.aclose()


async def test_chunked_switches_resamples_then_recovers() -> None:
    a = EngineTTS("a", sample_rate=24000, streaming=True)
    b = EngineTTS("b", sample_rate=16000, streaming=False)
    adapter = FallbackAdapter([a, b], max_retry_per_tts=1)
    changes = events_of(adapter)
    a.broken = True

    frame = await adapter.synthesize("switch to the backup", conn_options=OPTS).collect()
    assert a.calls[:2] == ["switch to the backup"] * 2  # first try + 1 retry
    assert b.calls == ["switch to the backup"]
    assert frame.sample_rate == 24000  # b's 16 kHz audio was resampled
    assert frame.duration == pytest.approx(0.20, abs=0.01)
    assert [(e.tts, e.available) for e in changes] == [(a, False)]
    assert not adapter.is_available(a) and adapter.model == "b"

    # the engine is fixed: the next request triggers a recovery probe in the background
    a.broken = False
    recovered = asyncio.Event()

    def on_change(ev: AvailabilityChangedEvent) -> None:
        if ev.available:
            recovered.set()

    adapter.on("tts_availability_changed", on_change)
    await adapter.synthesize("still on the backup", conn_options=OPTS).collect()
    assert b.calls[-1] == "still on the backup"
    await asyncio.wait_for(recovered.wait(), 5)
    assert [(e.tts, e.available) for e in changes] == [(a, False), (a, True)]

    await adapter.synthesize("back on the primary", conn_options=OPTS).collect()
    assert a.calls[-1] == "back on the primary"
    await adapter.aclose()


async def test_all_engines_failing() -> None:
    a = EngineTTS("a", sample_rate=16000, streaming=False)
    b = EngineTTS("b", sample_rate=16000, streaming=False)
    a.broken = b.broken = True
    b.error = APIStatusError("quota", status_code=402)
    adapter = FallbackAdapter([a, b], max_retry_per_tts=0)
    with pytest.raises(APIConnectionError, match="all TTS engines failed"):
        await adapter.synthesize("nobody can say this", conn_options=OPTS).collect()
    assert not adapter.is_available(a) and not adapter.is_available(b)
    # with every engine down, the next request still tries them all
    a.broken = False
    frame = await adapter.synthesize("a is back", conn_options=OPTS).collect()
    assert frame.duration == pytest.approx(0.09, abs=1e-3)
    await adapter.aclose()


async def test_chunked_no_fallback_after_audio_went_out() -> None:
    a = EngineTTS("a", sample_rate=16000, streaming=False)
    b = EngineTTS("b", sample_rate=16000, streaming=False)
    a.fail_after_audio = True
    adapter = FallbackAdapter([a, b], max_retry_per_tts=2)
    got: list[SynthesizedAudio] = []
    with pytest.raises(APIConnectionError, match="a is down"):
        async for ev in adapter.synthesize("half of this is spoken", conn_options=OPTS):
            got.append(ev)
    assert got and b.calls == []
    assert a.calls == ["half of this is spoken"]  # not retried either: audio went out
    await adapter.aclose()


async def test_stream_falls_back_before_audio_and_replays_all_text() -> None:
    a = EngineTTS("a", sample_rate=24000, streaming=True)
    b = EngineTTS("b", sample_rate=24000, streaming=True)
    a.broken = True
    adapter = FallbackAdapter([a, b], max_retry_per_tts=0)
    changes = events_of(adapter)
    stream = adapter.stream(conn_options=OPTS)
    stream.push_text("first part ")
    stream.push_text("of the reply.")
    stream.flush()
    events: list[SynthesizedAudio] = [await stream.__anext__()]
    stream.push_text("second segment.")
    stream.end_input()
    events += [ev async for ev in stream]
    assert a.stream_calls == ["first part of the reply."]
    assert b.stream_calls == ["first part of the reply.", "second segment."]
    # the background recovery probe re-tries the failed text on the broken engine
    assert set(a.calls) <= {"first part of the reply."}
    assert list(dict.fromkeys(ev.segment_id for ev in events)) == ["b-0", "b-1"]
    assert [(e.tts, e.available) for e in changes] == [(a, False)]
    total = sum(ev.frame.duration for ev in events)
    assert total == pytest.approx(0.24 + 0.15, abs=1e-3)
    await stream.aclose()
    await adapter.aclose()


async def test_stream_wraps_non_streaming_engines() -> None:
    a = EngineTTS("a", sample_rate=24000, streaming=True)
    b = EngineTTS("b", sample_rate=16000, streaming=False)
    a.broken = True
    adapter = FallbackAdapter([a, b], max_retry_per_tts=0)
    stream = adapter.stream(conn_options=OPTS)
    stream.push_text("The backup speaks sentence by sentence. It is resampled too.")
    stream.end_input()
    events = [ev async for ev in stream]
    assert b.calls == ["The backup speaks sentence by sentence.", "It is resampled too."]
    assert {ev.frame.sample_rate for ev in events} == {24000}
    assert sum(ev.frame.duration for ev in events) == pytest.approx(0.59, abs=0.01)
    await stream.aclose()
    await adapter.aclose()


async def test_stream_no_fallback_after_audio_went_out() -> None:
    a = EngineTTS("a", sample_rate=16000, streaming=True)
    b = EngineTTS("b", sample_rate=16000, streaming=True)
    a.fail_after_audio = True  # fails on its second segment
    adapter = FallbackAdapter([a, b], max_retry_per_tts=1)
    stream = adapter.stream(conn_options=OPTS)
    stream.push_text("spoken segment.")
    stream.flush()
    stream.push_text("failing segment.")
    stream.end_input()
    got: list[SynthesizedAudio] = []
    with pytest.raises(APIConnectionError, match="a is down"):
        async for ev in stream:
            got.append(ev)
    assert {ev.segment_id for ev in got} == {"a-0"}
    assert a.stream_calls == ["spoken segment.", "failing segment."]
    assert b.stream_calls == [] and b.calls == []
    await stream.aclose()
    await adapter.aclose()


async def test_aclose_mid_stream_leaves_no_task() -> None:
    before = asyncio.all_tasks()
    a = EngineTTS("a", sample_rate=16000, streaming=True)
    b = EngineTTS("b", sample_rate=16000, streaming=True)
    a.broken = True
    adapter = FallbackAdapter([a, b], max_retry_per_tts=0)
    stream = adapter.stream(conn_options=OPTS)
    stream.push_text("one segment.")
    stream.flush()
    await stream.__anext__()
    stream.push_text("never flushed")
    await stream.aclose()
    await adapter.aclose()
    assert asyncio.all_tasks() == before


async def test_validation() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        FallbackAdapter([])
    with pytest.raises(TypeError, match=r"tts\.TTS"):
        FallbackAdapter(["openai"])  # type: ignore[list-item]
    mono = EngineTTS("a", sample_rate=16000, streaming=True)
    stereo = EngineTTS("b", sample_rate=16000, streaming=True)
    stereo._num_channels = 2
    with pytest.raises(ValueError, match="same number of channels"):
        FallbackAdapter([mono, stereo])
    adapter = FallbackAdapter([mono], sample_rate=48000)
    assert adapter.sample_rate == 48000
    with pytest.raises(ValueError, match="not one of"):
        adapter.is_available(stereo)
    await adapter.aclose()


HANG_OPTS = APIConnectOptions(max_retry=0, retry_interval=0.0, timeout=2.0)


def test_chunked_fails_over_when_an_engine_sends_no_audio_in_time() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        a = EngineTTS("a", sample_rate=16000, streaming=False)
        b = EngineTTS("b", sample_rate=16000, streaming=False)
        a.hang = True
        adapter = FallbackAdapter([a, b])
        changes = events_of(adapter)
        t0 = loop.time()
        frame = await adapter.synthesize("hello there", conn_options=HANG_OPTS).collect()
        assert loop.time() - t0 == pytest.approx(2.0)  # virtual time: exactly the timeout
        assert b.calls == ["hello there"]
        assert frame.duration == pytest.approx(len("hello there") * SECONDS_PER_CHAR, abs=0.01)
        assert [(e.tts, e.available) for e in changes] == [(a, False)]
        await adapter.aclose()
        assert asyncio.all_tasks() == {asyncio.current_task()}

    run_with_virtual_clock(scenario())


def test_chunked_slow_first_audio_within_the_timeout_is_not_a_failure() -> None:
    async def scenario() -> None:
        a = EngineTTS("a", sample_rate=16000, streaming=False)
        b = EngineTTS("b", sample_rate=16000, streaming=False)
        a.first_audio_delay = 1.9
        adapter = FallbackAdapter([a, b])
        changes = events_of(adapter)
        await adapter.synthesize("slow but fine", conn_options=HANG_OPTS).collect()
        assert a.calls == ["slow but fine"] and b.calls == []
        assert changes == []
        await adapter.aclose()

    run_with_virtual_clock(scenario())


def test_stream_fails_over_when_flushed_text_gets_no_audio_in_time() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        a = EngineTTS("a", sample_rate=16000, streaming=True)
        b = EngineTTS("b", sample_rate=16000, streaming=True)
        a.hang = True
        adapter = FallbackAdapter([a, b])
        changes = events_of(adapter)
        stream = adapter.stream(conn_options=HANG_OPTS)
        frames: list[SynthesizedAudio] = []

        async def consume() -> None:
            async for ev in stream:
                frames.append(ev)

        consumer = asyncio.create_task(consume())
        stream.push_text("Hello ")
        # text that is not flushed yet owes no audio: waiting for more is not a failure
        await asyncio.sleep(10.0)
        assert changes == [] and b.stream_calls == []
        stream.push_text("world.")
        stream.flush()
        t_flush = loop.time()
        stream.end_input()
        await consumer
        assert loop.time() - t_flush == pytest.approx(2.0)
        assert [(e.tts, e.available) for e in changes] == [(a, False)]
        assert b.stream_calls == ["Hello world."]  # the whole text replayed on b
        assert frames and frames[-1].is_final
        await stream.aclose()
        await adapter.aclose()
        assert asyncio.all_tasks() == {asyncio.current_task()}

    run_with_virtual_clock(scenario())
