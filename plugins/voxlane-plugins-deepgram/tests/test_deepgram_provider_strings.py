"""The plugin is found through its entry point and builds models from provider strings."""

from __future__ import annotations

import logging

import pytest
import vx_deepgram_fake as fake

from voxlane.agents.plugin import ModelNotFoundError, list_plugins, resolve_provider
from voxlane.agents.testing import speech
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import deepgram


def test_entry_point_and_provider_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", "env-key")
    assert "deepgram" in {p.name for p in list_plugins()}
    stt = resolve_provider("stt", "deepgram/nova-3")
    assert isinstance(stt, deepgram.STT) and stt.model == "nova-3"
    fr = resolve_provider("stt", "deepgram/nova-2:fr")
    assert fr.model == "nova-2" and fr.options.language == "fr"
    tts = resolve_provider("tts", "deepgram/aura-2-thalia-en")
    assert isinstance(tts, deepgram.TTS) and tts.model == "aura-2-thalia-en"
    assert resolve_provider("stt", "deepgram").model == "nova-3"
    with pytest.raises(ModelNotFoundError, match="nova-3"):
        resolve_provider("stt", "deepgram/nova-99")


async def test_the_key_never_reaches_the_logs(
    dg_server: fake.FakeDeepgram, caplog: pytest.LogCaptureFixture
) -> None:
    clip = speech.make_speech_clip(["hello there my friend"])
    dg_server.fail_next("listen", fake.Fault("drop", seconds=0.8))
    dg_server.fail_next("listen", fake.Fault("malformed"))
    stt = deepgram.STT(api_key=fake.API_KEY, base_url=dg_server.base_url)
    tts = deepgram.TTS(api_key=fake.API_KEY, base_url=dg_server.base_url)
    opts = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=5.0)
    with caplog.at_level(logging.DEBUG):
        stream = stt.stream(conn_options=opts)
        for frame in clip.frames():
            stream.push_frame(frame)
        stream.end_input()
        events = [ev async for ev in stream]
        texts = [ev.alternatives[0].text for ev in events if ev.type.name == "FINAL_TRANSCRIPT"]
        await tts.synthesize("Hello.").collect()
    assert texts == ["hello there my friend"], (events, dg_server.connections)
    assert caplog.records
    assert all(fake.API_KEY not in r.getMessage() for r in caplog.records)
    await stt.aclose()
    await tts.aclose()
