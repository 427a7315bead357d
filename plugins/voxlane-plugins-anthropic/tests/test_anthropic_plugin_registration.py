"""The plugin's hooks: ``"anthropic/<model>"`` resolves through the registry."""

from __future__ import annotations

import pytest

from voxlane.agents.plugin import list_plugins, resolve_provider
from voxlane.agents.plugin.registry import ProviderRegistry
from voxlane.plugins import anthropic as vx_anthropic


def test_provider_string_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-registry")
    registry = ProviderRegistry()
    with registry.registering("anthropic", "voxlane-plugins-anthropic"):
        vx_anthropic.register_providers(registry)
    llm = registry.resolve("llm", "anthropic/claude-sonnet-4-5")
    assert isinstance(llm, vx_anthropic.LLM) and llm.model == "claude-sonnet-4-5"
    assert registry.resolve("llm", "anthropic").model == "claude-haiku-4-5"
    info = vx_anthropic.plugin_info()
    assert info.name == "anthropic" and info.distribution == "voxlane-plugins-anthropic"


def test_found_through_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    # the installed distribution's `voxlane.plugins` entry point, not a manual registration
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-entry-point")
    [info] = [p for p in list_plugins() if p.name == "anthropic"]
    assert info.distribution == "voxlane-plugins-anthropic"
    llm = resolve_provider("llm", "anthropic/claude-sonnet-4-5")
    assert isinstance(llm, vx_anthropic.LLM) and llm.model == "claude-sonnet-4-5"
