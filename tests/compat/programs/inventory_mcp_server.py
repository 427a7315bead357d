"""MCP server used by shop_agent.py (runs as its stdio subprocess).

Written for the ``mcp`` 2.x SDK that Voxlane requires (LiveKit's examples use the 1.x
``FastMCP`` class; see KNOWN_GAPS.md).
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

STOCK = {"blue mug": 3, "red mug": 0, "teapot": 12}

server = MCPServer("inventory")


@server.tool(structured_output=False)
def check_stock(product: str) -> str:
    """How many units of a product are in stock."""
    count = STOCK.get(product.strip().lower())
    if count is None:
        raise ToolError(f"unknown product {product!r}; we sell {', '.join(sorted(STOCK))}")
    return f"{product}: {count} in stock"


if __name__ == "__main__":
    server.run("stdio")
