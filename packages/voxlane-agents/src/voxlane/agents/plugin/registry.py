"""The provider registry: maps ``"provider/model[:variant]"`` strings to model factories."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from .._exceptions import AgentsError

ModelKind = Literal["stt", "tts", "llm", "vad", "realtime"]
MODEL_KINDS: tuple[ModelKind, ...] = ("stt", "tts", "llm", "vad", "realtime")

ProviderFactory = Callable[..., Any]
"""``factory(*, model: str | None, variant: str | None, **kwargs) -> model object``."""

_PROVIDER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


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
    """One registered (kind, provider) pair.

    ``models`` is the tuple of accepted model names; ``None`` means the provider accepts any model
    name (open-ended, e.g. an OpenAI-compatible server); an empty tuple means the provider takes
    no model name at all (e.g. ``"silero"``).
    """

    kind: ModelKind
    provider: str
    factory: ProviderFactory
    models: tuple[str, ...] | None = ()
    default_model: str | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    plugin: str | None = None
    distribution: str | None = None

    def describe_models(self) -> str:
        """Human-readable list of the models this provider accepts."""
        if self.models is None:
            text = "any model name"
        elif not self.models:
            text = "no model name (use just the provider name)"
        else:
            text = ", ".join(self.models)
        if self.default_model:
            text += f" (default: {self.default_model})"
        return text


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
                "empty provider string; expected 'provider/model[:variant]', "
                "e.g. 'openai/gpt-4.1-mini'"
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


class ProviderNotFoundError(AgentsError, ValueError):
    """No plugin registered the requested provider for the requested kind."""

    def __init__(self, message: str, *, kind: str, provider: str, distribution: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.provider = provider
        self.distribution = distribution


class ModelNotFoundError(AgentsError, ValueError):
    """The provider exists but does not offer the requested model."""

    def __init__(
        self, message: str, *, kind: str, provider: str, model: str, models: Sequence[str] | None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.provider = provider
        self.model = model
        self.models = tuple(models) if models is not None else None


class ProviderConflictError(AgentsError, ValueError):
    """Two plugins tried to register the same (kind, provider) pair."""


def distribution_for(provider: str) -> str:
    """The distribution name a first-party plugin for ``provider`` is published under."""
    return f"voxlane-plugins-{provider}"


def check_kind(kind: str) -> ModelKind:
    """Validate ``kind`` against :data:`MODEL_KINDS` and return it typed."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of: {', '.join(MODEL_KINDS)}")
    return kind


def _capabilities_dict(capabilities: object) -> dict[str, Any]:
    if capabilities is None:
        return {}
    if isinstance(capabilities, Mapping):
        return dict(capabilities)
    if isinstance(capabilities, BaseModel):
        return capabilities.model_dump()
    if dataclasses.is_dataclass(capabilities) and not isinstance(capabilities, type):
        return dataclasses.asdict(capabilities)
    raise TypeError(
        "capabilities must be a mapping, a dataclass instance (e.g. TTSCapabilities(...)) or a "
        f"pydantic model, got {type(capabilities).__name__}"
    )


class ProviderRegistry:
    """Registered model factories, keyed by kind and provider name.

    Plugins fill it from their ``register_providers(registry)`` hook; the runtime resolves
    provider strings through :meth:`resolve`.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[ModelKind, str], ProviderEntry] = {}
        self._owner: tuple[str | None, str | None] = (None, None)
        self._added: list[tuple[ModelKind, str]] | None = None

    def register(
        self,
        kind: ModelKind,
        provider: str,
        factory: ProviderFactory,
        *,
        models: Sequence[str] | None = (),
        default_model: str | None = None,
        capabilities: object = None,
    ) -> ProviderEntry:
        """Register ``factory`` as the ``provider`` implementation of ``kind``.

        ``models``: accepted model names; ``None`` accepts any name; ``()`` means the provider
        takes no model name. ``default_model`` is used when a provider string names no model.
        """
        kind = check_kind(kind)
        if not isinstance(provider, str) or not _PROVIDER_NAME_RE.match(provider):
            raise ValueError(
                f"invalid provider name {provider!r}: use lowercase letters, digits, '_', '-' or "
                "'.', starting with a letter or digit (no '/' or ':')"
            )
        if not callable(factory):
            raise TypeError(f"factory for {kind} provider {provider!r} must be callable")
        if isinstance(models, str):
            raise TypeError(
                f"models for {kind} provider {provider!r} must be a sequence of names, not a str"
            )
        model_names = tuple(models) if models is not None else None
        if model_names is not None:
            for name in model_names:
                if not isinstance(name, str) or not name:
                    raise ValueError(f"{kind} provider {provider!r}: invalid model name {name!r}")
            if default_model is not None and default_model not in model_names:
                raise ValueError(
                    f"{kind} provider {provider!r}: default_model {default_model!r} is not one "
                    f"of its models ({', '.join(model_names) or 'none'})"
                )
        key = (kind, provider)
        existing = self._entries.get(key)
        if existing is not None:
            raise ProviderConflictError(
                f"{kind} provider {provider!r} is already registered by plugin "
                f"{existing.plugin or '<unknown>'} ({existing.distribution or 'no distribution'}); "
                f"plugin {self._owner[0] or '<unknown>'} cannot register it again. Uninstall one "
                "of the two distributions."
            )
        entry = ProviderEntry(
            kind=kind,
            provider=provider,
            factory=factory,
            models=model_names,
            default_model=default_model,
            capabilities=_capabilities_dict(capabilities),
            plugin=self._owner[0],
            distribution=self._owner[1],
        )
        self._entries[key] = entry
        if self._added is not None:
            self._added.append(key)
        return entry

    @contextmanager
    def registering(self, plugin: str | None, distribution: str | None) -> Iterator[None]:
        """Attribute registrations in this block to ``plugin``; roll them back if it raises."""
        previous_owner, previous_added = self._owner, self._added
        self._owner, self._added = (plugin, distribution), []
        added = self._added
        try:
            yield
        except BaseException:
            for key in added:
                self._entries.pop(key, None)
            raise
        else:
            if previous_added is not None:
                previous_added.extend(added)
        finally:
            self._owner, self._added = previous_owner, previous_added

    def unregister_plugin(self, plugin: str) -> None:
        """Remove every provider registered by ``plugin``."""
        for key in [k for k, e in self._entries.items() if e.plugin == plugin]:
            del self._entries[key]

    def entries(self, kind: ModelKind | None = None) -> list[ProviderEntry]:
        """Registered entries, sorted by kind then provider (optionally for one kind)."""
        if kind is not None:
            kind = check_kind(kind)
        items = [e for e in self._entries.values() if kind is None or e.kind == kind]
        return sorted(items, key=lambda e: (MODEL_KINDS.index(e.kind), e.provider))

    def providers(self, kind: ModelKind) -> list[str]:
        """Provider names registered for ``kind``."""
        return [e.provider for e in self.entries(kind)]

    def get(self, kind: ModelKind, provider: str) -> ProviderEntry:
        """The entry for ``(kind, provider)``; raises :class:`ProviderNotFoundError`."""
        kind = check_kind(kind)
        entry = self._entries.get((kind, provider.lower()))
        if entry is None:
            raise self._not_found(kind, provider.lower())
        return entry

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def resolve(self, kind: ModelKind, spec: str, **kwargs: Any) -> Any:
        """Build the model named by ``spec`` (``"provider/model[:variant]"``) for ``kind``.

        Calls the provider's factory as ``factory(model=..., variant=..., **kwargs)``.
        """
        kind = check_kind(kind)
        if not isinstance(spec, str):
            raise TypeError(f"provider string must be a str, got {type(spec).__name__}")
        parsed = ProviderString.parse(spec)
        entry = self.get(kind, parsed.provider)
        model = parsed.model
        if model is None:
            model = entry.default_model
        elif entry.models is not None and model not in entry.models:
            raise ModelNotFoundError(
                f"{kind} provider {entry.provider!r} (plugin {entry.plugin or entry.provider}) has "
                f"no model {model!r}. It accepts: {entry.describe_models()}.",
                kind=kind,
                provider=entry.provider,
                model=model,
                models=entry.models,
            )
        return entry.factory(model=model, variant=parsed.variant, **kwargs)

    def _not_found(self, kind: ModelKind, provider: str) -> ProviderNotFoundError:
        registered = self.providers(kind)
        other_kinds = [k for k in MODEL_KINDS if (k, provider) in self._entries]
        distribution = distribution_for(provider)
        parts = [f"no {kind} provider named {provider!r} is registered."]
        if other_kinds:
            parts.append(f"{provider!r} provides: {', '.join(other_kinds)}.")
        parts.append(
            f"Registered {kind} providers: {', '.join(registered)}."
            if registered
            else f"No {kind} providers are registered."
        )
        if not other_kinds:
            parts.append(
                f"To use {provider!r}, install its plugin distribution: "
                f"`pip install {distribution}` (or the third-party distribution that provides it)."
            )
        return ProviderNotFoundError(
            " ".join(parts), kind=kind, provider=provider, distribution=distribution
        )


__all__ = [
    "MODEL_KINDS",
    "ModelKind",
    "ModelNotFoundError",
    "PluginInfo",
    "ProviderConflictError",
    "ProviderEntry",
    "ProviderFactory",
    "ProviderNotFoundError",
    "ProviderRegistry",
    "ProviderString",
    "check_kind",
    "distribution_for",
]
