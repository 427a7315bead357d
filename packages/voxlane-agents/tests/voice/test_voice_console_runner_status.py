"""``cli console``'s exit status: an error recorded on the console room (e.g. a file-mode run
that never finished) is printed and makes the console exit with status 1."""

from __future__ import annotations

import pytest

from voxlane.agents.job import JobContext
from voxlane.agents.voice.console import run_console_job
from voxlane.agents.voice.console.room import ConsoleOptions, ConsoleRoom
from voxlane.agents.worker import WorkerOptions


async def _failing_console(ctx: JobContext) -> None:
    await ctx.connect()
    assert isinstance(ctx.room, ConsoleRoom)
    ctx.room.error = "file mode: the conversation was still busy"
    ctx.shutdown("console closed")


async def _clean_console(ctx: JobContext) -> None:
    await ctx.connect()
    ctx.shutdown("console closed")


async def test_a_room_error_gives_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    status = await run_console_job(
        WorkerOptions(entrypoint_fnc=_failing_console), ConsoleOptions(mode="text")
    )
    assert status == 1
    assert "error: file mode: the conversation was still busy" in capsys.readouterr().err


async def test_a_clean_run_gives_status_0(capsys: pytest.CaptureFixture[str]) -> None:
    status = await run_console_job(
        WorkerOptions(entrypoint_fnc=_clean_console), ConsoleOptions(mode="text")
    )
    assert status == 0
    assert "error:" not in capsys.readouterr().err
