"""The plugin is found through its entry point and builds models from provider strings."""

from __future__ import annotations

import pytest

from voxlane.agents.plugin import ModelNotFoundError, list_plugins, resolve_provider
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
