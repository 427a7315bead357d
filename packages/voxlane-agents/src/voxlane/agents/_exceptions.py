"""The error family raised by model calls. ``retryable`` tells the base classes whether to retry."""

from __future__ import annotations

from typing import Any


class AgentsError(Exception):
    """Base class of every error Voxlane raises on purpose."""


class APIError(AgentsError):
    """A provider call failed.

    ``body`` is the provider's response body when there was one; ``retryable`` says whether trying
    again may succeed.
    """

    def __init__(self, message: str, *, body: object | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.body = body
        self.retryable = retryable

    def __str__(self) -> str:
        return f"{self.message} (retryable={self.retryable})"


class APIStatusError(APIError):
    """The provider answered with an error status (HTTP or websocket close code).

    4xx statuses are not retried, except 408 (timeout) and 429 (rate limited), unless
    ``retryable`` is given explicitly.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = -1,
        request_id: str | None = None,
        body: object | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        if retryable is None:
            retryable = not (400 <= status_code < 500) or status_code in (408, 429)
        super().__init__(message, body=body, retryable=retryable)
        self.status_code = status_code
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        return (
            f"{self.message} (status_code={self.status_code}, request_id={self.request_id}, "
            f"retryable={self.retryable})"
        )


class APIConnectionError(APIError):
    """The provider could not be reached, or the connection dropped."""

    def __init__(self, message: str = "Connection error.", *, retryable: bool = True) -> None:
        super().__init__(message, body=None, retryable=retryable)


class APITimeoutError(APIConnectionError):
    """The provider did not answer within ``APIConnectOptions.timeout``."""

    def __init__(self, message: str = "Request timed out.", *, retryable: bool = True) -> None:
        super().__init__(message, retryable=retryable)


class CLIError(AgentsError):
    """A command-line usage error, shown to the user without a traceback."""


def create_api_error_from_http(
    message: str, *, status: int, body: Any = None, retry_after: float | None = None
) -> APIStatusError:
    """Build an ``APIStatusError`` for an HTTP status, with the default retry rule."""
    return APIStatusError(message, status_code=status, body=body, retry_after=retry_after)


__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AgentsError",
    "CLIError",
    "create_api_error_from_http",
]
