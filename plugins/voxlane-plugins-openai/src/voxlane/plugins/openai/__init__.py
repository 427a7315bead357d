"""Voxlane plugin ``openai``: OpenAI (and OpenAI-compatible) models on the official SDK.

    from voxlane.plugins import openai
    llm = openai.LLM(model="gpt-4.1-mini")           # or openai.LLM.with_ollama(model=...)
    stt = openai.STT()                               # non-streaming: use with a VAD
    tts = openai.TTS(voice="ash")
    rt = openai.realtime.RealtimeModel(voice="marin")

Provider strings: ``"openai/<model>"`` for ``llm``, ``stt``, ``tts`` (``"openai/<model>:<voice>"``)
and ``realtime``. Keys come from ``api_key=`` or ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from voxlane.agents.plugin import PluginInfo, hookimpl

from .models import (
    CHAT_MODELS,
    DEFAULT_CHAT_MODEL,
    DEFAULT_REALTIME_MODEL,
    DEFAULT_STT_MODEL,
    DEFAULT_TTS_MODEL,
    REALTIME_MODELS,
    STT_MODELS,
    TTS_MODELS,
)
from .version import __version__

if TYPE_CHECKING:
    from . import realtime
    from .llm import LLM, LLMStream
    from .stt import STT
    from .tts import TTS, ChunkedStream

# The SDK is imported on first use of a model class, not when the plugin registers.
_LAZY = {
    "LLM": ".llm",
    "LLMStream": ".llm",
    "STT": ".stt",
    "TTS": ".tts",
    "ChunkedStream": ".tts",
}


def __getattr__(name: str) -> Any:
    if name == "realtime":
        return importlib.import_module(".realtime", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = ["LLM", "STT", "TTS", "ChunkedStream", "LLMStream", "__version__", "realtime"]


def _llm_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> LLM:
    from .llm import LLM

    if variant is not None:
        raise ValueError(
            f"'openai/<model>' takes no ':variant' for an LLM, got ':{variant}'; "
            "pass options as keyword arguments instead"
        )
    return LLM(model=model or DEFAULT_CHAT_MODEL, **kwargs)


def _stt_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> STT:
    from .stt import STT

    if variant is not None:
        kwargs.setdefault("language", variant)
    return STT(model=model or DEFAULT_STT_MODEL, **kwargs)


def _tts_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> TTS:
    from .tts import TTS

    if variant is not None:
        kwargs.setdefault("voice", variant)
    return TTS(model=model or DEFAULT_TTS_MODEL, **kwargs)


def _realtime_factory(
    *, model: str | None = None, variant: str | None = None, **kwargs: Any
) -> realtime.RealtimeModel:
    from . import realtime

    if variant is not None:
        kwargs.setdefault("voice", variant)
    return realtime.RealtimeModel(model=model or DEFAULT_REALTIME_MODEL, **kwargs)


@hookimpl
def register_providers(registry: Any) -> None:
    """Register ``openai`` for the ``llm``, ``stt``, ``tts``  kinds.

    Model names are open-ended (new models work without a plugin release); the known ones are
    listed for ``voxlane plugins``.
    """
    registry.register(
        "llm",
        "openai",
        _llm_factory,
        models=None,
        default_model=DEFAULT_CHAT_MODEL,
        capabilities={"streaming": True, "tools": True, "known_models": list(CHAT_MODELS)},
    )
    registry.register(
        "stt",
        "openai",
        _stt_factory,
        models=None,
        default_model=DEFAULT_STT_MODEL,
        capabilities={
            "streaming": False,
            "interim_results": False,
            "known_models": list(STT_MODELS),
        },
    )
    registry.register(
        "tts",
        "openai",
        _tts_factory,
        models=None,
        default_model=DEFAULT_TTS_MODEL,
        capabilities={"streaming": False, "known_models": list(TTS_MODELS)},
    )
    registry.register(
        "realtime",
        "openai",
        _realtime_factory,
        models=None,
        default_model=DEFAULT_REALTIME_MODEL,
        capabilities={"audio_output": True, "known_models": list(REALTIME_MODELS)},
    )


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="openai",
        version=__version__,
        core_requirement=">=0.1.0,<0.2",
        distribution="voxlane-plugins-openai",
    )
