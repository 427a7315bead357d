"""Turning an MCP ``CallToolResult`` into a function tool output."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mcp.types as mcp_types

from ..tool_context import ToolError


@dataclass(frozen=True)
class MCPToolResultContext:
    """What a custom ``tool_result_resolver`` receives."""

    tool_name: str
    arguments: dict[str, Any]
    result: mcp_types.CallToolResult


MCPToolResultResolver = Callable[[MCPToolResultContext], Any]
"""Turns a successful MCP tool result into the tool's return value."""


def _decoded_size(data: str) -> int | None:
    try:
        return len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return None


def _describe_binary(kind: str, mime_type: str, data: str) -> str:
    size = _decoded_size(data)
    if size is None:
        return f"[{kind} ({mime_type}) with invalid base64 data]"
    return f"[{kind} ({mime_type}, {size} bytes)]"


def content_to_text(block: Any) -> str:
    """One content block as text the model can read (binary parts are described)."""
    if isinstance(block, mcp_types.TextContent):
        return block.text
    if isinstance(block, mcp_types.ImageContent):
        return _describe_binary("image", block.mime_type, block.data)
    if isinstance(block, mcp_types.AudioContent):
        return _describe_binary("audio", block.mime_type, block.data)
    if isinstance(block, mcp_types.EmbeddedResource):
        res = block.resource
        if isinstance(res, mcp_types.TextResourceContents):
            return res.text
        mime = res.mime_type or "application/octet-stream"
        return _describe_binary(f"resource {res.uri}", mime, res.blob)
    if isinstance(block, mcp_types.ResourceLink):
        label = block.title or block.name
        return f"[resource link: {block.uri}" + (f" ({label})" if label else "") + "]"
    kind = getattr(block, "type", type(block).__name__)
    return f"[unsupported content of type {kind!r}]"


def default_tool_result(ctx: MCPToolResultContext) -> str:
    """Structured content as JSON when the server sent some; else the content blocks as text
    (one per line)."""
    result = ctx.result
    if result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    texts = [content_to_text(block) for block in result.content]
    if not texts:
        return "The tool finished without returning any content."
    return "\n".join(texts)


def error_message(result: mcp_types.CallToolResult, tool_name: str) -> str:
    texts = [content_to_text(b) for b in result.content]
    detail = "\n".join(t for t in texts if t).strip()
    return detail or f"the MCP tool {tool_name!r} failed without giving a reason"


def resolve_result(
    tool_name: str,
    arguments: dict[str, Any],
    result: Any,
    resolver: MCPToolResultResolver | None,
) -> Any:
    """The tool output for ``result``; raises ``ToolError`` for error or malformed results."""
    if not isinstance(result, mcp_types.CallToolResult):
        raise ToolError(
            f"the MCP server returned an unexpected result for {tool_name!r} "
            f"({type(result).__name__} instead of a tool result)"
        )
    if result.is_error:
        raise ToolError(error_message(result, tool_name))
    ctx = MCPToolResultContext(tool_name=tool_name, arguments=arguments, result=result)
    return (resolver or default_tool_result)(ctx)


__all__ = [
    "MCPToolResultContext",
    "MCPToolResultResolver",
    "content_to_text",
    "default_tool_result",
    "resolve_result",
]
