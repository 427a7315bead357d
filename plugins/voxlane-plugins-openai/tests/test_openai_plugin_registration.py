"""The plugin's hooks: provider strings resolve through the registry."""

from __future__ import annotations

import pytest

from voxlane.agents.plugin import list_plugins, resolve_provider
from voxlane.agents.plugin.registry import ProviderRegistry
from voxlane.plugins import openai as vx_openai


def make_registry() -> ProviderRegistry:
    registry = ProviderRegistry()
    with registry.registering("openai", "voxlane-plugins-openai"):
        vx_openai.register_providers(registry)
    return registry


def test_provider_strings_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-registry")
    registry = make_registry()
    llm = registry.resolve("llm", "openai/gpt-4.1-nano")
    assert isinstance(llm, vx_openai.LLM) and llm.model == "gpt-4.1-nano"
    assert registry.resolve("llm", "openai").model == "gpt-4.1-mini"
    tts = registry.resolve("tts", "openai/tts-1:nova")
    assert isinstance(tts, vx_openai.TTS) and tts.model == "tts-1" and tts.voice == "nova"
    stt = registry.resolve("stt", "openai/whisper-1")
    assert isinstance(stt, vx_openai.STT) and stt.model == "whisper-1"
    rt = registry.resolve("realtime", "openai/gpt-realtime-mini:cedar")
    assert isinstance(rt, vx_openai.realtime.RealtimeModel)
    assert rt.model == "gpt-realtime-mini" and rt.options.voice == "cedar"
    with pytest.raises(ValueError, match="variant"):
        registry.resolve("llm", "openai/gpt-4o:x")


def test_plugin_info() -> None:
    info = vx_openai.plugin_info()
    assert info.name == "openai" and info.distribution == "voxlane-plugins-openai"
    assert info.core_requirement


def test_found_through_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    # the installed distribution's `voxlane.plugins` entry point, not a manual registration
    monkeypatch.setenv("OPENAI_API_KEY", "sk-entry-point")
    [info] = [p for p in list_plugins() if p.name == "openai"]
    assert info.distribution == "voxlane-plugins-openai"
    llm = resolve_provider("llm", "openai/gpt-4.1-nano")
    assert isinstance(llm, vx_openai.LLM) and llm.model == "gpt-4.1-nano"
    rt = resolve_provider("realtime", "openai/gpt-realtime:marin")
    assert isinstance(rt, vx_openai.realtime.RealtimeModel) and rt.options.voice == "marin"
    assert isinstance(resolve_provider("stt", "openai"), vx_openai.STT)
    assert isinstance(resolve_provider("tts", "openai/tts-1:nova"), vx_openai.TTS)
