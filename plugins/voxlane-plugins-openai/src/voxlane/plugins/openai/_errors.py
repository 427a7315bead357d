"""Translate ``openai`` SDK and transport exceptions into the Voxlane ``APIError`` family.

The SDK's own retries are disabled (``max_retries=0``) so that the base classes own the retry
policy; every failure therefore has to arrive here with the right ``retryable`` flag.
"""

from __future__ import annotations

import json

import httpx2
import pydantic

import openai
from voxlane.agents._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
)
from voxlane.agents.utils.provider import parse_retry_after


def _status_message(e: openai.APIStatusError, what: str) -> str:
    detail = e.message or f"HTTP {e.status_code}"
    return f"{what} failed with HTTP {e.status_code}: {detail}"


def to_api_error(e: BaseException, *, what: str) -> APIError:
    """Map an exception raised while talking to an OpenAI-compatible server.

    ``what`` names the operation in the message (e.g. ``"OpenAI chat completion"``).
    """
    if isinstance(e, APIError):
        return e
    if isinstance(e, openai.APITimeoutError):
        return APITimeoutError(f"{what} timed out")
    if isinstance(e, openai.APIConnectionError):
        return APIConnectionError(f"{what}: connection failed ({e.message})")
    if isinstance(e, openai.APIStatusError):
        return APIStatusError(
            _status_message(e, what),
            status_code=e.status_code,
            request_id=e.request_id,
            body=e.body,
            retry_after=parse_retry_after(e.response.headers),
        )
    if isinstance(e, openai.APIError):
        # an error event inside an otherwise successful (200) stream
        return APIError(
            f"{what}: the server reported an error mid-stream: {e.message}", body=e.body
        )
    if isinstance(e, httpx2.TimeoutException):
        return APITimeoutError(f"{what} timed out")
    if isinstance(e, httpx2.TransportError):
        return APIConnectionError(f"{what}: connection lost ({type(e).__name__}: {e})")
    if isinstance(e, (json.JSONDecodeError, pydantic.ValidationError)):
        return APIError(f"{what}: the server sent a malformed chunk ({e})")
    return APIError(f"{what} failed: {type(e).__name__}: {e}", retryable=False)


__all__ = ["parse_retry_after", "to_api_error"]
