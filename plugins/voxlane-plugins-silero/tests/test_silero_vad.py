"""Silero VAD on real speech (made with espeak-ng) and on silence, through onnxruntime."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from livekit import rtc

from voxlane.agents.vad import VADEvent, VADEventType
from voxlane.plugins import silero
from voxlane.plugins.silero.onnx_model import (
    SileroOnnxModel,
    bundled_model_path,
    new_session,
    window_size_samples,
)


def _espeak(text: str, path: Path) -> tuple[npt.NDArray[np.int16], int]:
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()
    return pcm, rate


def _resample(pcm: npt.NDArray[np.int16], src: int, dst: int) -> npt.NDArray[np.int16]:
    resampler = rtc.AudioResampler(src, dst, num_channels=1)
    out = [*resampler.push(rtc.AudioFrame(pcm.tobytes(), src, 1, pcm.size)), *resampler.flush()]
    merged: npt.NDArray[np.int16] = np.concatenate(
        [np.frombuffer(f.data, dtype=np.int16) for f in out]
    )
    return merged


@pytest.fixture(scope="module")
def speech_16k(tmp_path_factory: pytest.TempPathFactory) -> npt.NDArray[np.int16]:
    """About two seconds of English speech at 16 kHz."""
    path = tmp_path_factory.mktemp("speech") / "hello.wav"
    pcm, rate = _espeak("Hello world, how are you doing today?", path)
    return _resample(pcm, rate, 16000)


@pytest.fixture(scope="module")
def vad() -> silero.VAD:
    return silero.VAD.load()


def _frames(
    pcm: npt.NDArray[np.int16], rate: int, frame_ms: int = 20, channels: int = 1
) -> list[rtc.AudioFrame]:
    step = rate * frame_ms // 1000
    out = []
    for i in range(0, pcm.size, step):
        chunk = pcm[i : i + step]
        data = np.repeat(chunk, channels) if channels > 1 else chunk
        out.append(rtc.AudioFrame(data.tobytes(), rate, channels, chunk.size))
    return out


async def _run(vad: silero.VAD, frames: list[rtc.AudioFrame]) -> list[VADEvent]:
    stream = vad.stream()
    for f in frames:
        stream.push_frame(f)
    stream.end_input()
    events = [ev async for ev in stream]
    await stream.aclose()
    return events


def _kinds(events: list[VADEvent]) -> list[VADEventType]:
    return [e.type for e in events if e.type != VADEventType.INFERENCE_DONE]


def test_bundled_model_is_shipped_with_its_licence() -> None:
    path = bundled_model_path()
    assert path.name == "silero_vad.onnx"
    assert path.stat().st_size > 1_000_000
    licence = (path.parent / "LICENSE.silero_vad").read_text()
    assert "MIT License" in licence


def test_engine_scores_speech_high_and_silence_low(speech_16k: npt.NDArray[np.int16]) -> None:
    model = SileroOnnxModel(new_session(), sample_rate=16000)
    w = model.window_size_samples
    usable = speech_16k[: (speech_16k.size // w) * w]
    speech_probs = model.run_pcm16(usable)
    model.reset()
    silence_probs = model.run_pcm16(np.zeros(w * 30, dtype=np.int16))
    assert max(speech_probs) > 0.8
    assert max(silence_probs) < 0.1


def test_engine_rejects_bad_input() -> None:
    model = SileroOnnxModel(new_session(), sample_rate=8000)
    assert model.window_size_samples == window_size_samples(8000) == 256
    with pytest.raises(ValueError, match="256 samples"):
        model(np.zeros(512, dtype=np.float32))
    with pytest.raises(ValueError, match="multiple of 256"):
        model.run_pcm16(np.zeros(300, dtype=np.int16))
    with pytest.raises(ValueError, match="8000 or 16000"):
        SileroOnnxModel(new_session(), sample_rate=44100)
    with pytest.raises(FileNotFoundError):
        new_session(model_path="/nonexistent/silero.onnx")


async def test_one_utterance_between_silences(
    vad: silero.VAD, speech_16k: npt.NDArray[np.int16]
) -> None:
    pad = np.zeros(16000, dtype=np.int16)
    audio = np.concatenate([pad, speech_16k, pad])
    events = await _run(vad, _frames(audio, 16000))
    assert _kinds(events) == [VADEventType.START_OF_SPEECH, VADEventType.END_OF_SPEECH]
    start = next(e for e in events if e.type == VADEventType.START_OF_SPEECH)
    end = next(e for e in events if e.type == VADEventType.END_OF_SPEECH)
    speech_secs = speech_16k.size / 16000
    assert 0.9 <= start.timestamp <= 1.0 + speech_secs / 2
    assert end.timestamp > 1.0 + speech_secs * 0.8
    assert end.silence_duration >= 0.55
    assert 0.5 * speech_secs <= end.speech_duration <= speech_secs + 0.1
    # the END frames hold the utterance plus up to 0.5 s of prefix padding, at the input rate
    assert all(f.sample_rate == 16000 and f.num_channels == 1 for f in end.frames)
    buffered = sum(f.samples_per_channel for f in end.frames) / 16000
    assert end.speech_duration < buffered <= speech_secs + 0.5 + 0.55 + 0.1
    done = [e for e in events if e.type == VADEventType.INFERENCE_DONE]
    assert len(done) == audio.size // 512
    assert any(e.speaking for e in done)
    assert all(0.0 <= e.probability <= 1.0 for e in done)


async def test_silence_gives_no_speech(vad: silero.VAD) -> None:
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16000 * 3) * 30).astype(np.int16)  # very quiet hiss
    events = await _run(vad, _frames(noise, 16000))
    assert _kinds(events) == []
    assert len(events) == noise.size // 512
    assert max(e.probability for e in events) < 0.5


async def test_48k_stereo_input_is_resampled_and_downmixed(
    vad: silero.VAD, speech_16k: npt.NDArray[np.int16]
) -> None:
    pad = np.zeros(16000, dtype=np.int16)
    audio_48k = _resample(np.concatenate([pad, speech_16k, pad]), 16000, 48000)
    events = await _run(vad, _frames(audio_48k, 48000, frame_ms=10, channels=2))
    assert _kinds(events) == [VADEventType.START_OF_SPEECH, VADEventType.END_OF_SPEECH]
    end = next(e for e in events if e.type == VADEventType.END_OF_SPEECH)
    assert all(f.sample_rate == 48000 for f in end.frames)


async def test_8khz_model(speech_16k: npt.NDArray[np.int16]) -> None:
    vad8 = silero.VAD.load(sample_rate=8000)
    assert vad8.capabilities.update_interval == pytest.approx(0.032)
    pad = np.zeros(8000, dtype=np.int16)
    audio = np.concatenate([pad, _resample(speech_16k, 16000, 8000), pad])
    events = await _run(vad8, _frames(audio, 8000))
    assert _kinds(events) == [VADEventType.START_OF_SPEECH, VADEventType.END_OF_SPEECH]
    assert len([e for e in events if e.type == VADEventType.INFERENCE_DONE]) == audio.size // 256


async def test_input_ending_mid_speech_still_ends_the_utterance(
    vad: silero.VAD, speech_16k: npt.NDArray[np.int16]
) -> None:
    audio = np.concatenate([np.zeros(8000, dtype=np.int16), speech_16k[: speech_16k.size // 2]])
    events = await _run(vad, _frames(audio, 16000))
    assert _kinds(events) == [VADEventType.START_OF_SPEECH, VADEventType.END_OF_SPEECH]
    assert events[-1].type == VADEventType.END_OF_SPEECH
    assert events[-1].frames


async def test_long_min_silence_merges_two_utterances(
    speech_16k: npt.NDArray[np.int16],
) -> None:
    gap = np.zeros(16000, dtype=np.int16)
    audio = np.concatenate([gap, speech_16k, gap, speech_16k, gap, gap])
    short = silero.VAD.load(min_silence_duration=0.55)
    long = silero.VAD.load(min_silence_duration=1.5)
    assert _kinds(await _run(short, _frames(audio, 16000))).count(VADEventType.START_OF_SPEECH) == 2
    assert _kinds(await _run(long, _frames(audio, 16000))).count(VADEventType.START_OF_SPEECH) == 1


async def test_update_options_reaches_open_streams(speech_16k: npt.NDArray[np.int16]) -> None:
    vad = silero.VAD.load()
    stream = vad.stream()
    # a minimum speech duration longer than the utterance: the speech is never accepted
    vad.update_options(min_speech_duration=10.0, activation_threshold=0.6)
    assert vad.options.min_speech_duration == 10.0
    assert vad.options.deactivation_threshold == pytest.approx(0.45)
    for f in _frames(np.concatenate([speech_16k, np.zeros(16000, dtype=np.int16)]), 16000):
        stream.push_frame(f)
    stream.end_input()
    events = [ev async for ev in stream]
    assert _kinds(events) == []


async def test_sample_rate_change_fails_the_stream(vad: silero.VAD) -> None:
    stream = vad.stream()
    stream.push_frame(rtc.AudioFrame(bytes(320 * 2), 16000, 1, 320))
    stream.push_frame(rtc.AudioFrame(bytes(160 * 2), 8000, 1, 160))
    stream.end_input()
    with pytest.raises(ValueError, match="sample rate must stay constant"):
        async for _ in stream:
            pass
    await stream.aclose()


def test_invalid_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        silero.VAD.load(sample_rate=22050)
    with pytest.raises(ValueError, match="activation_threshold"):
        silero.VAD.load(activation_threshold=1.5)
    with pytest.raises(ValueError, match="deactivation_threshold"):
        silero.VAD.load(activation_threshold=0.5, deactivation_threshold=0.7)
    with pytest.raises(ValueError, match="min_silence_duration"):
        silero.VAD.load(min_silence_duration=-1)
    with pytest.raises(ValueError, match="max_buffered_speech"):
        silero.VAD.load(max_buffered_speech=0)
    vad = silero.VAD.load()
    with pytest.raises(ValueError, match="prefix_padding_duration"):
        vad.update_options(prefix_padding_duration=-0.1)


async def test_slow_inference_is_reported(
    vad: silero.VAD, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as _time

    original = SileroOnnxModel.__call__

    def slow(self: SileroOnnxModel, window: npt.NDArray[np.float32]) -> float:
        _time.sleep(0.045)  # longer than the 32 ms of audio in a window
        return original(self, window)

    monkeypatch.setattr(SileroOnnxModel, "__call__", slow)
    with caplog.at_level(logging.WARNING, logger="voxlane.plugins.silero"):
        await _run(vad, _frames(np.zeros(512 * 25, dtype=np.int16), 16000))
    assert any("slower than real time" in r.getMessage() for r in caplog.records)


async def test_inference_runs_in_a_worker_thread(
    vad: silero.VAD, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    threads: set[int] = set()
    original = SileroOnnxModel.__call__

    def spy(self: SileroOnnxModel, window: npt.NDArray[np.float32]) -> float:
        threads.add(threading.get_ident())
        return original(self, window)

    monkeypatch.setattr(SileroOnnxModel, "__call__", spy)
    await _run(vad, _frames(np.zeros(16000, dtype=np.int16), 16000))
    assert threads
    assert threading.get_ident() not in threads


def test_registered_under_the_provider_string_silero() -> None:
    from voxlane.agents.plugin import list_plugins, resolve_provider

    vad = resolve_provider("vad", "silero", min_silence_duration=0.3)
    assert isinstance(vad, silero.VAD)
    assert vad.options.min_silence_duration == 0.3
    status = next(p for p in list_plugins() if p.name == "silero")
    assert status.status == "ok" and status.error is None
    assert status.models == {"vad": ["silero"]}
    assert status.distribution == "voxlane-plugins-silero"


def test_download_files_validates_the_bundled_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from voxlane.plugins.silero import download_files

    download_files()  # the shipped model loads
    monkeypatch.setattr(
        "voxlane.plugins.silero.bundled_model_path", lambda: Path("/nonexistent/silero_vad.onnx")
    )
    with pytest.raises(FileNotFoundError):
        download_files()


_NO_NETWORK = """
import socket, sys
attempts = []
def _refuse(*args, **kwargs):
    attempts.append(repr(args[:2]))
    raise OSError("network access attempted while the test forbids it")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.getaddrinfo = _refuse
socket.create_connection = _refuse
"""


def _run_without_network(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a fresh interpreter where every socket connection is refused and
    recorded, with no Hugging Face offline switch and an empty Hugging Face cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env["HF_HOME"] = str(tmp_path / "hf-home")
    code = _NO_NETWORK + body + "\nassert not attempts, attempts\nprint('OFFLINE-OK')\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240
    )


def test_nothing_is_downloaded_at_run_time(tmp_path: Path) -> None:
    body = """
import numpy as np
from voxlane.plugins import silero
from voxlane.plugins.silero.onnx_model import SileroOnnxModel
vad = silero.VAD.load()
model = SileroOnnxModel(vad._session, sample_rate=16000)
assert max(model.run_pcm16(np.zeros(512 * 4, dtype=np.int16))) < 0.5
"""
    proc = _run_without_network(body, tmp_path)
    assert proc.returncode == 0 and "OFFLINE-OK" in proc.stdout, proc.stdout + proc.stderr
