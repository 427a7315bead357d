"""Helpers shared by the ElevenLabs STT and TTS: API keys, URLs, error mapping, resampling."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

import aiohttp
from livekit import rtc

from voxlane.agents._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
)

WebSocket = aiohttp.ClientWebSocketResponse[bool]
"""The websocket type ``ClientSession.ws_connect`` returns."""

API_KEY_ENVS = ("ELEVEN_API_KEY", "ELEVENLABS_API_KEY")
DEFAULT_BASE_URL = "https://api.elevenlabs.io/v1"


def resolve_api_key(api_key: str | None) -> str:
    """The key given as an argument, else ``$ELEVEN_API_KEY`` or ``$ELEVENLABS_API_KEY``."""
    key = api_key
    if key is None:
        key = os.environ.get(API_KEY_ENVS[0]) or os.environ.get(API_KEY_ENVS[1])
    if not key:
        raise ValueError(
            "ElevenLabs needs an API key: pass api_key=... or set the ELEVEN_API_KEY (or "
            "ELEVENLABS_API_KEY) environment variable (create a key at https://elevenlabs.io)"
        )
    return key


def check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(
            f"base_url must be an http(s) or ws(s) URL like {DEFAULT_BASE_URL!r}, got {base_url!r}"
        )
    return base_url.rstrip("/")


def http_url(base_url: str, path: str, params: Mapping[str, Any] | None = None) -> str:
    """``base_url + path`` with an http(s) scheme and the query ``params``."""
    parts = urlsplit(base_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return _build(scheme, parts, path, params)


def ws_url(base_url: str, path: str, params: Mapping[str, Any] | None = None) -> str:
    """``base_url + path`` with a ws(s) scheme and the query ``params``."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return _build(scheme, parts, path, params)


def _build(scheme: str, parts: SplitResult, path: str, params: Mapping[str, Any] | None) -> str:
    query = urlencode(list(_query_items(params or {})))
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, query, ""))


def _query_items(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, bool):
                items.append((key, "true" if v else "false"))
            else:
                items.append((key, str(v)))
    return items


async def open_websocket(
    session: aiohttp.ClientSession, url: str, headers: Mapping[str, str], timeout: float, what: str
) -> WebSocket:
    """Open a websocket within ``timeout`` seconds; failures become ``APIError``s."""

    async def connect() -> WebSocket:
        return await session.ws_connect(
            url,
            headers=dict(headers),
            timeout=aiohttp.ClientWSTimeout(ws_close=1.0),
            decode_text=True,
        )

    try:
        return await asyncio.wait_for(connect(), timeout)
    except Exception as e:
        raise map_error(e, what, timeout) from e


def auth_headers(api_key: str) -> dict[str, str]:
    return {"xi-api-key": api_key}


def _error_text(body: object) -> str:
    if isinstance(body, dict) and isinstance(body.get("detail"), dict):
        body = body["detail"]
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "status"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    if isinstance(body, str) and body:
        return body[:300]
    return ""


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def raise_for_response(resp: aiohttp.ClientResponse, what: str) -> None:
    """Raise an ``APIStatusError`` for an HTTP error answer (the body is read for its message)."""
    if resp.status < 400:
        return
    raw = await resp.text()
    body: object = raw
    try:
        body = json.loads(raw)
    except ValueError:
        pass
    detail = _error_text(body)
    raise APIStatusError(
        f"ElevenLabs {what} failed with HTTP {resp.status}" + (f": {detail}" if detail else ""),
        status_code=resp.status,
        request_id=resp.headers.get("request-id"),
        body=body,
        retry_after=_retry_after(resp.headers),
    )


def map_error(e: BaseException, what: str, timeout: float) -> APIError:
    """Turn a transport error (aiohttp, timeouts) into the ``APIError`` family."""
    if isinstance(e, APIError):
        return e
    if isinstance(e, aiohttp.WSServerHandshakeError):
        headers = e.headers if isinstance(e.headers, Mapping) else None
        return APIStatusError(
            f"ElevenLabs {what}: the websocket handshake was refused with HTTP {e.status}"
            + (f" ({e.message})" if e.message else ""),
            status_code=e.status,
            request_id=headers.get("request-id") if headers else None,
            retry_after=_retry_after(headers),
        )
    if isinstance(e, aiohttp.ClientResponseError):
        return APIStatusError(
            f"ElevenLabs {what} failed with HTTP {e.status}: {e.message}", status_code=e.status
        )
    if isinstance(e, asyncio.TimeoutError):
        return APITimeoutError(f"ElevenLabs {what} timed out after {timeout} s")
    if isinstance(e, (aiohttp.ClientError, OSError)):
        return APIConnectionError(f"ElevenLabs {what}: connection failed: {e}")
    return APIConnectionError(f"ElevenLabs {what}: {type(e).__name__}: {e}")


class PcmResampler:
    """Resample 16-bit mono/stereo PCM bytes between two rates (pass-through when equal)."""

    def __init__(self, input_rate: int, output_rate: int, num_channels: int = 1) -> None:
        self._channels = num_channels
        self._input_rate = input_rate
        self._resampler = (
            None
            if input_rate == output_rate
            else rtc.AudioResampler(
                input_rate=input_rate,
                output_rate=output_rate,
                num_channels=num_channels,
                quality=rtc.AudioResamplerQuality.HIGH,
            )
        )
        self._carry = b""

    def push(self, data: bytes) -> bytes:
        if self._resampler is None:
            return data
        data = self._carry + data
        usable = len(data) - len(data) % (2 * self._channels)
        self._carry = data[usable:]
        if usable == 0:
            return b""
        frame = rtc.AudioFrame(
            data=data[:usable],
            sample_rate=self._input_rate,
            num_channels=self._channels,
            samples_per_channel=usable // (2 * self._channels),
        )
        return b"".join(bytes(f.data.cast("B")) for f in self._resampler.push(frame))

    def flush(self) -> bytes:
        if self._resampler is None:
            return b""
        return b"".join(bytes(f.data.cast("B")) for f in self._resampler.flush())
