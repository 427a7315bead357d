"""Talking to a hosted provider's HTTP and websocket API: keys, URLs, sessions and errors.

A provider plugin describes its API once with a :class:`ProviderAPI` and gets the parts every
cloud plugin needs, written once here:

- the API key from an argument or the environment, with an error that says how to get one;
- the base URL checked, and endpoint URLs built from it with the right scheme (``http_url`` /
  ``ws_url``: a ``ws://`` base gives ``http://`` REST URLs and the other way round, so a test
  points a plugin at one local fake server);
- HTTP error answers, websocket handshake refusals, timeouts and transport failures turned into
  the ``APIError`` family (so the base classes retry exactly the retryable ones);
- a websocket opened within a timeout (:meth:`ProviderAPI.open_websocket`);
- an ``aiohttp.ClientSession`` made on first use unless the user shared one
  (:class:`LazyHTTPSession`);
- a plugin object's key, base URL, session and authentication headers in one place
  (:class:`ProviderClient`), with websocket opening and JSON/form requests against endpoint paths.

Example::

    DEEPGRAM = ProviderAPI(
        name="Deepgram",
        api_key_env="DEEPGRAM_API_KEY",
        default_base_url="https://api.deepgram.com/v1",
        key_help_url="https://console.deepgram.com",
        request_id_header="dg-request-id",
        error_message_keys=("err_msg", "message", "error", "reason"),
    )
    key = DEEPGRAM.resolve_api_key(api_key)
    url = ws_url(DEEPGRAM.check_base_url(base_url), "/listen", {"model": "nova-3"})
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

import aiohttp

from .._exceptions import APIConnectionError, APIError, APIStatusError, APITimeoutError

__all__ = [
    "LazyHTTPSession",
    "ProviderAPI",
    "ProviderClient",
    "WebSocket",
    "http_url",
    "parse_retry_after",
    "query_items",
    "ws_url",
]

WebSocket = aiohttp.ClientWebSocketResponse[bool]
"""The websocket type ``aiohttp.ClientSession.ws_connect`` returns."""

_URL_SCHEMES = ("http", "https", "ws", "wss")


def http_url(base_url: str, path: str, params: Mapping[str, Any] | None = None) -> str:
    """``base_url + path`` with an http(s) scheme (``ws`` -> ``http``) and the query ``params``.

    ``params`` is encoded by :func:`query_items`.
    """
    parts = urlsplit(base_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return _join(scheme, parts, path, params)


def ws_url(base_url: str, path: str, params: Mapping[str, Any] | None = None) -> str:
    """``base_url + path`` with a ws(s) scheme (``https`` -> ``wss``) and the query ``params``.

    ``params`` is encoded by :func:`query_items`.
    """
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return _join(scheme, parts, path, params)


def query_items(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query pairs for ``params``: ``None`` values left out, booleans as ``true``/``false``,
    and a list or tuple value repeated once per element (``keyterm=a&keyterm=b``)."""
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        for one in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(one, bool):
                items.append((key, "true" if one else "false"))
            else:
                items.append((key, str(one)))
    return items


def _join(scheme: str, parts: SplitResult, path: str, params: Mapping[str, Any] | None) -> str:
    query = urlencode(query_items(params or {}))
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, query, ""))


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait before retrying, from ``retry-after-ms`` or ``retry-after`` (seconds or
    an HTTP date); ``None`` when absent or unreadable, never negative.

    ``headers`` should be case-insensitive (aiohttp and httpx headers are).
    """
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


@dataclass(frozen=True)
class ProviderAPI:
    """One hosted provider's API, as the shared helpers need to know it.

    Args:
        name: the provider's name as users know it (``"Deepgram"``); starts every error message.
        api_key_env: the environment variable(s) holding the key, tried in order.
        default_base_url: the API root, shown in the error for a bad ``base_url``.
        key_help_url: where a user creates a key (named in the missing-key error).
        request_id_header: the answer header carrying the provider's request id, if any.
        error_message_keys: the keys of a JSON error body that may hold the message, in order.
        error_container_key: a key whose object value holds the error fields (ElevenLabs puts
            them under ``"detail"``); ``None`` when they are at the top level.
        auth_headers: builds the authentication headers from the key (``None``: no headers).
    """

    name: str
    api_key_env: str | tuple[str, ...]
    default_base_url: str
    key_help_url: str
    request_id_header: str | None = None
    error_message_keys: tuple[str, ...] = ("message", "error", "detail")
    error_container_key: str | None = None
    auth_headers: Callable[[str], Mapping[str, str]] | None = field(default=None, compare=False)
    _envs: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        envs = (self.api_key_env,) if isinstance(self.api_key_env, str) else self.api_key_env
        if not self.name or not envs:
            raise ValueError("ProviderAPI needs a name and at least one API key variable")
        object.__setattr__(self, "_envs", tuple(envs))

    # -- configuration ------------------------------------------------------------------------

    def resolve_api_key(self, api_key: str | None) -> str:
        """``api_key`` when given, else the first non-empty variable of ``api_key_env``.

        Raises ``ValueError`` naming the variables and where to create a key when neither is set.
        """
        key = api_key
        if key is None:
            key = next((os.environ[e] for e in self._envs if os.environ.get(e)), None)
        if not key:
            first, *others = self._envs
            also = f" (or {', '.join(others)})" if others else ""
            raise ValueError(
                f"{self.name} needs an API key: pass api_key=... or set the {first}{also} "
                f"environment variable (create a key at {self.key_help_url})"
            )
        return key

    def check_base_url(self, base_url: str) -> str:
        """``base_url`` without its trailing slash; ``ValueError`` unless an http(s)/ws(s) URL."""
        parts = urlsplit(base_url)
        if parts.scheme not in _URL_SCHEMES or not parts.netloc:
            raise ValueError(
                f"base_url must be an http(s) or ws(s) URL like {self.default_base_url!r}, "
                f"got {base_url!r}"
            )
        return base_url.rstrip("/")

    def headers(self, api_key: str) -> dict[str, str]:
        """The authentication headers for ``api_key`` (empty without ``auth_headers``)."""
        return dict(self.auth_headers(api_key)) if self.auth_headers is not None else {}

    # -- errors -------------------------------------------------------------------------------

    def error_text(self, body: object) -> str:
        """The human message in an error body (JSON object or text), or ``""``."""
        if (
            self.error_container_key is not None
            and isinstance(body, dict)
            and isinstance(body.get(self.error_container_key), dict)
        ):
            body = body[self.error_container_key]
        if isinstance(body, dict):
            for key in self.error_message_keys:
                value = body.get(key)
                if isinstance(value, str) and value:
                    return value
        if isinstance(body, str) and body:
            return body[:300]
        return ""

    def _request_id(self, headers: Mapping[str, str] | None) -> str | None:
        if headers is None or self.request_id_header is None:
            return None
        return headers.get(self.request_id_header)

    async def raise_for_response(self, resp: aiohttp.ClientResponse, what: str) -> None:
        """Raise ``APIStatusError`` when ``resp`` is an HTTP error (its body gives the message).

        ``what`` names the operation (``"speak"``, ``"TTS"``) in the message.
        """
        if resp.status < 400:
            return
        raw = await resp.text()
        body: object = raw
        try:
            body = json.loads(raw)
        except ValueError:
            pass
        detail = self.error_text(body)
        raise APIStatusError(
            f"{self.name} {what} failed with HTTP {resp.status}"
            + (f": {detail}" if detail else ""),
            status_code=resp.status,
            request_id=self._request_id(resp.headers),
            body=body,
            retry_after=parse_retry_after(resp.headers),
        )

    def message_error(
        self,
        what: str,
        detail: object,
        status: object = None,
        *,
        request_id: str | None = None,
        body: object = None,
    ) -> APIStatusError:
        """An error the provider reported inside its protocol (a JSON error message on a stream).

        ``status`` is used when it is an HTTP-like error code (400 or more), else 500; a 4xx
        is not retried by the base classes.
        """
        code = status if isinstance(status, int) and status >= 400 else 500
        return APIStatusError(
            f"{self.name} {what} error: {detail or 'unknown error'}",
            status_code=code,
            request_id=request_id or None,
            body=body,
        )

    def map_error(self, e: BaseException, what: str, timeout: float) -> APIError:
        """``e`` as a member of the ``APIError`` family (an ``APIError`` is returned as it is).

        A refused websocket handshake or an HTTP error becomes ``APIStatusError`` (so 4xx are not
        retried), a timeout ``APITimeoutError``, anything else ``APIConnectionError``.
        """
        if isinstance(e, APIError):
            return e
        if isinstance(e, aiohttp.WSServerHandshakeError):
            headers = e.headers if isinstance(e.headers, Mapping) else None
            return APIStatusError(
                f"{self.name} {what}: the websocket handshake was refused with HTTP {e.status}"
                + (f" ({e.message})" if e.message else ""),
                status_code=e.status,
                request_id=self._request_id(headers),
                retry_after=parse_retry_after(headers),
            )
        if isinstance(e, aiohttp.ClientResponseError):
            return APIStatusError(
                f"{self.name} {what} failed with HTTP {e.status}: {e.message}",
                status_code=e.status,
            )
        if isinstance(e, asyncio.TimeoutError):
            return APITimeoutError(f"{self.name} {what} timed out after {timeout} s")
        if isinstance(e, (aiohttp.ClientError, OSError)):
            return APIConnectionError(f"{self.name} {what}: connection failed: {e}")
        return APIConnectionError(f"{self.name} {what}: {type(e).__name__}: {e}")

    # -- websockets ---------------------------------------------------------------------------

    async def open_websocket(
        self,
        session: aiohttp.ClientSession,
        url: str,
        headers: Mapping[str, str],
        timeout: float,
        what: str,
    ) -> WebSocket:
        """Open a websocket to ``url`` within ``timeout`` seconds; failures become ``APIError``s."""

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
            raise self.map_error(e, what, timeout) from e


class LazyHTTPSession:
    """The ``aiohttp.ClientSession`` a plugin object talks through.

    Give it the session the user shared (``http_session=...``), or ``None`` to have one made on
    first use. :meth:`aclose` closes only a session made here; a session that got closed is
    replaced by a new one on the next :meth:`get`.
    """

    def __init__(self, session: aiohttp.ClientSession | None = None) -> None:
        self._session = session
        self._owned = session is None

    def get(self) -> aiohttp.ClientSession:
        """The open session (made now if there is none, or the last one was closed)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owned = True
        return self._session

    @property
    def owned(self) -> bool:
        """True when the current session was made here (and :meth:`aclose` will close it)."""
        return self._owned

    async def aclose(self) -> None:
        """Close the session if it was made here; a shared one is left to its owner."""
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None


class ProviderClient:
    """A plugin object's link to its provider: API description, key, base URL and HTTP session.

    The key is resolved (argument or environment) and the base URL checked when it is made, so a
    misconfigured plugin fails at construction with a message saying what to fix.

    Args:
        api: the provider's :class:`ProviderAPI` (with its ``auth_headers``).
        api_key: the key given by the user, or ``None`` to read ``api.api_key_env``.
        base_url: the API root endpoint paths are appended to.
        http_session: a session to share, or ``None`` to make one on first use.
    """

    def __init__(
        self,
        api: ProviderAPI,
        *,
        api_key: str | None,
        base_url: str,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.api = api
        self.api_key = api.resolve_api_key(api_key)
        self.base_url = api.check_base_url(base_url)
        self.session = LazyHTTPSession(http_session)

    def headers(self) -> dict[str, str]:
        """The authentication headers for this client's key."""
        return self.api.headers(self.api_key)

    def http_url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The REST URL of ``path`` (see :func:`http_url`)."""
        return http_url(self.base_url, path, params)

    def ws_url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The websocket URL of ``path`` (see :func:`ws_url`)."""
        return ws_url(self.base_url, path, params)

    async def open_websocket(
        self, path: str, params: Mapping[str, Any] | None, timeout: float, what: str
    ) -> WebSocket:
        """Open the websocket of ``path`` within ``timeout`` s; failures become ``APIError``s."""
        return await self.api.open_websocket(
            self.session.get(), self.ws_url(path, params), self.headers(), timeout, what
        )

    async def post(
        self,
        url: str,
        *,
        data: Any,
        timeout: float,
        what: str,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        """POST ``data`` (bytes or ``aiohttp.FormData``) and return the JSON answer and its headers.

        HTTP errors, timeouts (``timeout`` seconds for the whole request) and transport failures
        raise ``APIError``s naming ``what``.
        """
        try:
            async with self.session.get().post(
                url,
                data=data,
                headers={**self.headers(), **(headers or {})},
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                await self.api.raise_for_response(resp, what)
                return await resp.json(content_type=None), resp.headers
        except Exception as e:
            raise self.api.map_error(e, what, timeout) from e

    async def aclose(self) -> None:
        """Close the HTTP session if it was made here."""
        await self.session.aclose()
