"""Voxlane plugin ``deepgram``: streaming speech-to-text and Aura text-to-speech.

    from voxlane.plugins import deepgram
    stt = deepgram.STT(model="nova-3")          # or AgentSession(stt="deepgram/nova-3")
    tts = deepgram.TTS(model="aura-2-andromeda-en")

The key comes from ``api_key=`` or ``$DEEPGRAM_API_KEY``.
"""

from __future__ import annotations

from typing import Any

from voxlane.agents.plugin import PluginInfo, hookimpl

from .stt import DEFAULT_STT_MODEL, STT, STT_MODELS, SpeechStream, STTOptions
from .tts import DEFAULT_TTS_MODEL, TTS, ChunkedStream, SynthesizeStream
from .version import __version__

__all__ = [
    "DEFAULT_STT_MODEL",
    "DEFAULT_TTS_MODEL",
    "STT",
    "STT_MODELS",
    "TTS",
    "ChunkedStream",
    "STTOptions",
    "SpeechStream",
    "SynthesizeStream",
    "__version__",
]


def _stt_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> STT:
    # "deepgram/nova-3:fr" picks the language
    if variant is not None:
        kwargs.setdefault("language", variant)
    return STT(model=model or DEFAULT_STT_MODEL, **kwargs)


def _tts_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> TTS:
    if variant is not None:
        raise ValueError(
            f"a Deepgram TTS provider string names the voice in the model "
            f"('deepgram/aura-2-andromeda-en'); ':{variant}' is not understood"
        )
    return TTS(model=model or DEFAULT_TTS_MODEL, **kwargs)


@hookimpl
def register_providers(registry: Any) -> None:
    """Register ``"deepgram/<model>"`` for STT (e.g. nova-3) and TTS (an Aura voice)."""
    registry.register(
        "stt",
        "deepgram",
        _stt_factory,
        models=list(STT_MODELS),
        default_model=DEFAULT_STT_MODEL,
        capabilities={"streaming": True, "interim_results": True, "keyterms": True},
    )
    registry.register(
        "tts",
        "deepgram",
        _tts_factory,
        models=None,
        default_model=DEFAULT_TTS_MODEL,
        capabilities={"streaming": True},
    )


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="deepgram",
        version=__version__,
        core_requirement=">=0.1.0,<0.2",
        distribution="voxlane-plugins-deepgram",
    )
