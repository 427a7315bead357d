"""A LiveKit Agents 1.x shop assistant: MCP tools over stdio and a background AsyncToolset tool.

``check_stock`` comes from an MCP server started with ``mcp.MCPServerStdio``; ``ship_order`` is
an ``AsyncToolset`` tool that reports progress with ``AsyncRunContext.update`` while the user can
keep talking, and whose final result is delivered later.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

from livekit.agents import Agent, AgentSession, JobContext, mcp
from livekit.agents.llm import AsyncRunContext, AsyncToolset, function_tool
from livekit.plugins import openai
from pydantic import Field

SERVER = Path(__file__).resolve().parent / "inventory_mcp_server.py"
SHIPPING_STEP_SECONDS = 2.0


@function_tool
async def ship_order(
    ctx: AsyncRunContext[None],
    order_id: Annotated[str, Field(description="The order number")],
) -> dict[str, Any]:
    """Ship an order to the customer. Shipping takes a while; the customer is told when done."""
    await ctx.update(f"Packing order {order_id}.")
    await asyncio.sleep(SHIPPING_STEP_SECONDS)
    await ctx.update(f"Order {order_id} is packed and waiting for the courier.")
    await asyncio.sleep(SHIPPING_STEP_SECONDS)
    return {"order_id": order_id, "tracking": f"TRK-{order_id}"}


class ShopAgent(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions="You help customers of a homeware shop: stock questions and shipping.",
            tools=[AsyncToolset(id="shipping", tools=[ship_order])],
            mcp_servers=[
                mcp.MCPServerStdio(
                    command=sys.executable,
                    args=[str(SERVER)],
                    client_session_timeout_seconds=10,
                )
            ],
        )


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session: AgentSession[None] = AgentSession(llm=openai.LLM(model="gpt-4o-mini"))
    await session.start(agent=ShopAgent(), room=ctx.room)
