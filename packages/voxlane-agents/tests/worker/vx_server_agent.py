"""An `AgentServer` program for cross-process tests: ``python vx_server_agent.py start ...``.

Written the newer LiveKit way: settings on ``AgentServer(...)``, the entrypoint registered with
``@server.rtc_session(...)`` at the top level of the program, ``cli.run_app(server)``. Jobs run in
their own processes, which import this file again (as ``__mp_main__``) to find ``entrypoint``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import vx_server_jobs as session_fns
import vx_worker_jobs as jobs

from voxlane.agents.cli import run_app
from voxlane.agents.job import JobContext
from voxlane.agents.worker import AgentServer, ServerType


def zero_load() -> float:
    return 0.0


server = AgentServer(
    room_factory=jobs.make_fake_room,
    load_fnc=zero_load,
    num_idle_processes=1,
    status_interval=0.1,
    port=0,
    shutdown_process_timeout=10.0,
)
server.setup_fnc = jobs.prewarm


@server.rtc_session(
    agent_name="vx-server-agent",
    type=ServerType.ROOM,
    on_request=session_fns.on_request,
    on_session_end=session_fns.on_session_end,
)
async def entrypoint(ctx: JobContext) -> None:
    await jobs.entrypoint(ctx)


if __name__ == "__main__":
    run_app(server)
