"""A minimal agent program for the job-process memory benchmark (either framework).

    BENCH_FRAMEWORK=voxlane|livekit BENCH_PREWARM=silero|none python bench/_worker_agent.py start

It runs the framework's worker (``cli.run_app(WorkerOptions(...))``) with one idle prewarmed
job process. The LiveKit server URL points at a closed local port: the worker keeps retrying to
register while its process pool is warm, which is all ``memory.py`` needs to measure.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

FRAMEWORK = os.environ.get("BENCH_FRAMEWORK", "voxlane")
PREWARM = os.environ.get("BENCH_PREWARM", "silero")
if FRAMEWORK not in ("voxlane", "livekit"):
    raise SystemExit(f"BENCH_FRAMEWORK must be voxlane or livekit, got {FRAMEWORK!r}")
if PREWARM not in ("silero", "none"):
    raise SystemExit(f"BENCH_PREWARM must be silero or none, got {PREWARM!r}")

if TYPE_CHECKING:
    from voxlane import agents
else:
    agents = importlib.import_module(f"{FRAMEWORK}.agents")


def prewarm(proc: Any) -> None:
    """Load the Silero VAD once per process, as agent programs usually do."""
    if PREWARM == "silero":
        silero = importlib.import_module(f"{FRAMEWORK}.plugins.silero")
        proc.userdata["vad"] = silero.VAD.load()


async def entrypoint(ctx: Any) -> None:
    await ctx.connect()


if __name__ == "__main__":
    agents.cli.run_app(
        agents.WorkerOptions(
            entrypoint_fnc=entrypoint,
            prewarm_fnc=prewarm,
            num_idle_processes=1,
            ws_url="ws://127.0.0.1:9",
            api_key="bench",
            api_secret="bench-secret-bench-secret-bench-secret",
        )
    )
