"""stt.StreamAdapter: a non-streaming STT made streaming by VAD segmentation."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents import APIConnectionError, APIConnectOptions, APIStatusError, NotGivenOr
from voxlane.agents.metrics import STTMetrics
from voxlane.agents.stt import (
    STT,
    RecognizeStream,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    StreamAdapter,
    STTCapabilities,
    STTError,
)
from voxlane.agents.types import NOT_GIVEN, given_or
from voxlane.agents.utils.audio import AudioBuffer, merge_frames
from voxlane.agents.vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream

SR = 16000
WINDOW = 0.05
FAST = APIConnectOptions(max_retry=2, retry_interval=0.0)


def tone(duration: float, amplitude: int = 9000) -> rtc.AudioFrame:
    n = round(duration * SR)
    t = np.arange(n) / SR
    pcm = (np.sin(2 * np.pi * 220 * t) * amplitude).astype(np.int16)
    return rtc.AudioFrame(data=pcm.tobytes(), sample_rate=SR, num_channels=1, samples_per_channel=n)


def push_audio(stream: RecognizeStream, parts: list[tuple[str, float]]) -> None:
    """Push (kind, seconds) parts as 50 ms frames; kind is "speech" or "quiet"."""
    for kind, seconds in parts:
        for _ in range(round(seconds / WINDOW)):
            stream.push_frame(tone(WINDOW, 9000 if kind == "speech" else 0))


class LoudnessVAD(VAD):
    """Speech is any 50 ms frame with a peak above 1000; 0.2 s of quiet ends a segment."""

    def __init__(self) -> None:
        super().__init__(capabilities=VADCapabilities(update_interval=WINDOW))
        self.streams: list[VADStream] = []

    def stream(self) -> VADStream:
        s = LoudnessStream(self)
        self.streams.append(s)
        return s


class LoudnessStream(VADStream):
    async def _main_task(self) -> None:
        speech: list[rtc.AudioFrame] = []
        quiet = 0.0
        index = 0
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                continue
            index += item.samples_per_channel
            peak = int(np.abs(np.frombuffer(bytes(item.data.cast("B")), dtype=np.int16)).max())
            loud = peak > 1000
            if loud and not speech:
                self._event_ch.send_nowait(self._ev(VADEventType.START_OF_SPEECH, index))
            if speech or loud:
                speech.append(item)
                quiet = 0.0 if loud else quiet + WINDOW
            if speech and quiet >= 0.2 - 1e-9:
                self._event_ch.send_nowait(self._ev(VADEventType.END_OF_SPEECH, index, speech))
                speech = []
                quiet = 0.0

    @staticmethod
    def _ev(kind: VADEventType, index: int, frames: list[rtc.AudioFrame] | None = None) -> VADEvent:
        return VADEvent(
            type=kind,
            samples_index=index,
            timestamp=index / SR,
            speech_duration=0.0,
            silence_duration=0.0,
            frames=frames or [],
        )


class BufferSTT(STT):
    """Transcribes a buffer as its duration; scripted failures and empty results."""

    def __init__(self, script: list[Exception | str] | None = None) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=False, interim_results=False))
        self.script = list(script or [])
        self.calls: list[tuple[float, NotGivenOr[str]]] = []

    @property
    def model(self) -> str:
        return "buffer-1"

    @property
    def provider(self) -> str:
        return "tests"

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> SpeechEvent:
        frame = merge_frames(buffer)
        seconds = frame.samples_per_channel / frame.sample_rate
        self.calls.append((seconds, language))
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        text = step if isinstance(step, str) else f"{seconds:.2f} seconds"
        return SpeechEvent(
            type=SpeechEventType.FINAL_TRANSCRIPT,
            request_id=f"r{len(self.calls)}",
            alternatives=[SpeechData(language=given_or(language, "en"), text=text)],
        )


async def run(
    adapter: StreamAdapter, parts: list[tuple[str, float]], **kw: object
) -> list[SpeechEvent]:
    async with adapter.stream(**kw) as stream:  # type: ignore[arg-type]
        push_audio(stream, parts)
        stream.end_input()
        return [ev async for ev in stream]


TWO_TURNS = [("quiet", 0.2), ("speech", 0.5), ("quiet", 0.4), ("speech", 0.3), ("quiet", 0.3)]


async def test_vad_segments_become_final_transcripts() -> None:
    stt, vad = BufferSTT(), LoudnessVAD()
    adapter = StreamAdapter(stt=stt, vad=vad)
    events = await run(adapter, TWO_TURNS, language="de", conn_options=FAST)
    assert [e.type for e in events] == [
        SpeechEventType.START_OF_SPEECH,
        SpeechEventType.END_OF_SPEECH,
        SpeechEventType.FINAL_TRANSCRIPT,
    ] * 2
    texts = [e.alternatives[0].text for e in events if e.alternatives]
    # each segment is its speech plus the 0.2 s of quiet that ended it
    assert texts == ["0.70 seconds", "0.50 seconds"]
    # transcripts are placed on the stream's timeline (segments end where the VAD ended them)
    spans = [
        t
        for e in events
        if e.alternatives
        for t in (e.alternatives[0].start_time, e.alternatives[0].end_time)
    ]
    assert spans == pytest.approx([0.2, 0.9, 1.1, 1.6])
    assert [lang for _, lang in stt.calls] == ["de", "de"]
    assert events[2].request_id == "r1"


async def test_adapter_reports_wrapped_identity_and_capabilities() -> None:
    stt, vad = BufferSTT(), LoudnessVAD()
    adapter = StreamAdapter(stt=stt, vad=vad)
    assert adapter.capabilities.streaming is True
    assert adapter.capabilities.interim_results is False
    assert (adapter.model, adapter.provider) == ("buffer-1", "tests")
    assert adapter.label == f"stt.StreamAdapter<{stt.label}>"
    assert adapter.wrapped_stt is stt and adapter.vad is vad


async def test_recognition_failure_is_reported_and_the_stream_goes_on() -> None:
    stt = BufferSTT([APIStatusError("bad audio", status_code=400)])
    adapter = StreamAdapter(stt=stt, vad=LoudnessVAD())
    errors: list[STTError] = []
    adapter.on("error", errors.append)
    events = await run(adapter, TWO_TURNS, conn_options=FAST)
    finals = [e for e in events if e.type == SpeechEventType.FINAL_TRANSCRIPT]
    assert [e.alternatives[0].text for e in finals] == ["0.50 seconds"]
    assert [e.type for e in events].count(SpeechEventType.END_OF_SPEECH) == 2
    assert len(errors) == 1 and errors[0].recoverable is False


async def test_retries_happen_inside_recognize_not_by_restarting_the_stream() -> None:
    stt = BufferSTT([APIConnectionError("blip")])
    vad = LoudnessVAD()
    adapter = StreamAdapter(stt=stt, vad=vad)
    metrics: list[STTMetrics] = []
    adapter.on("metrics_collected", metrics.append)
    events = await run(adapter, TWO_TURNS[:3], conn_options=FAST)
    finals = [e for e in events if e.type == SpeechEventType.FINAL_TRANSCRIPT]
    assert [e.alternatives[0].text for e in finals] == ["0.70 seconds"]
    assert len(stt.calls) == 2
    assert len(vad.streams) == 1
    assert len(metrics) == 1 and metrics[0].audio_duration == pytest.approx(0.7)


async def test_empty_transcripts_are_not_emitted() -> None:
    stt = BufferSTT(["  ", "hello"])
    events = await run(StreamAdapter(stt=stt, vad=LoudnessVAD()), TWO_TURNS)
    finals = [e.alternatives[0].text for e in events if e.type == SpeechEventType.FINAL_TRANSCRIPT]
    assert finals == ["hello"]


async def test_recognize_delegates_to_the_wrapped_stt() -> None:
    stt = BufferSTT()
    adapter = StreamAdapter(stt=stt, vad=LoudnessVAD())
    ev = await adapter.recognize(tone(0.25), language="it")
    assert ev.alternatives[0].text == "0.25 seconds"
    assert stt.calls == [(0.25, "it")]


async def test_aclose_mid_stream_leaves_no_task_behind() -> None:
    before = asyncio.all_tasks()
    vad = LoudnessVAD()
    adapter = StreamAdapter(stt=BufferSTT(), vad=vad)
    stream = adapter.stream()
    push_audio(stream, [("speech", 0.3)])
    first = await stream.__anext__()
    assert first.type == SpeechEventType.START_OF_SPEECH
    await stream.aclose()
    assert asyncio.all_tasks() - before == set()
    assert vad.streams[0]._task.done()


async def test_aclose_detaches_from_the_wrapped_stt() -> None:
    stt = BufferSTT()
    adapter = StreamAdapter(stt=stt, vad=LoudnessVAD())
    metrics: list[STTMetrics] = []
    adapter.on("metrics_collected", metrics.append)
    await adapter.aclose()
    await stt.recognize(tone(0.1))
    assert metrics == []


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(TypeError, match="stt="):
        StreamAdapter(stt="whisper", vad=LoudnessVAD())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="vad="):
        StreamAdapter(stt=BufferSTT(), vad=None)  # type: ignore[arg-type]


async def test_no_listener_is_left_on_the_wrapped_stt() -> None:
    stt = BufferSTT()
    adapter = StreamAdapter(stt=stt, vad=LoudnessVAD())  # never closed, as in a session
    await run(adapter, TWO_TURNS[:3])
    await adapter.recognize(tone(0.1))
    assert all(not callbacks for callbacks in stt._events.values())
