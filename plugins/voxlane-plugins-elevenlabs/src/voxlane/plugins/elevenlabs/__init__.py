"""Voxlane plugin ``elevenlabs``: input-streaming text-to-speech and Scribe speech-to-text.

    from voxlane.plugins import elevenlabs
    tts = elevenlabs.TTS(model="eleven_flash_v2_5", voice="<voice-id>")
    # or tts="elevenlabs/eleven_flash_v2_5:<voice-id>"
    stt = elevenlabs.STT()                      # non-streaming: AgentSession adds a VAD
    stt = elevenlabs.STT(model="scribe_v2_realtime")   # streaming (realtime Scribe)

The key comes from ``api_key=``, ``$ELEVEN_API_KEY`` or ``$ELEVENLABS_API_KEY``.
"""

from __future__ import annotations

from typing import Any

from voxlane.agents.plugin import PluginInfo, hookimpl

from .stt import DEFAULT_STT_MODEL, STT, STT_MODELS
from .tts import (
    DEFAULT_TTS_MODEL,
    DEFAULT_VOICE,
    TTS,
    ChunkedStream,
    SynthesizeStream,
    VoiceSettings,
)
from .version import __version__

__all__ = [
    "DEFAULT_STT_MODEL",
    "DEFAULT_TTS_MODEL",
    "DEFAULT_VOICE",
    "STT",
    "STT_MODELS",
    "TTS",
    "ChunkedStream",
    "SynthesizeStream",
    "VoiceSettings",
    "__version__",
]


def _tts_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> TTS:
    # "elevenlabs/<model>:<voice-id>"
    if variant is not None:
        kwargs.setdefault("voice", variant)
    return TTS(model=model or DEFAULT_TTS_MODEL, **kwargs)


def _stt_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> STT:
    # "elevenlabs/scribe_v1:fr" picks the language
    if variant is not None:
        kwargs.setdefault("language", variant)
    return STT(model=model or DEFAULT_STT_MODEL, **kwargs)


@hookimpl
def register_providers(registry: Any) -> None:
    """Register ``"elevenlabs/<model>:<voice>"`` (TTS) and ``"elevenlabs/scribe_v1"`` (STT)."""
    registry.register(
        "tts",
        "elevenlabs",
        _tts_factory,
        models=None,
        default_model=DEFAULT_TTS_MODEL,
        capabilities={"streaming": True, "aligned_transcript": True},
    )
    registry.register(
        "stt",
        "elevenlabs",
        _stt_factory,
        models=list(STT_MODELS),
        default_model=DEFAULT_STT_MODEL,
        # the batch models need a VAD; the realtime ones stream
        capabilities={"streaming": False, "streaming_models": ["scribe_v2_realtime"]},
    )


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="elevenlabs",
        version=__version__,
        core_requirement=">=0.1.0,<0.2",
        distribution="voxlane-plugins-elevenlabs",
    )
