"""An agent program for cross-process worker tests: ``python vx_worker_agent.py start ...``.

Jobs run the test entrypoint of ``vx_worker_jobs`` in a fake room (no LiveKit server needed for
the room; the fake LiveKit server of the tests dispatches the jobs).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import vx_worker_jobs as jobs

from voxlane.agents.cli import run_app
from voxlane.agents.worker import WorkerOptions


def zero_load() -> float:
    return 0.0


if __name__ == "__main__":
    run_app(
        WorkerOptions(
            entrypoint_fnc=jobs.entrypoint,
            prewarm_fnc=jobs.prewarm,
            room_factory=jobs.make_fake_room,
            load_fnc=zero_load,
            num_idle_processes=1,
            status_interval=0.1,
            port=0,
            shutdown_process_timeout=10.0,
        )
    )
