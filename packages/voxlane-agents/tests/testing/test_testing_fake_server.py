"""testing.fake_server: a fake provider served from its own thread, faults, hang release."""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import pytest
from aiohttp import web

from voxlane.agents._exceptions import APIConnectionError, APIStatusError
from voxlane.agents.testing.fake_server import (
    FakeProviderServer,
    Fault,
    Recorded,
    spread_words,
    status_fault_injector,
)


class _FakeEcho(FakeProviderServer):
    def __init__(self) -> None:
        super().__init__(name="Echo", fault_routes=("echo",), base_path="/v1/")
        self.threads: list[int] = []
        self.request_seen = threading.Event()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/echo", self._echo)

    async def _echo(self, request: web.Request) -> web.Response:
        self.threads.append(threading.get_ident())
        self.request_seen.set()
        fault = self.take_fault("echo")
        if fault is not None and fault.kind == "status":
            return web.json_response({"error": "injected"}, status=fault.status)
        if fault is not None and fault.kind == "hang":
            await self.stopping.wait()
            return web.Response(status=599)
        return web.Response(text=await request.text())


async def test_serves_on_loopback_from_another_thread() -> None:
    async with _FakeEcho() as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{server.base_url}/echo", data="hi") as resp,
        ):
            assert resp.status == 200 and await resp.text() == "hi"
    assert server.threads and server.threads[0] != threading.get_ident()


async def test_faults_are_taken_in_order_then_requests_succeed() -> None:
    async with _FakeEcho() as server, aiohttp.ClientSession() as http:
        server.fail_next("echo", Fault("status", status=429), times=2)
        statuses = []
        for _ in range(3):
            async with http.post(f"{server.base_url}/echo", data="x") as resp:
                statuses.append(resp.status)
        assert statuses == [429, 429, 200]
        with pytest.raises(ValueError, match="no fault route 'tts'"):
            server.fail_next("tts", Fault("hang"))


async def test_stop_releases_a_hanging_request() -> None:
    server = _FakeEcho()
    await server.start()
    server.fail_next("echo", Fault("hang"))
    async with aiohttp.ClientSession() as http:
        pending = asyncio.create_task(http.post(f"{server.base_url}/echo", data="x"))
        assert await asyncio.to_thread(server.request_seen.wait, 10)
        await server.stop()
        try:
            resp = await pending
            assert resp.status == 599
            resp.release()
        except aiohttp.ClientError:
            pass  # the connection was cut by the shutdown: also released


async def test_a_server_without_routes_says_what_is_missing() -> None:
    bare = FakeProviderServer(name="Bare")
    with pytest.raises(RuntimeError, match="must implement add_routes"):
        await bare.start()
    with pytest.raises(RuntimeError, match="not running"):
        _ = bare.stopping


async def test_status_fault_injector_maps_retryable_errors_to_503() -> None:
    server = _FakeEcho()
    inject = status_fault_injector(server, "echo")
    inject(APIConnectionError("x"), 2)
    inject(APIStatusError("bad key", status_code=401), 1)
    assert [f.status for f in server.faults["echo"]] == [503, 503, 401]


def test_spread_words() -> None:
    assert spread_words(["a", "b"], 1.0, 2.0) == [
        {"word": "a", "start": 1.0, "end": 1.5},
        {"word": "b", "start": 1.5, "end": 2.0},
    ]
    assert spread_words([], 0.0, 1.0) == []


class _FakeGuarded(FakeProviderServer):
    def __init__(self) -> None:
        super().__init__(name="Guarded", fault_routes=("speak",))
        self.requests: list[Recorded] = []
        self.faults_played: list[str | None] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/speak", self._speak)

    async def _speak(self, request: web.Request) -> web.Response:
        fault, refusal = self.admit(
            request,
            "speak",
            authorized=request.headers.get("key") == "good",
            refuse=lambda status, injected: web.json_response(
                {"injected": injected}, status=status
            ),
        )
        if refusal is not None:
            return refusal
        rec = Recorded.of(request)
        rec.messages.append(await request.text())
        self.requests.append(rec)
        self.faults_played.append(fault.kind if fault is not None else None)
        return web.Response(text="ok")


async def test_admit_refuses_bad_keys_and_status_faults_then_records() -> None:
    async with _FakeGuarded() as server, aiohttp.ClientSession() as session:
        server.fail_next("speak", Fault("status", status=503))
        server.fail_next("speak", Fault("hang"))
        url = f"{server.base_url}/speak?voice=v1"
        async with session.post(url, data="x", headers={"key": "bad"}) as resp:
            assert resp.status == 401 and await resp.json() == {"injected": False}
        async with session.post(url, data="x", headers={"key": "good"}) as resp:
            assert resp.status == 503 and await resp.json() == {"injected": True}
        async with session.post(url, data="hello", headers={"key": "good"}) as resp:
            assert resp.status == 200
    # the bad key did not consume a fault; the "hang" fault went to the handler to play
    assert server.faults_played == ["hang"]
    (rec,) = server.requests
    assert rec.path == "/speak" and rec.query == {"voice": "v1"} and rec.messages == ["hello"]
    assert rec.headers["key"] == "good" and rec.audio_bytes == 0 and not rec.closed_by_server
