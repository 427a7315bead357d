"""AsyncToolset: duplicate-call modes, built-in task tools, cancel() and aclose()."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from voxlane.agents.llm import ChatContext, ToolContext, function_tool
from voxlane.agents.llm.async_toolset import (
    CONFIRM_DUPLICATE_PARAM,
    AsyncRunContext,
    AsyncToolset,
)
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall
from voxlane.agents.voice import Agent, AgentSession

pytestmark = pytest.mark.virtual_clock


def outputs(ctx: ChatContext) -> dict[str, str]:
    return {i.call_id: i.output for i in ctx.items if i.type == "function_call_output"}


def call(name: str, id_: str, **arguments: Any) -> FakeResponse:
    return FakeResponse(tool_calls=[FakeToolCall(name, arguments, call_id=id_)])


class Counter:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.cancelled: list[str] = []

    def tool(self) -> Any:
        @function_tool
        async def search(ctx: AsyncRunContext[None], query: str) -> str:
            """Search the archive.

            Args:
                query: what to look for
            """
            self.started.append(ctx.function_call.call_id)
            await ctx.update(f"searching {query}")
            try:
                await asyncio.sleep(100)
            except asyncio.CancelledError:
                self.cancelled.append(ctx.function_call.call_id)
                raise
            return "found"

        return search


async def run_two_calls(
    mode: Any, second_args: dict[str, Any]
) -> tuple[Counter, AsyncToolset, FakeLLM, AgentSession[None]]:
    counter = Counter()
    toolset = AsyncToolset(id="archive", tools=[counter.tool()], on_duplicate_call=mode)
    llm = FakeLLM(
        [
            call("search", "s1", query="cats"),
            "Searching.",
            FakeResponse(tool_calls=[FakeToolCall("search", second_args, call_id="s2")]),
            "Okay.",
        ],
        default="an unexpected extra reply",
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[toolset]))
    await session.generate_reply(user_input="search cats")
    await session.drain()
    await session.generate_reply(user_input="search again")
    await session.drain()
    return counter, toolset, llm, session


async def test_allow_starts_a_second_call() -> None:
    counter, toolset, llm, session = await run_two_calls("allow", {"query": "cats"})
    assert counter.started == ["s1", "s2"] and counter.cancelled == []
    assert len(llm.calls) == 4
    assert sorted(toolset.running_call_ids) == ["s1", "s2"]
    assert "searching cats" in outputs(session.history)["s2"]
    await session.aclose()
    assert sorted(counter.cancelled) == ["s1", "s2"]


async def test_replace_cancels_the_running_call() -> None:
    counter, toolset, llm, session = await run_two_calls("replace", {"query": "dogs"})
    assert counter.started == ["s1", "s2"] and counter.cancelled == ["s1"]
    assert len(llm.calls) == 4
    assert toolset.running_call_ids == ["s2"]
    assert "searching dogs" in outputs(session.history)["s2"]
    await session.aclose()


async def test_reject_refuses_with_a_message() -> None:
    counter, toolset, llm, session = await run_two_calls("reject", {"query": "dogs"})
    assert counter.started == ["s1"] and toolset.running_call_ids == ["s1"]
    assert len(llm.calls) == 4
    refusal = outputs(session.history)["s2"]
    assert "already running" in refusal and "s1" in refusal and "cancel_task" in refusal
    await session.aclose()


async def test_confirm_asks_first_then_runs_when_confirmed() -> None:
    counter = Counter()
    toolset = AsyncToolset(id="archive", tools=[counter.tool()])
    assert toolset.on_duplicate_call == "confirm"
    schema = ToolContext([toolset]).parse_function_tools("openai")
    search = next(s["function"] for s in schema if s["function"]["name"] == "search")
    props = search["parameters"]["properties"]
    assert props[CONFIRM_DUPLICATE_PARAM]["type"] == "boolean"
    assert props["query"]["description"] == "what to look for"
    assert CONFIRM_DUPLICATE_PARAM not in search["parameters"].get("required", [])

    llm = FakeLLM(
        [
            call("search", "s1", query="cats"),
            "Searching.",
            call("search", "s2", query="cats"),
            "It is already running, do you want a second search?",
            call("search", "s3", query="cats", **{CONFIRM_DUPLICATE_PARAM: True}),
            "Started a second search.",
        ],
        default="an unexpected extra reply",
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[toolset]))
    for text in ("search cats", "search cats again", "yes, really"):
        await session.generate_reply(user_input=text)
        await session.drain()
    out = outputs(session.history)
    assert "already running" in out["s2"] and CONFIRM_DUPLICATE_PARAM in out["s2"]
    assert "searching cats" in out["s3"]
    assert counter.started == ["s1", "s3"]
    assert sorted(toolset.running_call_ids) == ["s1", "s3"]
    await session.aclose()


async def test_builtin_tools_list_and_cancel_running_tasks() -> None:
    counter = Counter()
    toolset = AsyncToolset(id="archive", tools=[counter.tool()])
    names = sorted(ToolContext([toolset]).function_tools)
    assert names == ["cancel_task", "get_running_tasks", "search"]
    llm = FakeLLM(
        [
            call("search", "s1", query="cats"),
            "Searching.",
            call("get_running_tasks", "g1"),
            "One search is running.",
            call("cancel_task", "k1", call_id="s1"),
            "Cancelled.",
            call("cancel_task", "k2", call_id="s1"),
            "It was not running.",
        ],
        default="an unexpected extra reply",
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[toolset]))
    for text in ("search cats", "what runs?", "cancel it", "cancel it again"):
        await session.generate_reply(user_input=text)
        await session.drain()
    out = outputs(session.history)
    listed = json.loads(out["g1"])
    assert listed == [{"call_id": "s1", "name": "search", "arguments": '{"query": "cats"}'}]
    assert "s1" in out["k1"] and "cancelled" in out["k1"]
    assert "No running task" in out["k2"]
    assert counter.cancelled == ["s1"] and toolset.running_call_ids == []
    await session.aclose()


async def test_cancel_and_aclose() -> None:
    counter = Counter()
    toolset = AsyncToolset(id="archive", tools=[counter.tool()], on_duplicate_call="allow")
    llm = FakeLLM(
        [
            FakeResponse(
                tool_calls=[
                    FakeToolCall("search", {"query": q}, call_id=f"s{i}")
                    for i, q in enumerate(("a", "b", "c"))
                ]
            ),
            "Three searches started.",
        ],
        default="an unexpected extra reply",
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[toolset]))
    await session.generate_reply(user_input="search a b c")
    await session.drain()
    assert sorted(toolset.running_call_ids) == ["s0", "s1", "s2"]
    assert await toolset.cancel("s1") is True
    assert await toolset.cancel("s1") is False
    assert await toolset.cancel("nope") is False
    assert counter.cancelled == ["s1"]
    await toolset.aclose()
    assert sorted(counter.cancelled) == ["s0", "s1", "s2"]
    assert toolset.running_call_ids == []
    await asyncio.sleep(200)
    # nothing was delivered after the cancellation
    assert len(llm.calls) == 2
    await session.aclose()


async def test_invalid_arguments_are_reported_without_starting() -> None:
    counter = Counter()
    toolset = AsyncToolset(id="archive", tools=[counter.tool()])
    llm = FakeLLM(
        [call("search", "s1", query=12), "Let me fix that."],
        default="an unexpected extra reply",
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[toolset]))
    await session.generate_reply(user_input="search")
    await session.drain()
    err = next(i for i in session.history.items if i.type == "function_call_output")
    assert err.is_error and "query" in err.output
    assert counter.started == []
    await session.aclose()


def test_bad_mode_and_plain_tools() -> None:
    with pytest.raises(ValueError, match="on_duplicate_call must be"):
        AsyncToolset(id="x", on_duplicate_call="sometimes")  # type: ignore[arg-type]

    @function_tool
    async def plain(city: str) -> str:
        """A normal tool."""
        return city

    toolset = AsyncToolset(id="x", tools=[plain])
    # tools without an AsyncRunContext are left untouched
    assert plain in toolset.tools


class Reports(AsyncToolset):
    """An AsyncToolset subclass whose own methods are background tools."""

    def __init__(self) -> None:
        super().__init__(id="reports", on_duplicate_call="reject")

    @function_tool
    async def build_report(self, ctx: AsyncRunContext[None], year: int) -> str:
        """Build the yearly report."""
        await ctx.update(f"building {year}")
        await asyncio.sleep(3)
        return f"report {year} ready"


async def test_methods_of_a_subclass_run_in_the_background() -> None:
    reports = Reports()
    llm = FakeLLM(
        [call("build_report", "b1", year=2024), "Building it.", "Your 2024 report is ready."],
        default="an unexpected extra reply",
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[reports]))
    await session.generate_reply(user_input="report please")
    await session.drain()
    assert reports.running_call_ids == ["b1"]
    await asyncio.sleep(5)
    await session.drain()
    assert outputs(session.history)["b1/finished"] == "report 2024 ready"
    assert len(llm.calls) == 3
    await session.aclose()
