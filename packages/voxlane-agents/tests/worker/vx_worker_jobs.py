"""Job functions and an in-process fake room for the worker tests.

Imported as a top-level module (the test adds this folder to sys.path), so job processes started
with ``spawn`` can unpickle the functions below. Each entrypoint reads its instructions from the
job metadata: ``{"dir": <folder for marker files>, "mode": <behaviour>}``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from livekit import rtc

from voxlane.agents.job import JobContext, JobProcess, get_job_context


class FakePublication:
    def __init__(self, sid: str, kind: rtc.TrackKind.ValueType) -> None:
        self._sid = sid
        self._kind = kind
        self.subscribed = False

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def kind(self) -> rtc.TrackKind.ValueType:
        return self._kind

    def set_subscribed(self, subscribed: bool) -> None:
        self.subscribed = subscribed


class FakeParticipant:
    def __init__(
        self,
        identity: str,
        kind: rtc.ParticipantKind.ValueType = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,
        attributes: dict[str, str] | None = None,
    ) -> None:
        self._identity = identity
        self._kind = kind
        self._attributes = dict(attributes or {})
        self.publications: dict[str, FakePublication] = {}

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def name(self) -> str:
        return self._identity

    @property
    def kind(self) -> rtc.ParticipantKind.ValueType:
        return self._kind

    @property
    def attributes(self) -> dict[str, str]:
        return self._attributes

    @property
    def track_publications(self) -> Mapping[str, Any]:
        return self.publications


class FakeRoom(rtc.EventEmitter[str]):
    """Implements the RoomLike surface in memory; tests drive participants with the helpers."""

    def __init__(self, name: str = "fake-room") -> None:
        super().__init__()
        self._name = name
        self._connected = False
        self._remote: dict[str, FakeParticipant] = {}
        self.local = FakeParticipant("agent", rtc.ParticipantKind.PARTICIPANT_KIND_AGENT)
        self.connect_args: tuple[str, str, rtc.RoomOptions] | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def local_participant(self) -> Any:
        return self.local

    @property
    def remote_participants(self) -> Mapping[str, Any]:
        return self._remote

    def isconnected(self) -> bool:
        return self._connected

    async def connect(self, url: str, token: str, options: rtc.RoomOptions | None = None) -> None:
        self.connect_args = (url, token, options or rtc.RoomOptions())
        self._connected = True

    async def disconnect(self) -> None:
        if self._connected:
            self._connected = False
            self.emit("disconnected", "client initiated")

    # -- test drivers --------------------------------------------------------------------------
    def add_participant(self, p: FakeParticipant) -> None:
        self._remote[p.identity] = p
        self.emit("participant_connected", p)

    def remove_participant(self, identity: str) -> None:
        p = self._remote.pop(identity)
        self.emit("participant_disconnected", p)

    def publish_track(self, identity: str, pub: FakePublication) -> None:
        p = self._remote[identity]
        p.publications[pub.sid] = pub
        self.emit("track_published", pub, p)


def make_fake_room() -> FakeRoom:
    return FakeRoom()


def prewarm(proc: JobProcess) -> None:
    proc.userdata["prewarmed_in"] = os.getpid()
    proc.userdata["model"] = "loaded"
    # before the job runtime's own freeze (a forkserver child inherits the forkserver's)
    proc.userdata["gc_frozen_in_prewarm"] = gc.get_freeze_count()


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


async def _wait_file(path: Path) -> None:
    while not path.exists():  # noqa: ASYNC110, ASYNC240 (another process creates it)
        await asyncio.sleep(0.02)


META_ENV = "VX_JOB_METADATA"
"""Job metadata for jobs that carry none (``connect`` builds the job without metadata)."""


async def entrypoint(ctx: JobContext) -> None:
    meta = json.loads(ctx.job.metadata or os.environ[META_ENV])
    folder = Path(meta["dir"])
    mode = meta["mode"]
    job_id = ctx.job.id
    started = {
        "pid": os.getpid(),
        "userdata": dict(ctx.proc.userdata),
        "job_id": job_id,
        "room": ctx.job.room.name,
        "ctx_ok": get_job_context() is ctx,
        "gc_frozen": gc.get_freeze_count(),
    }
    await ctx.connect()
    connect_args = getattr(ctx.room, "connect_args", None)
    if connect_args is not None:
        started["url"], started["token"] = connect_args[0], connect_args[1]
    started["participant"] = ctx.job.participant.identity
    _write(folder / f"{job_id}.started", started)

    if mode == "wait_release":
        await _wait_file(folder / f"{job_id}.release")

        async def on_shutdown(reason: str) -> None:
            _write(folder / f"{job_id}.shutdown", {"reason": reason})

        ctx.add_shutdown_callback(on_shutdown)
        ctx.shutdown("released")
    elif mode == "crash":
        raise RuntimeError("boom from the entrypoint")
    elif mode == "hang_shutdown_async":

        async def hang() -> None:
            await asyncio.sleep(3600)

        ctx.add_shutdown_callback(hang)
        ctx.shutdown("done")
    elif mode == "hang_shutdown_sync":

        async def hang_sync() -> None:
            time.sleep(3600)  # noqa: ASYNC251 (deliberately hangs the job)

        ctx.add_shutdown_callback(hang_sync)
        ctx.shutdown("done")
    elif mode == "block_loop":
        time.sleep(3600)  # noqa: ASYNC251 (deliberately blocks the event loop)
    elif mode == "memory_held":
        # grows once past job_memory_warn_mb (but stays under any limit), then waits to be released
        held = bytearray(150 * 1024 * 1024)
        for i in range(0, len(held), 4096):
            held[i] = 1
        _write(folder / f"{job_id}.grown", {"bytes": len(held)})
        await _wait_file(folder / f"{job_id}.release")
        del held
        ctx.shutdown("released")
    elif mode == "memory":
        hog = bytearray(300 * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        await asyncio.sleep(3600)
    elif mode == "until_terminated":

        async def note(reason: str) -> None:
            _write(folder / f"{job_id}.shutdown", {"reason": reason})

        ctx.add_shutdown_callback(note)
    else:
        raise ValueError(f"unknown test mode {mode!r}")


def failing_prewarm(proc: JobProcess) -> None:
    raise RuntimeError("model file missing")


def prewarm_noting_origin(proc: JobProcess) -> None:
    """Like `prewarm`, and notes how the process was made: its parent, and whether the voice
    runtime was already imported before anything of the job ran (a preloaded forkserver)."""
    import sys

    prewarm(proc)
    proc.userdata["parent_pid"] = os.getppid()
    proc.userdata["voice_preloaded"] = "voxlane.agents.voice" in sys.modules


def report_sigterm_disposition(path: str) -> None:
    """A forkserver child (not a job) writes whether SIGTERM has its default disposition."""
    import signal

    Path(path).write_text(json.dumps(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL))
