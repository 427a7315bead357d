"""Connections to MCP servers: ``MCPServerStdio`` (subprocess) and ``MCPServerHTTP``.

The whole client (transport and ``mcp.ClientSession``) lives in one background task, as anyio
requires; tools are called from any task of the same event loop. Every request is bounded by
``client_session_timeout_seconds``. A server that exits or breaks its connection makes the
following calls fail at once with a clear ``ToolError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import anyio
import httpx2
import mcp.types as mcp_types
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from ..tool_context import RawFunctionTool, ToolError, function_tool
from ._results import MCPToolResultResolver, resolve_result

logger = logging.getLogger("voxlane.agents.mcp")

TransportStreams = tuple[Any, Any]

STDIO_INHERITED_ENV = (
    *("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "USER", "LOGNAME"),
    *("SHELL", "TERM", "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT"),
    *("APPDATA", "LOCALAPPDATA", "USERPROFILE", "HOMEDRIVE", "HOMEPATH"),
)
"""Variables a stdio server inherits by default (plus ``LC_*``): what a program needs to run,
never credentials. Pass anything else explicitly with ``env=``."""


_CONNECTION_CLOSED = -32000  # JSON-RPC error codes used by the mcp SDK
_REQUEST_TIMEOUT = -32001


class MCPServerError(ToolError):
    """The MCP server is unreachable, crashed, timed out or misbehaved."""


class MCPServer(ABC):
    """A connection to one MCP server, whose tools become function tools."""

    def __init__(
        self,
        *,
        client_session_timeout_seconds: float = 5.0,
        tool_result_resolver: MCPToolResultResolver | None = None,
        startup_timeout_seconds: float | None = None,
    ) -> None:
        if client_session_timeout_seconds <= 0:
            raise ValueError(
                f"client_session_timeout_seconds must be > 0, got {client_session_timeout_seconds}"
            )
        if startup_timeout_seconds is not None and startup_timeout_seconds <= 0:
            raise ValueError(f"startup_timeout_seconds must be > 0, got {startup_timeout_seconds}")
        self._timeout = float(client_session_timeout_seconds)
        self._startup_timeout = (
            float(startup_timeout_seconds)
            if startup_timeout_seconds is not None
            else max(self._timeout, 15.0)
        )
        self._resolver = tool_result_resolver
        self._session: ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._failure: str | None = None
        self._closed = False
        self._cache: list[RawFunctionTool] | None = None
        self._list_changed: list[Callable[[], None]] = []
        self._init_lock = asyncio.Lock()

    # -- to implement ----------------------------------------------------------------------

    @abstractmethod
    def client_streams(self) -> AbstractAsyncContextManager[Any]:
        """Open the transport; yields at least ``(read_stream, write_stream)``."""

    @property
    @abstractmethod
    def label(self) -> str:
        """A short description for logs and error messages."""

    # -- state -----------------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        """True while connected (after :meth:`initialize`, before a failure or close)."""
        return self._session is not None and self._failure is None

    @property
    def failure(self) -> str | None:
        """Why the server is unavailable (None while it works)."""
        return self._failure

    def on_tools_changed(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the server announces that its tool list changed."""
        self._list_changed.append(callback)

    def invalidate_cache(self) -> None:
        """Forget the cached tool list (the next :meth:`list_tools` asks the server)."""
        self._cache = None

    # -- lifecycle -------------------------------------------------------------------------

    async def initialize(self) -> None:
        """Start the server/connection and run the MCP handshake.

        Raises :class:`MCPServerError` (with the reason) when the server cannot be reached or
        does not answer within ``client_session_timeout_seconds``.
        """
        async with self._init_lock:
            # a closed server may be opened again (e.g. by the next session using it)
            self._closed = False
            if self.initialized:
                return
            await self._shutdown_runner()
            self._failure = None
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._run(ready, self._stop), name="mcp_client")
            try:
                await asyncio.wait_for(asyncio.shield(ready), self._startup_timeout + 5.0)
            except asyncio.TimeoutError:
                await self._shutdown_runner()
                self._failure = f"did not start within {self._startup_timeout:g} s"
                raise MCPServerError(f"MCP server {self.label} {self._failure}") from None
            except BaseException as e:
                await self._shutdown_runner()
                if isinstance(e, MCPServerError):
                    raise
                raise MCPServerError(f"MCP server {self.label} failed to start: {e}") from e

    async def _run(self, ready: asyncio.Future[None], stop: asyncio.Event) -> None:
        try:
            async with self.client_streams() as streams:
                read, write = streams[0], streams[1]
                async with ClientSession(
                    read,
                    write,
                    # every request is bounded by its own timeout (the handshake by the
                    # startup timeout)
                    read_timeout_seconds=None,
                    message_handler=self._on_message,
                ) as session:
                    try:
                        with anyio.fail_after(self._startup_timeout):
                            await session.initialize()
                    except TimeoutError:
                        raise MCPServerError(
                            f"MCP server {self.label} did not answer the handshake within "
                            f"{self._startup_timeout:g} s"
                        ) from None
                    self._session = session
                    if not ready.done():
                        ready.set_result(None)
                    await stop.wait()
        except BaseException as e:
            reason = _describe(e)
            if not ready.done():
                ready.set_exception(
                    e
                    if isinstance(e, MCPServerError)
                    else MCPServerError(f"MCP server {self.label} failed to start: {reason}")
                )
            elif not stop.is_set():
                self._failure = f"stopped working: {reason}"
                logger.error("MCP server %s %s", self.label, self._failure)
            if isinstance(e, asyncio.CancelledError):
                raise
        finally:
            self._session = None
            started = ready.done() and not ready.cancelled() and ready.exception() is None
            if not stop.is_set() and self._failure is None and started:
                self._failure = "closed the connection"
                logger.error("MCP server %s closed the connection", self.label)

    async def _shutdown_runner(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if self._stop is not None:
            self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), 10.0)
        except asyncio.TimeoutError:
            logger.warning("MCP server %s did not shut down in time; cancelling", self.label)
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        except BaseException:
            pass  # its failure was already recorded

    async def aclose(self) -> None:
        """Close the connection (and stop the server process for stdio)."""
        self._closed = True
        await self._shutdown_runner()
        self._session = None

    async def __aenter__(self) -> MCPServer:
        await self.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- notifications ---------------------------------------------------------------------

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            logger.warning("MCP server %s: transport error: %s", self.label, message)
            return
        if isinstance(message, mcp_types.ToolListChangedNotification):
            logger.debug("MCP server %s: tool list changed", self.label)
            self.invalidate_cache()
            for cb in list(self._list_changed):
                try:
                    cb()
                except Exception:
                    logger.exception("tool list listener of %s failed", self.label)

    # -- tools -----------------------------------------------------------------------------

    def _live_session(self) -> ClientSession:
        session = self._session
        if self._closed:
            raise MCPServerError(f"MCP server {self.label} is closed")
        if self._failure is not None or session is None:
            reason = self._failure or "is not connected"
            raise MCPServerError(
                f"MCP server {self.label} is unavailable (it {reason}); its tools cannot be "
                "used right now"
            )
        return session

    async def list_tools(self) -> list[RawFunctionTool]:
        """The server's tools as function tools (cached until the server says they changed)."""
        if self._cache is not None:
            return list(self._cache)
        session = self._live_session()
        try:
            tools: list[mcp_types.Tool] = []
            cursor: str | None = None
            while True:
                params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await asyncio.wait_for(session.list_tools(params=params), self._timeout)
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
        except asyncio.TimeoutError:
            raise MCPServerError(
                f"MCP server {self.label} did not list its tools within {self._timeout:g} s"
            ) from None
        except MCPServerError:
            raise
        except Exception as e:
            raise MCPServerError(
                f"MCP server {self.label} failed to list its tools: {_describe(e)}"
            ) from e
        converted = [self._make_tool(t) for t in tools]
        self._cache = converted
        return list(converted)

    def _make_tool(self, tool: mcp_types.Tool) -> RawFunctionTool:
        name = tool.name
        schema: dict[str, Any] = {"name": name, "parameters": dict(tool.input_schema)}
        if tool.description:
            schema["description"] = tool.description

        async def call_mcp_tool(raw_arguments: dict[str, Any]) -> Any:
            return await self.call_tool(name, raw_arguments)

        return function_tool(call_mcp_tool, raw_schema=schema)

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Call tool ``name``; returns its output or raises ``ToolError`` with the reason."""
        session = self._live_session()
        args = dict(arguments)
        try:
            result = await asyncio.wait_for(
                session.call_tool(name, args, read_timeout_seconds=self._timeout),
                self._timeout + 1.0,
            )
        except asyncio.TimeoutError:
            raise self._call_failed(name, f"no answer within {self._timeout:g} s") from None
        except MCPError as e:
            if e.error.code == _CONNECTION_CLOSED and self._failure is None:
                self._failure = "closed the connection (the server stopped or crashed)"
            if self._failure is not None:
                raise self._call_failed(name, f"the server {self._failure}") from e
            if e.error.code == _REQUEST_TIMEOUT:
                raise self._call_failed(name, f"no answer within {self._timeout:g} s") from e
            raise self._call_failed(name, e.error.message or str(e)) from e
        except (TimeoutError, anyio.ClosedResourceError, anyio.BrokenResourceError) as e:
            if self._failure is None:
                self._failure = f"lost the connection ({_describe(e)})"
            raise self._call_failed(name, f"the server {self._failure}") from e
        except Exception as e:
            # e.g. a result that does not match the protocol's schema
            raise self._call_failed(name, f"invalid response: {_describe(e)}") from e
        return resolve_result(name, args, result, self._resolver)

    def _call_failed(self, name: str, reason: str) -> MCPServerError:
        message = f"calling {name!r} on MCP server {self.label} failed: {reason}"
        logger.error(message)
        return MCPServerError(message)


def _describe(e: BaseException) -> str:
    if isinstance(e, MCPError):
        return e.error.message
    group = getattr(e, "exceptions", None)
    if isinstance(group, (list, tuple)) and group:
        return "; ".join(_describe(x) for x in group)
    text = str(e).strip()
    if isinstance(e, asyncio.CancelledError):
        return "cancelled"
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def stdio_environment(env: Mapping[str, str] | None) -> dict[str, str]:
    """The environment of a stdio server: the safe variables of ours, plus ``env``."""
    out = {k: v for k, v in os.environ.items() if k in STDIO_INHERITED_ENV or k.startswith("LC_")}
    out = {k: v for k, v in out.items() if not v.startswith("()")}
    out.update(env or {})
    return out


class MCPServerStdio(MCPServer):
    """An MCP server run as a subprocess speaking over stdin/stdout.

    The process gets only ``env`` plus the basic variables it needs to run
    (:data:`STDIO_INHERITED_ENV` and ``LC_*``), so API keys of the agent's process do not leak
    into it. It is stopped by :meth:`aclose` (the session closes it).
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        client_session_timeout_seconds: float = 5.0,
        tool_result_resolver: MCPToolResultResolver | None = None,
        startup_timeout_seconds: float | None = None,
    ) -> None:
        super().__init__(
            client_session_timeout_seconds=client_session_timeout_seconds,
            tool_result_resolver=tool_result_resolver,
            startup_timeout_seconds=startup_timeout_seconds,
        )
        if not command:
            raise ValueError("MCPServerStdio needs a command to run")
        if isinstance(args, str):
            raise TypeError("args must be a list of strings, not a single string")
        self.command = command
        self.args = list(args or [])
        self.env = dict(env or {})
        self.cwd = cwd

    @property
    def label(self) -> str:
        return f"stdio:{Path(self.command).name}" + (f" {self.args[-1]}" if self.args else "")

    def client_streams(self) -> AbstractAsyncContextManager[Any]:
        params = StdioServerParameters(
            command=self.command,
            args=self.args,
            env=stdio_environment(self.env),
            cwd=self.cwd,
        )
        return stdio_client(params, errlog=sys.stderr)

    def __repr__(self) -> str:
        return f"MCPServerStdio(command={self.command!r}, args={self.args!r})"


HTTPTransport = Literal["streamable_http", "streamable-http", "sse"]


class MCPServerHTTP(MCPServer):
    """An MCP server reached over HTTP: streamable HTTP, or SSE for older servers.

    ``transport_type`` defaults to streamable HTTP when the URL path ends with ``/mcp`` and to
    SSE otherwise. ``headers`` (e.g. an ``Authorization``) are sent with every request.
    """

    def __init__(
        self,
        url: str,
        transport_type: HTTPTransport | None = None,
        allowed_tools: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        sse_read_timeout: float = 300.0,
        client_session_timeout_seconds: float = 5.0,
        tool_result_resolver: MCPToolResultResolver | None = None,
        startup_timeout_seconds: float | None = None,
    ) -> None:
        super().__init__(
            client_session_timeout_seconds=client_session_timeout_seconds,
            tool_result_resolver=tool_result_resolver,
            startup_timeout_seconds=startup_timeout_seconds,
        )
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"MCPServerHTTP needs an http(s) URL, got {url!r}")
        if transport_type is None:
            transport_type = (
                "streamable_http" if parsed.path.rstrip("/").endswith("/mcp") else "sse"
            )
        if transport_type not in ("streamable_http", "streamable-http", "sse"):
            raise ValueError(
                f"transport_type must be 'streamable_http' or 'sse', got {transport_type!r}"
            )
        self.url = url
        self.transport_type: Literal["streamable_http", "sse"] = (
            "sse" if transport_type == "sse" else "streamable_http"
        )
        self.allowed_tools = list(allowed_tools) if allowed_tools is not None else None
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.sse_read_timeout = sse_read_timeout

    @property
    def label(self) -> str:
        return f"{self.transport_type}:{self.url}"

    def client_streams(self) -> AbstractAsyncContextManager[Any]:
        if self.transport_type == "sse":
            return sse_client(
                self.url,
                headers=self.headers,
                timeout=self.timeout,
                sse_read_timeout=self.sse_read_timeout,
            )
        return self._streamable()

    @contextlib.asynccontextmanager
    async def _streamable(self) -> Any:
        client = httpx2.AsyncClient(
            headers=self.headers,
            timeout=httpx2.Timeout(self.timeout, read=self.sse_read_timeout),
        )
        async with client, streamable_http_client(self.url, http_client=client) as streams:
            yield streams

    async def list_tools(self) -> list[RawFunctionTool]:
        tools = await super().list_tools()
        if self.allowed_tools is None:
            return tools
        return [t for t in tools if t.info.name in self.allowed_tools]

    def __repr__(self) -> str:
        return f"MCPServerHTTP(url={self.url!r}, transport_type={self.transport_type!r})"


__all__ = [
    "STDIO_INHERITED_ENV",
    "MCPServer",
    "MCPServerError",
    "MCPServerHTTP",
    "MCPServerStdio",
    "stdio_environment",
]
