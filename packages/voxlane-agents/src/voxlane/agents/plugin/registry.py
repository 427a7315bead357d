"""The provider registry: maps ``"provider/model[:variant]"`` strings to model factories."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

ModelKind = Literal["stt", "tts", "llm", "vad", "realtime"]
MODEL_KINDS: tuple[ModelKind, ...] = ("stt", "tts", "llm", "vad", "realtime")

ProviderFactory = Callable[..., Any]
"""``factory(*, model: str | None, variant: str | None, **kwargs) -> model object``."""


class PluginInfo(BaseModel):
    """What ``plugin_info()`` returns."""

    name: str
    version: str
    core_requirement: str = ""
    """The supported range of ``voxlane-agents``, as a PEP 440 specifier, e.g. ``">=0.1,<0.2"``."""
    homepage: str | None = None
    distribution: str | None = None


@dataclass
class ProviderEntry:
    """One registered (kind, provider) pair."""

    kind: ModelKind
    provider: str
    factory: ProviderFactory
    models: Sequence[str] = ()
    default_model: str | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    plugin: str | None = None
    distribution: str | None = None


@dataclass(frozen=True)
class ProviderString:
    """A parsed ``"provider/model[:variant]"`` string."""

    provider: str
    model: str | None
    variant: str | None

    @classmethod
    def parse(cls, spec: str) -> ProviderString:
        text = spec.strip()
        if not text:
            raise ValueError(
                "empty provider string; expected 'provider/model[:variant]', e.g. 'openai/gpt-4.1-mini'"
            )
        provider, _, rest = text.partition("/")
        model: str | None
        variant: str | None
        if not rest:
            provider, _, variant_part = provider.partition(":")
            model, variant = None, (variant_part or None)
        else:
            model, _, variant_part = rest.partition(":")
            variant = variant_part or None
            model = model or None
        if not provider:
            raise ValueError(f"provider string {spec!r} has no provider name before '/'")
        return cls(provider=provider.lower(), model=model, variant=variant)
