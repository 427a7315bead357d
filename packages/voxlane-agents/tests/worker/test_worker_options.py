"""WorkerOptions validation and environment fallbacks."""

from __future__ import annotations

import math

import pytest

from voxlane.agents.job import JobContext, JobExecutorType
from voxlane.agents.worker import WorkerEnvOption, WorkerOptions, WorkerType


async def entry(ctx: JobContext) -> None:
    return None


def test_defaults_follow_the_reference() -> None:
    opts = WorkerOptions(entrypoint_fnc=entry)
    assert opts.shutdown_process_timeout == 60.0
    assert opts.job_executor_type == JobExecutorType.PROCESS
    assert WorkerEnvOption.getvalue(opts.load_threshold, devmode=False) == 0.7
    assert math.isinf(WorkerEnvOption.getvalue(opts.load_threshold, devmode=True))
    assert WorkerEnvOption.getvalue(opts.num_idle_processes, devmode=True) == 0
    assert WorkerEnvOption.getvalue(opts.num_idle_processes, devmode=False) >= 1
    assert opts.worker_type == WorkerType.ROOM
    assert opts.job_memory_limit_mb == 0


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_URL", "https://example.livekit.test")
    monkeypatch.setenv("LIVEKIT_API_KEY", "k")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "s")
    monkeypatch.setenv("LIVEKIT_AGENT_NAME", "from-env")
    opts = WorkerOptions(entrypoint_fnc=entry)
    assert opts.resolve_url() == "wss://example.livekit.test"
    assert opts.resolve_credentials() == ("k", "s")
    assert opts.agent_name == "from-env"
    explicit = WorkerOptions(
        entrypoint_fnc=entry, ws_url="ws://127.0.0.1:7880", api_key="a", api_secret="b"
    )
    assert explicit.resolve_url() == "ws://127.0.0.1:7880"
    assert explicit.resolve_credentials() == ("a", "b")


def test_missing_settings_give_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    opts = WorkerOptions(entrypoint_fnc=entry)
    with pytest.raises(ValueError, match="LIVEKIT_URL"):
        opts.resolve_url()
    with pytest.raises(ValueError, match=r"LIVEKIT_API_KEY\).*LIVEKIT_API_SECRET"):
        opts.resolve_credentials()
    with pytest.raises(ValueError, match="must start with ws://"):
        WorkerOptions(entrypoint_fnc=entry, ws_url="localhost:7880").resolve_url()


def test_bad_values_are_rejected() -> None:
    def not_async(ctx: JobContext) -> None:
        return None

    with pytest.raises(TypeError, match="async def"):
        WorkerOptions(entrypoint_fnc=not_async)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="load_threshold"):
        WorkerOptions(entrypoint_fnc=entry, load_threshold=0)
    with pytest.raises(ValueError, match="num_idle_processes"):
        WorkerOptions(entrypoint_fnc=entry, num_idle_processes=-1)
    with pytest.raises(ValueError, match="shutdown_process_timeout"):
        WorkerOptions(entrypoint_fnc=entry, shutdown_process_timeout=0)
    with pytest.raises(ValueError, match="job_memory_limit_mb"):
        WorkerOptions(entrypoint_fnc=entry, job_memory_limit_mb=-5)
    with pytest.raises(ValueError, match="multiprocessing_context"):
        WorkerOptions(entrypoint_fnc=entry, multiprocessing_context="fork")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="job_executor_type"):
        WorkerOptions(entrypoint_fnc=entry, job_executor_type="thread")  # type: ignore[arg-type]
