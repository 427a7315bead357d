"""The reply to tool outputs is a child SpeechHandle (parent/step_index, source="tool_response")."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxlane.agents.llm import function_tool
from voxlane.agents.voice import Agent, AgentSession, RunContext, SpeechHandle
from voxlane.agents.voice.events import SpeechCreatedEvent

pytestmark = pytest.mark.virtual_clock


class Teller(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="bank teller")
        self.tool_handles: list[SpeechHandle] = []
        self.release = asyncio.Event()
        self.release.set()
        self.started = asyncio.Event()

    @function_tool
    async def balance(self, context: RunContext[None]) -> str:
        """Read the account balance."""
        self.tool_handles.append(context.speech_handle)
        self.started.set()
        await self.release.wait()
        return "12 euros"


def _record(session: AgentSession[Any]) -> list[SpeechCreatedEvent]:
    created: list[SpeechCreatedEvent] = []
    session.on("speech_created", created.append)
    return created


async def test_tool_reply_is_a_child_handle_announced_as_tool_response(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [
            vh.Reply(text="Let me check.", calls=[vh.Call("balance")]),
            vh.Reply(text="You have 12 euros.", chunk_delay=0.5),
        ]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    agent = Teller()
    await session.start(agent)
    created = _record(session)
    parent = session.generate_reply(user_input="what is my balance?")
    await parent
    # the parent is over once its own playout and tools are done; the answer is a child
    assert [(e.source, e.user_initiated) for e in created] == [
        ("generate_reply", True),
        ("tool_response", False),
    ]
    child = created[1].speech_handle
    assert created[0].speech_handle is parent
    assert child is not parent and child.parent is parent and parent.parent is None
    assert (parent.step_index, child.step_index) == (0, 1)
    assert agent.tool_handles == [parent]  # RunContext.speech_handle: the handle that called
    assert parent.done() and not child.done()  # parent.wait_for_playout() did not wait for it
    assert parent.chat_message is not None and parent.chat_message.text_content == "Let me check."
    await child
    assert child.chat_message is not None
    assert child.chat_message.text_content == "You have 12 euros."
    assert [i.type for i in parent.chat_items] == [
        "message",
        "function_call",
        "function_call_output",
    ]
    assert vh.history(session.history)[-1] == ("assistant", "You have 12 euros.", "complete")
    await session.aclose()


async def test_max_tool_steps_bounds_the_chain_of_child_handles(vh: Any) -> None:
    replies = [vh.Reply(calls=[vh.Call("balance", call_id=f"c{i}")]) for i in range(4)]
    llm = vh.ScriptedLLM(replies)
    session: AgentSession[None] = AgentSession(llm=llm, max_tool_steps=2)
    agent = Teller()
    await session.start(agent)
    created = _record(session)
    session.generate_reply(user_input="check again and again")
    await session.drain()
    handles = [e.speech_handle for e in created]
    # steps 0 and 1 may call tools; step 2 runs with tool_choice="none" and is the last one
    assert [h.step_index for h in handles] == [0, 1, 2]
    assert [h.parent for h in handles] == [None, handles[0], handles[1]]
    assert [e.source for e in created] == ["generate_reply", "tool_response", "tool_response"]
    assert [c.tool_choice for c in llm.calls][-1] == "none"
    assert len(llm.calls) == 3 and len(llm.replies) == 1
    assert agent.tool_handles == handles  # each step's tools see their own handle
    await session.aclose()


async def test_interrupting_during_tools_cancels_the_tool_reply(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [vh.Reply(text="Checking.", calls=[vh.Call("balance")]), "You have 12 euros."]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    agent = Teller()
    agent.release.clear()
    await session.start(agent)
    created = _record(session)
    parent = session.generate_reply(user_input="balance please")
    await agent.started.wait()
    assert not parent.done()  # its tool is still running
    parent.interrupt()
    agent.release.set()
    await parent
    await session.drain()
    assert parent.interrupted
    assert [e.source for e in created] == ["generate_reply"]  # no child was created
    assert len(llm.calls) == 1 and len(llm.replies) == 1  # the answer was never generated
    assert ("assistant", "You have 12 euros.", "complete") not in vh.history(session.history)
    await session.aclose()


async def test_interrupting_the_parent_interrupts_its_scheduled_child(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [
            vh.Reply(text="Checking.", calls=[vh.Call("balance")]),
            vh.Reply(text="You have 12 euros.", ttft=1.0),
        ]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Teller())
    created = _record(session)
    parent = session.generate_reply(user_input="balance please")
    await parent
    child = created[-1].speech_handle
    assert child.parent is parent and not child.done()
    parent.interrupt()
    await child
    assert child.interrupted
    await session.drain()
    assert ("assistant", "You have 12 euros.", "complete") not in vh.history(session.history)
    await session.aclose()


async def test_run_result_shows_the_whole_turn_including_the_tool_reply(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [
            vh.Reply(text="One moment.", calls=[vh.Call("balance")]),
            vh.Reply(text="You have 12 euros.", chunk_delay=0.5),
        ]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Teller())
    created = _record(session)
    result = await session.run(user_input="what is my balance?")
    assert result.done()
    result.expect.next_event().is_message(role="assistant").contains_text("One moment")
    result.expect.next_event().is_function_call(name="balance")
    result.expect.next_event().is_function_call_output(output="12 euros", is_error=False)
    result.expect.next_event().is_message(role="assistant").contains_text("12 euros")
    result.expect.no_more_events()
    assert result.final_output == "You have 12 euros."
    assert [e.source for e in created] == ["generate_reply", "tool_response"]
    assert all(e.speech_handle.done() for e in created)
    await session.aclose()
