"""Run an example agent's ``start`` worker with scripted models and a file-driven room.

A LiveKit deployment needs two servers: the one that dispatches jobs to workers (the agent
protocol, faked by ``packages/voxlane-agents/tests/worker/vx_fake_livekit.py``) and the media
server the job's room connects to, which cannot be installed here. This harness stands in for
the second one, and for the models, inside the example's own processes:

- the test writes a ``sitecustomize.py`` that imports this module into a temporary folder on
  ``PYTHONPATH``, so it is imported at the start of every Python process of the example: the
  worker and the job processes it spawns;
- when ``$VOXLANE_START_HARNESS`` holds its JSON configuration, :func:`install` registers a
  plugin named ``fake`` whose providers (``fake/stt``, ``fake/llm``, ``fake/tts``, ``fake/vad``)
  are the testing kit's scripted models (the example's ``VOXLANE_<KIND>`` variables point at
  them), and makes each job's room a console room in file mode: the user's speech comes from a
  WAV file and the conversation goes to a transcript, through the same ``RoomIO`` a real room
  uses;
- reports the worker's load as 0: by default a worker refuses jobs while the machine's CPU is
  above 70 %, which says nothing about the example on a busy test machine.

Without the variable, importing this module changes nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from voxlane.agents.plugin import hookimpl

ENV = "VOXLANE_START_HARNESS"
PROVIDER = "fake"


def config_env(
    *,
    input_audio: Path,
    transcript: Path,
    output_audio: Path,
    user_says: str,
    replies: dict[str, str],
    greeting: str,
) -> dict[str, str]:
    """The environment variables that configure the harness and point the example's model
    strings at the ``fake`` provider."""
    config = {
        "input_audio": str(input_audio),
        "transcript": str(transcript),
        "output_audio": str(output_audio),
        "user_says": user_says,
        "replies": replies,
        "greeting": greeting,
    }
    env = {ENV: json.dumps(config)}
    for kind in ("stt", "llm", "tts", "vad"):
        env[f"VOXLANE_{kind.upper()}"] = f"{PROVIDER}/{kind}"
    return env


class _FakeProviders:
    """A plugin registering the scripted models of ``voxlane.agents.testing``."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    def _stt(self, **_: Any) -> Any:
        from voxlane.agents.testing import FakeSTT

        # a batch recognizer, made streaming by the session's VAD: one line per utterance
        return FakeSTT([self._config["user_says"]], streaming=False)

    def _llm(self, **_: Any) -> Any:
        from voxlane.agents.testing import FakeLLM

        llm = FakeLLM(default=self._config["greeting"])
        for match, reply in self._config["replies"].items():
            llm.when(match, reply)
        return llm

    def _tts(self, **_: Any) -> Any:
        from voxlane.agents.testing import FakeTTS

        return FakeTTS(seconds_per_char=0.01)

    def _vad(self, **_: Any) -> Any:
        from voxlane.agents.testing import FakeVAD

        return FakeVAD()  # energy based: the tone in the WAV is speech

    @hookimpl
    def register_providers(self, registry: Any) -> None:
        registry.register("stt", PROVIDER, self._stt, models=["stt"])
        registry.register("llm", PROVIDER, self._llm, models=["llm"])
        registry.register("tts", PROVIDER, self._tts, models=["tts"])
        registry.register("vad", PROVIDER, self._vad, models=["vad"])


def install() -> bool:
    """Apply the harness when ``$VOXLANE_START_HARNESS`` is set; True when it was applied."""
    raw = os.environ.get(ENV)
    if not raw:
        return False
    config: dict[str, Any] = json.loads(raw)

    from voxlane.agents.ipc import job_runtime
    from voxlane.agents.plugin import register_plugin
    from voxlane.agents.voice.console.room import ConsoleOptions, ConsoleRoom
    from voxlane.agents.worker import load as worker_load

    register_plugin(_FakeProviders(config), name="example-fakes")

    def file_room() -> ConsoleRoom:
        return ConsoleRoom(
            ConsoleOptions(
                mode="file",
                input_audio=config["input_audio"],
                output_audio=config["output_audio"],
                transcript=config["transcript"],
            ),
            name="harness-room",
        )

    job_runtime.default_room_factory = file_room  # type: ignore[attr-defined]
    worker_load._monitor.get_load = lambda: 0.0  # type: ignore[method-assign]
    return True


install()
