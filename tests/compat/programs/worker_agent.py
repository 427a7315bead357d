"""A LiveKit Agents 1.x worker program: prewarm, JobContext, provider strings, cli.run_app.

    python worker_agent.py console --text    # talk to it in the terminal
    python worker_agent.py start             # register with a LiveKit server

The compatibility harness runs the rewritten program through ``console --text`` with the
``deepgram``/``openai``/``cartesia`` provider strings pointing at scripted fakes.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from livekit.agents import (
    Agent,
    AgentSession,
    AutoSubscribe,
    JobContext,
    JobProcess,
    RunContext,
    WorkerOptions,
    cli,
    function_tool,
)
from livekit.plugins import silero

logger = logging.getLogger("weather-worker")


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


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = silero.VAD.load()


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
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, prewarm_fnc=prewarm))
