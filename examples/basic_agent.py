"""The smallest complete voice agent, in the LiveKit Agents style: models given as provider
strings, one function tool, a greeting, and ``cli.run_app`` for the command line.

    python examples/basic_agent.py console          # talk to it here (text if no audio device)
    python examples/basic_agent.py console --input-audio question.wav --transcript out.txt
    python examples/basic_agent.py start            # a worker for a LiveKit server
                                                    # (LIVEKIT_URL, LIVEKIT_API_KEY/SECRET)

By default it runs offline on the bundled models (silero, whisper tiny.en, SmolLM2 on
llama.cpp, piper). Each provider string can be replaced through the environment without
touching the code, for instance to move to the cloud::

    VOXLANE_STT=deepgram/nova-3 VOXLANE_LLM=openai/gpt-4.1-mini \\
        VOXLANE_TTS=cartesia/sonic-2 python examples/basic_agent.py start

``VOXLANE_HEALTH_PORT`` sets the port of the worker's health endpoint (default 8081; 0 turns
it off). ``tests/test_example_basic_agent.py`` starts this file as a worker against a fake
LiveKit server, with scripted models.
"""

from __future__ import annotations

import datetime
import os

from voxlane.agents import (
    Agent,
    AgentSession,
    JobContext,
    JobProcess,
    WorkerOptions,
    cli,
    function_tool,
)
from voxlane.agents.plugin import resolve_provider

DEFAULT_MODELS = {
    "vad": "silero",
    "stt": "whisper/tiny.en",
    "llm": "llamacpp/smollm2-135m",
    "tts": "piper/en_US-joe-medium",
}


def model_string(kind: str) -> str:
    """The provider string for ``kind``: ``$VOXLANE_<KIND>`` or the offline default."""
    return os.environ.get(f"VOXLANE_{kind.upper()}") or DEFAULT_MODELS[kind]


def health_port() -> int:
    raw = os.environ.get("VOXLANE_HEALTH_PORT", "8081")
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"VOXLANE_HEALTH_PORT must be a port number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise SystemExit(f"VOXLANE_HEALTH_PORT must be between 0 and 65535, got {port}")
    return port


class Assistant(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions=(
                "You are a helpful voice assistant. Answer in one or two short sentences of "
                "plain text. Call get_time when the user asks for the time or the date."
            )
        )

    @function_tool
    async def get_time(self) -> str:
        """Get the current local date and time."""
        return datetime.datetime.now().strftime("It is %H:%M on %A, %B %d.")


def prewarm(proc: JobProcess) -> None:
    # once per worker process, before its jobs: load the voice activity detector
    proc.userdata["vad"] = resolve_provider("vad", model_string("vad"))


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session: AgentSession[None] = AgentSession(
        vad=ctx.proc.userdata.get("vad") or model_string("vad"),
        stt=model_string("stt"),
        llm=model_string("llm"),
        tts=model_string("tts"),
    )
    await session.start(agent=Assistant(), room=ctx.room)
    session.generate_reply(instructions="Greet the user and offer your help.")


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, prewarm_fnc=prewarm, port=health_port()))
