"""Voxlane plugin ``silero``: Silero voice activity detection on onnxruntime, fully offline.

The ONNX model ships inside this package (``resources/silero_vad.onnx``, MIT licence alongside).

    from voxlane.plugins import silero
    vad = silero.VAD.load()
"""

from __future__ import annotations

from typing import Any

from voxlane.agents.plugin import PluginInfo, hookimpl

from .onnx_model import bundled_model_path, new_session
from .vad import VAD, VADOptions, VADStream
from .version import __version__

__all__ = ["VAD", "VADOptions", "VADStream", "__version__", "bundled_model_path"]

MODEL_NAME = "silero"


def _vad_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> VAD:
    if model not in (None, MODEL_NAME):
        raise ValueError(
            f"unknown Silero VAD model {model!r}; the only model is {MODEL_NAME!r} "
            "(use the provider string 'silero')"
        )
    if variant is not None:
        raise ValueError(f"the Silero VAD has no variants, got ':{variant}'; use 'silero'")
    return VAD.load(**kwargs)


@hookimpl
def register_providers(registry: Any) -> None:
    """Register ``"silero"`` as a VAD provider."""
    registry.register(
        "vad",
        "silero",
        _vad_factory,
        models=(),  # the provider string is just "silero"
        capabilities={"offline": True, "sample_rates": [8000, 16000]},
    )


@hookimpl
def download_files() -> None:
    """Nothing to download (the model is in the wheel): check that it loads."""
    new_session(model_path=bundled_model_path())


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="silero",
        version=__version__,
        core_requirement=">=0.1.0,<0.2",
        distribution="voxlane-plugins-silero",
    )
