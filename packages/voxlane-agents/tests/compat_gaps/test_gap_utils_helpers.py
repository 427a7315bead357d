"""Gap A4: the ``utils`` helpers LiveKit programs and plugins import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from livekit import rtc

from voxlane.agents import utils
from voxlane.agents.types import NOT_GIVEN


def _frame(samples: list[int], rate: int = 16000) -> rtc.AudioFrame:
    data = b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
    return rtc.AudioFrame(
        data=data, sample_rate=rate, num_channels=1, samples_per_channel=len(samples)
    )


# -- re-exports --------------------------------------------------------------------------------


def test_reexports() -> None:
    # a subclass that computes callback arity once (utils/events.py); still an rtc.EventEmitter
    assert issubclass(utils.EventEmitter, rtc.EventEmitter)
    assert utils.is_given(1) and not utils.is_given(NOT_GIVEN)
    merged = utils.combine_frames([_frame([1, 2]), _frame([3])])
    assert merged.samples_per_channel == 3
    assert list(memoryview(merged.data)) == [1, 2, 3]
    assert utils.merge_frames is utils.combine_frames
    buf: utils.AudioBuffer = [_frame([0])]
    assert utils.audio.calculate_audio_duration(buf) == 1 / 16000


def test_event_emitter_works_for_programs() -> None:
    class Bus(utils.EventEmitter[str]):
        pass

    got: list[int] = []
    bus = Bus()
    bus.on("x", got.append)
    bus.emit("x", 7)
    assert got == [7]


# -- log_exceptions ----------------------------------------------------------------------------


async def test_log_exceptions_coroutine_logs_and_reraises(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.logexc")

    @utils.log_exceptions(logger=log)
    async def forward() -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="test.logexc"), pytest.raises(ValueError):
        await forward()
    [rec] = [r for r in caplog.records if r.name == "test.logexc"]
    assert "forward" in rec.getMessage()
    assert rec.exc_info is not None and isinstance(rec.exc_info[1], ValueError)
    assert forward.__name__ == "forward"


async def test_log_exceptions_sync_asyncgen_and_message(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.logexc2")

    @utils.log_exceptions("parsing failed", logger=log)
    def parse(x: str) -> int:
        return int(x)

    @utils.log_exceptions(logger=log)
    async def gen() -> AsyncIterator[int]:
        yield 1
        raise KeyError("k")

    with caplog.at_level(logging.ERROR, logger="test.logexc2"):
        assert parse("3") == 3
        with pytest.raises(ValueError):
            parse("x")
        got = []
        with pytest.raises(KeyError):
            async for v in gen():
                got.append(v)
    assert got == [1]
    messages = [r.getMessage() for r in caplog.records if r.name == "test.logexc2"]
    assert messages[0] == "parsing failed"
    assert "gen" in messages[1]
    assert len(messages) == 2


async def test_log_exceptions_ignores_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.logexc3")

    @utils.log_exceptions(logger=log)
    async def forever() -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(forever())
    await asyncio.sleep(0)
    task.cancel()
    with (
        caplog.at_level(logging.ERROR, logger="test.logexc3"),
        pytest.raises(asyncio.CancelledError),
    ):
        await task
    assert not [r for r in caplog.records if r.name == "test.logexc3"]


def test_log_exceptions_used_without_parentheses_is_explained() -> None:
    def f() -> None: ...

    with pytest.raises(TypeError, match="decorator factory"):
        utils.log_exceptions(f)  # type: ignore[arg-type]


# -- ExpFilter / MovingAverage -----------------------------------------------------------------


def test_exp_filter() -> None:
    f = utils.ExpFilter(alpha=0.5)
    assert f.filtered() == -1.0 and f.value is None
    assert f.apply(1.0, 10.0) == 10.0  # first sample taken as is
    assert f.apply(1.0, 20.0) == 15.0
    assert f.apply(2.0, 35.0) == pytest.approx(0.25 * 15.0 + 0.75 * 35.0)
    assert f.apply(0.0, 1000.0) == pytest.approx(30.0)  # zero elapsed steps: no change
    capped = utils.ExpFilter(alpha=0.9, max_val=5.0)
    assert capped.apply(1.0, 8.0) == 5.0
    f.reset(alpha=0.2)
    assert f.value is None and f.alpha == 0.2
    with pytest.raises(ValueError, match="alpha"):
        utils.ExpFilter(alpha=1.0)
    with pytest.raises(ValueError, match="exp"):
        f.apply(-1.0, 1.0)


def test_moving_average() -> None:
    m = utils.MovingAverage(3)
    assert m.get_avg() == 0.0 and m.size() == 0
    for v in (1.0, 2.0, 3.0):
        m.add_sample(v)
    assert m.get_avg() == 2.0
    m.add_sample(10.0)  # window slides: 2, 3, 10
    assert m.size() == 3 and m.get_avg() == 5.0
    m.reset()
    assert m.size() == 0
    with pytest.raises(ValueError, match="window_size"):
        utils.MovingAverage(0)


# -- http_context ------------------------------------------------------------------------------


@pytest.fixture
async def http_server() -> AsyncIterator[str]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


async def test_http_session_shared_per_loop_and_closable(http_server: str) -> None:
    s1 = utils.http_context.http_session()
    s2 = utils.http_context.http_session()
    assert s1 is s2 and isinstance(s1, aiohttp.ClientSession)
    async with s1.get(http_server) as resp:
        assert await resp.text() == "hi"
    await utils.http_context.close_http_context()
    assert s1.closed
    s3 = utils.http_context.http_session()
    assert s3 is not s1 and not s3.closed
    await utils.http_context.close_http_context()


async def test_http_session_scope_is_isolated(http_server: str) -> None:
    outer = utils.http_context.http_session()
    async with utils.http_context.session_scope():
        inner = utils.http_context.http_session()
        assert inner is not outer

        async def in_child_task() -> aiohttp.ClientSession:
            return utils.http_context.http_session()

        assert await asyncio.create_task(in_child_task()) is inner
        async with inner.get(http_server) as resp:
            assert resp.status == 200
    assert inner.closed and not outer.closed
    assert utils.http_context.http_session() is outer
    await utils.http_context.close_http_context()


def test_http_session_needs_a_loop() -> None:
    with pytest.raises(RuntimeError, match="running event loop"):
        utils.http_context.http_session()


async def test_http_session_per_job_closed_at_job_shutdown() -> None:
    from livekit.protocol import agent, models

    from voxlane.agents.job import JobAcceptArguments, JobContext, JobProcess, RunningJobInfo
    from voxlane.agents.job.context import _job_context_var
    from voxlane.agents.voice.console import ConsoleRoom

    info = RunningJobInfo(
        accept_arguments=JobAcceptArguments(name="", identity="a", metadata=""),
        job=agent.Job(id="J", room=models.Room(name="r")),
        url="",
        token="",
        worker_id="W",
    )
    ctx = JobContext(proc=JobProcess(), info=info, room=ConsoleRoom())
    loop_session = utils.http_context.http_session()
    token = _job_context_var.set(ctx)
    try:
        job_session = utils.http_context.http_session()
        assert job_session is not loop_session
        assert utils.http_context.http_session() is job_session
        ctx.shutdown("done")
        assert await ctx._run_shutdown_callbacks(5.0) == []
        assert job_session.closed
    finally:
        _job_context_var.reset(token)
    assert not loop_session.closed
    await utils.http_context.close_http_context()
