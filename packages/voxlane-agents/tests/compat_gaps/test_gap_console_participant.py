"""Gap G1: ``ctx.wait_for_participant()`` returns under ``console``: the console room lists one
simulated user participant from ``connect()`` on."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc
from livekit.protocol import agent, models

from voxlane.agents.job import JobAcceptArguments, JobContext, JobProcess, RunningJobInfo
from voxlane.agents.job.context import _job_context_var
from voxlane.agents.testing import FakeLLM
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.console import ConsoleOptions, ConsoleRoom
from voxlane.agents.voice.room_io import RoomIO


def _ctx(room: ConsoleRoom) -> JobContext:
    info = RunningJobInfo(
        accept_arguments=JobAcceptArguments(name="", identity="console-agent", metadata=""),
        job=agent.Job(id="J", room=models.Room(name="console")),
        url="",
        token="",
        worker_id="W",
        fake_job=True,
    )
    return JobContext(proc=JobProcess(), info=info, room=room)


def test_console_room_lists_the_user_only_once_connected() -> None:
    room = ConsoleRoom()
    assert dict(room.remote_participants) == {}

    async def go() -> None:
        await room.connect("", "")
        [user] = room.remote_participants.values()
        assert user.identity == "console-user"
        assert user.kind == rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
        assert room.local_participant.identity == "console-agent"
        await room.disconnect()
        assert dict(room.remote_participants) == {}

    asyncio.run(go())


async def test_wait_for_participant_returns_the_console_user() -> None:
    room = ConsoleRoom()
    ctx = _ctx(room)
    await ctx.connect()
    participant = await asyncio.wait_for(ctx.wait_for_participant(), timeout=5)
    assert participant.identity == "console-user"
    same = await asyncio.wait_for(ctx.wait_for_participant(identity="console-user"), timeout=5)
    assert same is participant
    assert ctx.shutdown_reason is None  # the user being there ends nothing


class _QuietConsole:
    """Stands in for the terminal UI, which the console tests exercise on a real pty."""

    def __init__(self, session: object, **kwargs: object) -> None:
        self._done = asyncio.Event()

    async def start(self) -> None:
        pass

    async def wait_done(self) -> None:
        await self._done.wait()

    async def aclose(self) -> None:
        self._done.set()


async def test_session_in_a_console_job_links_the_console_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``session.start(room=ctx.room)`` in a console job: RoomIO links the simulated user."""
    from voxlane.agents.voice.console import chat_cli

    monkeypatch.setattr(chat_cli, "ChatCLI", _QuietConsole)
    room = ConsoleRoom(ConsoleOptions(mode="text"))
    ctx = _ctx(room)
    token = _job_context_var.set(ctx)
    session: AgentSession[None] = AgentSession(llm=FakeLLM(default="hi"))
    try:
        await ctx.connect()
        await asyncio.wait_for(ctx.wait_for_participant(), timeout=5)
        await session.start(Agent(instructions="x"), room=ctx.room)
        room_io = session._room_io
        assert isinstance(room_io, RoomIO)
        assert room_io.linked_participant is not None
        assert room_io.linked_participant.identity == "console-user"
    finally:
        await session.aclose()
        _job_context_var.reset(token)
