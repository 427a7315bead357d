"""The MCP server of ``async_mcp_agent.py``: weather and currency tools over stdio.

It runs as a subprocess of the agent (``MCPServerStdio``); on its own it waits for MCP messages
on stdin: ``python examples/async_mcp_server.py``.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("travel-info")

FORECASTS = {
    "lisbon": "sunny, 24 C",
    "oslo": "light snow, -3 C",
    "tokyo": "cloudy, 17 C",
}
EUR_RATES = {"EUR": 1.0, "USD": 1.08, "JPY": 162.0, "NOK": 11.7}


@server.tool(structured_output=False)
def get_weather(city: str) -> str:
    """Today's weather forecast for a city."""
    forecast = FORECASTS.get(city.strip().lower())
    if forecast is None:
        raise ToolError(f"no forecast for {city!r}; known cities: {', '.join(sorted(FORECASTS))}")
    return f"{city.title()}: {forecast}"


@server.tool()
def convert_currency(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert an amount between EUR, USD, JPY and NOK."""
    try:
        rate_from = EUR_RATES[from_currency.upper()]
        rate_to = EUR_RATES[to_currency.upper()]
    except KeyError as e:
        raise ToolError(f"unknown currency {e.args[0]}; use one of {sorted(EUR_RATES)}") from None
    return round(amount / rate_from * rate_to, 2)


if __name__ == "__main__":
    server.run("stdio")
