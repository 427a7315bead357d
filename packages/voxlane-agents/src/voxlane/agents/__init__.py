"""Voxlane agents: realtime voice AI agents with a LiveKit Agents 1.x compatible API."""

from ._exceptions import (
    AgentsError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
)
from .types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGiven,
    NotGivenOr,
)
from .version import __version__

__all__ = [
    "DEFAULT_API_CONNECT_OPTIONS",
    "NOT_GIVEN",
    "APIConnectOptions",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AgentsError",
    "NotGiven",
    "NotGivenOr",
    "__version__",
]
