"""stt.FallbackAdapter: failover, replay of the current turn, availability events, recovery."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents import APIConnectionError, APIConnectOptions, APIStatusError, NotGivenOr
from voxlane.agents.metrics import STTMetrics
from voxlane.agents.stt import (
    STT,
    AvailabilityChangedEvent,
    FallbackAdapter,
    RecognizeStream,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    StreamAdapter,
    STTCapabilities,
    STTError,
)
from voxlane.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN
from voxlane.agents.utils.audio import AudioBuffer, calculate_audio_duration
from voxlane.agents.vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream

SR = 16000
FRAME = 0.25


def noise(duration: float = FRAME, amplitude: int = 6000, seed: int = 0) -> rtc.AudioFrame:
    n = round(duration * SR)
    pcm = np.random.default_rng(seed).integers(-amplitude, amplitude + 1, n, dtype=np.int16)
    return rtc.AudioFrame(data=pcm.tobytes(), sample_rate=SR, num_channels=1, samples_per_channel=n)


class Engine(STT):
    """Streaming engine: one FINAL per flushed segment, with stream-timeline timestamps.

    ``fail_at_frame``: the engine breaks when it receives its N-th frame (counted across
    streams). A broken engine fails every stream and recognize() until ``broken`` is reset.
    """

    def __init__(
        self, name: str, *, fail_at_frame: int | None = None, broken: bool = False
    ) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=True, interim_results=True))
        self.name = name
        self.fail_at_frame = fail_at_frame
        self.broken = broken
        self.frames_seen = 0
        self.heard = 0.0  # seconds of audio received while healthy
        self.streams_opened = 0

    @property
    def model(self) -> str:
        return f"{self.name}-model"

    @property
    def provider(self) -> str:
        return self.name

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> SpeechEvent:
        if self.broken:
            raise APIConnectionError(f"{self.name} is down")
        seconds = calculate_audio_duration(buffer)
        return SpeechEvent(
            type=SpeechEventType.FINAL_TRANSCRIPT,
            request_id=self.name,
            alternatives=[SpeechData(language="en", text=f"{self.name}: {seconds:.2f}s")],
        )

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> RecognizeStream:
        self.streams_opened += 1
        return EngineStream(self, conn_options)


class EngineStream(RecognizeStream):
    def __init__(self, engine: Engine, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=engine, conn_options=conn_options)
        self._engine = engine

    async def _run(self) -> None:
        eng = self._engine
        if eng.broken:
            raise APIConnectionError(f"{eng.name} is down")
        seg_start = pos = 0.0
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                if pos > seg_start:
                    off = self.start_time_offset
                    self._event_ch.send_nowait(
                        SpeechEvent(
                            type=SpeechEventType.FINAL_TRANSCRIPT,
                            request_id=eng.name,
                            alternatives=[
                                SpeechData(
                                    language="en",
                                    text=f"{eng.name}: {pos - seg_start:.2f}s",
                                    start_time=off + seg_start,
                                    end_time=off + pos,
                                )
                            ],
                        )
                    )
                    seg_start = pos
                continue
            eng.frames_seen += 1
            if eng.fail_at_frame is not None and eng.frames_seen >= eng.fail_at_frame:
                eng.broken = True
                eng.fail_at_frame = None
                raise APIConnectionError(f"{eng.name} dropped the connection")
            d = item.samples_per_channel / item.sample_rate
            eng.heard += d
            pos += d


class BufferEngine(Engine):
    """The same engine without streaming (needs a VAD inside a FallbackAdapter)."""

    def __init__(self, name: str, *, broken: bool = False) -> None:
        super().__init__(name, broken=broken)
        self._capabilities = STTCapabilities(streaming=False, interim_results=False)


class PeakVAD(VAD):
    """Any frame with a peak above 1000 is speech; one quiet frame ends the segment."""

    def __init__(self) -> None:
        super().__init__(capabilities=VADCapabilities(update_interval=FRAME))

    def stream(self) -> VADStream:
        return PeakVADStream(self)


class PeakVADStream(VADStream):
    async def _main_task(self) -> None:
        speech: list[rtc.AudioFrame] = []
        index = 0
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                continue
            index += item.samples_per_channel
            pcm = np.frombuffer(bytes(item.data.cast("B")), dtype=np.int16)
            loud = int(np.abs(pcm).max()) > 1000
            kind = None
            if loud and not speech:
                kind = VADEventType.START_OF_SPEECH
            if loud:
                speech.append(item)
            elif speech:
                speech.append(item)  # the segment includes the silence that closed it
                kind = VADEventType.END_OF_SPEECH
            if kind is not None:
                self._event_ch.send_nowait(
                    VADEvent(
                        type=kind,
                        samples_index=index,
                        timestamp=index / SR,
                        speech_duration=0.0,
                        silence_duration=0.0,
                        frames=speech if kind == VADEventType.END_OF_SPEECH else [],
                    )
                )
            if kind == VADEventType.END_OF_SPEECH:
                speech = []


def adapter_of(*engines: STT, vad: VAD | None = None) -> FallbackAdapter:
    return FallbackAdapter(list(engines), vad=vad, retry_interval=0.01, attempt_timeout=5.0)


def availability_log(adapter: FallbackAdapter) -> list[tuple[str, bool]]:
    log: list[tuple[str, bool]] = []

    def on_change(ev: AvailabilityChangedEvent) -> None:
        log.append((ev.stt.provider, ev.available))

    adapter.on("stt_availability_changed", on_change)
    return log


def wait_available(adapter: FallbackAdapter, stt: STT) -> asyncio.Event:
    ready = asyncio.Event()

    def on_change(ev: AvailabilityChangedEvent) -> None:
        if ev.stt is stt and ev.available:
            ready.set()

    adapter.on("stt_availability_changed", on_change)
    return ready


def finals(events: list[SpeechEvent]) -> list[SpeechData]:
    return [e.alternatives[0] for e in events if e.type == SpeechEventType.FINAL_TRANSCRIPT]


async def test_constructor_checks_and_capabilities() -> None:
    with pytest.raises(ValueError, match="non-empty list"):
        FallbackAdapter([])
    with pytest.raises(TypeError, match=r"stt\.STT"):
        FallbackAdapter([Engine("a"), "deepgram/nova-3"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="vad="):
        FallbackAdapter([Engine("a"), BufferEngine("b")])
    adapter = adapter_of(Engine("a"), BufferEngine("b"), vad=PeakVAD())
    assert adapter.capabilities.streaming is True
    assert adapter.capabilities.interim_results is False  # the VAD-wrapped one has none
    assert (adapter.model, adapter.provider) == ("a-model", "a")
    assert [s.provider for s in adapter.stt_instances] == ["a", "b"]
    with pytest.raises(ValueError, match="not one of"):
        adapter.is_available(Engine("z"))
    await adapter.aclose()


async def test_recognize_fails_over_then_recovers() -> None:
    a, b = Engine("a", broken=True), Engine("b")
    adapter = adapter_of(a, b)
    log = availability_log(adapter)
    metrics: list[STTMetrics] = []
    adapter.on("metrics_collected", metrics.append)
    back = wait_available(adapter, a)

    ev = await adapter.recognize(noise(0.5))
    assert ev.alternatives[0].text == "b: 0.50s"
    assert log == [("a", False)]
    assert adapter.is_available(a) is False
    assert adapter.provider == "b"
    assert [m.metadata.model_provider for m in metrics if m.metadata] == ["b"]

    a.broken = False  # the probe (real audio through recognize) now succeeds
    await back.wait()
    assert log == [("a", False), ("a", True)]
    ev = await adapter.recognize(noise(0.25))
    assert ev.alternatives[0].text == "a: 0.25s"
    await adapter.aclose()


async def test_recognize_when_every_stt_fails() -> None:
    adapter = adapter_of(Engine("a", broken=True), Engine("b", broken=True))
    errors: list[STTError] = []
    adapter.on("error", errors.append)
    with pytest.raises(APIConnectionError, match="every STT") as info:
        await adapter.recognize(noise())
    assert "a is down" in str(info.value) and "b is down" in str(info.value)
    assert [e.recoverable for e in errors] == [False]
    # with everything marked failed, the next call still tries them all
    with pytest.raises(APIConnectionError):
        await adapter.recognize(noise())
    await adapter.aclose()


async def test_stream_switch_replays_the_current_turn() -> None:
    # turn 1 (4 frames) is transcribed by "a"; "a" breaks on the 2nd frame of turn 2
    a, b = Engine("a", fail_at_frame=6), Engine("b")
    adapter = adapter_of(a, b)
    log = availability_log(adapter)
    errors: list[STTError] = []
    adapter.on("error", errors.append)
    async with adapter.stream() as stream:
        for i in range(4):
            stream.push_frame(noise(seed=i))
        stream.flush()
        for i in range(2):
            stream.push_frame(noise(seed=10 + i))
        stream.flush()
        stream.push_frame(noise(seed=20))
        stream.end_input()
        events = [ev async for ev in stream]

    data = finals(events)
    assert [d.text for d in data] == ["a: 1.00s", "b: 0.50s", "b: 0.25s"]
    spans = [t for d in data for t in (d.start_time, d.end_time)]
    assert spans == pytest.approx([0.0, 1.0, 1.0, 1.5, 1.5, 1.75])
    # "b" heard only what "a" had not delivered: turn 2 (replayed) and the last frame
    assert b.heard == pytest.approx(0.75)
    assert log == [("a", False)]
    # the stream survived: no unrecoverable error on the adapter
    assert all(e.recoverable for e in errors)
    await adapter.aclose()


async def test_stream_keeps_the_user_offset_across_the_switch() -> None:
    a, b = Engine("a", fail_at_frame=2), Engine("b")
    adapter = adapter_of(a, b)
    stream = adapter.stream()
    stream.start_time_offset = 5.0
    stream.push_frame(noise(seed=1))
    stream.push_frame(noise(seed=2))
    stream.end_input()
    data = finals([ev async for ev in stream])
    assert [(d.text, d.start_time, d.end_time) for d in data] == [("b: 0.50s", 5.0, 5.5)]
    await stream.aclose()
    await adapter.aclose()


async def test_new_streams_use_a_recovered_stt_again() -> None:
    a, b = Engine("a", broken=True), Engine("b")
    adapter = adapter_of(a, b)
    back = wait_available(adapter, a)
    async with adapter.stream() as stream:
        stream.push_frame(noise())
        stream.end_input()
        assert [d.text for d in finals([ev async for ev in stream])] == ["b: 0.25s"]
    a.broken = False
    await back.wait()  # the probe opened a stream on "a" with the failed turn's audio
    async with adapter.stream() as stream:
        stream.push_frame(noise())
        stream.end_input()
        assert [d.text for d in finals([ev async for ev in stream])] == ["a: 0.25s"]
    await adapter.aclose()


async def test_non_streaming_members_are_wrapped_with_the_vad() -> None:
    a, b = BufferEngine("a", broken=True), BufferEngine("b")
    adapter = adapter_of(a, b, vad=PeakVAD())
    log = availability_log(adapter)
    async with adapter.stream() as stream:
        for i in range(3):
            stream.push_frame(noise(seed=i))
        stream.push_frame(noise(amplitude=0))
        stream.push_frame(noise(seed=7))
        stream.push_frame(noise(amplitude=0))
        stream.end_input()
        events = [ev async for ev in stream]
    data = finals(events)
    # "a" failed on the first segment, which was replayed to "b"; nothing was lost
    assert [d.text for d in data] == ["b: 1.00s", "b: 0.50s"]
    assert [t for d in data for t in (d.start_time, d.end_time)] == pytest.approx(
        [0.0, 1.0, 1.0, 1.5]
    )
    assert log == [("a", False)]
    await adapter.aclose()


async def test_stream_fails_when_every_stt_fails() -> None:
    adapter = adapter_of(Engine("a", broken=True), Engine("b", broken=True))
    errors: list[STTError] = []
    adapter.on("error", errors.append)
    stream = adapter.stream()
    stream.push_frame(noise())
    with pytest.raises(APIConnectionError, match="every STT"):
        _ = [ev async for ev in stream]
    assert [e.recoverable for e in errors] == [False]
    await stream.aclose()
    await adapter.aclose()


async def test_member_retries_before_failing_over() -> None:
    class Flaky(Engine):
        def __init__(self) -> None:
            super().__init__("flaky")
            self.failures = 1

        async def _recognize_impl(
            self,
            buffer: AudioBuffer,
            *,
            language: NotGivenOr[str] = NOT_GIVEN,
            conn_options: APIConnectOptions,
        ) -> SpeechEvent:
            if self.failures:
                self.failures -= 1
                raise APIStatusError("overloaded", status_code=503)
            return await super()._recognize_impl(
                buffer, language=language, conn_options=conn_options
            )

    flaky = Flaky()
    adapter = adapter_of(flaky, Engine("b"))
    log = availability_log(adapter)
    ev = await adapter.recognize(noise())
    assert ev.alternatives[0].text == "flaky: 0.25s"  # max_retry_per_stt=1 absorbed it
    assert log == []
    await adapter.aclose()


async def test_aclose_leaves_no_task_behind() -> None:
    before = asyncio.all_tasks()
    a, b = Engine("a", broken=True), Engine("b")
    adapter = adapter_of(a, b)
    stream = adapter.stream()
    stream.push_frame(noise())
    # wait until the switch happened: "a" is being probed in the background
    switched = asyncio.Event()
    adapter.on("stt_availability_changed", lambda _ev: switched.set())
    await switched.wait()
    assert b.streams_opened == 1
    await stream.aclose()
    await adapter.aclose()
    assert asyncio.all_tasks() - before == set()


async def test_metrics_of_wrapped_members_reach_the_adapter_once() -> None:
    inner = BufferEngine("x")
    adapter = adapter_of(inner, vad=PeakVAD())
    assert isinstance(adapter._members[0].streaming, StreamAdapter)
    seen: list[STTMetrics] = []
    adapter.on("metrics_collected", seen.append)
    async with adapter.stream() as stream:
        stream.push_frame(noise())
        stream.push_frame(noise(amplitude=0))
        stream.end_input()
        assert [d.text for d in finals([ev async for ev in stream])] == ["x: 0.50s"]
    assert [m.audio_duration for m in seen] == pytest.approx([0.5])
    await adapter.aclose()
    await inner.recognize(noise())
    assert len(seen) == 1  # detached by aclose


async def test_recognize_fails_over_on_timeout() -> None:
    class Hanging(Engine):
        async def _recognize_impl(
            self,
            buffer: AudioBuffer,
            *,
            language: NotGivenOr[str] = NOT_GIVEN,
            conn_options: APIConnectOptions,
        ) -> SpeechEvent:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    hanging, b = Hanging("slow"), Engine("b")
    adapter = FallbackAdapter([hanging, b], attempt_timeout=0.05, max_retry_per_stt=0)
    log = availability_log(adapter)
    ev = await adapter.recognize(noise())
    assert ev.alternatives[0].text == "b: 0.25s"
    assert log == [("slow", False)]
    await adapter.aclose()
