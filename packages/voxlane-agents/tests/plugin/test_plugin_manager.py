"""Entry-point discovery and isolated loading, with real distributions written to disk."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from voxlane.agents.plugin import (
    ModelNotFoundError,
    PluginLoadError,
    PluginStatus,
    PluginVersionWarning,
    ProviderNotFoundError,
    get_plugin_manager,
    get_registry,
    hookimpl,
    list_plugins,
    register_plugin,
    resolve_provider,
    run_download_files,
    unregister_plugin,
)
from voxlane.agents.version import __version__ as core_version

WORKSPACE_PLUGINS = {
    "openai": "voxlane-plugins-openai",
    "anthropic": "voxlane-plugins-anthropic",
    "deepgram": "voxlane-plugins-deepgram",
    "elevenlabs": "voxlane-plugins-elevenlabs",
    "cartesia": "voxlane-plugins-cartesia",
    "silero": "voxlane-plugins-silero",
    "whisper": "voxlane-plugins-whisper",
    "piper": "voxlane-plugins-piper",
    "llamacpp": "voxlane-plugins-llamacpp",
    "tone": "voxlane-example-tone-tts",
}

GOOD_SOURCE = """
from voxlane.agents.plugin import PluginInfo, hookimpl


class Made:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


@hookimpl
def register_providers(registry):
    registry.register(
        "tts", "{provider}", Made, models=["alpha", "beta"], default_model="alpha",
        capabilities={{"streaming": False}},
    )


@hookimpl
def plugin_info():
    return PluginInfo(name="{provider}", version="1.0.0", homepage="https://example.invalid/x")
"""

BROKEN_IMPORT_SOURCE = """
raise RuntimeError("boom at import time")
"""

BROKEN_HOOK_SOURCE = """
from voxlane.agents.plugin import hookimpl


def factory(**kwargs):
    return kwargs


@hookimpl
def register_providers(registry):
    registry.register("stt", "halfdone", factory, models=None)
    raise KeyError("missing api table")
"""

MakeDist = Callable[..., Any]


def by_name(statuses: list[PluginStatus]) -> dict[str, PluginStatus]:
    return {s.name: s for s in statuses}


def test_discovers_every_workspace_plugin() -> None:
    statuses = by_name(list_plugins())
    for name, dist in WORKSPACE_PLUGINS.items():
        assert name in statuses, f"{name} not discovered; found {sorted(statuses)}"
        status = statuses[name]
        assert status.distribution == dist
        assert status.status == "ok", status.error
        assert status.version
        assert status.core_requirement, f"{dist} declares no voxlane-agents range"
    pm = get_plugin_manager()
    assert pm.project_name == "voxlane"
    for name in WORKSPACE_PLUGINS:
        assert pm.get_plugin(name) is not None


def test_fixture_plugin_is_discovered_and_resolvable(make_dist: MakeDist) -> None:
    make_dist("fixgood", GOOD_SOURCE.format(provider="fixgood"))
    status = by_name(list_plugins())["fixgood"]
    assert status.status == "ok"
    assert status.distribution == "voxlane-fixture-fixgood"
    assert status.version == "1.0.0"
    assert status.core_requirement == ">=0.1.0,<0.2"
    assert status.homepage == "https://example.invalid/x"
    assert status.kinds == ["tts"]
    assert status.models == {"tts": ["fixgood/alpha", "fixgood/beta"]}
    made = resolve_provider("tts", "fixgood/beta:v1", speed=2)
    assert made.kwargs == {"model": "beta", "variant": "v1", "speed": 2}


def test_broken_import_is_reported_and_others_load(make_dist: MakeDist) -> None:
    broken = make_dist("fixbroken", BROKEN_IMPORT_SOURCE)
    make_dist("fixgood", GOOD_SOURCE.format(provider="fixgood"))
    statuses = by_name(list_plugins())
    assert statuses["fixbroken"].status == "error"
    error = statuses["fixbroken"].error or ""
    assert "import failed" in error and "RuntimeError: boom at import time" in error
    assert statuses["fixbroken"].distribution == broken.dist_name
    assert statuses["fixgood"].status == "ok"
    for name in WORKSPACE_PLUGINS:
        assert statuses[name].status == "ok"
    assert get_plugin_manager().get_plugin("fixbroken") is None
    assert resolve_provider("tts", "fixgood").kwargs["model"] == "alpha"


def test_exception_in_register_providers_is_isolated(make_dist: MakeDist) -> None:
    make_dist("fixhook", BROKEN_HOOK_SOURCE)
    make_dist("fixgood", GOOD_SOURCE.format(provider="fixgood"))
    statuses = by_name(list_plugins())
    assert statuses["fixhook"].status == "error"
    assert "hook failed: KeyError" in (statuses["fixhook"].error or "")
    assert statuses["fixhook"].providers == []
    # Its partial registration was rolled back; the next plugin registered normally.
    assert "halfdone" not in get_registry().providers("stt")
    assert statuses["fixgood"].status == "ok"
    with pytest.raises(ProviderNotFoundError, match="installed but was error"):
        resolve_provider("stt", "fixhook/x")


def test_version_mismatch_is_skipped_with_warning(make_dist: MakeDist) -> None:
    dist = make_dist(
        "fixfuture", GOOD_SOURCE.format(provider="fixfuture"), requires=("voxlane-agents>=99.0",)
    )
    with pytest.warns(PluginVersionWarning) as record:
        statuses = by_name(list_plugins())
    message = str(record[0].message)
    assert ">=99.0" in message and f"voxlane-agents {core_version}" in message
    assert "fixfuture" in message
    status = statuses["fixfuture"]
    assert status.status == "skipped"
    assert status.core_requirement == ">=99.0"
    assert dist.module not in sys.modules, "a skipped plugin must not be imported"
    with pytest.raises(ProviderNotFoundError, match="installed but was skipped"):
        resolve_provider("tts", "fixfuture/alpha")


def test_requirement_with_extra_marker_is_ignored(make_dist: MakeDist) -> None:
    make_dist(
        "fixextra",
        GOOD_SOURCE.format(provider="fixextra"),
        requires=("voxlane-agents>=0.1.0", 'voxlane-agents>=99 ; extra == "future"'),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginVersionWarning)
        status = by_name(list_plugins())["fixextra"]
    assert status.status == "ok"
    assert status.core_requirement == ">=0.1.0"


def test_unknown_hook_name_is_an_error(make_dist: MakeDist) -> None:
    make_dist(
        "fixtypo",
        "from voxlane.agents.plugin import hookimpl\n\n"
        "@hookimpl\ndef register_provider(registry):\n    pass\n",
    )
    status = by_name(list_plugins())["fixtypo"]
    assert status.status == "error"
    assert "unknown hook(s) register_provider" in (status.error or "")


def test_missing_provider_names_distribution() -> None:
    with pytest.raises(ProviderNotFoundError) as info:
        resolve_provider("stt", "nosuchvendor/large")
    assert "pip install voxlane-plugins-nosuchvendor" in str(info.value)
    assert info.value.distribution == "voxlane-plugins-nosuchvendor"


def test_installed_plugin_without_that_kind_is_explained(make_dist: MakeDist) -> None:
    make_dist("fixinfo", "from voxlane.agents.plugin import hookimpl\n")
    with pytest.raises(ProviderNotFoundError, match="installed but registers no llm provider"):
        resolve_provider("llm", "fixinfo/x")


def test_unknown_model_lists_plugin_models(make_dist: MakeDist) -> None:
    make_dist("fixgood", GOOD_SOURCE.format(provider="fixgood"))
    with pytest.raises(ModelNotFoundError, match="alpha, beta"):
        resolve_provider("tts", "fixgood/gamma")


def test_resolve_provider_returns_objects_unchanged() -> None:
    marker = object()
    assert resolve_provider("llm", marker) is marker
    with pytest.raises(ValueError, match="unknown model kind"):
        resolve_provider("nope", marker)  # type: ignore[arg-type]


class AppPlugin:
    def __init__(self) -> None:
        self.downloads = 0

    @hookimpl
    def register_providers(self, registry: Any) -> None:
        registry.register("llm", "applocal", lambda **kw: ("app", kw["model"]), models=None)

    @hookimpl
    def download_files(self) -> None:
        self.downloads += 1


class FailingDownload:
    @hookimpl
    def download_files(self) -> None:
        raise OSError("disk full")


def test_register_plugin_programmatically() -> None:
    plugin = AppPlugin()
    status = register_plugin(plugin, name="appplugin", distribution="my-app")
    assert status.status == "ok"
    assert resolve_provider("llm", "applocal/anything") == ("app", "anything")
    listed = by_name(list_plugins())["appplugin"]
    assert listed.models == {"llm": ["applocal/*"]}
    with pytest.raises(ValueError, match="already registered"):
        register_plugin(AppPlugin(), name="appplugin")
    unregister_plugin("appplugin")
    assert "appplugin" not in by_name(list_plugins())
    with pytest.raises(ProviderNotFoundError):
        resolve_provider("llm", "applocal/anything")


def test_register_plugin_failure_raises() -> None:
    class Bad:
        @hookimpl
        def register_providers(self, registry: Any) -> None:
            raise RuntimeError("bad config")

    with pytest.raises(PluginLoadError, match="bad config") as info:
        register_plugin(Bad(), name="bad")
    assert info.value.status.status == "error"
    assert "bad" not in by_name(list_plugins())


def test_run_download_files_reports_each_plugin() -> None:
    good = AppPlugin()
    register_plugin(good, name="appplugin")
    register_plugin(FailingDownload(), name="faildl")
    results = {r.name: r for r in run_download_files()}
    assert results["appplugin"].ok and results["appplugin"].error is None
    assert not results["faildl"].ok
    assert results["faildl"].error == "OSError: disk full"
    assert good.downloads == 1


def test_disabled_plugin_is_skipped(make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = make_dist("fixoff", GOOD_SOURCE.format(provider="fixoff"))
    monkeypatch.setenv("VOXLANE_DISABLE_PLUGINS", "fixoff, other")
    status = by_name(list_plugins())["fixoff"]
    assert status.status == "skipped"
    assert "VOXLANE_DISABLE_PLUGINS" in (status.error or "")
    assert dist.module not in sys.modules


INFO_RANGE_SOURCE = """
from voxlane.agents.plugin import PluginInfo, hookimpl


@hookimpl
def register_providers(registry):
    registry.register("tts", "{provider}", dict, models=None)


@hookimpl
def plugin_info():
    return PluginInfo(name="{provider}", version="2.0.0", core_requirement="{core}")
"""


def test_range_from_plugin_info_is_enforced_when_the_dist_declares_none(
    make_dist: MakeDist,
) -> None:
    # The distribution depends on voxlane-agents without a range; plugin_info() gives one.
    make_dist(
        "fixinfofuture",
        INFO_RANGE_SOURCE.format(provider="fixinfofuture", core=">=99.0"),
        requires=("voxlane-agents",),
    )
    make_dist(
        "fixinfonow",
        INFO_RANGE_SOURCE.format(provider="fixinfonow", core=f"=={core_version}"),
        requires=("voxlane-agents",),
    )
    with pytest.warns(PluginVersionWarning) as record:
        statuses = by_name(list_plugins())
    messages = [str(r.message) for r in record]
    assert len(messages) == 1
    assert "fixinfofuture" in messages[0] and ">=99.0" in messages[0]
    assert f"voxlane-agents {core_version}" in messages[0]
    future = statuses["fixinfofuture"]
    assert future.status == "skipped" and future.core_requirement == ">=99.0"
    assert future.providers == []
    assert get_plugin_manager().get_plugin("fixinfofuture") is None
    with pytest.raises(ProviderNotFoundError, match="installed but was skipped"):
        resolve_provider("tts", "fixinfofuture/x")
    assert statuses["fixinfonow"].status == "ok"
    assert resolve_provider("tts", "fixinfonow/x") == {"model": "x", "variant": None}


def test_invalid_range_from_plugin_info_is_an_error(make_dist: MakeDist) -> None:
    make_dist(
        "fixinfojunk",
        INFO_RANGE_SOURCE.format(provider="fixinfojunk", core="newest please"),
        requires=(),
    )
    status = by_name(list_plugins())["fixinfojunk"]
    assert status.status == "error"
    assert "'newest please' is not a PEP 440 version specifier" in (status.error or "")
    assert "fixinfojunk" not in get_registry().providers("tts")


def test_dist_range_wins_over_plugin_info(make_dist: MakeDist) -> None:
    make_dist(
        "fixinfoboth",
        INFO_RANGE_SOURCE.format(provider="fixinfoboth", core=">=99.0"),
        requires=("voxlane-agents>=0.1.0",),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginVersionWarning)
        status = by_name(list_plugins())["fixinfoboth"]
    assert status.status == "ok" and status.core_requirement == ">=0.1.0"
