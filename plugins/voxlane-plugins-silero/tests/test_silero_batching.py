"""Windows of concurrent streams run in one onnxruntime call, with the same results as alone."""

from __future__ import annotations

import asyncio
import subprocess
import wave
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from livekit import rtc

from voxlane.agents.vad import VADEvent, VADEventType
from voxlane.plugins import silero
from voxlane.plugins.silero import batching, onnx_model
from voxlane.plugins.silero.batching import InferenceBatcher
from voxlane.plugins.silero.onnx_model import SileroOnnxModel, new_session, run_batch


@pytest.fixture(scope="module")
def speech_16k(tmp_path_factory: pytest.TempPathFactory) -> npt.NDArray[np.int16]:
    path = tmp_path_factory.mktemp("speech") / "batch.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(path), "Please book a table for two tonight."],
        check=True,
        capture_output=True,
    )
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()
    resampler = rtc.AudioResampler(rate, 16000, num_channels=1)
    frames = [*resampler.push(rtc.AudioFrame(pcm.tobytes(), rate, 1, pcm.size)), *resampler.flush()]
    speech = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])
    silence = np.zeros(16000, dtype=np.int16)
    out: npt.NDArray[np.int16] = np.concatenate([silence, speech, silence])
    return out


def _windows(pcm: npt.NDArray[np.int16], offset: int, count: int) -> list[npt.NDArray[np.float32]]:
    audio = pcm.astype(np.float32) / 32768.0
    return [audio[offset + i * 512 : offset + (i + 1) * 512] for i in range(count)]


def test_run_batch_matches_one_call_per_stream(speech_16k: npt.NDArray[np.int16]) -> None:
    session = new_session()
    offsets = [0, 5_000, 12_000, 20_000, 27_000]
    alone = [SileroOnnxModel(session, sample_rate=16000) for _ in offsets]
    batched = [SileroOnnxModel(session, sample_rate=16000) for _ in offsets]
    streams = [_windows(speech_16k, off, 40) for off in offsets]
    for step in range(40):
        expected = [model(windows[step]) for model, windows in zip(alone, streams, strict=True)]
        got = run_batch(batched, [windows[step] for windows in streams])
        assert got == pytest.approx(expected, abs=1e-5)
    # the recurrent state and context each model carries on are the same too
    for a, b in zip(alone, batched, strict=True):
        assert np.allclose(a._state, b._state, atol=1e-5)
        assert np.array_equal(a._context, b._context)


def test_run_batch_refuses_what_it_cannot_batch() -> None:
    session = new_session()
    m16 = SileroOnnxModel(session, sample_rate=16000)
    m8 = SileroOnnxModel(session, sample_rate=8000)
    window = np.zeros(512, dtype=np.float32)
    with pytest.raises(ValueError, match="share one session and sample rate"):
        run_batch([m16, m8], [window, window])
    with pytest.raises(ValueError, match="2 models but 1 windows"):
        run_batch([m16, m16], [window])
    with pytest.raises(ValueError, match="has 512 samples"):
        run_batch([m16, SileroOnnxModel(session, sample_rate=16000)], [window, window[:100]])
    assert run_batch([], []) == []


def _frames(pcm: npt.NDArray[np.int16]) -> list[rtc.AudioFrame]:
    whole = pcm[: pcm.size - pcm.size % 320]
    return [
        rtc.AudioFrame(whole[i : i + 320].tobytes(), 16000, 1, 320)
        for i in range(0, whole.size, 320)
    ]


def _decisions(events: list[VADEvent]) -> list[tuple[str, int, float]]:
    return [
        (e.type.value, e.samples_index, round(e.probability, 4))
        for e in events
        if e.type != VADEventType.INFERENCE_DONE
    ]


async def _events_of(vad: silero.VAD, frames: list[rtc.AudioFrame], chunk: int) -> list[VADEvent]:
    """Feed the frames a few at a time, letting other streams run in between."""
    stream = vad.stream()
    events: list[VADEvent] = []

    async def read() -> None:
        async for ev in stream:
            events.append(ev)

    reader = asyncio.create_task(read())
    for i in range(0, len(frames), chunk):
        for f in frames[i : i + chunk]:
            stream.push_frame(f)
        await asyncio.sleep(0.001)
    stream.end_input()
    await reader
    await stream.aclose()
    return events


async def test_concurrent_streams_are_batched_and_decide_as_alone(
    speech_16k: npt.NDArray[np.int16], monkeypatch: pytest.MonkeyPatch
) -> None:
    vad = silero.VAD.load()
    inputs = [np.roll(speech_16k, shift) for shift in (0, 3_200, 6_400, 9_600, 12_800, 16_000)]
    alone = [_decisions(await _events_of(vad, _frames(pcm), chunk=4)) for pcm in inputs]
    assert all(any(kind == "start_of_speech" for kind, _, _ in d) for d in alone)

    sizes: list[int] = []
    real = onnx_model.run_batch

    def spy(models: Any, windows: Any) -> list[float]:
        sizes.append(len(models))
        return real(models, windows)

    monkeypatch.setattr(batching, "run_batch", spy)
    together = await asyncio.gather(*(_events_of(vad, _frames(pcm), chunk=4) for pcm in inputs))
    assert [_decisions(events) for events in together] == alone
    assert max(sizes) > 1, "concurrent streams were never batched"
    assert sum(sizes) > len(sizes), "batching must save onnxruntime calls"


async def test_an_inference_failure_fails_the_streams_of_that_batch() -> None:
    batcher = InferenceBatcher(name="silero-test")
    model = SileroOnnxModel(new_session(), sample_rate=16000)

    class Broken:
        def run(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("onnxruntime exploded")

    broken = SileroOnnxModel(Broken(), sample_rate=16000)
    ok = await batcher.submit(model, np.zeros(1024, dtype=np.int16))
    assert len(ok) == 2 and all(0.0 <= p <= 1.0 for p, _ in ok)
    with pytest.raises(RuntimeError, match="onnxruntime exploded"):
        await batcher.submit(broken, np.zeros(512, dtype=np.int16))
    with pytest.raises(ValueError, match="non-zero multiple of 512"):
        batcher.submit(model, np.zeros(100, dtype=np.int16))


async def test_a_cancelled_request_does_not_disturb_the_others() -> None:
    batcher = InferenceBatcher(name="silero-test")
    session = new_session()
    first = batcher.submit(SileroOnnxModel(session, sample_rate=16000), np.zeros(512, np.int16))
    second = batcher.submit(SileroOnnxModel(session, sample_rate=16000), np.zeros(512, np.int16))
    first.cancel()
    [(prob, compute)] = await second
    assert 0.0 <= prob <= 1.0 and compute >= 0.0
    assert first.cancelled()


async def test_batches_are_bounded_so_results_arrive_in_small_groups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes: list[int] = []
    real = onnx_model.run_batch

    def spy(models: Any, windows: Any) -> list[float]:
        sizes.append(len(models))
        return real(models, windows)

    monkeypatch.setattr(batching, "run_batch", spy)
    batcher = InferenceBatcher(name="silero-test")
    session = new_session()
    count = batching.MAX_BATCH * 2 + 5
    futures = [
        batcher.submit(SileroOnnxModel(session, sample_rate=16000), np.zeros(512, np.int16))
        for _ in range(count)
    ]
    results = await asyncio.gather(*futures)
    assert len(results) == count and all(len(r) == 1 for r in results)
    assert sum(sizes) == count
    assert max(sizes) <= batching.MAX_BATCH
