"""A duplex, message-framed channel over a socket (a socketpair between worker and job).

Frame: 4-byte big-endian length, then a pickled message from :mod:`.messages`. Both ends are the
same program (the worker and the job process it spawned), so pickle is an internal format here.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import socket
import struct
from typing import cast

from .messages import MESSAGE_TYPES, Message

_HEADER = struct.Struct(">I")
MAX_MESSAGE_SIZE = 64 * 1024 * 1024


class ChannelClosed(Exception):
    """The other end closed the channel (or went away)."""


class IPCChannel:
    """Send and receive typed messages; one instance per end of the socketpair.

    Reads and writes use the socket directly (not a stream transport), so a failed write to a
    peer that already exited never discards messages it sent before exiting.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._buf = bytearray()
        self._send_lock = asyncio.Lock()
        self._closed = False
        self._eof = False

    @classmethod
    async def open(cls, sock: socket.socket) -> IPCChannel:
        """Wrap a connected socket for use in the running event loop."""
        return cls(sock)

    async def send(self, msg: Message) -> None:
        if not isinstance(msg, MESSAGE_TYPES):
            raise TypeError(f"not an IPC message: {type(msg).__name__}")
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        loop = asyncio.get_running_loop()
        async with self._send_lock:
            if self._closed:
                raise ChannelClosed("channel is closed")
            try:
                await loop.sock_sendall(self._sock, _HEADER.pack(len(data)) + data)
            except OSError as e:
                raise ChannelClosed(str(e)) from e

    async def _read_exactly(self, n: int) -> bytes:
        loop = asyncio.get_running_loop()
        while len(self._buf) < n:
            if self._eof or self._closed:
                raise ChannelClosed("the other end closed the channel")
            try:
                chunk = await loop.sock_recv(self._sock, max(65536, n - len(self._buf)))
            except OSError as e:
                raise ChannelClosed(f"the channel failed: {e}") from e
            if not chunk:
                self._eof = True
                continue
            self._buf += chunk
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def recv(self) -> Message:
        (size,) = _HEADER.unpack(await self._read_exactly(_HEADER.size))
        if size > MAX_MESSAGE_SIZE:
            raise ChannelClosed(f"IPC message too large ({size} bytes)")
        msg = pickle.loads(await self._read_exactly(size))
        if not isinstance(msg, MESSAGE_TYPES):
            raise ChannelClosed(f"unexpected object on the IPC channel: {type(msg).__name__}")
        return cast(Message, msg)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._send_lock:
            with contextlib.suppress(OSError):
                self._sock.close()


__all__ = ["MAX_MESSAGE_SIZE", "ChannelClosed", "IPCChannel"]
