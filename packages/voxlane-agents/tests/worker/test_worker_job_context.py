"""JobContext against the in-process fake room: connect, subscriptions, participants, shutdown."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from livekit import rtc
from livekit.protocol import agent, models

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from vx_worker_jobs import FakeParticipant, FakePublication, FakeRoom  # noqa: E402

from voxlane.agents.job import (  # noqa: E402
    AutoSubscribe,
    JobAcceptArguments,
    JobContext,
    JobProcess,
    RunningJobInfo,
    get_job_context,
)


def make_ctx(room: FakeRoom) -> JobContext:
    info = RunningJobInfo(
        accept_arguments=JobAcceptArguments(name="", identity="agent-J", metadata=""),
        job=agent.Job(id="J", room=models.Room(name="r")),
        url="ws://127.0.0.1:1",
        token="tok",
        worker_id="W",
    )
    return JobContext(proc=JobProcess(), info=info, room=room)


async def test_connect_audio_only_subscribes_audio_tracks() -> None:
    room = FakeRoom()
    early = FakeParticipant("early")
    mic = FakePublication("TR_mic", rtc.TrackKind.KIND_AUDIO)
    cam = FakePublication("TR_cam", rtc.TrackKind.KIND_VIDEO)
    early.publications = {"TR_mic": mic, "TR_cam": cam}
    room._remote["early"] = early
    ctx = make_ctx(room)
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    assert room.connect_args is not None
    assert room.connect_args[:2] == ("ws://127.0.0.1:1", "tok")
    assert room.connect_args[2].auto_subscribe is False
    assert mic.subscribed and not cam.subscribed

    room.add_participant(FakeParticipant("late"))
    late_mic = FakePublication("TR_late", rtc.TrackKind.KIND_AUDIO)
    late_cam = FakePublication("TR_late_cam", rtc.TrackKind.KIND_VIDEO)
    room.publish_track("late", late_mic)
    room.publish_track("late", late_cam)
    assert late_mic.subscribed and not late_cam.subscribed


async def test_subscribe_all_leaves_it_to_the_room() -> None:
    room = FakeRoom()
    ctx = make_ctx(room)
    await ctx.connect()
    assert room.connect_args is not None and room.connect_args[2].auto_subscribe is True


async def test_wait_for_participant_filters_by_identity_and_kind() -> None:
    room = FakeRoom()
    ctx = make_ctx(room)
    with pytest.raises(RuntimeError, match="connect"):
        await ctx.wait_for_participant()
    await ctx.connect()
    waiter = asyncio.create_task(ctx.wait_for_participant(identity="bob"))
    await asyncio.sleep(0)
    room.add_participant(FakeParticipant("other-agent", rtc.ParticipantKind.PARTICIPANT_KIND_AGENT))
    room.add_participant(FakeParticipant("alice"))
    await asyncio.sleep(0)
    assert not waiter.done()
    room.add_participant(FakeParticipant("bob"))
    p = await asyncio.wait_for(waiter, 5)
    assert p.identity == "bob"
    # already present: returns at once
    assert (await ctx.wait_for_participant()).identity in {"alice", "bob"}


async def test_job_ends_when_all_humans_left() -> None:
    room = FakeRoom()
    ctx = make_ctx(room)
    await ctx.connect()
    room.add_participant(FakeParticipant("alice"))
    room.add_participant(FakeParticipant("bob"))
    room.add_participant(FakeParticipant("helper", rtc.ParticipantKind.PARTICIPANT_KIND_AGENT))
    room.remove_participant("alice")
    assert ctx.shutdown_reason is None
    room.remove_participant("bob")
    assert ctx.shutdown_reason == "all participants left the room"


async def test_shutdown_callbacks_get_the_reason_and_errors_are_collected() -> None:
    room = FakeRoom()
    ctx = make_ctx(room)
    seen: list[str] = []

    async def with_reason(reason: str) -> None:
        seen.append(reason)

    async def without_reason() -> None:
        seen.append("no-arg")

    async def broken() -> None:
        raise ValueError("disk full")

    ctx.add_shutdown_callback(with_reason)
    ctx.add_shutdown_callback(broken)
    ctx.add_shutdown_callback(without_reason)
    ctx.shutdown("bye")
    ctx.shutdown("ignored second reason")
    assert await ctx.wait_for_shutdown() == "bye"
    errors = await ctx._run_shutdown_callbacks(timeout=5)
    assert seen == ["bye", "no-arg"]
    assert len(errors) == 1 and "disk full" in errors[0]


async def test_room_disconnect_shuts_the_job_down() -> None:
    room = FakeRoom()
    ctx = make_ctx(room)
    await ctx.connect()
    await room.disconnect()
    assert ctx.shutdown_reason == "room disconnected"


def test_get_job_context_outside_a_job_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="inside a job entrypoint"):
        get_job_context()


async def test_plain_functions_and_lambdas_work_as_shutdown_callbacks() -> None:
    ctx = make_ctx(FakeRoom())
    seen: list[str] = []

    async def later(tag: str) -> None:
        seen.append(tag)

    def plain(reason: str) -> None:
        seen.append(f"plain:{reason}")

    ctx.add_shutdown_callback(plain)  # type: ignore[arg-type]
    ctx.add_shutdown_callback(lambda: later("lambda"))
    with pytest.raises(TypeError, match="callable"):
        ctx.add_shutdown_callback("not a function")  # type: ignore[arg-type]
    ctx.shutdown("done")
    assert await ctx._run_shutdown_callbacks(timeout=5) == []
    assert seen == ["plain:done", "lambda"]
