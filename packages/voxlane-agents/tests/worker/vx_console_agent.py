"""An agent program for the console tests, built from the scripted fakes (no models, no keys).

Run as ``python vx_console_agent.py console [--text | --input-audio ...]``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from voxlane.agents.cli import run_app
from voxlane.agents.job import JobContext
from voxlane.agents.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, ScriptedTranscript
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.worker import WorkerOptions


async def entrypoint(ctx: JobContext) -> None:
    llm = FakeLLM(default="I heard you.")
    llm.when("hello", "Hello there, how can I help?")
    session: AgentSession[None] = AgentSession(
        llm=llm,
        stt=FakeSTT([ScriptedTranscript("hello agent", start=0.1, end=0.6)]),
        vad=FakeVAD(segments=[(0.1, 0.6)]),
        tts=FakeTTS(seconds_per_char=0.01),
        min_endpointing_delay=0.2,
    )
    closing: set[asyncio.Task[None]] = set()

    def on_item(ev: Any) -> None:
        # the agent ends the conversation itself when the user says goodbye
        if ev.item.role == "user" and "goodbye" in (ev.item.text_content or ""):
            closing.add(asyncio.ensure_future(session.aclose()))

    session.on("conversation_item_added", on_item)
    await session.start(Agent(instructions="You are a test agent."), room=ctx.room)


if __name__ == "__main__":
    run_app(WorkerOptions(entrypoint_fnc=entrypoint))
