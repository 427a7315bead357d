"""A LiveKit Agents 1.7 program written with the newer worker API: AgentServer + rtc_session.

    python agent_server_agent.py console --text    # talk to it in the terminal
    python agent_server_agent.py start             # register with a LiveKit server

Settings go to ``AgentServer(...)``, the per-process setup to ``server.setup_fnc``, and the
entrypoint is registered with ``@server.rtc_session(...)``, with an ``on_request`` handler and an
``on_session_end`` hook. The compatibility harness runs the rewritten program through
``console --text`` with the provider strings pointing at scripted fakes.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    AutoSubscribe,
    JobContext,
    JobProcess,
    JobRequest,
    RunContext,
    ServerType,
    cli,
    function_tool,
)
from livekit.plugins import silero

logger = logging.getLogger("weather-server")


@dataclass
class CallInfo:
    room_name: str


class WeatherAssistant(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a weather assistant. Keep answers short.")

    @function_tool
    async def lookup_weather(self, context: RunContext[CallInfo], location: str) -> str:
        """Look up the current weather.

        Args:
            location: the city to get the weather for
        """
        return f"It is sunny in {location} (asked from room {context.userdata.room_name})."


server = AgentServer(job_memory_warn_mb=700, shutdown_process_timeout=20.0)


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = silero.VAD.load()


server.setup_fnc = prewarm


async def on_request(req: JobRequest) -> None:
    await req.accept(name="Weather Agent", attributes={"team": "weather"})


async def on_session_end(ctx: JobContext) -> None:
    vad_loaded = "vad" in ctx.proc.userdata
    print(
        f"session ended in room {ctx.room.name} (vad loaded: {vad_loaded})",
        file=sys.stderr,
        flush=True,
    )


@server.rtc_session(
    agent_name="weather-agent",
    type=ServerType.ROOM,
    on_request=on_request,
    on_session_end=on_session_end,
)
async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    participant = await ctx.wait_for_participant()
    print(f"talking to {participant.identity} in room {ctx.room.name}", file=sys.stderr, flush=True)

    async def on_shutdown() -> None:
        print(f"shutdown callback ran for room {ctx.room.name}", file=sys.stderr, flush=True)

    ctx.add_shutdown_callback(on_shutdown)

    session = AgentSession[CallInfo](
        userdata=CallInfo(room_name=ctx.room.name),
        vad=ctx.proc.userdata["vad"],
        stt="deepgram/nova-3",
        llm="openai/gpt-4.1-mini",
        tts="cartesia/sonic-2",
    )
    await session.start(agent=WeatherAssistant(), room=ctx.room)
    session.say("Hello, I can tell you the weather anywhere.")


if __name__ == "__main__":
    cli.run_app(server)
