"""Run a rewritten agent program with its provider strings answered by scripted fakes.

    python fake_provider_launcher.py <program.py> <program args...>

The ``openai``, ``deepgram`` and ``cartesia`` plugins are unregistered and a plugin named
``compat-fakes`` registers the same provider names for the same kinds: ``"openai/<model>"`` gives
a :class:`FakeLLM` (weather tool call for "weather", a greeting for "hello"),
``"deepgram/<model>"`` a :class:`FakeSTT` and ``"cartesia/<model>"`` a :class:`FakeTTS`. The
program itself runs unchanged as ``__main__``.
"""

from __future__ import annotations

import runpy
import sys
from typing import Any

from voxlane.agents.plugin import hookimpl, register_plugin, unregister_plugin
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeSTT, FakeToolCall, FakeTTS


def scripted_llm(**_: Any) -> FakeLLM:
    llm = FakeLLM(default="Sorry, I only know about the weather.")
    llm.when("hello", "Hi! Which city?")
    llm.when(
        "weather",
        FakeResponse(
            tool_calls=[FakeToolCall("lookup_weather", {"location": "Paris"})],
            followup="It is sunny in Paris.",
        ),
    )
    return llm


class CompatFakes:
    @hookimpl
    def register_providers(self, registry: Any) -> None:
        registry.register("llm", "openai", scripted_llm, models=None)
        registry.register("stt", "deepgram", lambda **_: FakeSTT(), models=None)
        registry.register("tts", "cartesia", lambda **_: FakeTTS(), models=None)


def main() -> None:
    program, *args = sys.argv[1:]
    for name in ("openai", "deepgram", "cartesia"):
        try:
            unregister_plugin(name)
        except KeyError:
            pass  # not installed: nothing to replace
    register_plugin(CompatFakes(), name="compat-fakes")
    sys.argv = [program, *args]
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
