"""AsyncToolset: updates, deferred delivery, coalescing, skip-when-answered, errors, handoff."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from voxlane.agents.llm import ChatContext, function_tool
from voxlane.agents.llm.async_toolset import AsyncRunContext, AsyncToolset
from voxlane.agents.llm.tool_execution import INTERNAL_ERROR_MESSAGE
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall
from voxlane.agents.voice import Agent, AgentSession, RunContext

pytestmark = pytest.mark.virtual_clock


def outputs(ctx: ChatContext) -> list[tuple[str, str, str, bool]]:
    return [
        (i.call_id, i.name, i.output, i.is_error)
        for i in ctx.items
        if i.type == "function_call_output"
    ]


def assistant_texts(ctx: ChatContext) -> list[str]:
    return [
        i.text_content or "" for i in ctx.items if i.type == "message" and i.role == "assistant"
    ]


def fake_llm(responses: list[Any]) -> FakeLLM:
    """A scripted LLM whose unscripted calls are recorded (and visible) instead of failing."""
    return FakeLLM(responses, default="an unexpected extra reply")


def call(name: str, call_id: str, **arguments: Any) -> FakeResponse:
    return FakeResponse(tool_calls=[FakeToolCall(name, arguments, call_id=call_id)])


@function_tool
async def book_flight(ctx: AsyncRunContext[None], destination: str) -> dict[str, str]:
    """Book a flight.

    Args:
        destination: where to fly
    """
    await ctx.update(f"looking up flights to {destination}")
    await asyncio.sleep(5)
    await ctx.update("found 3 flights, picking the best one")
    await asyncio.sleep(5)
    return {"confirmation": "FL-1"}


async def test_first_update_answers_the_call_later_ones_become_replies() -> None:
    llm = fake_llm(
        [
            call("book_flight", "c1", destination="Tokyo"),
            "Sure, looking up flights to Tokyo.",
            "I found three flights.",
            "Booked, your confirmation is FL-1.",
        ]
    )
    toolset = AsyncToolset(id="booking", tools=[book_flight])
    session: AgentSession[None] = AgentSession(llm=llm)
    agent = Agent(instructions="travel agent", tools=[toolset])
    await session.start(agent)
    await session.generate_reply(user_input="book me a flight to Tokyo")
    await session.drain()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    # the pending call was answered by the first update; the tool still runs
    assert toolset.running_call_ids == ["c1"]
    out = outputs(session.history)
    assert len(out) == 1 and out[0][0] == "c1"
    assert "looking up flights to Tokyo" in out[0][2] and "background" in out[0][2]
    assert assistant_texts(session.history) == ["Sure, looking up flights to Tokyo."]
    assert len(llm.calls) == 2

    await asyncio.sleep(5.5 - (loop.time() - t0))
    await session.drain()
    assert len(llm.calls) == 3
    third = llm.calls[2]
    assert third.tool_choice == "none"
    assert "c1/update_1" in (third.chat_ctx.items[-1].text_content or "")
    assert any(o[0] == "c1/update_1" and "found 3 flights" in o[2] for o in outputs(third.chat_ctx))

    await asyncio.sleep(6)
    await session.drain()
    assert len(llm.calls) == 4
    assert ("c1/finished", "book_flight", '{"confirmation": "FL-1"}', False) in outputs(
        llm.calls[3].chat_ctx
    )
    assert assistant_texts(session.history)[-1] == "Booked, your confirmation is FL-1."
    assert toolset.running_call_ids == []
    # the agent's own context holds the updates too
    assert [o[0] for o in outputs(agent.chat_ctx)] == ["c1", "c1/update_1", "c1/finished"]
    await session.aclose()


async def test_tool_without_update_behaves_like_a_normal_tool() -> None:
    @function_tool
    async def quick(ctx: AsyncRunContext[None]) -> str:
        """Quick answer."""
        await asyncio.sleep(1)
        return "42"

    llm = fake_llm([call("quick", "q1"), "It is 42."])
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[AsyncToolset(id="t", tools=[quick])]))
    await session.generate_reply(user_input="answer?")
    await session.drain()
    assert outputs(session.history) == [("q1", "quick", "42", False)]
    assert assistant_texts(session.history) == ["It is 42."]
    await asyncio.sleep(10)
    assert len(llm.calls) == 2
    await session.aclose()


async def test_updates_of_several_tools_are_coalesced_into_one_reply() -> None:
    @function_tool
    async def scan_a(ctx: AsyncRunContext[None]) -> None:
        """Scan A."""
        await ctx.update("A started")
        await asyncio.sleep(1)
        await ctx.update("A halfway")
        await asyncio.sleep(1)
        await ctx.update("A almost done")

    @function_tool
    async def scan_b(ctx: AsyncRunContext[None]) -> None:
        """Scan B."""
        await ctx.update("B started")
        await asyncio.sleep(1.5)
        await ctx.update("B halfway")

    llm = fake_llm(
        [
            FakeResponse(
                tool_calls=[
                    FakeToolCall("scan_a", {}, call_id="a"),
                    FakeToolCall("scan_b", {}, call_id="b"),
                ]
            ),
            # a slow answer to the first updates: the later updates arrive while it plays
            FakeResponse(text="Both scans started, this will take a moment.", chunk_delay=1.0),
            "Scan A is almost done and scan B is halfway.",
        ]
    )
    toolset = AsyncToolset(id="scans", tools=[scan_a, scan_b])
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[toolset]))
    await session.generate_reply(user_input="scan everything")
    await session.drain()
    await asyncio.sleep(10)
    await session.drain()
    assert len(llm.calls) == 3, [c.response.text for c in llm.calls]
    reply = llm.calls[2]
    delivered = [o[0] for o in outputs(reply.chat_ctx)]
    assert delivered == ["a", "b", "a/update_1", "b/update_1", "a/update_2"]
    note = reply.chat_ctx.items[-1].text_content or ""
    assert "a/update_1" in note and "b/update_1" in note and "a/update_2" in note
    assert reply.tool_choice == "none"
    await session.aclose()


@pytest.mark.parametrize("user_asks_again", [False, True])
async def test_reply_skipped_when_the_agent_already_spoke_after_the_update(
    user_asks_again: bool,
) -> None:
    @function_tool
    async def order(ctx: AsyncRunContext[None]) -> str:
        """Place the order."""
        await ctx.update("placing the order")
        await asyncio.sleep(2)
        return "order 77 placed"

    responses: list[Any] = [
        call("order", "o1"),
        "Placing your order.",
        FakeResponse(text=" ".join(["word"] * 10), chunk_delay=0.5),  # a long story, t=0.5..5.5
    ]
    if user_asks_again:
        responses.append("Your order 77 is placed, and it is sunny.")
    else:
        responses.append("Your order 77 is placed.")
    llm = fake_llm(responses)
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[AsyncToolset(id="shop", tools=[order])]))
    session.generate_reply(user_input="order it")
    await asyncio.sleep(0.5)
    session.generate_reply(user_input="tell me a story")
    await asyncio.sleep(2.5)  # t=3: the order finished at t=2, while the story plays
    assert any(o[0] == "o1/finished" for o in outputs(session.history))
    if user_asks_again:
        session.generate_reply(user_input="and the weather?")
    await asyncio.sleep(20)
    await session.drain()
    assert len(llm.calls) == 4, assistant_texts(session.history)
    last = llm.calls[3]
    assert any(o[0] == "o1/finished" for o in outputs(last.chat_ctx))
    if user_asks_again:
        # the user's question was answered with the result in context: no extra reply
        assert last.last_user_message == "and the weather?"
        assert last.tool_choice != "none"
    else:
        assert last.tool_choice == "none"
        assert "o1/finished" in (last.chat_ctx.items[-1].text_content or "")
    await session.aclose()


async def test_exception_before_the_first_update_is_an_error_output(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @function_tool
    async def fragile(ctx: AsyncRunContext[None]) -> str:
        """Fragile."""
        await asyncio.sleep(1)
        raise RuntimeError("disk on fire")

    llm = fake_llm([call("fragile", "f1"), "Sorry, that failed."])
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[AsyncToolset(id="t", tools=[fragile])]))
    with caplog.at_level(logging.ERROR):
        await session.generate_reply(user_input="go")
        await session.drain()
    assert outputs(session.history) == [("f1", "fragile", INTERNAL_ERROR_MESSAGE, True)]
    assert "disk on fire" in caplog.text
    await session.aclose()


async def test_exception_after_an_update_is_logged_and_delivered_as_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from voxlane.agents.llm import ToolError

    @function_tool
    async def fragile(ctx: AsyncRunContext[None], kind: str) -> str:
        """Fragile."""
        await ctx.update("working")
        await asyncio.sleep(1)
        if kind == "tool_error":
            raise ToolError("the printer is out of paper")
        raise RuntimeError("disk on fire")

    llm = fake_llm(
        [
            FakeResponse(
                tool_calls=[
                    FakeToolCall("fragile", {"kind": "tool_error"}, call_id="t1"),
                    FakeToolCall("fragile", {"kind": "crash"}, call_id="t2"),
                ]
            ),
            "Working on it.",
            "Both jobs failed.",
        ]
    )
    toolset = AsyncToolset(id="t", tools=[fragile], on_duplicate_call="allow")
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[toolset]))
    with caplog.at_level(logging.ERROR, logger="voxlane.agents.llm"):
        await session.generate_reply(user_input="go")
        await session.drain()
        await asyncio.sleep(5)
        await session.drain()
    finished = {o[0]: o for o in outputs(session.history) if o[0].endswith("/finished")}
    assert finished["t1/finished"][2:] == ("the printer is out of paper", True)
    assert finished["t2/finished"][2:] == (INTERNAL_ERROR_MESSAGE, True)
    assert "disk on fire" in caplog.text and "async tool fragile raised" in caplog.text
    assert len(llm.calls) == 3
    await session.aclose()


class Support(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="support")


class FrontDesk(Agent):
    def __init__(self, toolset: AsyncToolset) -> None:
        super().__init__(instructions="front desk", tools=[toolset])

    @function_tool
    async def transfer(self, context: RunContext[None]) -> tuple[Agent, str]:
        """Transfer to support."""
        return Support(), "transferring"


async def test_background_task_survives_a_handoff() -> None:
    @function_tool
    async def render_video(ctx: AsyncRunContext[None]) -> str:
        """Render the video."""
        await ctx.update("rendering")
        await asyncio.sleep(10)
        return "video ready at /v/1"

    llm = fake_llm(
        [
            call("render_video", "r1"),
            "Rendering started.",
            call("transfer", "x1"),
            "Transferring you.",
            "Your video is ready at /v/1.",
        ]
    )
    toolset = AsyncToolset(id="media", tools=[render_video])
    session: AgentSession[None] = AgentSession(llm=llm)
    front = FrontDesk(toolset)
    await session.start(front)
    await session.generate_reply(user_input="render my video")
    await session.drain()
    await session.generate_reply(user_input="now talk to support")
    await session.drain()
    assert isinstance(session.current_agent, Support)
    assert toolset.running_call_ids == ["r1"]
    await asyncio.sleep(15)
    await session.drain()
    support = session.current_agent
    assert len(llm.calls) == 5
    assert llm.calls[4].chat_ctx.items[0].text_content == "support"
    assert ("r1/finished", "render_video", "video ready at /v/1", False) in outputs(
        support.chat_ctx
    )
    assert assistant_texts(session.history)[-1] == "Your video is ready at /v/1."
    await session.aclose()


async def test_closing_the_session_cancels_background_tasks() -> None:
    cancelled = asyncio.Event()

    @function_tool
    async def forever(ctx: AsyncRunContext[None]) -> None:
        """Run forever."""
        await ctx.update("started")
        try:
            await asyncio.sleep(1000)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    llm = fake_llm([call("forever", "f1"), "Started."])
    toolset = AsyncToolset(id="t", tools=[forever])
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[toolset]))
    await session.generate_reply(user_input="go")
    await session.drain()
    assert toolset.running_call_ids == ["f1"]
    await session.aclose()
    assert cancelled.is_set() and toolset.running_call_ids == []
