"""VAD / VADStream base classes, driven by a tiny energy detector over real PCM frames."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents.metrics import VADMetrics
from voxlane.agents.utils.audio import calculate_audio_duration
from voxlane.agents.vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream

SR = 16000
WINDOW = 0.05  # seconds per analysed frame


def tone(duration: float, amplitude: int = 10000) -> rtc.AudioFrame:
    n = round(duration * SR)
    t = np.arange(n) / SR
    pcm = (np.sin(2 * np.pi * 300 * t) * amplitude).astype(np.int16)
    return rtc.AudioFrame(data=pcm.tobytes(), sample_rate=SR, num_channels=1, samples_per_channel=n)


def quiet(duration: float) -> rtc.AudioFrame:
    return tone(duration, amplitude=0)


def windows(frame: rtc.AudioFrame) -> list[rtc.AudioFrame]:
    pcm = np.frombuffer(bytes(frame.data.cast("B")), dtype=np.int16)
    step = int(WINDOW * SR)
    return [
        rtc.AudioFrame(
            data=pcm[i : i + step].tobytes(),
            sample_rate=SR,
            num_channels=1,
            samples_per_channel=len(pcm[i : i + step]),
        )
        for i in range(0, len(pcm), step)
    ]


class EnergyVAD(VAD):
    def __init__(self, *, fail: bool = False, min_silence: float = 0.2) -> None:
        super().__init__(capabilities=VADCapabilities(update_interval=WINDOW))
        self.fail = fail
        self.min_silence = min_silence

    @property
    def model(self) -> str:
        return "energy"

    @property
    def provider(self) -> str:
        return "tests"

    def stream(self) -> VADStream:
        return EnergyStream(self)


class EnergyStream(VADStream):
    def __init__(self, vad: EnergyVAD) -> None:
        super().__init__(vad)
        self._opts = vad

    async def _main_task(self) -> None:
        samples = 0
        speaking = False
        speech: list[rtc.AudioFrame] = []
        speech_dur = silence_dur = 0.0
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                continue
            if self._opts.fail:
                raise RuntimeError("model crashed")
            pcm = np.frombuffer(bytes(item.data.cast("B")), dtype=np.int16).astype(np.float64)
            rms = float(np.sqrt(np.mean(pcm**2))) if len(pcm) else 0.0
            prob = min(1.0, rms / 3000)
            dur = item.samples_per_channel / item.sample_rate
            samples += item.samples_per_channel
            ts = samples / SR
            if prob > 0.5:
                silence_dur = 0.0
                speech_dur += dur
                if not speaking:
                    speaking = True
                    self._event_ch.send_nowait(
                        VADEvent(
                            type=VADEventType.START_OF_SPEECH,
                            samples_index=samples,
                            timestamp=ts,
                            speech_duration=speech_dur,
                            silence_duration=0.0,
                            speaking=True,
                        )
                    )
            elif speaking:
                silence_dur += dur
            if speaking:
                speech.append(item)
            self._event_ch.send_nowait(
                VADEvent(
                    type=VADEventType.INFERENCE_DONE,
                    samples_index=samples,
                    timestamp=ts,
                    speech_duration=speech_dur,
                    silence_duration=silence_dur,
                    frames=[item],
                    probability=prob,
                    inference_duration=0.001,
                    speaking=speaking,
                )
            )
            if speaking and silence_dur >= self._opts.min_silence:
                speaking = False
                self._event_ch.send_nowait(
                    VADEvent(
                        type=VADEventType.END_OF_SPEECH,
                        samples_index=samples,
                        timestamp=ts,
                        speech_duration=speech_dur,
                        silence_duration=silence_dur,
                        frames=speech,
                    )
                )
                speech = []
                speech_dur = 0.0


async def collect(stream: VADStream) -> list[VADEvent]:
    return [ev async for ev in stream]


async def test_vad_stream_detects_speech_and_reports_metrics() -> None:
    vad = EnergyVAD()
    metrics: list[VADMetrics] = []
    vad.on("metrics_collected", metrics.append)
    async with vad.stream() as stream:
        for part in (quiet(0.3), tone(0.5), quiet(0.5), tone(0.3), quiet(0.4)):
            for w in windows(part):
                stream.push_frame(w)
        stream.end_input()
        events = await collect(stream)

    starts = [e for e in events if e.type == VADEventType.START_OF_SPEECH]
    ends = [e for e in events if e.type == VADEventType.END_OF_SPEECH]
    infs = [e for e in events if e.type == VADEventType.INFERENCE_DONE]
    assert len(starts) == 2 and len(ends) == 2
    assert len(infs) == 40
    assert starts[0].timestamp == pytest.approx(0.35)
    assert ends[0].speech_duration == pytest.approx(0.5)
    # the speech audio plus the trailing silence that ended it
    assert calculate_audio_duration(ends[0].frames) == pytest.approx(0.7)
    # one report per second of analysed audio (20 windows of 50 ms)
    assert [m.inference_count for m in metrics] == [20, 20]
    assert metrics[0].inference_duration_total == pytest.approx(0.02)
    assert metrics[0].metadata is not None
    assert metrics[0].metadata.model_name == "energy"
    assert metrics[0].label.endswith("EnergyVAD")


async def test_vad_stream_errors_surface_to_the_consumer() -> None:
    stream = EnergyVAD(fail=True).stream()
    stream.push_frame(tone(0.05))
    with pytest.raises(RuntimeError, match="model crashed"):
        await collect(stream)
    await stream.aclose()


async def test_vad_stream_input_checks() -> None:
    stream = EnergyVAD().stream()
    with pytest.raises(TypeError, match=r"rtc\.AudioFrame"):
        stream.push_frame("frame")  # type: ignore[arg-type]
    stream.end_input()
    with pytest.raises(RuntimeError, match="end_input"):
        stream.push_frame(tone(0.05))
    await stream.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        stream.flush()


async def test_vad_aclose_mid_stream_leaves_no_task_behind() -> None:
    before = asyncio.all_tasks()
    stream = EnergyVAD().stream()
    for w in windows(tone(0.2)):
        stream.push_frame(w)
    first = await stream.__anext__()
    assert first.type == VADEventType.START_OF_SPEECH
    assert len(asyncio.all_tasks() - before) == 2
    await stream.aclose()
    assert asyncio.all_tasks() - before == set()
    assert await collect(stream) == []


def test_vad_capabilities_are_validated() -> None:
    with pytest.raises(ValueError, match="update_interval"):
        VADCapabilities(update_interval=0)

    class Bad(EnergyVAD):
        def __init__(self) -> None:
            VAD.__init__(self, capabilities=0.032)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="VADCapabilities"):
        Bad()


def test_vad_event_defaults() -> None:
    ev = VADEvent(
        type=VADEventType.INFERENCE_DONE,
        samples_index=0,
        timestamp=0.0,
        speech_duration=0.0,
        silence_duration=0.0,
    )
    assert ev.frames == [] and ev.probability == 0.0 and ev.speaking is False
    assert VADEventType("end_of_speech") is VADEventType.END_OF_SPEECH
