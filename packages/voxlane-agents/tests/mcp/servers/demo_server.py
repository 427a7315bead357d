"""A real MCP server (mcp SDK) used by the tests: ``python demo_server.py stdio``, or
``python demo_server.py streamable-http|sse PORT`` to serve on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import sys

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError as MCPToolError
from mcp.types import ImageContent, TextContent

server = MCPServer("voxlane-test-server")

# a 1x1 PNG (a red dot)
RED_DOT = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d7"
        "63f8cfc000000301010018dd8db40000000049454e44ae426082"
    )
).decode()


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool(structured_output=False)
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


@server.tool(structured_output=False)
def env_names() -> str:
    """The names of the environment variables of this server."""
    return json.dumps(sorted(os.environ))


@server.tool(structured_output=False)
def env_value(name: str) -> str:
    """The value of one environment variable ('' when unset)."""
    return os.environ.get(name, "")


@server.tool(structured_output=False)
def pid() -> str:
    """The process id of this server."""
    return str(os.getpid())


@server.tool(structured_output=False)
def cwd() -> str:
    """The working directory of this server."""
    return os.getcwd()


@server.tool(structured_output=False)
def header(name: str, ctx: Context) -> str:
    """The value of an HTTP request header ('' when absent or on stdio)."""
    headers = ctx.headers or {}
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name.lower(), "")


@server.tool(structured_output=False)
def fail(reason: str) -> str:
    """Always fails with ``reason``."""
    raise MCPToolError(reason)


@server.tool(structured_output=False)
def picture() -> list[TextContent | ImageContent]:
    """A caption and an image."""
    return [
        TextContent(type="text", text="a red dot"),
        ImageContent(type="image", data=RED_DOT, mime_type="image/png"),
    ]


def secret_word() -> str:
    """The secret word."""
    return "swordfish"


@server.tool(structured_output=False)
async def unlock(ctx: Context) -> str:
    """Adds the `secret_word` tool and announces the change."""
    server.add_tool(secret_word, structured_output=False)
    await ctx.session.send_tool_list_changed()
    return "unlocked"


@server.tool(structured_output=False)
def crash() -> str:
    """Kills the server process."""
    os._exit(3)


@server.tool(structured_output=False)
async def hang() -> str:
    """Never answers."""
    await anyio.sleep(3600)
    return "too late"


if __name__ == "__main__":
    transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if transport == "stdio":
        server.run("stdio")
    elif transport == "streamable-http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    elif transport == "sse":
        server.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown transport {transport!r}")
