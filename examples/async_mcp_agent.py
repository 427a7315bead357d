"""A travel agent using an MCP server and a long-running background tool.

- Weather and currency tools come from an MCP server run as a subprocess
  (``examples/async_mcp_server.py``, through ``MCPServerStdio``). The server only gets the
  environment variables it needs, so API keys of this process do not leak into it.
- ``book_trip`` is an ``AsyncToolset`` tool: its first ``ctx.update()`` answers the call at once,
  the user can keep talking while the booking runs, and the confirmation is spoken when ready.

Run it in text mode (type your lines, read the agent's)::

    python examples/async_mcp_agent.py --demo                  # scripted LLM, fully offline
    python examples/async_mcp_agent.py --llm openai/gpt-4.1-mini

Needs the MCP extra: ``pip install "voxlane-agents[mcp]"``.
``packages/voxlane-agents/tests/mcp/test_mcp_example.py`` runs the demo.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from voxlane.agents import mcp
from voxlane.agents.llm import ChatContext, function_tool
from voxlane.agents.llm.async_toolset import AsyncRunContext, AsyncToolset
from voxlane.agents.voice import Agent, AgentSession

SERVER_SCRIPT = Path(__file__).resolve().parent / "async_mcp_server.py"

BOOKING_STEP_SECONDS = 2.0
"""How long each step of the (simulated) booking takes."""


@function_tool
async def book_trip(ctx: AsyncRunContext[None], destination: str, nights: int) -> dict[str, Any]:
    """Book a hotel and a flight for a trip. It takes a while; the user is told when it is done.

    Args:
        destination: the city to travel to
        nights: how many nights to stay
    """
    await ctx.update(f"Searching flights and hotels for {nights} nights in {destination}.")
    await asyncio.sleep(BOOKING_STEP_SECONDS)
    await ctx.update("Found a flight and a hotel, now booking them.")
    await asyncio.sleep(BOOKING_STEP_SECONDS)
    code = f"TRIP-{destination[:3].upper()}-{nights:02d}"
    return {"confirmation": code, "destination": destination, "nights": nights}


class TravelAgent(Agent):
    def __init__(self) -> None:
        booking = AsyncToolset(id="booking", tools=[book_trip], on_duplicate_call="confirm")
        super().__init__(
            instructions=(
                "You are a friendly travel agent. Use the weather and currency tools to answer "
                "questions, and book_trip to book trips. Keep answers short."
            ),
            tools=[booking],
            mcp_servers=[mcp.MCPServerStdio(sys.executable, [str(SERVER_SCRIPT)])],
        )


def demo_llm() -> Any:
    """A scripted LLM for the offline demo (the conversation in ``DEMO_LINES``)."""
    from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall

    llm = FakeLLM(default="Is there anything else I can do for you?")
    llm.when(
        "weather",
        FakeResponse(
            tool_calls=[FakeToolCall("get_weather", {"city": "Lisbon"})],
            followup="It is sunny and 24 degrees in Lisbon today.",
        ),
    )
    llm.when(
        "book",
        FakeResponse(
            tool_calls=[FakeToolCall("book_trip", {"destination": "Lisbon", "nights": 3})],
            followup="I'm booking your trip to Lisbon now, I'll tell you when it's done.",
        ),
    )
    llm.when(
        "dollars",
        FakeResponse(
            tool_calls=[
                FakeToolCall(
                    "convert_currency",
                    {"amount": 500, "from_currency": "EUR", "to_currency": "USD"},
                )
            ],
            followup="500 euros is about 540 dollars.",
        ),
    )
    llm.add_response("Good news: I found a flight and a hotel, and I'm booking them now.")
    llm.add_response("Your trip is booked! Your confirmation code is TRIP-LIS-03.")
    return llm


DEMO_LINES = [
    "What's the weather in Lisbon?",
    "Great, book me three nights there.",
    "How much is 500 euros in dollars?",
]


async def chat(llm: Any, lines: list[str] | None = None, *, settle: float = 10.0) -> ChatContext:
    """Talk to the agent (``lines``, or stdin when None); returns the conversation history."""
    session: AgentSession[None] = AgentSession(llm=llm)

    def on_item(ev: Any) -> None:
        item = ev.item
        if item.type == "message" and item.role == "assistant" and item.text_content:
            print(f"agent> {item.text_content}")

    session.on("conversation_item_added", on_item)
    await session.start(TravelAgent())
    try:
        if lines is None:
            loop = asyncio.get_running_loop()
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line:
                    break
                if line.strip():
                    await session.run(user_input=line.strip())
        else:
            for line in lines:
                print(f"you> {line}")
                await session.run(user_input=line)
        # let the background booking finish and its news be told
        await asyncio.sleep(settle)
        await session.drain()
    finally:
        await session.aclose()
    return session.history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--llm", default="llamacpp", help="provider string of the LLM")
    parser.add_argument("--demo", action="store_true", help="use a scripted offline LLM")
    args = parser.parse_args(argv)
    if args.demo:
        asyncio.run(chat(demo_llm(), DEMO_LINES, settle=3 * BOOKING_STEP_SECONDS))
    else:
        from voxlane.agents.plugin.manager import resolve_provider

        asyncio.run(chat(resolve_provider("llm", args.llm)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
