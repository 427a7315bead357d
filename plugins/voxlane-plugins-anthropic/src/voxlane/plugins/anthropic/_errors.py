"""Translate ``anthropic`` SDK and transport exceptions into the Voxlane ``APIError`` family.

The SDK's own retries are disabled (``max_retries=0``); the base class retries. An ``error``
event inside a 200 stream reaches us as an ``APIStatusError`` carrying status 200, so its real
status is recovered from the error type in the body (e.g. ``overloaded_error`` is 529).
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pydantic

import anthropic
from voxlane.agents._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
)
from voxlane.agents.utils.provider import parse_retry_after

_STATUS_BY_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            etype = err.get("type")
            msg = err.get("message")
            return (
                etype if isinstance(etype, str) else None,
                msg if isinstance(msg, str) else None,
            )
    return None, None


def to_api_error(e: BaseException, *, what: str) -> APIError:
    """Map an exception raised while calling the Anthropic API."""
    if isinstance(e, APIError):
        return e
    if isinstance(e, anthropic.APITimeoutError):
        return APITimeoutError(f"{what} timed out")
    if isinstance(e, anthropic.APIConnectionError):
        return APIConnectionError(f"{what}: connection failed ({e.message})")
    if isinstance(e, anthropic.APIStatusError):
        etype, emsg = _error_fields(e.body)
        status = e.status_code
        if status < 400:
            status = _STATUS_BY_ERROR_TYPE.get(etype or "", 500)
            prefix = f"{what}: the server reported an error mid-stream"
        else:
            prefix = f"{what} failed with HTTP {status}"
        return APIStatusError(
            f"{prefix}: {etype or 'error'}: {emsg or e.message}",
            status_code=status,
            request_id=e.request_id,
            body=e.body,
            retry_after=parse_retry_after(e.response.headers),
        )
    if isinstance(e, httpx2.TimeoutException):
        return APITimeoutError(f"{what} timed out")
    if isinstance(e, httpx2.TransportError):
        return APIConnectionError(f"{what}: connection lost ({type(e).__name__}: {e})")
    if isinstance(e, (json.JSONDecodeError, pydantic.ValidationError)):
        return APIError(f"{what}: the server sent a malformed event ({e})")
    if isinstance(e, anthropic.APIError):
        return APIError(f"{what}: {e.message}", body=e.body)
    return APIError(f"{what} failed: {type(e).__name__}: {e}", retryable=False)


__all__ = ["parse_retry_after", "to_api_error"]
