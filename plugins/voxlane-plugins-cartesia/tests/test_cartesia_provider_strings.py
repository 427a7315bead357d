"""The plugin is found through its entry point and builds models from provider strings; its
key never shows up in logs, errors or reprs."""

from __future__ import annotations

import logging

import pytest
import vx_cartesia_fake as fake

from voxlane.agents._exceptions import APIStatusError
from voxlane.agents.plugin import ModelNotFoundError, list_plugins, resolve_provider
from voxlane.agents.testing import speech
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import cartesia


def test_entry_point_and_provider_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTESIA_API_KEY", "env-key")
    assert "cartesia" in {p.name for p in list_plugins()}
    tts = resolve_provider("tts", "cartesia/sonic-2:my-voice-id")
    assert isinstance(tts, cartesia.TTS) and tts.model == "sonic-2" and tts.voice == "my-voice-id"
    assert resolve_provider("tts", "cartesia").voice == cartesia.DEFAULT_VOICE
    stt = resolve_provider("stt", "cartesia/ink-whisper")
    assert isinstance(stt, cartesia.STT) and stt.model == "ink-whisper"
    with pytest.raises(ModelNotFoundError):
        resolve_provider("stt", "cartesia/unknown-model")


async def test_the_key_never_reaches_logs_errors_or_reprs(
    ct_server: fake.FakeCartesia, clip: speech.SpeechClip, caplog: pytest.LogCaptureFixture
) -> None:
    opts = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=5.0)
    stt = cartesia.STT(api_key=fake.API_KEY, base_url=ct_server.base_url)
    tts = cartesia.TTS(api_key=fake.API_KEY, base_url=ct_server.base_url)
    bad = cartesia.TTS(api_key="ct-wrong-secret", base_url=ct_server.base_url)
    # a dropped STT socket, a refused and a malformed TTS socket: all logged, all retried
    ct_server.fail_next("stt", fake.Fault("drop", seconds=clip.spans[0][0] + 0.5))
    ct_server.fail_next("tts", fake.Fault("status", status=503))
    ct_server.fail_next("tts", fake.Fault("malformed"))
    with caplog.at_level(logging.DEBUG):
        stream = stt.stream(conn_options=opts)
        for frame in clip.frames():
            stream.push_frame(frame)
        stream.end_input()
        events = [ev async for ev in stream]
        async with tts.stream(conn_options=opts) as tts_stream:
            tts_stream.push_text("Hello there.")
            tts_stream.end_input()
            audio = [ev async for ev in tts_stream]
        with pytest.raises(APIStatusError) as info:
            await bad.synthesize("hi", conn_options=opts).collect()
    finals = [e.alternatives[0].text for e in events if e.type.name == "FINAL_TRANSCRIPT"]
    assert finals == clip.texts and audio
    # the faults really happened: 2 STT sockets (dropped, then replayed) and the malformed TTS
    # socket (the refused handshake is not a connection)
    assert len(ct_server.connections) == 3
    assert info.value.status_code == 401
    assert any("retry" in r.getMessage() for r in caplog.records)
    for secret in (fake.API_KEY, "ct-wrong-secret"):
        assert all(secret not in r.getMessage() for r in caplog.records)
        assert secret not in str(info.value) and secret not in repr(info.value.body)
        assert all(secret not in repr(x) for x in (stt, tts, bad, stream, tts_stream))
    await stt.aclose()
    await tts.aclose()
    await bad.aclose()
