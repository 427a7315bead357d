"""A small pool of websocket connections, each used by one stream at a time and then reused."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from ._utils import WebSocket

Connect = Callable[[float], Awaitable[WebSocket]]


class WSPool:
    """Hands out open websockets; a stream gives its socket back when it ended cleanly.

    ``max_idle`` (seconds) drops sockets that waited too long, since providers close idle ones.
    """

    def __init__(self, connect: Connect, *, max_idle: float = 50.0) -> None:
        self._connect = connect
        self._max_idle = max_idle
        self._idle: list[tuple[WebSocket, float]] = []
        self.connections_opened = 0

    async def acquire(self, timeout: float) -> WebSocket:
        now = asyncio.get_running_loop().time()
        while self._idle:
            ws, since = self._idle.pop()
            if not ws.closed and now - since < self._max_idle:
                return ws
            with contextlib.suppress(Exception):
                await ws.close()
        ws = await self._connect(timeout)
        self.connections_opened += 1
        return ws

    async def release(self, ws: WebSocket, *, reuse: bool) -> None:
        """Give ``ws`` back (``reuse=True`` when its conversation ended cleanly) or close it."""
        if reuse and not ws.closed:
            self._idle.append((ws, asyncio.get_running_loop().time()))
            return
        with contextlib.suppress(Exception):
            await ws.close()

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for ws, _ in idle:
            with contextlib.suppress(Exception):
                await ws.close()
