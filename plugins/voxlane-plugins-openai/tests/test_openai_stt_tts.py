"""openai.STT and openai.TTS with the real SDK against the local fake server."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
import vx_openai_fake as fk
from livekit import rtc

from voxlane.agents import stt as stt_mod
from voxlane.agents._exceptions import APIConnectionError, APIStatusError
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import openai as vx_openai

FAST = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=5.0)


def speech_frames() -> list[rtc.AudioFrame]:
    t = np.arange(1600) / 16000.0
    pcm = (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)
    return [
        rtc.AudioFrame(
            data=pcm.tobytes(), sample_rate=16000, num_channels=1, samples_per_channel=1600
        )
        for _ in range(3)
    ]


async def test_stt_uploads_wav_and_returns_final(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.stt_queue.append("hello world")
    engine = vx_openai.STT(
        api_key="sk-x", base_url=fake_openai.base_url, language="fr", prompt="names: Ada"
    )
    frames = speech_frames()
    ev = await engine.recognize(frames, conn_options=FAST)
    assert ev.type == stt_mod.SpeechEventType.FINAL_TRANSCRIPT
    assert ev.alternatives[0].text == "hello world" and ev.alternatives[0].language == "fr"
    [req] = fake_openai.requests_to("/v1/audio/transcriptions")
    assert req.body["model"] == "gpt-4o-mini-transcribe"
    assert req.body["language"] == "fr" and req.body["prompt"] == "names: Ada"
    assert req.body["response_format"] == "json"
    upload = req.body["file"]
    assert upload["filename"] == "audio.wav"
    with wave.open(io.BytesIO(upload["data"])) as wav:
        assert wav.getframerate() == 16000 and wav.getnchannels() == 1 and wav.getsampwidth() == 2
        assert wav.readframes(wav.getnframes()) == b"".join(bytes(f.data) for f in frames)
    assert not engine.capabilities.streaming


async def test_stt_language_override_and_retry(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.stt_queue.extend([fk.Fault("status", status=503), "bonjour"])
    engine = vx_openai.STT(api_key="sk-x", base_url=fake_openai.base_url)
    ev = await engine.recognize(speech_frames(), language="de", conn_options=FAST)
    assert ev.alternatives[0].text == "bonjour"
    reqs = fake_openai.requests_to("/v1/audio/transcriptions")
    assert len(reqs) == 2 and reqs[-1].body["language"] == "de"


async def test_stt_errors(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.stt_queue.append(fk.Fault("status", status=400, message="bad audio"))
    engine = vx_openai.STT(api_key="sk-x", base_url=fake_openai.base_url)
    with pytest.raises(APIStatusError) as info:
        await engine.recognize(speech_frames(), conn_options=FAST)
    assert info.value.status_code == 400 and not info.value.retryable
    fake_openai.stt_queue.extend([fk.Fault("hang"), fk.Fault("hang")])
    with pytest.raises(APIConnectionError):
        await engine.recognize(
            speech_frames(),
            conn_options=APIConnectOptions(max_retry=1, retry_interval=0.01, timeout=0.2),
        )


def _pcm(seconds: float) -> bytes:
    n = int(24000 * seconds)
    t = np.arange(n) / 24000.0
    return (np.sin(2 * np.pi * 330 * t) * 6000).astype(np.int16).tobytes()


async def test_tts_streams_pcm(fake_openai: fk.FakeOpenAI) -> None:
    pcm = _pcm(0.5)
    fake_openai.tts_queue.append(pcm)
    engine = vx_openai.TTS(
        api_key="sk-x",
        base_url=fake_openai.base_url,
        voice="coral",
        speed=1.25,
        instructions="cheerful",
    )
    frames = [ev.frame async for ev in engine.synthesize("Hello there", conn_options=FAST)]
    got = b"".join(bytes(f.data) for f in frames)
    assert got == pcm
    assert all(f.sample_rate == 24000 and f.num_channels == 1 for f in frames)
    [req] = fake_openai.requests_to("/v1/audio/speech")
    assert req.body == {
        "input": "Hello there",
        "model": "gpt-4o-mini-tts",
        "voice": "coral",
        "response_format": "pcm",
        "speed": 1.25,
        "instructions": "cheerful",
    }


async def test_tts_retries_before_audio_and_fails_after(fake_openai: fk.FakeOpenAI) -> None:
    pcm = _pcm(0.3)
    fake_openai.tts_queue.extend([fk.Fault("status", status=500), pcm])
    engine = vx_openai.TTS(api_key="sk-x", base_url=fake_openai.base_url, model="tts-1")
    frame = await engine.synthesize("hi", conn_options=FAST).collect()
    assert bytes(frame.data) == pcm
    # a connection cut after audio went out is not retried (audio cannot be taken back)
    fake_openai.tts_queue.extend([fk.Fault("drop"), pcm])
    with pytest.raises(APIConnectionError):
        async for _ in engine.synthesize("hi", conn_options=FAST):
            pass
    assert len(fake_openai.requests_to("/v1/audio/speech")) == 3
    body = fake_openai.requests_to("/v1/audio/speech")[-1].body
    assert "instructions" not in body and body["model"] == "tts-1"


def test_tts_options_validation() -> None:
    with pytest.raises(ValueError, match="speed"):
        vx_openai.TTS(api_key="k", speed=9.0)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        vx_openai.TTS()
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        vx_openai.STT()
    engine = vx_openai.TTS(api_key="sk-hidden")
    engine.update_options(voice="sage", speed=0.5)
    assert engine.voice == "sage" and "hidden" not in repr(engine)
