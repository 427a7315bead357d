"""The worker side of the LiveKit agent protocol, against a fake server (thread executor)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from livekit.protocol import agent

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import vx_fake_livekit as fake  # noqa: E402
import vx_worker_jobs as jobs  # noqa: E402

from voxlane.agents.job import JobExecutorType, JobRequest  # noqa: E402
from voxlane.agents.worker import Worker, WorkerConnectionError, WorkerOptions  # noqa: E402


class Harness:
    def __init__(self, server: fake.FakeLiveKitServer, tmp: Path) -> None:
        self.server = server
        self.tmp = tmp
        self.worker: Worker | None = None
        self.task: asyncio.Task[None] | None = None

    def meta(self, mode: str) -> str:
        return json.dumps({"dir": str(self.tmp), "mode": mode})

    async def start(self, **overrides: Any) -> Worker:
        kwargs: dict[str, Any] = dict(
            entrypoint_fnc=jobs.entrypoint,
            prewarm_fnc=jobs.prewarm,
            room_factory=jobs.make_fake_room,
            job_executor_type=JobExecutorType.THREAD,
            ws_url=self.server.url,
            api_key=fake.API_KEY,
            api_secret=fake.API_SECRET,
            num_idle_processes=1,
            load_fnc=lambda: 0.0,
            load_threshold=0.7,
            status_interval=0.05,
            shutdown_process_timeout=5.0,
            port=0,
            agent_name="test-agent",
        )
        kwargs.update(overrides)
        self.worker = Worker(WorkerOptions(**kwargs))
        self.task = asyncio.create_task(self.worker.run())
        return self.worker

    def release(self, job_id: str) -> None:
        (self.tmp / f"{job_id}.release").write_text("go")

    async def wait_started(self, job_id: str) -> dict[str, Any]:
        path = self.tmp / f"{job_id}.started"
        for _ in range(3000):
            if path.exists():
                data: dict[str, Any] = json.loads(path.read_text())
                return data
            await asyncio.sleep(0.01)
        raise AssertionError(f"job {job_id} never started")

    async def close(self) -> None:
        if self.worker is not None:
            await self.worker.aclose()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    server = fake.FakeLiveKitServer()
    await server.start()
    h = Harness(server, tmp_path)
    try:
        yield h
    finally:
        await h.close()
        await server.stop()


async def test_register_and_dispatch_several_jobs(harness: Harness) -> None:
    await harness.start()
    conn = await harness.server.wait_connection(0)
    assert conn.register is not None
    assert conn.register.agent_name == "test-agent"
    assert conn.register.type == agent.JobType.JT_ROOM
    assert conn.register.allowed_permissions.agent

    ids = ["J1", "J2", "J3"]
    responses = [await conn.dispatch(i, metadata=harness.meta("wait_release")) for i in ids]
    assert all(r.available for r in responses)
    assert [r.participant_identity for r in responses] == [f"agent-{i}" for i in ids]
    assert responses[0].participant_attributes["lk.agent.name"] == "test-agent"

    for i in ids:
        started = await harness.wait_started(i)
        assert started["room"] == "room-1"
        assert started["userdata"]["model"] == "loaded"
        assert started["ctx_ok"]

    # the worker reports how many jobs it runs
    await conn.wait_for(lambda: any(s.job_count == 3 for s in conn.statuses))
    for i in ids:
        harness.release(i)
    for i in ids:
        status = await conn.wait_final_status(i)
        assert status.status == agent.JobStatus.JS_SUCCESS, status.error
    assert harness.worker is not None
    assert {j: o.reason for j, o in harness.worker.job_outcomes.items()} == {
        i: "released" for i in ids
    }


async def test_load_is_reported_and_jobs_refused_above_threshold(harness: Harness) -> None:
    load = {"value": 0.9}
    await harness.start(load_fnc=lambda: load["value"])
    conn = await harness.server.wait_connection(0)

    full = await conn.wait_for(lambda: [s for s in conn.statuses if abs(s.load - 0.9) < 1e-6])
    assert full[-1].status == agent.WorkerStatus.WS_FULL

    refused = await conn.dispatch("busy", metadata=harness.meta("wait_release"))
    assert not refused.available
    assert not (harness.tmp / "busy.started").exists()

    load["value"] = 0.2
    await conn.wait_for(
        lambda: (
            conn.statuses[-1].status == agent.WorkerStatus.WS_AVAILABLE
            and abs(conn.statuses[-1].load - 0.2) < 1e-6
        )
    )
    accepted = await conn.dispatch("ok", metadata=harness.meta("wait_release"))
    assert accepted.available
    await harness.wait_started("ok")
    harness.release("ok")
    assert (await conn.wait_final_status("ok")).status == agent.JobStatus.JS_SUCCESS


async def test_reconnect_reclaims_running_jobs(harness: Harness) -> None:
    await harness.start()
    conn = await harness.server.wait_connection(0)
    assert (await conn.dispatch("long", metadata=harness.meta("wait_release"))).available
    await harness.wait_started("long")

    await conn.close()  # the server drops the worker
    conn2 = await harness.server.wait_connection(1)
    migrations = await conn2.wait_for(lambda: conn2.migrations)
    assert list(migrations[0].job_ids) == ["long"]
    assert harness.worker is not None and harness.worker.id == conn2.worker_id

    # the job survived the reconnection and reports its end on the new connection
    harness.release("long")
    assert (await conn2.wait_final_status("long")).status == agent.JobStatus.JS_SUCCESS


async def test_termination_closes_the_job(harness: Harness) -> None:
    await harness.start()
    conn = await harness.server.wait_connection(0)
    assert (await conn.dispatch("T1", metadata=harness.meta("until_terminated"))).available
    await harness.wait_started("T1")
    await conn.terminate("T1")
    status = await conn.wait_final_status("T1")
    assert status.status == agent.JobStatus.JS_SUCCESS
    shutdown = json.loads((harness.tmp / "T1.shutdown").read_text())
    assert shutdown["reason"] == "terminated by the server"


async def test_crashing_entrypoint_is_reported_failed(harness: Harness) -> None:
    await harness.start()
    conn = await harness.server.wait_connection(0)
    assert (await conn.dispatch("C1", metadata=harness.meta("crash"))).available
    status = await conn.wait_final_status("C1")
    assert status.status == agent.JobStatus.JS_FAILED
    assert "boom from the entrypoint" in status.error


async def test_request_fnc_can_reject_or_customise(harness: Harness) -> None:
    async def request_fnc(req: JobRequest) -> None:
        if req.id.startswith("no"):
            await req.reject()
        else:
            await req.accept(name="Helper", identity="helper-1", attributes={"role": "support"})

    await harness.start(request_fnc=request_fnc)
    conn = await harness.server.wait_connection(0)
    rejected = await conn.dispatch("no-thanks", metadata=harness.meta("wait_release"))
    assert not rejected.available
    accepted = await conn.dispatch("yes", metadata=harness.meta("wait_release"))
    assert accepted.available
    assert accepted.participant_identity == "helper-1"
    assert accepted.participant_name == "Helper"
    assert accepted.participant_attributes["role"] == "support"
    await harness.wait_started("yes")
    harness.release("yes")
    await conn.wait_final_status("yes")


async def test_silent_request_fnc_rejects(harness: Harness) -> None:
    async def request_fnc(req: JobRequest) -> None:
        return None

    await harness.start(request_fnc=request_fnc)
    conn = await harness.server.wait_connection(0)
    assert not (await conn.dispatch("x", metadata=harness.meta("wait_release"))).available


async def test_wrong_credentials_give_a_clear_error(harness: Harness) -> None:
    worker = await harness.start(api_secret="not-the-right-secret-0123456789abcdef", max_retry=1)
    assert harness.task is not None
    with pytest.raises(WorkerConnectionError, match="could not connect"):
        await harness.task
    assert harness.server.rejected_auth >= 2
    assert worker.job_outcomes == {}


async def test_failed_connections_back_off_then_give_up(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    from voxlane.agents.worker.worker import MAX_BACKOFF, reconnect_delay

    assert [reconnect_delay(n) for n in (1, 2, 3, 7, 50)] == [
        0.0,
        2.0,
        4.0,
        MAX_BACKOFF,
        MAX_BACKOFF,
    ]
    caplog.set_level("WARNING", logger="voxlane")
    await harness.start(api_secret="not-the-right-secret-0123456789abcdef", max_retry=2)
    assert harness.task is not None
    with pytest.raises(WorkerConnectionError, match="after 3 attempts"):
        await harness.task
    delays = [
        r.getMessage().rsplit("retrying in ", 1)[1]
        for r in caplog.records
        if "retrying in" in r.getMessage()
    ]
    assert delays == ["0 s", "2 s"]
    assert harness.server.rejected_auth == 3


async def test_drain_refuses_new_jobs_and_waits(harness: Harness) -> None:
    worker = await harness.start()
    conn = await harness.server.wait_connection(0)
    assert (await conn.dispatch("D1", metadata=harness.meta("wait_release"))).available
    await harness.wait_started("D1")

    drain: asyncio.Task[None] = asyncio.create_task(worker.drain())
    await conn.wait_for(lambda: any(s.draining for s in conn.statuses))
    assert not (await conn.dispatch("D2", metadata=harness.meta("wait_release"))).available
    assert not drain.done()
    harness.release("D1")
    await asyncio.wait_for(drain, 30)
    assert (await conn.wait_final_status("D1")).status == agent.JobStatus.JS_SUCCESS


async def test_closing_the_worker_ends_jobs_and_reports_them(harness: Harness) -> None:
    worker = await harness.start()
    conn = await harness.server.wait_connection(0)
    assert (await conn.dispatch("K1", metadata=harness.meta("until_terminated"))).available
    await harness.wait_started("K1")
    await worker.aclose()
    status = await conn.wait_final_status("K1")
    assert status.status == agent.JobStatus.JS_SUCCESS
    shutdown = json.loads((harness.tmp / "K1.shutdown").read_text())
    assert shutdown["reason"] == "the worker is shutting down"


async def test_health_endpoints_in_dev_mode(harness: Harness) -> None:
    import aiohttp

    harness.worker = Worker(
        WorkerOptions(
            entrypoint_fnc=jobs.entrypoint,
            room_factory=jobs.make_fake_room,
            job_executor_type=JobExecutorType.THREAD,
            ws_url=harness.server.url,
            api_key=fake.API_KEY,
            api_secret=fake.API_SECRET,
            agent_name="health-agent",
        ),
        devmode=True,
    )
    harness.task = asyncio.create_task(harness.worker.run())
    conn = await harness.server.wait_connection(0)
    # dev mode: no load limit and no idle processes
    assert harness.worker.load_threshold == float("inf")
    port = harness.worker.health_port
    assert port is not None
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/") as resp:
            assert resp.status == 200 and await resp.text() == "OK"
        async with http.get(f"http://127.0.0.1:{port}/worker") as resp:
            info = await resp.json()
    assert info["worker_id"] == conn.worker_id
    assert info["agent_name"] == "health-agent"
    assert info["active_jobs"] == 0


async def test_server_pings_and_reconnect_when_the_server_stops_answering(
    harness: Harness,
) -> None:
    worker = await harness.start(server_ping_interval=0.05, server_ping_timeout=0.5)
    conn = await harness.server.wait_connection(0)
    await conn.wait_for(lambda: len(conn.pings) >= 3)
    assert all(p.timestamp > 0 for p in conn.pings)
    for _ in range(500):
        if worker.server_rtt_ms is not None:
            break
        await asyncio.sleep(0.01)
    assert worker.server_rtt_ms is not None and worker.server_rtt_ms >= 0
    assert (await conn.dispatch("P1", metadata=harness.meta("wait_release"))).available
    await harness.wait_started("P1")

    # the server still holds the socket but stops answering: the worker reconnects
    conn.answer_pings = False
    conn2 = await harness.server.wait_connection(1)
    migrations = await conn2.wait_for(lambda: conn2.migrations)
    assert list(migrations[0].job_ids) == ["P1"]
    harness.release("P1")
    assert (await conn2.wait_final_status("P1")).status == agent.JobStatus.JS_SUCCESS


async def test_a_server_that_never_answers_pings_is_not_dropped(harness: Harness) -> None:
    harness.server.answer_pings = False
    await harness.start(server_ping_interval=0.05, server_ping_timeout=0.2)
    conn = await harness.server.wait_connection(0)
    await conn.wait_for(lambda: len(conn.pings) >= 20)  # 1 s: five times the timeout
    assert len(harness.server.connections) == 1 and not conn.closed


async def test_accepted_job_without_assignment_is_dropped(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    worker = await harness.start(assignment_timeout=0.3)
    conn = await harness.server.wait_connection(0)
    with caplog.at_level(logging.WARNING, logger="voxlane.agents.worker"):
        resp = await conn.dispatch("lost", metadata=harness.meta("wait_release"), assign=False)
        assert resp.available
        await asyncio.sleep(1.0)  # several assignment timeouts
    assert "no assignment from the server within 0.3 s" in caplog.text
    assert not (harness.tmp / "lost.started").exists()
    assert worker.active_jobs == []
    # the slot reserved while waiting was counted, then freed
    assert any(s.job_count == 1 for s in conn.statuses)
    await conn.wait_for(lambda: conn.statuses[-1].job_count == 0)
    await asyncio.wait_for(worker.drain(), 5)  # nothing left to wait for
