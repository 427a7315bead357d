"""What each installed plugin declares is real: every registered (kind, provider) builds a model
object of that kind's base class from its provider string."""

from __future__ import annotations

import inspect

import pytest

from voxlane.agents import llm, stt, tts, vad
from voxlane.agents.plugin import get_registry

BASES: dict[str, type] = {
    "stt": stt.STT,
    "tts": tts.TTS,
    "llm": llm.LLM,
    "vad": vad.VAD,
    "realtime": llm.RealtimeModel,
}

# hosted providers need a key to be constructed; nothing is sent anywhere
FAKE_KEYS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "DEEPGRAM_API_KEY",
    "ELEVEN_API_KEY",
    "ELEVENLABS_API_KEY",
    "CARTESIA_API_KEY",
)


async def test_every_registered_provider_builds_a_model_of_its_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in FAKE_KEYS:
        monkeypatch.setenv(key, "test-key")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entries = get_registry().entries()
    kinds = {(e.plugin, e.kind) for e in entries}
    # the first-party plugins' kinds (ARCHITECTURE.md section 1) and the third-party example
    for expected in [
        ("openai", "llm"), ("openai", "stt"), ("openai", "tts"), ("openai", "realtime"),
        ("anthropic", "llm"), ("deepgram", "stt"), ("deepgram", "tts"),
        ("elevenlabs", "stt"), ("elevenlabs", "tts"), ("cartesia", "stt"), ("cartesia", "tts"),
        ("silero", "vad"), ("whisper", "stt"), ("piper", "tts"), ("llamacpp", "llm"),
        ("tone", "tts"),
    ]:  # fmt: skip
        assert expected in kinds, f"{expected} not registered; registered: {sorted(kinds)}"
    for entry in entries:
        if entry.models is None:
            model: str | None = "any-model"
        else:
            model = entry.default_model or (entry.models[0] if entry.models else None)
        spec = entry.provider + (f"/{model}" if model else "")
        obj = get_registry().resolve(entry.kind, spec)
        assert isinstance(obj, BASES[entry.kind]), (
            f"{entry.plugin} registers {entry.kind} provider {spec!r} but its factory built a "
            f"{type(obj).__name__}, not a {BASES[entry.kind].__name__}"
        )
        close = getattr(obj, "aclose", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result
