"""The top-level `voxlane.agents` surface: every advertised name resolves; the import is light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import voxlane.agents as agents


@pytest.mark.parametrize("name", agents.__all__)
def test_every_advertised_name_resolves(name: str) -> None:
    assert getattr(agents, name) is not None


def test_unknown_name_is_a_clear_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Agnet'"):
        _ = agents.Agnet  # type: ignore[attr-defined]


def test_bare_import_does_not_load_the_runtime_or_providers() -> None:
    code = (
        "import json, sys; import voxlane.agents; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('voxlane', 'openai', "
        "'anthropic', 'onnxruntime', 'llama_cpp', 'faster_whisper', 'mcp')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "voxlane.agents" in loaded
    heavy = {m for m in loaded if not m.startswith("voxlane")}
    assert not heavy, f"importing voxlane.agents pulled in {sorted(heavy)}"
    assert "voxlane.agents.voice" not in loaded
    assert "voxlane.agents.worker" not in loaded


def test_names_match_the_livekit_spelling() -> None:
    from voxlane.agents import Agent, AgentSession, JobContext, RunContext, WorkerOptions, cli

    assert callable(cli.run_app)
    assert Agent.__name__ == "Agent" and AgentSession.__name__ == "AgentSession"
    assert RunContext._voxlane_run_context is True
    assert JobContext.__name__ == "JobContext" and WorkerOptions.__name__ == "WorkerOptions"
