"""Handoffs between agents (with per-agent models) and AgentTask sub-agents."""

from __future__ import annotations

from typing import Any

import pytest

from voxlane.agents.llm import function_tool
from voxlane.agents.voice import Agent, AgentSession, AgentTask, InlineTask, RunContext

pytestmark = pytest.mark.virtual_clock


class SupportAgent(Agent):
    def __init__(self, llm: Any) -> None:
        super().__init__(instructions="you are support", llm=llm)
        self.entered = 0

    async def on_enter(self) -> None:
        self.entered += 1
        self.session.generate_reply(instructions="greet the user")


class FrontDesk(Agent):
    def __init__(self, support_llm: Any) -> None:
        super().__init__(instructions="you are the front desk")
        self.support_llm = support_llm
        self.exited = 0

    async def on_exit(self) -> None:
        self.exited += 1

    @function_tool
    async def transfer_to_support(self, context: RunContext[None]) -> tuple[Agent, str]:
        """Transfer the user to support."""
        return SupportAgent(self.support_llm), "transferring you"


async def test_handoff_to_agent_with_its_own_llm(vh: Any) -> None:
    session_llm = vh.ScriptedLLM(
        [vh.Reply(calls=[vh.Call("transfer_to_support")]), "One moment, transferring you."]
    )
    support_llm = vh.ScriptedLLM(["Support here, what's up?"])
    session: AgentSession[None] = AgentSession(llm=session_llm)
    log = vh.EventLog(session)
    front = FrontDesk(support_llm)
    await session.start(front)
    await session.generate_reply(user_input="I need support")
    await session.drain()
    assert isinstance(session.current_agent, SupportAgent)
    assert front.exited == 1 and session.current_agent.entered == 1
    # the old agent answered the tool output once, without tools (it is handing off)
    assert len(session_llm.calls) == 2 and session_llm.calls[1].tool_choice == "none"
    assert len(support_llm.calls) == 1
    support_ctx = support_llm.calls[0].chat_ctx
    assert support_ctx.items[0].text_content == "you are support"
    assert support_ctx.items[-1].text_content == "greet the user"
    hist = vh.history(session.history)
    assert hist[0] == ("user", "I need support")
    assert ("output", "transfer_to_support", "transferring you", "ok") in hist
    i_said = hist.index(("assistant", "One moment, transferring you.", "complete"))
    assert hist.index(("handoff", "front_desk", "support_agent")) > i_said
    assert hist[-1] == ("assistant", "Support here, what's up?", "complete")
    handoffs = [e.item for e in log.of("conversation_item_added") if e.item.type == "agent_handoff"]
    assert len(handoffs) == 1
    await session.aclose()


class AskName(AgentTask[str]):
    def __init__(self) -> None:
        super().__init__(instructions="ask the user's name")

    async def on_enter(self) -> None:
        self.session.generate_reply()

    @function_tool
    async def name_given(self, name: str) -> None:
        """Called with the user's name."""
        self.complete(name)


class Host(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="host")
        self.results: list[str] = []

    @function_tool
    async def collect_name(self) -> str:
        """Ask the user for their name."""
        name = await AskName()
        self.results.append(name)
        return f"the name is {name}"


async def test_agent_task_returns_its_result_to_the_tool(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [
            vh.Reply(calls=[vh.Call("collect_name")]),  # host decides to collect the name
            "What is your name?",  # AskName.on_enter
            vh.Reply(calls=[vh.Call("name_given", {"name": "Grace"})]),  # user answered
            "Thanks Grace!",  # host's reply to the tool output
        ]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    host = Host()
    await session.start(host)
    session.generate_reply(user_input="hi")
    # wait for the task to ask, then answer it
    for _ in range(100):
        if isinstance(session.current_agent, AskName) and len(llm.calls) >= 2:
            break
        await vh_sleep(0.1)
    assert isinstance(session.current_agent, AskName)
    await session.drain()
    session.generate_reply(user_input="I'm Grace")
    for _ in range(200):
        if host.results and session.current_agent is host:
            break
        await vh_sleep(0.1)
    await session.drain()
    assert host.results == ["Grace"]
    assert session.current_agent is host
    hist = vh.history(session.history)
    assert ("output", "collect_name", "the name is Grace", "ok") in hist
    assert hist[-1] == ("assistant", "Thanks Grace!", "complete")
    # the task's conversation was merged back into the host's context (without tool calls)
    host_texts = [m.text_content for m in host.chat_ctx.messages()]
    assert "What is your name?" in host_texts
    await session.aclose()


async def vh_sleep(t: float) -> None:
    import asyncio

    await asyncio.sleep(t)


async def test_agent_task_outside_tool_is_an_error() -> None:
    assert InlineTask is AgentTask
    with pytest.raises(RuntimeError, match="only be awaited inside a function tool"):
        await AskName()
    task = AskName()
    with pytest.raises(RuntimeError, match="not running"):
        task.complete("x")


async def test_closing_during_agent_task_leaves_no_task(vh: Any) -> None:
    import asyncio

    llm = vh.ScriptedLLM([vh.Reply(calls=[vh.Call("collect_name")]), "What is your name?"])
    session: AgentSession[None] = AgentSession(llm=llm)
    before = set(asyncio.all_tasks())
    host = Host()
    await session.start(host)
    session.generate_reply(user_input="hi")
    for _ in range(50):
        if isinstance(session.current_agent, AskName):
            break
        await vh_sleep(0.1)
    assert isinstance(session.current_agent, AskName)
    await session.aclose()
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
    assert leftover == []
    assert host.results == []
