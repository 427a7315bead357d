"""The plugin is found through its entry point and builds models from provider strings; its
key never shows up in logs, errors or reprs."""

from __future__ import annotations

import logging

import pytest
import vx_elevenlabs_fake as fake

from voxlane.agents._exceptions import APIStatusError
from voxlane.agents.plugin import list_plugins, resolve_provider
from voxlane.agents.testing import speech
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import elevenlabs


def test_entry_point_and_provider_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELEVEN_API_KEY", "env-key")
    assert "elevenlabs" in {p.name for p in list_plugins()}
    tts = resolve_provider("tts", "elevenlabs/eleven_multilingual_v2:voice-xyz")
    assert isinstance(tts, elevenlabs.TTS)
    assert tts.model == "eleven_multilingual_v2" and tts.voice == "voice-xyz"
    stt = resolve_provider("stt", "elevenlabs/scribe_v1")
    assert isinstance(stt, elevenlabs.STT) and stt.model == "scribe_v1"
    assert not stt.capabilities.streaming
    realtime = resolve_provider("stt", "elevenlabs/scribe_v2_realtime:fr")
    assert realtime.model == "scribe_v2_realtime" and realtime.capabilities.streaming


async def test_the_key_never_reaches_logs_errors_or_reprs(
    el_server: fake.FakeElevenLabs, clip: speech.SpeechClip, caplog: pytest.LogCaptureFixture
) -> None:
    opts = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=5.0)
    stt = elevenlabs.STT(api_key=fake.API_KEY, base_url=el_server.base_url)
    tts = elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url)
    bad = elevenlabs.STT(api_key="el-wrong-secret", base_url=el_server.base_url)
    # a 429 and a malformed answer for the STT, a refused and a malformed TTS socket
    el_server.fail_next("stt", fake.Fault("status", status=429))
    el_server.fail_next("stt", fake.Fault("malformed"))
    el_server.fail_next("tts", fake.Fault("status", status=503))
    el_server.fail_next("tts", fake.Fault("malformed"))
    with caplog.at_level(logging.DEBUG):
        ev = await stt.recognize(clip.frames(), conn_options=opts)
        async with tts.stream(conn_options=opts) as stream:
            stream.push_text("Hello there.")
            stream.end_input()
            audio = [a async for a in stream]
        with pytest.raises(APIStatusError) as info:
            await bad.recognize(clip.frames(), conn_options=opts)
    assert ev.alternatives[0].text == " ".join(clip.texts) and audio
    # 3 recognize attempts + the bad key; the refused handshake is not a connection
    assert len(el_server.rest_requests) == 4 and len(el_server.connections) == 1
    assert info.value.status_code == 401
    assert any("retry" in r.getMessage() for r in caplog.records)
    for secret in (fake.API_KEY, "el-wrong-secret"):
        assert all(secret not in r.getMessage() for r in caplog.records)
        assert secret not in str(info.value) and secret not in repr(info.value.body)
        assert all(secret not in repr(x) for x in (stt, tts, bad, stream))
    await stt.aclose()
    await tts.aclose()
    await bad.aclose()
