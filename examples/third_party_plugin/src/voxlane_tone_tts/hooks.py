"""Hook implementations of the example third-party plugin (entry point ``tone``).

Only light imports here: ``voxlane plugins`` loads this module to list the plugin, and the
synthesizer (numpy, the core TTS classes) is imported when a ``"tone/..."`` string is resolved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voxlane.agents.plugin import PluginInfo, ProviderRegistry, hookimpl

from .version import __version__

if TYPE_CHECKING:
    from .tts import ToneTTS

PROVIDER = "tone"
MODELS = ("formant", "sine")
DISTRIBUTION = "voxlane-example-tone-tts"


def create_tts(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> ToneTTS:
    """Factory for ``"tone[/formant|/sine][:<pitch in Hz>]"``, e.g. ``"tone/sine:220"``."""
    from .tts import ToneTTS

    if variant is not None:
        try:
            kwargs["pitch_hz"] = float(variant)
        except ValueError:
            raise ValueError(
                f"the tone TTS variant is the voice pitch in Hz (e.g. 'tone/formant:180'), "
                f"got {variant!r}"
            ) from None
    chosen = model or MODELS[0]
    if chosen not in MODELS:
        raise ValueError(f"unknown tone model {chosen!r}; choose one of {list(MODELS)}")
    return ToneTTS(model="sine" if chosen == "sine" else "formant", **kwargs)


@hookimpl
def register_providers(registry: ProviderRegistry) -> None:
    registry.register(
        "tts",
        PROVIDER,
        create_tts,
        models=MODELS,
        default_model=MODELS[0],
        capabilities={"streaming": True, "aligned_transcript": True, "offline": True},
    )


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name=PROVIDER,
        version=__version__,
        core_requirement=">=0.1.0,<0.2",
        distribution=DISTRIBUTION,
    )
