"""Voxlane plugin ``anthropic``: Claude models through the official SDK.

    from voxlane.plugins import anthropic
    llm = anthropic.LLM(model="claude-haiku-4-5", caching="ephemeral")

Provider string: ``"anthropic/<model>"`` (kind ``llm``). The key comes from ``api_key=`` or
``ANTHROPIC_API_KEY``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from voxlane.agents.plugin import PluginInfo, hookimpl

from .models import CHAT_MODELS, DEFAULT_CHAT_MODEL
from .version import __version__

if TYPE_CHECKING:
    from . import chat_format
    from .llm import LLM, LLMStream


def __getattr__(name: str) -> Any:
    """Import the SDK on first use of a model class, not when the plugin registers."""
    if name == "chat_format":
        return importlib.import_module(".chat_format", __name__)
    if name in ("LLM", "LLMStream"):
        return getattr(importlib.import_module(".llm", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LLM", "LLMStream", "__version__", "chat_format"]


def _llm_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> LLM:
    from .llm import LLM

    if variant is not None:
        raise ValueError(
            f"'anthropic/<model>' takes no ':variant', got ':{variant}'; pass options as keyword "
            "arguments instead"
        )
    return LLM(model=model or DEFAULT_CHAT_MODEL, **kwargs)


@hookimpl
def register_providers(registry: Any) -> None:
    """Register ``anthropic`` for the ``llm`` kind (any Claude model name is accepted)."""
    registry.register(
        "llm",
        "anthropic",
        _llm_factory,
        models=None,
        default_model=DEFAULT_CHAT_MODEL,
        capabilities={"streaming": True, "tools": True, "known_models": list(CHAT_MODELS)},
    )


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="anthropic",
        version=__version__,
        core_requirement=">=0.1.0,<0.2",
        distribution="voxlane-plugins-anthropic",
    )
