"""Plugin system: pluggy hooks, entry-point discovery and the provider registry."""

from .hookspecs import hookimpl, hookspec
from .registry import MODEL_KINDS, ModelKind, PluginInfo, ProviderEntry, ProviderString

__all__ = [
    "MODEL_KINDS",
    "ModelKind",
    "PluginInfo",
    "ProviderEntry",
    "ProviderString",
    "hookimpl",
    "hookspec",
]
