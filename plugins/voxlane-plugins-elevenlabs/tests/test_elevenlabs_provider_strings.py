"""The plugin is found through its entry point and builds models from provider strings."""

from __future__ import annotations

import pytest

from voxlane.agents.plugin import list_plugins, resolve_provider
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
