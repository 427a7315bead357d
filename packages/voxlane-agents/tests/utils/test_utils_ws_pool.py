"""WSPool: sockets reused after clean use, closed after failures, expired when idle too long."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from voxlane.agents._exceptions import APIConnectionError
from voxlane.agents.utils.provider import WebSocket
from voxlane.agents.utils.ws_pool import WSPool


class _Socket:
    """Stands in for an aiohttp websocket: the pool only reads ``closed`` and calls ``close``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.closed = False

    async def close(self) -> bool:
        self.closed = True
        return True


class _Connector:
    def __init__(self) -> None:
        self.opened: list[_Socket] = []
        self.timeouts: list[float] = []
        self.fail = False

    async def __call__(self, timeout: float) -> WebSocket:
        self.timeouts.append(timeout)
        if self.fail:
            raise APIConnectionError("provider unreachable")
        sock = _Socket(len(self.opened))
        self.opened.append(sock)
        return cast(WebSocket, sock)


async def test_a_cleanly_released_socket_is_reused() -> None:
    connect = _Connector()
    pool = WSPool(connect)
    async with pool.connection(5.0) as first:
        pass
    assert pool.idle_count == 1
    async with pool.connection(5.0) as second:
        assert second is first
    assert pool.connections_opened == 1 and connect.timeouts == [5.0]
    await pool.aclose()
    assert pool.idle_count == 0 and connect.opened[0].closed


async def test_a_failing_block_closes_its_socket() -> None:
    connect = _Connector()
    pool = WSPool(connect)
    with pytest.raises(RuntimeError, match="mid-answer"):
        async with pool.connection(1.0):
            raise RuntimeError("mid-answer")
    assert connect.opened[0].closed and pool.idle_count == 0
    async with pool.connection(1.0) as ws:
        assert cast(_Socket, ws).n == 1
    assert pool.connections_opened == 2


async def test_a_cancelled_block_closes_its_socket() -> None:
    connect = _Connector()
    pool = WSPool(connect)
    entered = asyncio.Event()

    async def use() -> None:
        async with pool.connection(1.0):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(use())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert connect.opened[0].closed and pool.idle_count == 0


async def test_closed_sockets_are_not_handed_out_again() -> None:
    connect = _Connector()
    pool = WSPool(connect)
    ws = await pool.acquire(1.0)
    await pool.release(ws, reuse=True)
    connect.opened[0].closed = True  # the provider hung up while it waited
    again = await pool.acquire(1.0)
    assert cast(_Socket, again).n == 1
    await pool.release(again, reuse=False)
    assert connect.opened[1].closed and pool.idle_count == 0


@pytest.mark.virtual_clock
async def test_sockets_idle_longer_than_max_idle_are_replaced() -> None:
    connect = _Connector()
    pool = WSPool(connect, max_idle=30.0)
    ws = await pool.acquire(1.0)
    await pool.release(ws, reuse=True)
    await asyncio.sleep(10)
    assert await pool.acquire(1.0) is ws
    await pool.release(ws, reuse=True)
    await asyncio.sleep(31)
    fresh = await pool.acquire(1.0)
    assert fresh is not ws and connect.opened[0].closed


async def test_connect_failures_reach_the_caller() -> None:
    connect = _Connector()
    connect.fail = True
    pool = WSPool(connect)
    with pytest.raises(APIConnectionError, match="unreachable"):
        async with pool.connection(1.0):
            pass
    assert pool.connections_opened == 0


def test_max_idle_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_idle"):
        WSPool(_Connector(), max_idle=0)
