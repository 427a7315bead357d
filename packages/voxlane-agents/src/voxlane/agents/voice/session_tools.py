"""Lifecycle of the toolsets and MCP servers used in a session.

Every toolset an agent uses is set up (``Toolset.setup()``) before the agent's first reply and
closed once, when the session closes; toolsets therefore outlive handoffs (an ``AsyncToolset``
keeps its background tasks running for the next agent). MCP servers given with
``mcp_servers=`` (to the agent, else to the session) are wrapped in an ``MCPToolset`` each,
connected once per session and shut down with it. A toolset whose setup fails is logged and
skipped; the session keeps working without it.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ..llm import ChatMessage, Tool, Toolset
from ..types import is_given

if TYPE_CHECKING:
    from .agent import Agent
    from .agent_session import AgentSession

logger = logging.getLogger("voxlane.agents.voice")


class SessionTools:
    """Sets up and closes the toolsets of one session (created by ``AgentSession``)."""

    def __init__(self, session: AgentSession[Any]) -> None:
        self._session = session
        self._ready: list[Toolset] = []
        self._mcp_toolsets: dict[int, Toolset] = {}
        self._closed = False

    def _mcp_servers_of(self, agent: Agent) -> list[Any]:
        servers = agent.mcp_servers
        if is_given(servers):
            return list(servers or [])
        return list(self._session.mcp_servers or [])

    async def prepare(self, agent: Agent) -> list[Tool]:
        """Set up the agent's toolsets; returns the extra tools (MCP toolsets) it gets."""
        extra: list[Tool] = []
        for server in self._mcp_servers_of(agent):
            toolset = self._mcp_toolsets.get(id(server))
            if toolset is None:
                # optional dependency (the `mcp` extra): imported only when servers are given
                mcp_mod = importlib.import_module("voxlane.agents.llm.mcp")
                toolset = mcp_mod.MCPToolset(id=f"mcp_{len(self._mcp_toolsets)}", mcp_server=server)
                self._mcp_toolsets[id(server)] = toolset
            extra.append(toolset)
        await self.setup_tools([*agent.tools, *extra], agent=agent)
        return extra

    async def setup_tools(self, tools: list[Any], *, agent: Agent | None = None) -> None:
        """Set up every toolset in ``tools`` (nested ones included) not set up yet."""
        if self._closed:
            return
        for toolset in [t for t in tools if isinstance(t, Toolset)]:
            # a toolset's setup() sets up the toolsets nested in it
            if toolset in self._ready:
                continue
            self._ready.append(toolset)
            try:
                await toolset.setup()
            except Exception as e:
                logger.error(
                    "setting up toolset %r failed, its tools are unavailable: %s", toolset.id, e
                )
                if agent is not None:
                    _tell_model(agent, f"The tools of {toolset.id!r} are unavailable: {e}")

    async def aclose(self) -> None:
        """Close every toolset that was set up (in reverse order)."""
        self._closed = True
        ready, self._ready = self._ready, []
        for toolset in reversed(ready):
            try:
                await toolset.aclose()
            except Exception:
                logger.exception("closing toolset %r failed", toolset.id)


def _tell_model(agent: Agent, text: str) -> None:
    """Add a system note to the agent's context so the model knows a tool source is missing."""
    agent._chat_ctx.insert(ChatMessage(role="system", content=[text]))


__all__ = ["SessionTools"]
