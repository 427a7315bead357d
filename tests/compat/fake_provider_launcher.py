"""Run a rewritten agent program with its provider strings answered by scripted fakes.

    python fake_provider_launcher.py <program.py> <program args...>

The cloud plugins (``openai``, ``deepgram``, ``cartesia``) and the offline ones (``llamacpp``,
``whisper``, ``piper``) are unregistered, and a plugin named ``compat-fakes`` registers the same
provider names for the same kinds: an LLM string gives a :class:`FakeLLM` (a ``lookup_weather``
tool call for "weather", a greeting for "hello"), an STT string a batch :class:`FakeSTT` (one
scripted line per utterance) and a TTS string a :class:`FakeTTS`. ``silero`` stays real. The
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


def scripted_stt(**_: Any) -> FakeSTT:
    """A batch recognizer: the session wraps it with the VAD (stt.StreamAdapter), and each
    detected utterance is "recognized" as the next line of the script."""
    return FakeSTT(["What is the weather in Paris?"], streaming=False)


class CompatFakes:
    @hookimpl
    def register_providers(self, registry: Any) -> None:
        for provider in ("openai", "llamacpp"):
            registry.register("llm", provider, scripted_llm, models=None)
        for provider in ("deepgram", "whisper"):
            registry.register("stt", provider, scripted_stt, models=None)
        for provider in ("cartesia", "piper"):
            registry.register("tts", provider, lambda **_: FakeTTS(), models=None)


def main() -> None:
    program, *args = sys.argv[1:]
    for name in ("openai", "deepgram", "cartesia", "llamacpp", "whisper", "piper"):
        try:
            unregister_plugin(name)
        except KeyError:
            pass  # not installed: nothing to replace
    register_plugin(CompatFakes(), name="compat-fakes")
    sys.argv = [program, *args]
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
