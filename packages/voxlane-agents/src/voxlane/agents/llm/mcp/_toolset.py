"""``MCPToolset``: the tools of one MCP server as a toolset."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..tool_context import RawFunctionTool, Tool, Toolset
from ._server import MCPServer

logger = logging.getLogger("voxlane.agents.mcp")


class MCPToolset(Toolset):
    """The tools of ``mcp_server``: ``setup()`` connects and lists them, ``aclose()`` closes it.

    When the server announces that its tools changed, the list is fetched again in the
    background; the next LLM call sees the new tools.
    """

    def __init__(self, *, id: str, mcp_server: MCPServer) -> None:
        if not isinstance(mcp_server, MCPServer):
            raise TypeError(
                "mcp_server must be an MCPServerStdio or MCPServerHTTP, "
                f"got {type(mcp_server).__name__}"
            )
        super().__init__(id=id)
        self._server = mcp_server
        self._mcp_tools: list[RawFunctionTool] = []
        self._filter: Callable[[RawFunctionTool], bool] | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        mcp_server.on_tools_changed(self._schedule_refresh)

    @property
    def mcp_server(self) -> MCPServer:
        return self._server

    @property
    def tools(self) -> list[Tool]:
        tools = self._mcp_tools
        if self._filter is not None:
            tools = [t for t in tools if self._filter(t)]
        return [*tools, *super().tools]

    def filter_tools(self, predicate: Callable[[RawFunctionTool], bool]) -> MCPToolset:
        """Expose only the tools for which ``predicate(tool)`` is true."""
        self._filter = predicate
        return self

    async def setup(self, *, reload: bool = False) -> None:
        """Connect to the server and fetch its tools (raises ``MCPServerError`` on failure)."""
        await super().setup()
        if reload:
            self._server.invalidate_cache()
        await self._server.initialize()
        self._mcp_tools = await self._server.list_tools()
        logger.info(
            "MCP server %s provides %d tools: %s",
            self._server.label,
            len(self._mcp_tools),
            ", ".join(t.info.name for t in self._mcp_tools) or "none",
        )

    def _schedule_refresh(self) -> None:
        if self._refresh_task is not None and not self._refresh_task.done():
            self._refresh_task.cancel()
        self._refresh_task = asyncio.get_running_loop().create_task(
            self._refresh(), name="mcp_refresh_tools"
        )

    async def _refresh(self) -> None:
        try:
            self._mcp_tools = await self._server.list_tools()
        except Exception as e:
            logger.error("refreshing the tools of MCP server %s failed: %s", self._server.label, e)

    async def aclose(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            await asyncio.gather(self._refresh_task, return_exceptions=True)
        await super().aclose()
        await self._server.aclose()


__all__ = ["MCPToolset"]
