"""A fake LiveKit server speaking the agent (worker) protocol, for tests.

It is built from the same protobuf messages as a real server (``livekit.protocol.agent``) and
checks the worker's bearer token with ``livekit.api.TokenVerifier``. Tests drive it: dispatch jobs,
terminate them, drop connections, and inspect what the worker reported.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web
from livekit import api
from livekit.protocol import agent, models

API_KEY = "test-key"
API_SECRET = "test-secret-with-enough-length-1234567890"

_ids = itertools.count(1)


class FakeWorkerConnection:
    """One registered worker connection, with everything it sent."""

    def __init__(self, server: FakeLiveKitServer, ws: web.WebSocketResponse) -> None:
        self.server = server
        self.ws = ws
        self.worker_id = f"W_{next(_ids)}"
        self.register: agent.RegisterWorkerRequest | None = None
        self.statuses: list[agent.UpdateWorkerStatus] = []
        self.job_updates: list[agent.UpdateJobStatus] = []
        self.migrations: list[agent.MigrateJobRequest] = []
        self.availability: dict[str, agent.AvailabilityResponse] = {}
        self.pings: list[agent.WorkerPing] = []
        self.answer_pings = server.answer_pings
        """Set to False to play a server that stopped answering (but keeps the socket open)."""
        self.closed = False
        self._changed = asyncio.Condition()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        async def wait() -> Any:
            async with self._changed:
                while True:
                    value = predicate()
                    if value:
                        return value
                    await self._changed.wait()

        return await asyncio.wait_for(wait(), timeout)

    async def send(self, msg: agent.ServerMessage) -> None:
        await self.ws.send_bytes(msg.SerializeToString())

    async def dispatch(
        self, job_id: str, *, metadata: str = "", room: str = "room-1", assign: bool = True
    ) -> agent.AvailabilityResponse:
        """Offer a job; when the worker accepts (and ``assign``), send the assignment."""
        job = agent.Job(
            id=job_id,
            type=agent.JobType.JT_ROOM,
            room=models.Room(name=room, sid=f"RM_{job_id}"),
            metadata=metadata,
        )
        await self.send(agent.ServerMessage(availability=agent.AvailabilityRequest(job=job)))
        resp: agent.AvailabilityResponse = await self.wait_for(
            lambda: self.availability.get(job_id)
        )
        if resp.available and assign:
            await self.send(
                agent.ServerMessage(
                    assignment=agent.JobAssignment(job=job, url="ws://127.0.0.1:1", token="tok")
                )
            )
        return resp

    async def terminate(self, job_id: str) -> None:
        await self.send(agent.ServerMessage(termination=agent.JobTermination(job_id=job_id)))

    def final_status(self, job_id: str) -> agent.UpdateJobStatus | None:
        for u in self.job_updates:
            if u.job_id == job_id and u.status in (
                agent.JobStatus.JS_SUCCESS,
                agent.JobStatus.JS_FAILED,
            ):
                return u
        return None

    async def wait_final_status(self, job_id: str, timeout: float = 60.0) -> agent.UpdateJobStatus:
        result: agent.UpdateJobStatus = await self.wait_for(
            lambda: self.final_status(job_id), timeout
        )
        return result

    async def close(self) -> None:
        """Drop the connection from the server side."""
        await self.ws.close()

    async def _serve(self) -> None:
        async for raw in self.ws:
            if raw.type != WSMsgType.BINARY:
                continue
            msg = agent.WorkerMessage()
            msg.ParseFromString(raw.data)
            which = msg.WhichOneof("message")
            if which == "update_worker":
                self.statuses.append(msg.update_worker)
            elif which == "update_job":
                self.job_updates.append(msg.update_job)
            elif which == "availability":
                self.availability[msg.availability.job_id] = msg.availability
            elif which == "migrate_job":
                self.migrations.append(msg.migrate_job)
            elif which == "ping":
                self.pings.append(msg.ping)
                if not self.answer_pings:
                    await self._notify()
                    continue
                await self.send(
                    agent.ServerMessage(
                        pong=agent.WorkerPong(
                            last_timestamp=msg.ping.timestamp, timestamp=msg.ping.timestamp
                        )
                    )
                )
            await self._notify()
        self.closed = True
        await self._notify()


class FakeLiveKitServer:
    """An aiohttp websocket server on 127.0.0.1 with the ``/agent`` endpoint."""

    def __init__(self, api_key: str = API_KEY, api_secret: str = API_SECRET) -> None:
        self._verifier = api.TokenVerifier(api_key, api_secret)
        self.connections: list[FakeWorkerConnection] = []
        self.rejected_auth = 0
        self.accept_connections = True
        self.answer_pings = True
        """Whether new connections answer ``WorkerPing`` (a server without pings when False)."""
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/agent", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        for c in self.connections:
            if not c.ws.closed:
                await c.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_connection(self, index: int, timeout: float = 30.0) -> FakeWorkerConnection:
        """Wait for the ``index``-th registered connection (0-based)."""

        async def wait() -> FakeWorkerConnection:
            async with self._changed:
                while len(self.connections) <= index:
                    await self._changed.wait()
                return self.connections[index]

        return await asyncio.wait_for(wait(), timeout)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not self.accept_connections:
            return web.Response(status=503, text="unavailable")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            self.rejected_auth += 1
            return web.Response(status=401, text="missing token")
        try:
            claims = self._verifier.verify(auth.removeprefix("Bearer "))
        except Exception:
            self.rejected_auth += 1
            return web.Response(status=401, text="invalid token")
        if not claims.video or not claims.video.agent:
            self.rejected_auth += 1
            return web.Response(status=403, text="token lacks the agent grant")

        ws = web.WebSocketResponse()
        await ws.prepare(request)
        first = await ws.receive()
        reg = agent.WorkerMessage()
        reg.ParseFromString(first.data)
        if reg.WhichOneof("message") != "register":
            await ws.close()
            return ws
        conn = FakeWorkerConnection(self, ws)
        conn.register = reg.register
        await conn.send(
            agent.ServerMessage(
                register=agent.RegisterWorkerResponse(
                    worker_id=conn.worker_id,
                    server_info=models.ServerInfo(version="fake-1.0"),
                )
            )
        )
        async with self._changed:
            self.connections.append(conn)
            self._changed.notify_all()
        await conn._serve()
        return ws
