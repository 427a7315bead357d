"""A small pool of provider websockets, each used by one stream at a time and then reused.

Opening a websocket to a hosted TTS costs a TLS handshake and often an authentication round trip,
so a plugin keeps the sockets of streams that ended cleanly and hands them to the next stream::

    pool = WSPool(connect)                  # connect(timeout) -> an open websocket
    async with pool.connection(timeout) as ws:
        ...                                 # an exception closes ws instead of keeping it
    await pool.aclose()                     # when the plugin object closes
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from .provider import WebSocket

__all__ = ["Connect", "WSPool"]

Connect = Callable[[float], Awaitable[WebSocket]]
"""Opens a new websocket within the given timeout (seconds), raising an ``APIError`` on failure."""


class WSPool:
    """Hands out open websockets; a stream gives its socket back when it ended cleanly.

    Args:
        connect: opens a new websocket within the timeout (seconds) it is given.
        max_idle: seconds an unused socket is kept; older ones are closed instead of reused,
            since providers close idle connections.
    """

    def __init__(self, connect: Connect, *, max_idle: float = 50.0) -> None:
        if max_idle <= 0:
            raise ValueError(f"max_idle must be a positive number of seconds, got {max_idle}")
        self._connect = connect
        self._max_idle = max_idle
        self._idle: list[tuple[WebSocket, float]] = []
        self.connections_opened = 0
        """How many sockets ``connect`` opened so far (reuse keeps this low)."""

    @property
    def idle_count(self) -> int:
        """Sockets waiting to be reused."""
        return len(self._idle)

    async def acquire(self, timeout: float) -> WebSocket:
        """The most recently returned socket that is still open and fresh, else a new one."""
        now = asyncio.get_running_loop().time()
        while self._idle:
            ws, since = self._idle.pop()
            if not ws.closed and now - since < self._max_idle:
                return ws
            await _close_quietly(ws)
        ws = await self._connect(timeout)
        self.connections_opened += 1
        return ws

    async def release(self, ws: WebSocket, *, reuse: bool) -> None:
        """Give ``ws`` back: kept for reuse when ``reuse`` is True and it is open, else closed."""
        if reuse and not ws.closed:
            self._idle.append((ws, asyncio.get_running_loop().time()))
            return
        await _close_quietly(ws)

    @contextlib.asynccontextmanager
    async def connection(self, timeout: float) -> AsyncIterator[WebSocket]:
        """A socket for the ``async with`` block: kept for reuse when the block ends normally,
        closed when it raises (or is cancelled), since the provider may be mid-answer."""
        ws = await self.acquire(timeout)
        clean = False
        try:
            yield ws
            clean = True
        finally:
            await self.release(ws, reuse=clean)

    async def aclose(self) -> None:
        """Close every idle socket (sockets in use are closed by their streams)."""
        idle, self._idle = self._idle, []
        for ws, _ in idle:
            await _close_quietly(ws)


async def _close_quietly(ws: WebSocket) -> None:
    with contextlib.suppress(Exception):
        await ws.close()
