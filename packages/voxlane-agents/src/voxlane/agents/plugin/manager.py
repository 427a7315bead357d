"""Plugin discovery and loading: a lazily created ``pluggy.PluginManager("voxlane")``.

Plugins are found through the ``voxlane.plugins`` entry-point group on first use. Each one is
loaded in isolation: an import error, a hook raising, or a core-version mismatch is recorded on
that plugin's :class:`PluginStatus` and never stops the others from loading.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any, Literal

import pluggy
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, Field

from .._exceptions import AgentsError
from ..version import __version__ as CORE_VERSION
from .hookspecs import VoxlaneHookSpecs
from .registry import (
    MODEL_KINDS,
    ModelKind,
    PluginInfo,
    ProviderNotFoundError,
    ProviderRegistry,
    check_kind,
)

logger = logging.getLogger("voxlane.agents.plugin")

ENTRY_POINT_GROUP = "voxlane.plugins"
CORE_DISTRIBUTION = "voxlane-agents"
DISABLE_ENV = "VOXLANE_DISABLE_PLUGINS"
"""Comma-separated plugin names that are not loaded (reported as skipped)."""

PluginState = Literal["ok", "skipped", "error"]


class PluginVersionWarning(UserWarning):
    """A plugin was skipped because it does not support the running core version."""


class PluginLoadError(AgentsError):
    """A plugin registered with :func:`register_plugin` failed; carries its status."""

    def __init__(self, status: PluginStatus) -> None:
        super().__init__(f"plugin {status.name!r} failed to load: {status.error}")
        self.status = status


class ProviderSummary(BaseModel):
    """One provider a plugin registered."""

    kind: str
    provider: str
    models: list[str] | None
    """``None``: any model name is accepted."""
    default_model: str | None = None
    capabilities: dict[str, Any] = Field(default_factory=dict)


class PluginStatus(BaseModel):
    """What the core knows about one installed plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None
    core_requirement: str = ""
    """Supported ``voxlane-agents`` range declared by the distribution ("" if none)."""
    homepage: str | None = None
    status: PluginState = "ok"
    error: str | None = None
    providers: list[ProviderSummary] = Field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        """Model kinds this plugin provides, in canonical order."""
        present = {p.kind for p in self.providers}
        return [k for k in MODEL_KINDS if k in present]

    @property
    def models(self) -> dict[str, list[str]]:
        """Per kind, the provider strings this plugin accepts (``provider/*``: any model)."""
        out: dict[str, list[str]] = {}
        for p in self.providers:
            names = out.setdefault(p.kind, [])
            if p.models is None:
                names.append(f"{p.provider}/*")
            elif not p.models:
                names.append(p.provider)
            else:
                names.extend(f"{p.provider}/{m}" for m in p.models)
        return out

    def to_json_dict(self) -> dict[str, Any]:
        """Every field plus the derived ``kinds`` and ``models``, JSON-serialisable."""
        data: dict[str, Any] = json.loads(json.dumps(self.model_dump(), default=str))
        data["kinds"] = self.kinds
        data["models"] = self.models
        return data


class DownloadResult(BaseModel):
    """Outcome of one plugin's ``download_files`` hook."""

    name: str
    distribution: str | None = None
    ok: bool
    error: str | None = None


DownloadStartCallback = Callable[[int, int, str, str | None], None]
"""``(index, total, plugin_name, distribution)`` before a plugin's ``download_files`` runs."""
DownloadResultCallback = Callable[[int, int, DownloadResult], None]
"""``(index, total, result)`` after a plugin's ``download_files`` ran."""


def _describe_error(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def core_requirement_of(dist: metadata.Distribution) -> SpecifierSet | None:
    """The ``voxlane-agents`` specifier a distribution declares in ``Requires-Dist``, if any."""
    found: SpecifierSet | None = None
    for raw in dist.requires or []:
        try:
            req = Requirement(raw)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) != CORE_DISTRIBUTION:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        found = req.specifier if found is None else found & req.specifier
    return found


_OPERATOR_ORDER = ("===", "==", "~=", ">=", ">", "!=", "<=", "<")


def format_specifier(specifier: SpecifierSet) -> str:
    """``specifier`` as text with lower bounds first (``">=0.1.0,<0.2"``)."""
    specs = sorted(specifier, key=lambda s: (_OPERATOR_ORDER.index(s.operator), s.version))
    return ",".join(str(s) for s in specs)


def core_version_supported(specifier: SpecifierSet, core_version: str) -> bool:
    """Whether ``core_version`` is inside ``specifier`` (pre-releases included)."""
    try:
        version = Version(core_version)
    except InvalidVersion:
        return True
    return specifier.contains(version, prereleases=True)


class PluginHost:
    """The plugin manager, the provider registry and the load status of every plugin."""

    def __init__(self, *, core_version: str = CORE_VERSION) -> None:
        self.core_version = core_version
        self.pm = pluggy.PluginManager("voxlane")
        self.pm.add_hookspecs(VoxlaneHookSpecs)
        self.registry = ProviderRegistry()
        self._statuses: dict[str, PluginStatus] = {}
        self._objects: dict[str, object] = {}
        self._lock = threading.RLock()
        self._loaded = False

    # -- loading ---------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Discover and load every ``voxlane.plugins`` entry point (once)."""
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
            eps = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
            for ep in eps:
                self._load_entry_point(ep, disabled)

    def _load_entry_point(self, ep: metadata.EntryPoint, disabled: set[str]) -> None:
        dist = ep.dist
        status = PluginStatus(
            name=ep.name,
            distribution=dist.name if dist is not None else None,
            version=dist.version if dist is not None else None,
            entry_point=ep.value,
        )
        if ep.name in self._statuses:
            other = self._statuses[ep.name]
            status.status, status.error = (
                "error",
                f"plugin name {ep.name!r} is already used by {other.distribution}; "
                "uninstall one of the two distributions",
            )
            self._record(status, key=f"{ep.name} ({status.distribution})")
            return
        if ep.name in disabled:
            status.status, status.error = "skipped", f"disabled by {DISABLE_ENV}"
            self._record(status)
            return
        specifier = core_requirement_of(dist) if dist is not None else None
        if specifier is not None:
            status.core_requirement = format_specifier(specifier)
            if not core_version_supported(specifier, self.core_version):
                self._skip_for_core_range(status, specifier)
                return
        try:
            obj = ep.load()
        except (Exception, SystemExit) as exc:
            status.status, status.error = "error", f"import failed: {_describe_error(exc)}"
            logger.warning("Voxlane plugin %r could not be imported: %s", ep.name, status.error)
            self._record(status)
            return
        self._activate(obj, status)

    def _skip_for_core_range(self, status: PluginStatus, specifier: SpecifierSet) -> None:
        """Record ``status`` as skipped (with a warning) because the core is out of range."""
        origin = " ".join(x for x in (status.distribution, status.version) if x) or "no version"
        message = (
            f"Voxlane plugin {status.name!r} ({origin}) requires "
            f"{CORE_DISTRIBUTION}{format_specifier(specifier)}, but the running core is "
            f"{CORE_DISTRIBUTION} {self.core_version}; the plugin is skipped. Install a "
            f"version of {status.distribution or status.name} that supports "
            f"{CORE_DISTRIBUTION} {self.core_version}."
        )
        status.status, status.error = "skipped", message
        warnings.warn(message, PluginVersionWarning, stacklevel=3)
        self._record(status)

    def _activate(self, obj: object, status: PluginStatus) -> None:
        """Register ``obj`` with pluggy, read its info, and run ``register_providers``."""
        name = status.name
        try:
            self.pm.register(obj, name=name)
            unknown = [c.name for c in self.pm.get_hookcallers(obj) or [] if c.spec is None]
            if unknown:
                self.pm.unregister(obj)
                known = ", ".join(n for n in dir(VoxlaneHookSpecs) if not n.startswith("_"))
                raise ValueError(
                    f"implements unknown hook(s) {', '.join(sorted(unknown))}; "
                    f"the hooks are: {known}"
                )
        except Exception as exc:
            status.status, status.error = "error", f"invalid plugin: {_describe_error(exc)}"
            logger.warning("Voxlane plugin %r rejected: %s", name, status.error)
            self._record(status)
            return
        try:
            declared_by_dist = bool(status.core_requirement)
            for result in self._call(obj, "plugin_info"):
                if isinstance(result, PluginInfo):
                    status.homepage = status.homepage or result.homepage
                    status.version = status.version or result.version
                    status.distribution = status.distribution or result.distribution
                    status.core_requirement = status.core_requirement or result.core_requirement
            if not declared_by_dist and status.core_requirement:
                # The distribution declares no core range: enforce the one plugin_info() gives.
                try:
                    specifier = SpecifierSet(status.core_requirement)
                except InvalidSpecifier:
                    raise ValueError(
                        f"plugin_info() core_requirement {status.core_requirement!r} is not a "
                        "PEP 440 version specifier; use e.g. '>=0.1,<0.2'"
                    ) from None
                if not core_version_supported(specifier, self.core_version):
                    self.pm.unregister(obj)
                    self._skip_for_core_range(status, specifier)
                    return
            with self.registry.registering(name, status.distribution):
                self._call(obj, "register_providers", registry=self.registry)
        except (Exception, SystemExit) as exc:
            self.pm.unregister(obj)
            status.status, status.error = "error", f"hook failed: {_describe_error(exc)}"
            logger.warning("Voxlane plugin %r failed in a hook: %s", name, status.error)
            self._record(status)
            return
        self._objects[name] = obj
        self._record(status)

    def _call(self, obj: object, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call ``hook_name`` on one plugin only (so a failure is attributed to it)."""
        caller = getattr(self.pm.hook, hook_name)
        results = []
        for impl in caller.get_hookimpls():
            if impl.plugin is not obj or impl.hookwrapper or impl.wrapper:
                continue
            results.append(impl.function(*(kwargs[arg] for arg in impl.argnames)))
        return results

    def _record(self, status: PluginStatus, key: str | None = None) -> None:
        self._statuses[key or status.name] = status

    # -- public operations -----------------------------------------------------------------

    def register_plugin(
        self, obj: object, *, name: str, distribution: str | None = None, version: str | None = None
    ) -> PluginStatus:
        """Register a plugin object (module or instance with hook implementations) directly."""
        self.load_entry_points()
        with self._lock:
            if name in self._statuses and self._statuses[name].status == "ok":
                raise ValueError(
                    f"a plugin named {name!r} is already registered "
                    f"({self._statuses[name].distribution or 'programmatically'}); pick another "
                    "name or call unregister_plugin() first"
                )
            status = PluginStatus(
                name=name, distribution=distribution, version=version, entry_point=None
            )
            self._activate(obj, status)
            if status.status != "ok":
                del self._statuses[name]
                raise PluginLoadError(status)
            return status

    def unregister_plugin(self, name: str) -> None:
        """Remove a plugin and every provider it registered."""
        with self._lock:
            obj = self._objects.pop(name, None)
            if obj is None:
                raise KeyError(f"no loaded plugin named {name!r}")
            self.pm.unregister(obj)
            self.registry.unregister_plugin(name)
            self._statuses.pop(name, None)

    def list_plugins(self) -> list[PluginStatus]:
        """Status of every discovered or registered plugin, sorted by name."""
        self.load_entry_points()
        with self._lock:
            out = []
            for status in self._statuses.values():
                copy = status.model_copy(deep=True)
                copy.providers = [
                    ProviderSummary(
                        kind=e.kind,
                        provider=e.provider,
                        models=list(e.models) if e.models is not None else None,
                        default_model=e.default_model,
                        capabilities=dict(e.capabilities),
                    )
                    for e in self.registry.entries()
                    if e.plugin == status.name and status.status == "ok"
                ]
                out.append(copy)
            return sorted(out, key=lambda s: (s.name, s.distribution or ""))

    def resolve(self, kind: ModelKind, spec: str, **kwargs: Any) -> Any:
        """Resolve a provider string, explaining plugins that are installed but not usable."""
        self.load_entry_points()
        try:
            return self.registry.resolve(kind, spec, **kwargs)
        except ProviderNotFoundError as exc:
            status = self._statuses.get(exc.provider)
            if status is None:
                raise
            if status.status != "ok":
                note = (
                    f"The plugin {status.name!r} ({status.distribution} {status.version}) is "
                    f"installed but was {status.status}: {status.error}"
                )
            elif not any(e.provider == exc.provider for e in self.registry.entries()):
                note = (
                    f"The plugin {status.name!r} ({status.distribution} {status.version}) is "
                    f"installed but registers no {kind} provider; it may need upgrading."
                )
            else:
                raise
            raise ProviderNotFoundError(
                f"{exc.args[0]} {note}",
                kind=exc.kind,
                provider=exc.provider,
                distribution=exc.distribution,
            ) from None

    def run_download_files(
        self,
        on_start: DownloadStartCallback | None = None,
        on_result: DownloadResultCallback | None = None,
    ) -> list[DownloadResult]:
        """Call every loaded plugin's ``download_files`` hook; one failure doesn't stop others.

        ``on_start(index, total, name, distribution)`` is called before each hook runs and
        ``on_result(index, total, result)`` after it (1-based index), e.g. to show progress.
        """
        self.load_entry_points()
        results: list[DownloadResult] = []
        with self._lock:
            objects = sorted(self._objects.items())
            statuses = dict(self._statuses)
        hookimpls = self.pm.hook.download_files.get_hookimpls()
        todo = [(n, o) for n, o in objects if any(i.plugin is o for i in hookimpls)]
        for index, (name, obj) in enumerate(todo, 1):
            dist = statuses[name].distribution if name in statuses else None
            if on_start is not None:
                on_start(index, len(todo), name, dist)
            try:
                self._call(obj, "download_files")
            except (Exception, SystemExit) as exc:
                error = _describe_error(exc)
                logger.warning("download_files of plugin %r failed: %s", name, error)
                results.append(DownloadResult(name=name, distribution=dist, ok=False, error=error))
            else:
                results.append(DownloadResult(name=name, distribution=dist, ok=True))
            if on_result is not None:
                on_result(index, len(todo), results[-1])
        return results


_host: PluginHost | None = None
_host_lock = threading.Lock()


def get_plugin_host() -> PluginHost:
    """The process-wide :class:`PluginHost`, created and loaded on first use."""
    global _host
    with _host_lock:
        if _host is None:
            _host = PluginHost()
        host = _host
    host.load_entry_points()
    return host


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide ``pluggy.PluginManager("voxlane")`` with every plugin loaded."""
    return get_plugin_host().pm


def get_registry() -> ProviderRegistry:
    """The process-wide provider registry, filled by every loaded plugin."""
    return get_plugin_host().registry


def resolve_provider(kind: ModelKind, spec_or_obj: Any, **kwargs: Any) -> Any:
    """Turn a ``"provider/model[:variant]"`` string into a model object; return others as is."""
    kind = check_kind(kind)
    if not isinstance(spec_or_obj, str):
        return spec_or_obj
    return get_plugin_host().resolve(kind, spec_or_obj, **kwargs)


def list_plugins() -> list[PluginStatus]:
    """Status of every installed plugin (loads them on first call)."""
    return get_plugin_host().list_plugins()


def register_plugin(
    obj: object, *, name: str, distribution: str | None = None, version: str | None = None
) -> PluginStatus:
    """Register a plugin object programmatically (apps, tests); raises :class:`PluginLoadError`."""
    return get_plugin_host().register_plugin(
        obj, name=name, distribution=distribution, version=version
    )


def unregister_plugin(name: str) -> None:
    """Remove a loaded plugin and its providers."""
    get_plugin_host().unregister_plugin(name)


def run_download_files(
    on_start: DownloadStartCallback | None = None,
    on_result: DownloadResultCallback | None = None,
) -> list[DownloadResult]:
    """Run every plugin's ``download_files`` hook and report each outcome (see
    :meth:`PluginHost.run_download_files` for the progress callbacks)."""
    return get_plugin_host().run_download_files(on_start, on_result)


def reset_plugin_manager() -> None:
    """Forget the loaded plugins so the next use rediscovers them (for tests).

    Also invalidates import caches, so distributions added to ``sys.path`` since are found.
    """
    global _host
    with _host_lock:
        _host = None
    importlib.invalidate_caches()


__all__ = [
    "CORE_DISTRIBUTION",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "DownloadResult",
    "PluginHost",
    "PluginLoadError",
    "PluginState",
    "PluginStatus",
    "PluginVersionWarning",
    "ProviderSummary",
    "core_requirement_of",
    "core_version_supported",
    "format_specifier",
    "get_plugin_host",
    "get_plugin_manager",
    "get_registry",
    "list_plugins",
    "register_plugin",
    "reset_plugin_manager",
    "resolve_provider",
    "run_download_files",
    "unregister_plugin",
]
