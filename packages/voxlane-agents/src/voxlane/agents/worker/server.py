"""`AgentServer` and ``@server.rtc_session()``: the newer (LiveKit Agents 1.3+) worker API.

    server = AgentServer(setup_fnc=prewarm, num_idle_processes=2)

    @server.rtc_session(agent_name="support", on_session_end=store_report)
    async def entrypoint(ctx: JobContext) -> None: ...

    if __name__ == "__main__":
        cli.run_app(server)

An `AgentServer` holds the same settings as `WorkerOptions` (`ServerOptions`); the decorator adds
what belongs to the session: the entrypoint, its dispatch name and type, the request handler and
the end-of-session hook. ``cli.run_app`` turns it into `WorkerOptions` and runs it exactly as it
runs ``cli.run_app(WorkerOptions(...))``.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..job.context import JobContext, JobProcess
from ..job.request import JobRequest
from ..job.types import RunningJobInfo
from .options import ServerType, WorkerEnvOption, WorkerOptions, _default_request_fnc

if TYPE_CHECKING:
    from ..ipc.executor import JobExecutor
    from .worker import Worker

EntrypointFnc = Callable[[JobContext], Awaitable[None]]
RequestFnc = Callable[[JobRequest], Awaitable[None]]
SessionEndFnc = Callable[[JobContext], Awaitable[None]]
E = TypeVar("E", bound=EntrypointFnc)

_SESSION_FIELDS = {
    "entrypoint_fnc": "decorate the entrypoint with @server.rtc_session()",
    "request_fnc": "pass it as @server.rtc_session(on_request=...)",
    "agent_name": "pass it as @server.rtc_session(agent_name=...)",
    "worker_type": "pass it as @server.rtc_session(type=ServerType....)",
    "session_end_fnc": "pass it as @server.rtc_session(on_session_end=...)",
}
"""WorkerOptions fields that `AgentServer` takes from the decorator, not from its constructor."""


class MissingRtcSessionError(RuntimeError):
    """The `AgentServer` has no entrypoint: nothing was decorated with ``@server.rtc_session()``."""


async def _no_rtc_session(ctx: JobContext) -> None:
    raise MissingRtcSessionError(_MISSING_MESSAGE)


_MISSING_MESSAGE = (
    "this AgentServer has no entrypoint: decorate the async function that runs each job with "
    "@server.rtc_session() (at the top level of your module) before cli.run_app(server)"
)


def _default_server_idle_processes() -> int:
    return os.cpu_count() or 1


class AgentServer:
    """A worker configured with the newer LiveKit API.

    Takes every `WorkerOptions` setting as a keyword argument, except those set by
    :meth:`rtc_session` (``entrypoint_fnc``, ``request_fnc``, ``agent_name``, ``worker_type``,
    ``session_end_fnc``). ``setup_fnc`` is the newer name of ``prewarm_fnc``.

    One default differs from `WorkerOptions`, as in LiveKit: in production ``num_idle_processes``
    is the number of CPUs (``os.cpu_count()``, at least 1) instead of ``min(cpus, 4)``; it is
    still 0 in development (``dev``, ``console``).
    """

    def __init__(
        self,
        *,
        setup_fnc: Callable[[JobProcess], Any] | None = None,
        **options: Any,
    ) -> None:
        for name, fix in _SESSION_FIELDS.items():
            if name in options:
                raise TypeError(f"AgentServer() does not take {name}: {fix}")
        if setup_fnc is not None and "prewarm_fnc" in options:
            raise TypeError(
                "AgentServer() got both setup_fnc and prewarm_fnc (the older name of the same "
                "setting); pass only setup_fnc"
            )
        if setup_fnc is not None:
            options["prewarm_fnc"] = setup_fnc
        options.setdefault(
            "num_idle_processes",
            WorkerEnvOption(dev_default=0, prod_default=_default_server_idle_processes()),
        )
        allowed = {f.name for f in dataclasses.fields(WorkerOptions)} - set(_SESSION_FIELDS)
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise TypeError(
                f"AgentServer() got unknown option(s) {', '.join(unknown)}; valid options: "
                f"setup_fnc, {', '.join(sorted(allowed))}"
            )
        # validates every setting now (a placeholder stands for the entrypoint until decorated)
        self._base = WorkerOptions(entrypoint_fnc=_no_rtc_session, **options)
        self._entrypoint: EntrypointFnc | None = None
        self._agent_name = ""
        self._type = ServerType.ROOM
        self._on_request: RequestFnc | None = None
        self._on_session_end: SessionEndFnc | None = None
        self._worker: Worker | None = None

    @classmethod
    def from_server_options(cls, opts: WorkerOptions) -> AgentServer:
        """An `AgentServer` running what ``opts`` (a `ServerOptions`/`WorkerOptions`) describes."""
        if not isinstance(opts, WorkerOptions):
            raise TypeError(
                f"from_server_options() needs a ServerOptions/WorkerOptions, got "
                f"{type(opts).__name__}"
            )
        settings = {
            f.name: getattr(opts, f.name)
            for f in dataclasses.fields(WorkerOptions)
            if f.name not in _SESSION_FIELDS
        }
        server = cls(**settings)
        server.rtc_session(
            opts.entrypoint_fnc,
            agent_name=opts.agent_name,
            type=opts.worker_type,
            on_request=opts.request_fnc,
            on_session_end=opts.session_end_fnc,
        )
        return server

    # -- configuration -------------------------------------------------------------------------

    @property
    def setup_fnc(self) -> Callable[[JobProcess], Any]:
        """Runs once in each job process before its job (``prewarm_fnc``); settable."""
        return self._base.prewarm_fnc

    @setup_fnc.setter
    def setup_fnc(self, fnc: Callable[[JobProcess], Any]) -> None:
        if not callable(fnc):
            raise TypeError(
                f"AgentServer.setup_fnc must be a function taking a JobProcess, got {fnc!r}"
            )
        self._base = dataclasses.replace(self._base, prewarm_fnc=fnc)

    @property
    def entrypoint(self) -> EntrypointFnc | None:
        """The function registered with :meth:`rtc_session` (None before)."""
        return self._entrypoint

    @overload
    def rtc_session(
        self,
        func: E,
        *,
        agent_name: str = "",
        type: ServerType = ServerType.ROOM,
        on_request: RequestFnc | None = None,
        on_session_end: SessionEndFnc | None = None,
    ) -> E: ...

    @overload
    def rtc_session(
        self,
        func: None = None,
        *,
        agent_name: str = "",
        type: ServerType = ServerType.ROOM,
        on_request: RequestFnc | None = None,
        on_session_end: SessionEndFnc | None = None,
    ) -> Callable[[E], E]: ...

    def rtc_session(
        self,
        func: E | None = None,
        *,
        agent_name: str = "",
        type: ServerType = ServerType.ROOM,
        on_request: RequestFnc | None = None,
        on_session_end: SessionEndFnc | None = None,
    ) -> E | Callable[[E], E]:
        """Register the entrypoint run for every job (one per server).

        - ``agent_name``: set for explicit dispatch (empty: LIVEKIT_AGENT_NAME, else automatic).
        - ``type``: a job per room (``ServerType.ROOM``) or per publisher.
        - ``on_request``: ``async (JobRequest) -> None`` deciding on each job, in the worker
          (default: accept).
        - ``on_session_end``: ``async (JobContext) -> None`` run in the job process after the
          job ended and its shutdown callbacks ran (limit: ``session_end_timeout``).

        The decorated function is returned unchanged, so a module-level entrypoint stays
        importable by name in job processes. Works with and without parentheses.
        """
        if not isinstance(agent_name, str):
            raise TypeError(f"rtc_session(agent_name=...) must be a str, got {agent_name!r}")
        if not isinstance(type, ServerType):
            raise TypeError(
                f"rtc_session(type=...) must be ServerType.ROOM or ServerType.PUBLISHER, "
                f"got {type!r}"
            )
        for label, fnc, arg in (
            ("on_request", on_request, "JobRequest"),
            ("on_session_end", on_session_end, "JobContext"),
        ):
            if fnc is not None and not inspect.iscoroutinefunction(fnc):
                raise TypeError(
                    f"rtc_session({label}=...) must be an `async def` function taking a {arg}, "
                    f"got {fnc!r}"
                )

        def register(fnc: E) -> E:
            if self._entrypoint is not None:
                raise RuntimeError(
                    "an AgentServer runs one rtc_session: "
                    f"{_name(self._entrypoint)} is already registered, so "
                    f"{_name(fnc)} cannot be; use a second AgentServer (in its own program) "
                    "for another agent"
                )
            if not _is_async(fnc):
                raise TypeError(
                    "@server.rtc_session() must decorate an `async def` function taking a "
                    f"JobContext, got {_name(fnc)}"
                )
            self._entrypoint = fnc
            self._agent_name = agent_name
            self._type = type
            self._on_request = on_request
            self._on_session_end = on_session_end
            return fnc

        if func is not None:
            return register(func)
        return register

    def to_server_options(self) -> WorkerOptions:
        """The `ServerOptions` (`WorkerOptions`) this server runs with; a fresh copy each time.

        Raises `MissingRtcSessionError` when no entrypoint was registered."""
        if self._entrypoint is None:
            raise MissingRtcSessionError(_MISSING_MESSAGE)
        return dataclasses.replace(
            self._base,
            entrypoint_fnc=self._entrypoint,
            request_fnc=self._on_request or _default_request_fnc,
            agent_name=self._agent_name,
            worker_type=self._type,
            session_end_fnc=self._on_session_end,
        )

    # -- running it in-process -----------------------------------------------------------------

    async def run(self, *, devmode: bool = False, unregistered: bool = False) -> None:
        """Run the worker in this event loop until :meth:`aclose` (``cli.run_app`` does this for
        programs). ``unregistered=True`` starts only the process pool, for
        :meth:`simulate_job`."""
        from .worker import Worker

        if self._worker is not None:
            raise RuntimeError("this AgentServer is already running")
        self._worker = Worker(
            self.to_server_options(),
            devmode=devmode,
            register=not unregistered,
            log_level=logging.DEBUG if devmode else logging.INFO,
        )
        await self._worker.run()

    @property
    def worker(self) -> Worker:
        """The running worker (after :meth:`run` started)."""
        if self._worker is None:
            raise RuntimeError("the AgentServer is not running: await server.run() first")
        return self._worker

    @property
    def id(self) -> str:
        return self._worker.id if self._worker is not None else "unregistered"

    @property
    def active_jobs(self) -> list[RunningJobInfo]:
        return self._worker.active_jobs if self._worker is not None else []

    async def simulate_job(
        self, room: str, participant_identity: str = "", *, fake_job: bool = True
    ) -> JobExecutor:
        """Run one job locally, without a server dispatch (see `Worker.simulate_job`)."""
        return await self.worker.simulate_job(
            room=room, participant_identity=participant_identity, fake_job=fake_job
        )

    async def drain(self, timeout: float | None = None) -> None:
        """Take no new jobs; wait for the running ones (up to ``drain_timeout``)."""
        await self.worker.drain(timeout)

    async def aclose(self) -> None:
        """Stop the worker and its jobs (no-op when not running)."""
        if self._worker is not None:
            await self._worker.aclose()


def _is_async(fnc: object) -> bool:
    # a plain bool: inspect.iscoroutinefunction's TypeGuard would widen the decorated type
    return inspect.iscoroutinefunction(fnc)


def _name(fnc: Any) -> str:
    return str(getattr(fnc, "__qualname__", None) or repr(fnc))


__all__ = ["AgentServer", "MissingRtcSessionError"]
