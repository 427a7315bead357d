"""ProviderRegistry: registration rules, provider-string resolution and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from voxlane.agents import AgentsError
from voxlane.agents.plugin import (
    ModelNotFoundError,
    ProviderConflictError,
    ProviderNotFoundError,
    ProviderRegistry,
    ProviderString,
)


@dataclass
class Built:
    model: str | None
    variant: str | None
    extra: dict[str, Any]


def factory(*, model: str | None, variant: str | None, **kwargs: Any) -> Built:
    return Built(model=model, variant=variant, extra=kwargs)


@dataclass
class Caps:
    streaming: bool
    aligned_transcript: bool = False


def make_registry() -> ProviderRegistry:
    reg = ProviderRegistry()
    with reg.registering("acme", "voxlane-plugins-acme"):
        reg.register("tts", "acme", factory, models=["m1", "m2"], default_model="m1")
        reg.register("llm", "acme", factory, models=None)
    with reg.registering("quiet", "voxlane-plugins-quiet"):
        reg.register("vad", "quiet", factory)
    return reg


def test_parse_provider_strings() -> None:
    assert ProviderString.parse("deepgram/nova-3") == ProviderString("deepgram", "nova-3", None)
    assert ProviderString.parse("Cartesia/sonic-2:voice-1") == ProviderString(
        "cartesia", "sonic-2", "voice-1"
    )
    assert ProviderString.parse("silero") == ProviderString("silero", None, None)
    with pytest.raises(ValueError, match="empty provider string"):
        ProviderString.parse("  ")
    with pytest.raises(ValueError, match="no provider name"):
        ProviderString.parse("/gpt")


def test_resolve_passes_model_variant_and_kwargs() -> None:
    reg = make_registry()
    built = reg.resolve("tts", "acme/m2:voice-7", speed=1.5)
    assert built == Built(model="m2", variant="voice-7", extra={"speed": 1.5})


def test_resolve_uses_default_model_when_none_given() -> None:
    reg = make_registry()
    assert reg.resolve("tts", "acme").model == "m1"
    assert reg.resolve("vad", "quiet").model is None


def test_open_ended_provider_accepts_any_model() -> None:
    reg = make_registry()
    assert reg.resolve("llm", "acme/whatever-model-7b").model == "whatever-model-7b"


def test_entries_carry_plugin_and_distribution() -> None:
    reg = make_registry()
    entry = reg.get("tts", "acme")
    assert (entry.plugin, entry.distribution) == ("acme", "voxlane-plugins-acme")
    assert reg.providers("tts") == ["acme"]
    assert [(e.kind, e.provider) for e in reg.entries()] == [
        ("tts", "acme"),
        ("llm", "acme"),
        ("vad", "quiet"),
    ]


def test_unknown_provider_lists_registered_and_names_distribution() -> None:
    reg = make_registry()
    with pytest.raises(ProviderNotFoundError) as info:
        reg.resolve("tts", "nosuch/model")
    err = info.value
    assert isinstance(err, AgentsError) and isinstance(err, ValueError)
    assert "voxlane-plugins-nosuch" in str(err)
    assert "Registered tts providers: acme." in str(err)
    assert (err.kind, err.provider, err.distribution) == ("tts", "nosuch", "voxlane-plugins-nosuch")


def test_provider_registered_for_other_kind_says_so() -> None:
    reg = make_registry()
    with pytest.raises(ProviderNotFoundError, match="'quiet' provides: vad"):
        reg.resolve("stt", "quiet")


def test_unknown_model_lists_models() -> None:
    reg = make_registry()
    with pytest.raises(ModelNotFoundError) as info:
        reg.resolve("tts", "acme/m9")
    assert isinstance(info.value, AgentsError) and isinstance(info.value, ValueError)
    assert "no model 'm9'" in str(info.value)
    assert "m1, m2 (default: m1)" in str(info.value)
    assert info.value.models == ("m1", "m2")


def test_model_given_to_provider_without_models_is_rejected() -> None:
    reg = make_registry()
    with pytest.raises(ModelNotFoundError, match="no model name"):
        reg.resolve("vad", "quiet/big")


def test_kind_must_be_a_model_kind() -> None:
    reg = ProviderRegistry()
    with pytest.raises(ValueError, match="unknown model kind 'image'"):
        reg.register("image", "acme", factory)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown model kind"):
        reg.resolve("video", "acme")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "Acme", "a/b", "a:b", "-x"])
def test_invalid_provider_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid provider name"):
        ProviderRegistry().register("tts", name, factory)


def test_register_validation() -> None:
    reg = ProviderRegistry()
    with pytest.raises(TypeError, match="must be callable"):
        reg.register("tts", "acme", "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a str"):
        reg.register("tts", "acme", factory, models="m1")
    with pytest.raises(ValueError, match="default_model 'zz' is not one of its models"):
        reg.register("tts", "acme", factory, models=["m1"], default_model="zz")
    with pytest.raises(TypeError, match="capabilities must be"):
        reg.register("tts", "acme", factory, capabilities=42)
    assert len(reg) == 0


def test_capabilities_from_dataclass_or_mapping() -> None:
    reg = ProviderRegistry()
    a = reg.register("tts", "a", factory, capabilities=Caps(streaming=True))
    b = reg.register("stt", "b", factory, capabilities={"streaming": False})
    assert a.capabilities == {"streaming": True, "aligned_transcript": False}
    assert b.capabilities == {"streaming": False}


def test_duplicate_registration_is_a_conflict() -> None:
    reg = make_registry()
    with (
        reg.registering("other", "voxlane-plugins-other"),
        pytest.raises(ProviderConflictError, match="already registered by plugin acme"),
    ):
        reg.register("tts", "acme", factory)


def test_failed_registration_block_rolls_back() -> None:
    reg = make_registry()
    with pytest.raises(RuntimeError), reg.registering("half", "voxlane-plugins-half"):
        reg.register("stt", "half", factory)
        raise RuntimeError("plugin bug")
    assert ("stt", "half") not in reg
    assert reg.providers("stt") == []


def test_unregister_plugin_removes_its_providers() -> None:
    reg = make_registry()
    reg.unregister_plugin("acme")
    assert [e.provider for e in reg.entries()] == ["quiet"]
