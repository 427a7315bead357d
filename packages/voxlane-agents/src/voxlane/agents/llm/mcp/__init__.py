"""MCP (Model Context Protocol) servers as tool sources, on the ``mcp`` SDK (2.x).

Install the extra: ``pip install "voxlane-agents[mcp]"``. Give servers to an agent or a
session with ``mcp_servers=[MCPServerStdio(...), MCPServerHTTP(...)]`` (each becomes an
:class:`MCPToolset`), or put an ``MCPToolset`` in ``tools=``.
"""

from __future__ import annotations

import importlib.metadata

try:
    _MCP_VERSION = importlib.metadata.version("mcp")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - depends on the install
    raise ImportError(
        "voxlane.agents.mcp needs the `mcp` package: install voxlane-agents[mcp]"
    ) from None
if int(_MCP_VERSION.split(".")[0]) < 2:  # pragma: no cover - depends on the install
    raise ImportError(
        f"voxlane.agents.mcp needs mcp>=2.3,<3 but mcp {_MCP_VERSION} is installed: "
        "upgrade it with the voxlane-agents[mcp] extra"
    )

from ._results import (
    MCPToolResultContext,
    MCPToolResultResolver,
    content_to_text,
    default_tool_result,
)
from ._server import (
    STDIO_INHERITED_ENV,
    MCPServer,
    MCPServerError,
    MCPServerHTTP,
    MCPServerStdio,
    stdio_environment,
)
from ._toolset import MCPToolset

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
