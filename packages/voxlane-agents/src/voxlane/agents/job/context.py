"""`JobContext` and `JobProcess`: what an entrypoint sees while it runs one job."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from livekit import rtc
from livekit.protocol import agent

from .room_surface import RoomLike
from .types import AutoSubscribe, JobExecutorType, RunningJobInfo

if TYPE_CHECKING:
    from livekit import api

logger = logging.getLogger("voxlane.agents.job")

ShutdownCallback = Callable[[], Awaitable[None]] | Callable[[str], Awaitable[None]]
ParticipantEntrypoint = Callable[["JobContext", Any], Awaitable[None]]

DEFAULT_PARTICIPANT_KINDS: tuple[rtc.ParticipantKind.ValueType, ...] = (
    rtc.ParticipantKind.PARTICIPANT_KIND_SIP,
    rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,
    rtc.ParticipantKind.PARTICIPANT_KIND_CONNECTOR,
)
"""Participant kinds treated as the humans an agent talks to."""

_job_context_var: contextvars.ContextVar[JobContext] = contextvars.ContextVar("voxlane_job_ctx")


def get_job_context() -> JobContext:
    """Return the `JobContext` of the job running in this task (inside an entrypoint)."""
    ctx = _job_context_var.get(None)
    if ctx is None:
        raise RuntimeError(
            "no job context found: get_job_context() only works inside a job entrypoint "
            "(or code it calls), e.g. when started through cli.run_app(WorkerOptions(...))"
        )
    return ctx


class JobProcess:
    """The process (or thread) hosting jobs. ``userdata`` is filled by ``prewarm_fnc``."""

    def __init__(
        self,
        *,
        executor_type: JobExecutorType = JobExecutorType.PROCESS,
        user_arguments: Any = None,
        http_proxy: str | None = None,
    ) -> None:
        self._pid = os.getpid()
        self._executor_type = executor_type
        self._user_arguments = user_arguments
        self._http_proxy = http_proxy
        self._userdata: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def executor_type(self) -> JobExecutorType:
        return self._executor_type

    @property
    def userdata(self) -> dict[str, Any]:
        """Data prepared once per process by ``prewarm_fnc`` (e.g. loaded models)."""
        return self._userdata

    @property
    def user_arguments(self) -> Any:
        return self._user_arguments

    @property
    def http_proxy(self) -> str | None:
        return self._http_proxy


def _kinds(
    kind: rtc.ParticipantKind.ValueType | Sequence[rtc.ParticipantKind.ValueType],
) -> tuple[rtc.ParticipantKind.ValueType, ...]:
    if isinstance(kind, int):
        return (kind,)
    return tuple(kind)


class JobContext:
    """The context of one job: its room, the job description, the process, and its lifecycle."""

    def __init__(
        self,
        *,
        proc: JobProcess,
        info: RunningJobInfo,
        room: RoomLike,
        on_connect: Callable[[], None] | None = None,
        on_shutdown: Callable[[str], None] | None = None,
    ) -> None:
        self._proc = proc
        self._info = info
        self._room = room
        self._on_connect_cb = on_connect
        self._on_shutdown_cb = on_shutdown
        self._shutdown_callbacks: list[ShutdownCallback] = []
        self._shutdown_reason: str | None = None
        self._shutdown_event = asyncio.Event()
        self._connected = False
        self._auto_subscribe = AutoSubscribe.SUBSCRIBE_ALL
        self._humans_seen = False
        self._participant_entrypoints: list[
            tuple[ParticipantEntrypoint, tuple[rtc.ParticipantKind.ValueType, ...]]
        ] = []
        self._participant_tasks: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._api: api.LiveKitAPI | None = None

    # -- properties -------------------------------------------------------------------------

    @property
    def proc(self) -> JobProcess:
        return self._proc

    @property
    def job(self) -> agent.Job:
        return self._info.job

    @property
    def room(self) -> rtc.Room:
        """The room of this job (an ``rtc.Room``, or an injected object with the same surface)."""
        return cast(rtc.Room, self._room)

    @property
    def worker_id(self) -> str:
        return self._info.worker_id

    @property
    def agent(self) -> rtc.LocalParticipant:
        return cast(rtc.LocalParticipant, self._room.local_participant)

    @property
    def is_fake_job(self) -> bool:
        """True for jobs simulated locally (console, ``connect``) rather than dispatched."""
        return self._info.fake_job

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def shutdown_reason(self) -> str | None:
        return self._shutdown_reason

    @property
    def log_context_fields(self) -> dict[str, Any]:
        return {"job_id": self.job.id, "room": self.job.room.name, "pid": self._proc.pid}

    @property
    def api(self) -> api.LiveKitAPI:
        """A LiveKit server API client for this job's server (uses LIVEKIT_API_KEY/SECRET)."""
        if self._api is None:
            from livekit import api as lkapi

            url = self._info.url.replace("wss://", "https://").replace("ws://", "http://")
            self._api = lkapi.LiveKitAPI(url or None)
        return self._api

    # -- connection ---------------------------------------------------------------------------

    async def connect(
        self,
        *,
        encryption: rtc.E2EEOptions | None = None,
        auto_subscribe: AutoSubscribe = AutoSubscribe.SUBSCRIBE_ALL,
        rtc_config: rtc.RtcConfiguration | None = None,
    ) -> None:
        """Connect the agent to the job's room. Safe to call more than once."""
        if self._connected:
            return
        if not isinstance(auto_subscribe, AutoSubscribe):
            raise TypeError(
                f"auto_subscribe must be an AutoSubscribe member, got {auto_subscribe!r}"
            )
        self._auto_subscribe = auto_subscribe
        room = self._room
        room.on("participant_connected", self._on_participant_connected)
        room.on("participant_disconnected", self._on_participant_disconnected)
        room.on("track_published", self._on_track_published)
        room.on("disconnected", self._on_room_disconnected)
        options = rtc.RoomOptions(
            auto_subscribe=auto_subscribe == AutoSubscribe.SUBSCRIBE_ALL,
            encryption=encryption,
            rtc_config=rtc_config,
        )
        await room.connect(self._info.url, self._info.token, options)
        self._connected = True
        for participant in list(room.remote_participants.values()):
            for publication in list(participant.track_publications.values()):
                self._maybe_subscribe(publication)
            self._on_participant_connected(participant)
        if self._on_connect_cb is not None:
            self._on_connect_cb()

    def _maybe_subscribe(self, publication: Any) -> None:
        mode = self._auto_subscribe
        if mode in (AutoSubscribe.SUBSCRIBE_ALL, AutoSubscribe.SUBSCRIBE_NONE):
            return
        wanted = (
            rtc.TrackKind.KIND_AUDIO
            if mode == AutoSubscribe.AUDIO_ONLY
            else rtc.TrackKind.KIND_VIDEO
        )
        if publication.kind == wanted:
            publication.set_subscribed(True)

    def _on_track_published(self, publication: Any, participant: Any) -> None:
        self._maybe_subscribe(publication)

    def _is_human(self, participant: Any) -> bool:
        return participant.kind in DEFAULT_PARTICIPANT_KINDS

    def _on_participant_connected(self, participant: Any) -> None:
        if self._is_human(participant):
            self._humans_seen = True
        for fnc, kinds in self._participant_entrypoints:
            self._start_participant_entrypoint(fnc, kinds, participant)

    def _on_participant_disconnected(self, participant: Any) -> None:
        for key in [k for k in self._participant_tasks if k[0] == participant.identity]:
            task = self._participant_tasks.pop(key)
            task.cancel()
        if not self._humans_seen:
            return
        humans_left = [p for p in self._room.remote_participants.values() if self._is_human(p)]
        if all(p.identity == participant.identity for p in humans_left):
            self.shutdown("all participants left the room")

    def _on_room_disconnected(self, *args: Any) -> None:
        self.shutdown("room disconnected")

    async def wait_for_participant(
        self,
        *,
        identity: str | None = None,
        kind: rtc.ParticipantKind.ValueType
        | Sequence[rtc.ParticipantKind.ValueType] = DEFAULT_PARTICIPANT_KINDS,
    ) -> rtc.RemoteParticipant:
        """Wait until a matching remote participant is in the room and return it."""
        if not self._connected:
            raise RuntimeError(
                "wait_for_participant() needs a connected room: call `await ctx.connect()` first"
            )
        kinds = _kinds(kind)

        def matches(p: Any) -> bool:
            if identity is not None and p.identity != identity:
                return False
            return p.kind in kinds

        for p in self._room.remote_participants.values():
            if matches(p):
                return cast(rtc.RemoteParticipant, p)

        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def on_connected(p: Any) -> None:
            if matches(p) and not fut.done():
                fut.set_result(p)

        self._room.on("participant_connected", on_connected)
        try:
            return cast(rtc.RemoteParticipant, await fut)
        finally:
            self._room.off("participant_connected", on_connected)

    # -- participant entrypoints ---------------------------------------------------------------

    def add_participant_entrypoint(
        self,
        entrypoint_fnc: ParticipantEntrypoint,
        *,
        kind: rtc.ParticipantKind.ValueType
        | Sequence[rtc.ParticipantKind.ValueType] = DEFAULT_PARTICIPANT_KINDS,
    ) -> None:
        """Run ``entrypoint_fnc(ctx, participant)`` for each matching participant that joins."""
        if any(fnc is entrypoint_fnc for fnc, _ in self._participant_entrypoints):
            raise ValueError("this participant entrypoint is already registered")
        kinds = _kinds(kind)
        self._participant_entrypoints.append((entrypoint_fnc, kinds))
        if self._connected:
            for p in list(self._room.remote_participants.values()):
                self._start_participant_entrypoint(entrypoint_fnc, kinds, p)

    def _start_participant_entrypoint(
        self,
        fnc: ParticipantEntrypoint,
        kinds: tuple[rtc.ParticipantKind.ValueType, ...],
        participant: Any,
    ) -> None:
        if participant.kind not in kinds:
            return
        key = (participant.identity, id(fnc))
        if key in self._participant_tasks:
            return
        task = asyncio.ensure_future(fnc(self, participant))
        self._participant_tasks[key] = task

        def done(t: asyncio.Task[None]) -> None:
            if self._participant_tasks.get(key) is t:
                del self._participant_tasks[key]
            if not t.cancelled() and t.exception() is not None:
                logger.error(
                    "participant entrypoint failed",
                    exc_info=t.exception(),
                    extra=self.log_context_fields,
                )

        task.add_done_callback(done)

    # -- shutdown -----------------------------------------------------------------------------

    def add_shutdown_callback(self, callback: ShutdownCallback) -> None:
        """Register a coroutine function run when the job ends (it may take the reason)."""
        if not callable(callback):
            raise TypeError(f"shutdown callback must be callable, got {callback!r}")
        self._shutdown_callbacks.append(callback)

    def shutdown(self, reason: str = "") -> None:
        """Ask the job to end: shutdown callbacks run, then the agent leaves the room."""
        if self._shutdown_reason is not None:
            return
        self._shutdown_reason = reason or "shutdown requested"
        self._shutdown_event.set()
        if self._on_shutdown_cb is not None:
            self._on_shutdown_cb(self._shutdown_reason)

    async def wait_for_shutdown(self) -> str:
        """Wait until :meth:`shutdown` was called; return the reason."""
        await self._shutdown_event.wait()
        assert self._shutdown_reason is not None
        return self._shutdown_reason

    async def _run_shutdown_callbacks(self, timeout: float) -> list[str]:
        """Run the shutdown callbacks in order within ``timeout`` seconds; return errors."""
        reason = self._shutdown_reason or ""
        errors: list[str] = []

        async def run_all() -> None:
            for cb in self._shutdown_callbacks:
                try:
                    params = inspect.signature(cb).parameters
                    result: Any
                    if len(params) >= 1:
                        result = cast(Callable[[str], Any], cb)(reason)
                    else:
                        result = cast(Callable[[], Any], cb)()
                    if inspect.isawaitable(result):  # plain functions are accepted too
                        await result
                except Exception as e:
                    logger.exception("shutdown callback failed", extra=self.log_context_fields)
                    errors.append(
                        f"shutdown callback {getattr(cb, '__name__', cb)!s} failed: {e!r}"
                    )

        try:
            await asyncio.wait_for(run_all(), timeout)
        except asyncio.TimeoutError:
            errors.append(f"shutdown callbacks did not finish within {timeout:g} s")
        for task in list(self._participant_tasks.values()):
            task.cancel()
        if self._api is not None:
            await self._api.aclose()
        return errors

    async def delete_room(self) -> None:
        """Delete the room on the server, which disconnects everyone."""
        from livekit import api as lkapi

        await self.api.room.delete_room(lkapi.DeleteRoomRequest(room=self.job.room.name))


__all__ = [
    "DEFAULT_PARTICIPANT_KINDS",
    "JobContext",
    "JobProcess",
    "ShutdownCallback",
    "get_job_context",
]
