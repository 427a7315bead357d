"""RunContext.with_filler(): idle-gated filler lines while a slow tool runs; RunContext.update()
on an ordinary (not background) tool. Everything runs on the virtual clock: times are exact."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from voxlane.agents.llm import function_tool
from voxlane.agents.llm.async_toolset import AsyncRunContext, AsyncToolset
from voxlane.agents.testing.fakes import FakeTTS
from voxlane.agents.voice import Agent, AgentSession, RunContext, SpeechHandle
from voxlane.agents.voice.filler import FillerScheduler
from voxlane.agents.voice.io_impl import MemoryAudioOutput

pytestmark = pytest.mark.virtual_clock

SECONDS_PER_CHAR = 0.1  # FakeTTS: "One moment." (11 characters) is 1.1 s of audio


class Looker(Agent):
    """``look_up`` runs for ``work`` seconds inside ``ctx.with_filler(**filler)``."""

    def __init__(self, work: float, make_filler: Callable[[RunContext[None]], FillerScheduler]):
        super().__init__(instructions="you look things up")
        self.work = work
        self.make_filler = make_filler
        self.fillers: list[FillerScheduler] = []
        self.tool_started: float | None = None
        self.during_tool: Callable[[AgentSession[None]], Any] | None = None

    @function_tool
    async def look_up(self, ctx: RunContext[None]) -> str:
        """Look the thing up."""
        self.tool_started = asyncio.get_running_loop().time()
        async with self.make_filler(ctx) as filler:
            self.fillers.append(filler)
            if self.during_tool is not None:
                asyncio.get_running_loop().call_later(0.5, self.during_tool, ctx.session)
            await asyncio.sleep(self.work)
        return "found it"


async def run_tool_turn(
    vh: Any, agent: Looker, *, before_tool: str = ""
) -> tuple[AgentSession[None], FakeTTS, Any]:
    llm = vh.ScriptedLLM([vh.Reply(text=before_tool, calls=[vh.Call("look_up")]), "Here it is."])
    tts = FakeTTS(seconds_per_char=SECONDS_PER_CHAR, chunk_duration=0.1)
    session: AgentSession[None] = AgentSession(llm=llm, tts=tts, user_away_timeout=None)
    session.output.audio = MemoryAudioOutput()
    await session.start(agent)
    log = vh.EventLog(session)
    session.generate_reply(user_input="find it")
    await session.drain()
    return session, tts, log


def say_times(log: Any, handles: list[SpeechHandle]) -> list[float]:
    """When each of ``handles`` was created (``speech_created``), in loop time."""
    ids = {h.id for h in handles}
    return [t for n, ev, t in log.events if n == "speech_created" and ev.speech_handle.id in ids]


async def test_one_filler_after_the_delay_not_in_the_history(vh: Any) -> None:
    agent = Looker(5.0, lambda ctx: ctx.with_filler("One moment.", delay=2.0))
    session, tts, log = await run_tool_turn(vh, agent)
    (filler,) = agent.fillers
    assert len(filler.spoken) == 1 and filler.steps_done == 1
    assert agent.tool_started is not None
    assert say_times(log, filler.spoken) == pytest.approx([agent.tool_started + 2.0])
    assert tts.requests == ["One moment.", "Here it is."]
    # acoustic only: neither the history nor the model's context has it
    assert vh.history(session.history) == [
        ("user", "find it"),
        ("call", "look_up", "{}"),
        ("output", "look_up", "found it", "ok"),
        ("assistant", "Here it is.", "complete"),
    ]
    await session.aclose()


async def test_repeats_every_interval_cycling_lines_up_to_max_steps(vh: Any) -> None:
    agent = Looker(
        20.0,
        lambda ctx: ctx.with_filler(
            ["Still looking.", "Almost there."], delay=1.0, interval=4.0, max_steps=3
        ),
    )
    session, tts, log = await run_tool_turn(vh, agent)
    (filler,) = agent.fillers
    assert agent.tool_started is not None
    t0 = agent.tool_started
    # the 1st after 1 s of quiet; then one every 4 s (each 1.4 s long, followed by > 1 s of
    # quiet before the next is due); max_steps stops it at 3 although the tool runs 20 s
    assert say_times(log, filler.spoken) == pytest.approx([t0 + 1.0, t0 + 5.0, t0 + 9.0])
    assert tts.requests == ["Still looking.", "Almost there.", "Still looking.", "Here it is."]
    await session.aclose()


async def test_delay_counts_quiet_time_after_the_previous_filler(vh: Any) -> None:
    # interval 1 s is shorter than a filler (1.1 s) plus the 2 s of quiet required
    agent = Looker(8.0, lambda ctx: ctx.with_filler("One moment.", delay=2.0, interval=1.0))
    session, _, log = await run_tool_turn(vh, agent)
    (filler,) = agent.fillers
    assert agent.tool_started is not None
    t0 = agent.tool_started
    # t0+2 (ends t0+3.1), t0+5.1 (ends 6.2); the next would be due at t0+8.2, after the tool
    assert say_times(log, filler.spoken) == pytest.approx([t0 + 2.0, t0 + 5.1])
    await session.aclose()


async def test_leaving_the_block_early_cancels_the_pending_filler(vh: Any) -> None:
    agent = Looker(1.5, lambda ctx: ctx.with_filler("One moment.", delay=2.0))
    session, tts, _ = await run_tool_turn(vh, agent)
    (filler,) = agent.fillers
    assert filler.spoken == [] and filler.steps_done == 0
    assert tts.requests == ["Here it is."]
    await session.aclose()


async def test_waits_for_other_speech_and_never_talks_over_it(vh: Any) -> None:
    agent = Looker(10.0, lambda ctx: ctx.with_filler("One moment.", delay=1.0))
    # 0.5 s into the tool, something else is said: 3 s of audio
    agent.during_tool = lambda session: session.say("An announcement!!!!!!!!!!!!!!!!!")
    session, tts, log = await run_tool_turn(vh, agent)
    (filler,) = agent.fillers
    assert agent.tool_started is not None
    t0 = agent.tool_started
    # not at t0+1 (the announcement plays from t0+0.5 to t0+3.7): 1 s after it ended
    assert say_times(log, filler.spoken) == pytest.approx([t0 + 4.7])
    assert tts.requests == ["An announcement!!!!!!!!!!!!!!!!!", "One moment.", "Here it is."]
    await session.aclose()


async def test_waits_while_the_tool_reply_is_still_speaking(vh: Any) -> None:
    # the model speaks before calling the tool; the tool starts while that text plays
    agent = Looker(10.0, lambda ctx: ctx.with_filler("One moment.", delay=0.5))
    session, tts, log = await run_tool_turn(vh, agent, before_tool="Let me check that.")
    (filler,) = agent.fillers
    created = log.of("speech_created")
    reply_start = log.times("speech_created")[0]
    assert created[0].source == "generate_reply"
    # "Let me check that." is 1.8 s of audio; the filler comes 0.5 s after it ended
    assert say_times(log, filler.spoken) == pytest.approx([reply_start + 1.8 + 0.5])
    assert tts.requests[:2] == ["Let me check that.", "One moment."]
    await session.aclose()


async def test_waits_while_the_user_speaks(vh: Any) -> None:
    agent = Looker(10.0, lambda ctx: ctx.with_filler("One moment.", delay=1.0))

    def user_talks(session: AgentSession[None]) -> None:
        session._update_user_state("speaking")
        asyncio.get_running_loop().call_later(2.0, session._update_user_state, "listening")

    agent.during_tool = user_talks
    session, _, log = await run_tool_turn(vh, agent)
    (filler,) = agent.fillers
    assert agent.tool_started is not None
    # the user speaks from t0+0.5 to t0+2.5; the filler needs 1 s of quiet after that
    assert say_times(log, filler.spoken) == pytest.approx([agent.tool_started + 3.5])
    await session.aclose()


async def test_callable_and_async_iterator_sources(vh: Any) -> None:
    steps: list[int] = []

    async def every_other(step: int) -> str | None:
        steps.append(step)
        return None if step % 2 else f"Step {step}."

    agent = Looker(
        30.0, lambda ctx: ctx.with_filler(every_other, delay=0.5, interval=2.0, max_steps=4)
    )
    session, tts, _ = await run_tool_turn(vh, agent)
    (filler,) = agent.fillers
    assert steps == [0, 1, 2, 3] and filler.steps_done == 4  # skipped steps count
    assert tts.requests == ["Step 0.", "Step 2.", "Here it is."]
    await session.aclose()

    async def two_lines() -> AsyncIterator[str]:
        yield "First."
        yield "Second."

    agent2 = Looker(30.0, lambda ctx: ctx.with_filler(two_lines(), delay=0.5, interval=2.0))
    session2, tts2, _ = await run_tool_turn(vh, agent2)
    assert tts2.requests == ["First.", "Second.", "Here it is."]  # the iterator ended
    await session2.aclose()


async def test_a_failing_source_stops_the_fillers_and_is_logged(
    vh: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(step: int) -> str:
        raise ValueError("no lines today")

    agent = Looker(3.0, lambda ctx: ctx.with_filler(broken, delay=0.5))
    with caplog.at_level(logging.ERROR, logger="voxlane.agents.voice"):
        session, tts, _ = await run_tool_turn(vh, agent)
    assert tts.requests == ["Here it is."]  # the tool itself went on and answered
    assert any("filler" in r.message and r.exc_info for r in caplog.records)
    await session.aclose()


async def test_bad_arguments_are_rejected(vh: Any) -> None:
    session: AgentSession[None] = AgentSession(llm=vh.ScriptedLLM([]))
    await session.start(Agent(instructions="x"))

    def make(**kwargs: Any) -> FillerScheduler:
        return FillerScheduler(session, **kwargs)

    with pytest.raises(ValueError, match="delay"):
        make(source="Hi.", delay=-1)
    with pytest.raises(TypeError, match="delay"):
        make(source="Hi.", delay="2")
    with pytest.raises(ValueError, match="interval"):
        make(source="Hi.", interval=0)
    with pytest.raises(ValueError, match="max_steps"):
        make(source="Hi.", max_steps=-1)
    with pytest.raises(ValueError, match="empty string"):
        make(source="  ")
    with pytest.raises(ValueError, match="empty list"):
        make(source=[])
    with pytest.raises(TypeError, match="non-empty strings"):
        make(source=["ok", 3])
    with pytest.raises(TypeError, match="source must be"):
        make(source=42)
    filler = make(source="Hi.", max_steps=0)
    async with filler:
        await asyncio.sleep(1.0)
    assert filler.spoken == [] and filler.steps_done == 0
    with pytest.raises(RuntimeError, match="only once"):
        await filler.__aenter__()
    await session.aclose()


class Reporter(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="you report")
        self.contexts: list[RunContext[None]] = []

    @function_tool
    async def crunch(self, ctx: RunContext[None]) -> str:
        """Crunch numbers."""
        self.contexts.append(ctx)
        await ctx.update("Halfway through the numbers.")
        await asyncio.sleep(1.0)
        await ctx.update({"progress": 0.9})
        return "42"


async def test_update_on_an_ordinary_tool_is_kept_and_logged_but_not_delivered(
    vh: Any, caplog: pytest.LogCaptureFixture
) -> None:
    llm = vh.ScriptedLLM([vh.Reply(calls=[vh.Call("crunch")]), "The answer is 42."])
    tts = FakeTTS(seconds_per_char=SECONDS_PER_CHAR)
    session: AgentSession[None] = AgentSession(llm=llm, tts=tts, user_away_timeout=None)
    session.output.audio = MemoryAudioOutput()
    agent = Reporter()
    await session.start(agent)
    with caplog.at_level(logging.DEBUG, logger="voxlane.agents.voice"):
        session.generate_reply(user_input="crunch it")
        await session.drain()
    (ctx,) = agent.contexts
    assert ctx.updates == ["Halfway through the numbers.", {"progress": 0.9}]
    assert tts.requests == ["The answer is 42."]  # nothing said for the updates
    assert vh.history(session.history) == [
        ("user", "crunch it"),
        ("call", "crunch", "{}"),
        ("output", "crunch", "42", "ok"),
        ("assistant", "The answer is 42.", "complete"),
    ]
    second_ctx = llm.calls[1].chat_ctx
    assert not any("Halfway" in (getattr(i, "text_content", None) or "") for i in second_ctx.items)
    notes = [r.getMessage() for r in caplog.records if "not a background tool" in r.getMessage()]
    assert len(notes) == 2 and "crunch" in notes[0] and "Halfway" in notes[0]
    await session.aclose()


async def test_filler_in_a_background_tool_waits_for_the_agent_to_finish_talking(
    vh: Any,
) -> None:
    fillers: list[FillerScheduler] = []
    started: list[float] = []

    @function_tool
    async def book(ctx: AsyncRunContext[None]) -> str:
        """Book the flight."""
        await ctx.update("searching flights")  # answers the call: the agent talks meanwhile
        started.append(asyncio.get_running_loop().time())
        async with ctx.with_filler("Still searching.", delay=1.0) as filler:
            fillers.append(filler)
            await asyncio.sleep(10.0)
        return "booked FL-1"

    llm = vh.ScriptedLLM(
        [
            vh.Reply(calls=[vh.Call("book")]),
            "Searching now, this takes a moment.",  # 3.5 s of audio
            "Your flight is booked.",
        ]
    )
    tts = FakeTTS(seconds_per_char=SECONDS_PER_CHAR, chunk_duration=0.1)
    session: AgentSession[None] = AgentSession(llm=llm, tts=tts, user_away_timeout=None)
    session.output.audio = MemoryAudioOutput()
    await session.start(Agent(instructions="travel", tools=[AsyncToolset(id="t", tools=[book])]))
    log = vh.EventLog(session)
    session.generate_reply(user_input="book it")
    await asyncio.sleep(30.0)
    await session.drain()
    (filler,) = fillers
    answer_start = next(
        t for n, ev, t in log.events if n == "speech_created" and ev.source == "tool_response"
    )
    # the answer to the first update plays 3.5 s; the filler comes 1 s of quiet later
    assert say_times(log, filler.spoken) == pytest.approx([answer_start + 3.5 + 1.0])
    assert started and started[0] <= answer_start
    assert tts.requests[:2] == ["Searching now, this takes a moment.", "Still searching."]
    assert "Still searching." not in [m.text_content for m in session.history.messages()]
    await session.aclose()


async def test_closing_the_session_stops_a_waiting_filler_quietly(
    vh: Any, caplog: pytest.LogCaptureFixture
) -> None:
    session: AgentSession[None] = AgentSession(llm=vh.ScriptedLLM([]), user_away_timeout=None)
    await session.start(Agent(instructions="x"))
    session._update_user_state("speaking")  # the filler waits for the user to stop
    filler = FillerScheduler(session, "One moment.", delay=0.5)
    with caplog.at_level(logging.DEBUG, logger="voxlane.agents.voice"):
        async with filler:
            await asyncio.sleep(1.0)
            await session.aclose()
            await asyncio.sleep(1.0)
            assert filler._task is not None and filler._task.done()
    assert filler.spoken == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
