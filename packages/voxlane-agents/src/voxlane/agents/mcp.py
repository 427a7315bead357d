"""``voxlane.agents.mcp``: MCP servers as tool sources (see :mod:`voxlane.agents.llm.mcp`)."""

from .llm.mcp import (
    STDIO_INHERITED_ENV,
    MCPServer,
    MCPServerError,
    MCPServerHTTP,
    MCPServerStdio,
    MCPToolResultContext,
    MCPToolResultResolver,
    MCPToolset,
    content_to_text,
    default_tool_result,
    stdio_environment,
)

__all__ = [
    "STDIO_INHERITED_ENV",
    "MCPServer",
    "MCPServerError",
    "MCPServerHTTP",
    "MCPServerStdio",
    "MCPToolResultContext",
    "MCPToolResultResolver",
    "MCPToolset",
    "content_to_text",
    "default_tool_result",
    "stdio_environment",
]
