"""Voxlane plugin ``cartesia``: Sonic text-to-speech and Ink speech-to-text.

    from voxlane.plugins import cartesia
    tts = cartesia.TTS(model="sonic-2", voice="<voice-id>")   # or tts="cartesia/sonic-2:<voice-id>"
    stt = cartesia.STT(model="ink-whisper")                   # or stt="cartesia/ink-whisper"

The key comes from ``api_key=`` or ``$CARTESIA_API_KEY``.
"""

from __future__ import annotations

from typing import Any

from voxlane.agents.plugin import PluginInfo, hookimpl

from .stt import DEFAULT_STT_MODEL, STT, STT_MODELS, SpeechStream, STTOptions
from .tts import DEFAULT_TTS_MODEL, DEFAULT_VOICE, TTS, ChunkedStream, SynthesizeStream
from .version import __version__

__all__ = [
    "DEFAULT_STT_MODEL",
    "DEFAULT_TTS_MODEL",
    "DEFAULT_VOICE",
    "STT",
    "STT_MODELS",
    "TTS",
    "ChunkedStream",
    "STTOptions",
    "SpeechStream",
    "SynthesizeStream",
    "__version__",
]


def _tts_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> TTS:
    # "cartesia/sonic-2:<voice-id>"
    if variant is not None:
        kwargs.setdefault("voice", variant)
    return TTS(model=model or DEFAULT_TTS_MODEL, **kwargs)


def _stt_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> STT:
    # "cartesia/ink-whisper:fr" picks the language
    if variant is not None:
        kwargs.setdefault("language", variant)
    return STT(model=model or DEFAULT_STT_MODEL, **kwargs)


@hookimpl
def register_providers(registry: Any) -> None:
    """Register ``"cartesia/<model>:<voice>"`` (TTS) and ``"cartesia/<model>"`` (STT)."""
    registry.register(
        "tts",
        "cartesia",
        _tts_factory,
        models=None,
        default_model=DEFAULT_TTS_MODEL,
        capabilities={"streaming": True, "aligned_transcript": True},
    )
    registry.register(
        "stt",
        "cartesia",
        _stt_factory,
        models=list(STT_MODELS),
        default_model=DEFAULT_STT_MODEL,
        capabilities={"streaming": True, "interim_results": True},
    )


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="cartesia",
        version=__version__,
        core_requirement=">=0.1.0,<0.2",
        distribution="voxlane-plugins-cartesia",
    )
