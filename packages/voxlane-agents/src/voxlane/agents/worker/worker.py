"""The worker: registers with a LiveKit server over the agent protocol and runs dispatched jobs.

Protocol (protobuf ``livekit.protocol.agent`` over a websocket at ``<url>/agent``, bearer token with
an agent grant): register -> status/load updates -> availability request/response -> assignment
-> job status updates; termination requests close a job; on reconnect, running jobs are re-claimed
with ``MigrateJobRequest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import pickle
import time
from typing import Any, Literal

import aiohttp
from aiohttp import web
from livekit.protocol import agent, models

from ..ipc.executor import ExecutorConfig, JobExecutor, JobOutcome
from ..ipc.job_runtime import JobRuntimeArgs
from ..ipc.proc_pool import ProcPool
from ..job.request import JobRequest
from ..job.types import JobAcceptArguments, JobExecutorType, RunningJobInfo
from ..utils.aio import Chan, ChanClosed, cancel_and_wait
from ..utils.events import EventEmitter
from ..utils.misc import shortuuid
from ..version import __version__
from .options import WorkerEnvOption, WorkerOptions

logger = logging.getLogger("voxlane.agents.worker")

REGISTER_TIMEOUT = 10.0
WS_HEARTBEAT = 30.0
MAX_BACKOFF = 10.0


def reconnect_delay(failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive failed connections: at once after the
    first, then 2 s more per failure, capped at ``MAX_BACKOFF``."""
    return min(2.0 * (failures - 1), MAX_BACKOFF)


FLUSH_TIMEOUT = 2.0

EventTypes = Literal["worker_started", "worker_registered", "job_started", "job_ended"]


def _livekit_api() -> Any:
    """``livekit.api`` (tokens), imported when a worker first connects: it costs ~0.14 s and
    ~20 MB at import time, which programs that only build options should not pay."""
    from livekit import api

    return api


class WorkerConnectionError(Exception):
    """The worker could not (re)connect to the LiveKit server."""


class UnpicklableJobFunctionError(TypeError):
    """A function of `WorkerOptions` cannot be sent to job processes."""


_NEWER_NAMES = {
    "entrypoint_fnc": " (the @server.rtc_session() function)",
    "prewarm_fnc": " (AgentServer setup_fnc)",
    "session_end_fnc": " (rtc_session on_session_end)",
}


def _check_picklable(opts: WorkerOptions) -> None:
    """Job processes receive these functions pickled: fail now, with the fix, not at the first
    job."""
    for name in ("entrypoint_fnc", "prewarm_fnc", "session_end_fnc", "room_factory"):
        fnc = getattr(opts, name)
        if fnc is None:
            continue
        try:
            pickle.dumps(fnc)
        except Exception as e:
            raise UnpicklableJobFunctionError(
                f"WorkerOptions.{name}{_NEWER_NAMES.get(name, '')} "
                f"({getattr(fnc, '__qualname__', fnc)!r}) cannot be sent to "
                f"a job process ({type(e).__name__}: {e}). Define it as a function at the top "
                "level of a module (not a lambda, a nested function or a bound method), or use "
                "job_executor_type=JobExecutorType.THREAD."
            ) from e


class Worker(EventEmitter[EventTypes]):
    """Runs jobs for a LiveKit server (``register=True``) or locally simulated jobs only."""

    def __init__(
        self,
        opts: WorkerOptions,
        *,
        devmode: bool = False,
        register: bool = True,
        log_level: int = logging.INFO,
    ) -> None:
        super().__init__()
        self._opts = opts
        self._devmode = devmode
        self._register = register
        self._load_threshold = WorkerEnvOption.getvalue(opts.load_threshold, devmode)
        self._num_idle = WorkerEnvOption.getvalue(opts.num_idle_processes, devmode)
        self._port = WorkerEnvOption.getvalue(opts.port, devmode)
        self._executor_type = opts.job_executor_type
        self._runtime_args = JobRuntimeArgs(
            entrypoint_fnc=opts.entrypoint_fnc,
            prewarm_fnc=opts.prewarm_fnc,
            room_factory=opts.room_factory,
            executor_type=opts.job_executor_type,
            shutdown_timeout=opts.shutdown_process_timeout,
            http_proxy=opts.http_proxy,
            log_level=log_level,
            session_end_fnc=opts.session_end_fnc,
            session_end_timeout=opts.session_end_timeout,
        )
        if opts.job_executor_type == JobExecutorType.PROCESS:
            _check_picklable(opts)
        self._exec_config = ExecutorConfig(
            initialize_timeout=opts.initialize_process_timeout,
            shutdown_timeout=opts.shutdown_process_timeout,
            ping_interval=opts.ping_interval,
            ping_timeout=opts.ping_timeout,
            high_ping_threshold=opts.high_ping_threshold,
            memory_warn_mb=opts.job_memory_warn_mb,
            memory_limit_mb=opts.job_memory_limit_mb,
            session_end_timeout=opts.session_end_timeout if opts.session_end_fnc else 0.0,
        )
        self._pool: ProcPool | None = None
        self._id = "unregistered"
        self._server_info: models.ServerInfo | None = None
        self._out_ch: Chan[agent.WorkerMessage] = Chan()
        self._pending_assignments: dict[str, asyncio.Future[agent.JobAssignment]] = {}
        self._reserved = 0
        self._load = 0.0
        self._draining = False
        self._running = False
        self._closing = False
        self._connected = False
        self._connection_failed = False
        self._pong_at: float | None = None
        self._server_rtt_ms: float | None = None
        self._conn_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed_ev = asyncio.Event()
        self._http_session: aiohttp.ClientSession | None = None
        self._health_runner: web.AppRunner | None = None
        self._health_port: int | None = None
        self._jobs_changed = asyncio.Event()
        self._ws_url = ""
        self._outcomes: dict[str, JobOutcome] = {}

    # -- properties ------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def options(self) -> WorkerOptions:
        return self._opts

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def load(self) -> float:
        """The last load value computed by ``load_fnc``."""
        return self._load

    @property
    def load_threshold(self) -> float:
        return self._load_threshold

    @property
    def active_jobs(self) -> list[RunningJobInfo]:
        if self._pool is None:
            return []
        return [e.running_job for e in self._pool.executors if e.running_job is not None]

    @property
    def job_outcomes(self) -> dict[str, JobOutcome]:
        """How finished jobs ended, by job id."""
        return dict(self._outcomes)

    @property
    def health_port(self) -> int | None:
        return self._health_port

    @property
    def connected(self) -> bool:
        return self._connected

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Start the pool (and the server connection); return when the worker is closed."""
        if self._running:
            raise RuntimeError("the worker is already running")
        self._running = True
        if self._register:
            self._ws_url = self._opts.resolve_url()
            self._opts.resolve_credentials()
        self._pool = ProcPool(
            args=self._runtime_args,
            config=self._exec_config,
            num_idle_processes=self._num_idle,
            executor_type=self._executor_type,
            mp_context=self._opts.multiprocessing_context,
            on_job_ended=self._on_job_ended,
        )
        self._pool.start()
        if self._port is not None and (self._port > 0 or self._devmode) and self._register:
            await self._start_health_server()
        self.emit("worker_started")
        if self._register:
            self._http_session = aiohttp.ClientSession()
            self._conn_task = asyncio.create_task(self._connection_task())
            waiter = asyncio.create_task(self._closed_ev.wait())
            await asyncio.wait({self._conn_task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if self._conn_task.done() and not self._conn_task.cancelled():
                exc = self._conn_task.exception()
                if exc is not None:
                    await cancel_and_wait(waiter)
                    await self.aclose()
                    raise exc
            await waiter
        else:
            await self._closed_ev.wait()

    async def drain(self, timeout: float | None = None) -> None:
        """Stop accepting jobs and wait (up to ``timeout``/``drain_timeout``) for running jobs."""
        if self._draining:
            return
        self._draining = True
        timeout = self._opts.drain_timeout if timeout is None else timeout
        logger.info("draining: no new jobs; waiting for %d running job(s)", len(self.active_jobs))
        self._queue_status()

        async def wait_empty() -> None:
            while self.active_jobs or self._reserved:
                self._jobs_changed.clear()
                await self._jobs_changed.wait()

        try:
            await asyncio.wait_for(wait_empty(), timeout)
        except asyncio.TimeoutError:
            logger.warning("drain_timeout (%g s) reached; closing running jobs", timeout)

    async def aclose(self) -> None:
        """Close the connection and every job (jobs get their shutdown callbacks)."""
        if self._closing:
            await self._closed_ev.wait()
            return
        self._closing = True
        for fut in self._pending_assignments.values():
            fut.cancel()
        if self._pool is not None:
            await self._pool.aclose()  # ends the jobs; their final statuses get queued
        # the send loop delivers what is queued, then stops on the closed channel
        self._out_ch.close()
        if self._conn_task is not None and not self._conn_task.done():
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(self._conn_task), FLUSH_TIMEOUT)
        await cancel_and_wait(self._conn_task, *self._tasks)
        if self._http_session is not None:
            await self._http_session.close()
        if self._health_runner is not None:
            await self._health_runner.cleanup()
        self._closed_ev.set()

    # -- simulated jobs (console, connect, tests) ------------------------------------------

    async def simulate_job(
        self,
        *,
        room: str,
        participant_identity: str = "",
        fake_job: bool = True,
        metadata: str = "",
        agent_identity: str = "",
    ) -> JobExecutor:
        """Run a job locally, without a server dispatch. Signs a room token when credentials
        are available (``connect`` subcommand); a fake job in a fake room needs none."""
        if self._pool is None:
            raise RuntimeError("start the worker (run()) before simulating jobs")
        job_id = shortuuid("SJ_")
        identity = agent_identity or f"agent-{job_id}"
        job = agent.Job(
            id=job_id,
            type=self._opts.worker_type.value,
            room=models.Room(name=room, sid=shortuuid("RM_")),
            agent_name=self._opts.agent_name,
            metadata=metadata,
        )
        if participant_identity:
            job.participant.CopyFrom(models.ParticipantInfo(identity=participant_identity))
        token = ""
        url = self._opts.ws_url
        if not fake_job:
            url = self._opts.resolve_url()
            key, secret = self._opts.resolve_credentials()
            token = (
                _livekit_api()
                .AccessToken(key, secret)
                .with_identity(identity)
                .with_kind("agent")
                .with_grants(_livekit_api().VideoGrants(room_join=True, room=room, agent=True))
                .to_jwt()
            )
        info = RunningJobInfo(
            accept_arguments=JobAcceptArguments(name="", identity=identity, metadata=""),
            job=job,
            url=url,
            token=token,
            worker_id=self._id,
            fake_job=fake_job,
        )
        return await self._launch(info)

    # -- job bookkeeping -----------------------------------------------------------------------

    async def _launch(self, info: RunningJobInfo) -> JobExecutor:
        assert self._pool is not None
        ex = await self._pool.launch_job(info)
        logger.info("job %s started (room %s, pid %s)", info.job.id, info.job.room.name, ex.pid)
        self.emit("job_started", info)
        self._jobs_changed.set()
        self._queue_status()
        return ex

    def _on_job_ended(self, ex: JobExecutor) -> None:
        info = ex.running_job
        outcome = ex.outcome
        assert info is not None and outcome is not None
        self._outcomes[info.job.id] = outcome
        if outcome.success:
            logger.info("job %s finished: %s", info.job.id, outcome.reason)
        else:
            logger.error("job %s failed: %s", info.job.id, outcome.error)
        if not info.fake_job:
            self._send(
                agent.WorkerMessage(
                    update_job=agent.UpdateJobStatus(
                        job_id=info.job.id,
                        status=agent.JobStatus.JS_SUCCESS
                        if outcome.success
                        else agent.JobStatus.JS_FAILED,
                        error=(outcome.error or "")[-2000:],
                    )
                )
            )
        self.emit("job_ended", info, outcome)
        self._jobs_changed.set()
        self._queue_status()

    # -- protocol -------------------------------------------------------------------------------

    def _send(self, msg: agent.WorkerMessage) -> None:
        with contextlib.suppress(ChanClosed):
            self._out_ch.send_nowait(msg)

    def _compute_load(self) -> float:
        fnc = self._opts.load_fnc
        try:
            takes_worker = len(inspect.signature(fnc).parameters) >= 1
            value = fnc(self) if takes_worker else fnc()  # type: ignore[call-arg]
            self._load = float(value)
        except Exception:
            logger.exception("load_fnc failed; keeping the previous load value")
        return self._load

    def _is_full(self, load: float) -> bool:
        return self._draining or load >= self._load_threshold

    def _status_message(self) -> agent.WorkerMessage:
        load = self._compute_load()
        status = (
            agent.WorkerStatus.WS_FULL if self._is_full(load) else agent.WorkerStatus.WS_AVAILABLE
        )
        return agent.WorkerMessage(
            update_worker=agent.UpdateWorkerStatus(
                status=status,
                load=load,
                job_count=len(self.active_jobs) + self._reserved,
                draining=self._draining,
            )
        )

    def _queue_status(self) -> None:
        if self._register and self._connected:
            self._send(self._status_message())

    def _auth_headers(self) -> dict[str, str]:
        key, secret = self._opts.resolve_credentials()
        lkapi = _livekit_api()
        token = lkapi.AccessToken(key, secret).with_grants(lkapi.VideoGrants(agent=True)).to_jwt()
        return {"Authorization": f"Bearer {token}"}

    async def _connection_task(self) -> None:
        assert self._http_session is not None
        failures = 0
        url = self._ws_url.rstrip("/") + "/agent"
        while not self._closing:
            try:
                ws = await self._http_session.ws_connect(
                    url, headers=self._auth_headers(), heartbeat=WS_HEARTBEAT
                )
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
                failures += 1
                self._connection_failed = True
                if failures > self._opts.max_retry:
                    raise WorkerConnectionError(
                        f"could not connect to the LiveKit server at {url} after {failures} "
                        f"attempts ({e}); check LIVEKIT_URL and that the server is running"
                    ) from e
                delay = reconnect_delay(failures)
                logger.warning("connecting to %s failed (%s); retrying in %.0f s", url, e, delay)
                await asyncio.sleep(delay)
                continue
            try:
                registered = await self._run_connection(ws)
            finally:
                self._connected = False
                await ws.close()
            if registered:
                failures = 0
            elif not self._closing:
                failures += 1
                if failures > self._opts.max_retry:
                    raise WorkerConnectionError(
                        f"the LiveKit server at {url} did not accept the worker registration "
                        f"after {failures} attempts"
                    )
                await asyncio.sleep(reconnect_delay(failures))
            if not self._closing:
                logger.warning("connection to the LiveKit server lost; reconnecting")

    async def _run_connection(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> bool:
        """Register, then serve the connection until it closes. Returns whether it registered."""
        register = agent.WorkerMessage(
            register=agent.RegisterWorkerRequest(
                type=self._opts.worker_type.value,
                agent_name=self._opts.agent_name,
                version=__version__,
                allowed_permissions=self._opts.permissions.to_proto(),
            )
        )
        await ws.send_bytes(register.SerializeToString())
        try:
            first = await asyncio.wait_for(ws.receive(), REGISTER_TIMEOUT)
        except asyncio.TimeoutError:
            logger.warning("no registration answer from the server within %g s", REGISTER_TIMEOUT)
            return False
        if first.type != aiohttp.WSMsgType.BINARY:
            logger.warning("unexpected first message from the server: %s", first.type)
            return False
        resp = agent.ServerMessage()
        resp.ParseFromString(first.data)
        if resp.WhichOneof("message") != "register":
            logger.warning("the server's first message is not a registration answer")
            return False
        self._id = resp.register.worker_id
        self._server_info = resp.register.server_info
        self._connected = True
        self._connection_failed = False
        logger.info("registered worker %s (agent_name=%r)", self._id, self._opts.agent_name)
        self.emit("worker_registered", self._id, self._server_info)

        running = self.active_jobs
        if running:
            self._send(
                agent.WorkerMessage(
                    migrate_job=agent.MigrateJobRequest(job_ids=[j.job.id for j in running])
                )
            )
        self._send(self._status_message())

        send_task = asyncio.create_task(self._send_loop(ws))
        recv_task = asyncio.create_task(self._recv_loop(ws))
        status_task = asyncio.create_task(self._status_loop())
        ping_task = asyncio.create_task(self._server_ping_loop())
        try:
            await asyncio.wait(
                {send_task, recv_task, status_task, ping_task},
                return_when=asyncio.FIRST_COMPLETED,
            )
            if self._closing and not send_task.done():
                # flush what is queued (final job statuses) before leaving
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(send_task), FLUSH_TIMEOUT)
        finally:
            await cancel_and_wait(send_task, recv_task, status_task, ping_task)
        return True

    async def _send_loop(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        while True:
            try:
                msg = await self._out_ch.recv()
            except ChanClosed:
                return
            try:
                await ws.send_bytes(msg.SerializeToString())
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                # keep the message for the next connection
                with contextlib.suppress(ChanClosed):
                    self._out_ch.send_nowait(msg)
                return

    async def _server_ping_loop(self) -> None:
        """Send ``WorkerPing`` every ``server_ping_interval``; return (so the worker reconnects)
        when a server that answered pings before stops answering for ``server_ping_timeout``.
        A server that never answers pings is left to the websocket heartbeat."""
        self._pong_at = None
        while True:
            now_ms = int(time.time() * 1000)
            self._send(agent.WorkerMessage(ping=agent.WorkerPing(timestamp=now_ms)))
            await asyncio.sleep(self._opts.server_ping_interval)
            if self._pong_at is None:
                continue
            silent = time.monotonic() - self._pong_at
            if silent > self._opts.server_ping_timeout:
                logger.warning(
                    "the LiveKit server answered no ping for %.1f s (server_ping_timeout); "
                    "reconnecting",
                    silent,
                )
                return

    def _on_pong(self, pong: agent.WorkerPong) -> None:
        self._pong_at = time.monotonic()
        self._server_rtt_ms = max(0.0, time.time() * 1000 - pong.last_timestamp)

    @property
    def server_rtt_ms(self) -> float | None:
        """Round trip of the last ``WorkerPing``/``WorkerPong`` with the server (None before
        the first pong)."""
        return self._server_rtt_ms

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self._opts.status_interval)
            self._send(self._status_message())

    async def _recv_loop(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        while True:
            msg = await ws.receive()
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.ERROR,
            ):
                return
            if msg.type != aiohttp.WSMsgType.BINARY:
                logger.warning("ignoring a non-binary message from the server")
                continue
            server_msg = agent.ServerMessage()
            try:
                server_msg.ParseFromString(msg.data)
            except Exception:
                logger.warning("ignoring an undecodable message from the server")
                continue
            which = server_msg.WhichOneof("message")
            if which == "availability":
                self._spawn(self._answer_availability(server_msg.availability))
            elif which == "assignment":
                self._on_assignment(server_msg.assignment)
            elif which == "termination":
                self._spawn(self._terminate(server_msg.termination.job_id))
            elif which == "pong":
                self._on_pong(server_msg.pong)
            elif which == "go_away":
                logger.info("the server asked the worker to go away: %s", server_msg.go_away.reason)
                return
            else:
                logger.debug("ignoring server message %s", which)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_assignment(self, assignment: agent.JobAssignment) -> None:
        fut = self._pending_assignments.get(assignment.job.id)
        if fut is None or fut.done():
            logger.warning(
                "received an assignment for job %s that was not accepted", assignment.job.id
            )
            return
        fut.set_result(assignment)

    async def _answer_availability(self, req: agent.AvailabilityRequest) -> None:
        job = req.job

        def answer(**kwargs: Any) -> None:
            self._send(
                agent.WorkerMessage(
                    availability=agent.AvailabilityResponse(job_id=job.id, **kwargs)
                )
            )

        load = self._compute_load()
        if self._is_full(load) or self._closing:
            logger.info(
                "refusing job %s (load %.2f, threshold %.2f, draining %s)",
                job.id,
                load,
                self._load_threshold,
                self._draining,
            )
            answer(available=False)
            return

        async def on_reject(terminate: bool) -> None:
            answer(available=False, terminate=terminate)

        async def on_accept(args: JobAcceptArguments) -> None:
            attributes = dict(args.attributes)
            if self._opts.agent_name:
                attributes.setdefault("lk.agent.name", self._opts.agent_name)
            fut: asyncio.Future[agent.JobAssignment] = asyncio.get_running_loop().create_future()
            self._pending_assignments[job.id] = fut
            self._reserved += 1
            try:
                answer(
                    available=True,
                    participant_identity=args.identity,
                    participant_name=args.name,
                    participant_metadata=args.metadata,
                    participant_attributes=attributes,
                )
                try:
                    assignment = await asyncio.wait_for(fut, self._opts.assignment_timeout)
                except asyncio.TimeoutError:
                    logger.warning(
                        "job %s: no assignment from the server within %g s",
                        job.id,
                        self._opts.assignment_timeout,
                    )
                    return
            finally:
                self._pending_assignments.pop(job.id, None)
                self._reserved -= 1
            info = RunningJobInfo(
                accept_arguments=args,
                job=assignment.job,
                url=assignment.url or self._ws_url,
                token=assignment.token,
                worker_id=self._id,
            )
            try:
                await self._launch(info)
            except Exception as e:
                logger.error("could not start job %s: %s", job.id, e)
                self._send(
                    agent.WorkerMessage(
                        update_job=agent.UpdateJobStatus(
                            job_id=job.id,
                            status=agent.JobStatus.JS_FAILED,
                            error=f"could not start the job: {e}",
                        )
                    )
                )
                self._jobs_changed.set()

        request = JobRequest(job=job, on_reject=on_reject, on_accept=on_accept)
        try:
            await self._opts.request_fnc(request)
        except Exception:
            logger.exception("request_fnc failed for job %s", job.id)
        if not request.answered:
            logger.warning("request_fnc neither accepted nor rejected job %s; rejecting", job.id)
            await request.reject()

    async def _terminate(self, job_id: str) -> None:
        if self._pool is None:
            return
        ex = self._pool.get_by_job_id(job_id)
        if ex is None:
            logger.warning("termination requested for unknown job %s", job_id)
            return
        await ex.aclose("terminated by the server")

    # -- health HTTP server -----------------------------------------------------------------

    async def _start_health_server(self) -> None:
        async def health(_: web.Request) -> web.Response:
            if self._connection_failed:
                return web.Response(status=503, text="cannot reach the LiveKit server")
            return web.Response(text="OK")

        async def worker_info(_: web.Request) -> web.Response:
            body = {
                "worker_id": self._id,
                "agent_name": self._opts.agent_name,
                "worker_type": self._opts.worker_type.name,
                "active_jobs": len(self.active_jobs),
                "load": self._load,
                "draining": self._draining,
                "sdk_version": __version__,
                "time": time.time(),
            }
            return web.Response(text=json.dumps(body), content_type="application/json")

        app = web.Application()
        app.router.add_get("/", health)
        app.router.add_get("/worker", worker_info)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._opts.host or "127.0.0.1", self._port)
        await site.start()
        self._health_runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self._health_port = int(sockets[0].getsockname()[1])
        logger.info("health check server on port %s", self._health_port)


__all__ = ["UnpicklableJobFunctionError", "Worker", "WorkerConnectionError"]
