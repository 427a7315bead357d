"""Text-only turns: generate_reply, say, tools, queue order, handoffs (no audio I/O)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from pydantic import Field

from voxlane.agents.llm import StopResponse, ToolError, function_tool
from voxlane.agents.voice import Agent, AgentSession, RunContext

pytestmark = pytest.mark.virtual_clock


async def test_generate_reply_records_user_and_assistant(vh: Any) -> None:
    llm = vh.ScriptedLLM(["Hello there, how can I help?"])
    session: AgentSession[None] = AgentSession(llm=llm)
    log = vh.EventLog(session)
    await session.start(Agent(instructions="be nice"))
    handle = session.generate_reply(user_input="hi")
    await handle
    assert handle.done() and not handle.interrupted
    assert vh.history(session.history) == [
        ("user", "hi"),
        ("assistant", "Hello there, how can I help?", "complete"),
    ]
    # the LLM saw the instructions first, then the user message
    sent = llm.calls[0].chat_ctx.items
    assert sent[0].role == "system" and sent[0].text_content == "be nice"
    assert sent[-1].role == "user" and sent[-1].text_content == "hi"
    assert log.names() == [
        "agent_state_changed",  # initializing -> listening
        "speech_created",
        "conversation_item_added",  # user
        "agent_state_changed",  # thinking
        "agent_state_changed",  # speaking
        "conversation_item_added",  # assistant
        "agent_state_changed",  # listening
    ]
    states = [(e.old_state, e.new_state) for e in log.of("agent_state_changed")]
    assert states == [
        ("initializing", "listening"),
        ("listening", "thinking"),
        ("thinking", "speaking"),
        ("speaking", "listening"),
    ]
    assert handle.chat_message is not None
    assert handle.chat_message.text_content == "Hello there, how can I help?"
    await session.aclose()
    assert log.of("close")[0].reason.value == "user_initiated"


@dataclass
class MySessionInfo:
    user_name: str | None = None
    age: int | None = None


RunContext_T = RunContext[MySessionInfo]


@function_tool()
async def record_name(
    name: Annotated[str, Field(description="The customer's name")],
    context: RunContext_T,
) -> str:
    """Record the customer's name."""
    userdata = context.userdata
    userdata.user_name = name
    return f"The name is updated to {name}"


async def test_seed_record_name_userdata_example(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [vh.Reply(calls=[vh.Call("record_name", {"name": "Ada"})]), "Nice to meet you, Ada."]
    )
    info = MySessionInfo()
    session = AgentSession[MySessionInfo](llm=llm, userdata=info)
    log = vh.EventLog(session)
    await session.start(Agent(instructions="ask the name", tools=[record_name]))
    await session.generate_reply(user_input="I'm Ada")
    await session.drain()
    assert info.user_name == "Ada"
    assert vh.history(session.history) == [
        ("user", "I'm Ada"),
        ("call", "record_name", '{"name": "Ada"}'),
        ("output", "record_name", "The name is updated to Ada", "ok"),
        ("assistant", "Nice to meet you, Ada.", "complete"),
    ]
    # the RunContext parameter is hidden from the schema the LLM sees
    [tool] = llm.calls[0].tools
    assert tool.info.name == "record_name"
    executed = log.of("function_tools_executed")
    assert len(executed) == 1
    [(call, out)] = executed[0].zipped()
    assert call.name == "record_name" and out is not None and not out.is_error
    # the follow-up LLM call saw the tool output
    assert llm.calls[1].chat_ctx.items[-1].type == "function_call_output"
    await session.aclose()


class ToolAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="use tools")
        self.seen: list[str] = []

    @function_tool
    async def lookup(self, city: str) -> str:
        """Look up the weather of a city."""
        await asyncio.sleep(1.0)
        self.seen.append(city)
        return f"sunny in {city}"

    @function_tool
    async def broken(self) -> str:
        """Always fails."""
        raise ToolError("the weather service is down")

    @function_tool
    async def crash(self) -> str:
        """Raises an unexpected error."""
        raise KeyError("secret internals")

    @function_tool
    async def silent(self) -> None:
        """Stops the reply."""
        raise StopResponse()


async def test_parallel_tool_calls_run_concurrently(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [
            vh.Reply(
                calls=[vh.Call("lookup", {"city": "Paris"}), vh.Call("lookup", {"city": "Oslo"})]
            ),
            "Sunny in both.",
        ]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    agent = ToolAgent()
    await session.start(agent)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await session.generate_reply(user_input="weather?")
    await session.drain()
    # both tools slept 1 s concurrently, not 2 s one after the other
    assert loop.time() - t0 == pytest.approx(1.0, abs=0.01)
    assert sorted(agent.seen) == ["Oslo", "Paris"]
    hist = vh.history(session.history)
    assert [h[0] for h in hist] == ["user", "call", "call", "output", "output", "assistant"] or [
        h[0] for h in hist
    ] == ["user", "call", "output", "call", "output", "assistant"]
    await session.aclose()


async def test_tool_errors_become_error_outputs_and_stop_response(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [vh.Reply(calls=[vh.Call("broken"), vh.Call("crash")]), "Sorry about that."]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(ToolAgent())
    await session.generate_reply(user_input="go")
    await session.drain()
    outputs = [h for h in vh.history(session.history) if h[0] == "output"]
    assert ("output", "broken", "the weather service is down", "error") in outputs
    crash = next(o for o in outputs if o[1] == "crash")
    assert crash[3] == "error" and "secret internals" not in crash[2]
    assert vh.history(session.history)[-1] == ("assistant", "Sorry about that.", "complete")

    llm.replies.append(vh.Reply(calls=[vh.Call("silent")]))
    await session.generate_reply(user_input="be quiet")
    await session.drain()
    assert len(llm.replies) == 0 and len(llm.calls) == 3  # no reply after StopResponse
    assert vh.history(session.history)[-1] == ("call", "silent", "{}")
    await session.aclose()


async def test_chained_tool_calls_stop_at_max_tool_steps(vh: Any) -> None:
    replies = [vh.Reply(calls=[vh.Call("lookup", {"city": f"c{i}"})]) for i in range(3)]
    llm = vh.ScriptedLLM([*replies, "Done looking."])
    session: AgentSession[None] = AgentSession(llm=llm, max_tool_steps=3)
    await session.start(ToolAgent())
    steps: list[int] = []
    session.on("speech_created", lambda ev: steps.append(ev.speech_handle.step_index))
    handle = session.generate_reply(user_input="look everywhere")
    await handle
    await session.drain()
    choices = [c.tool_choice for c in llm.calls]
    assert len(choices) == 4
    assert choices[3] == "none"  # the last step may not call tools
    assert all(c != "none" for c in choices[:3])
    assert handle.step_index == 0 and steps == [0, 1, 2, 3]  # one speech per step
    assert vh.history(session.history)[-1] == ("assistant", "Done looking.", "complete")
    await session.aclose()


async def test_say_and_generate_reply_play_in_queue_order(vh: Any) -> None:
    llm = vh.ScriptedLLM([vh.Reply(text="generated reply", chunk_delay=0.5)])
    session: AgentSession[None] = AgentSession(llm=llm)
    text_out = vh.MemoryTextOutput()
    session.output.transcription = text_out
    await session.start(Agent(instructions="x"))
    first = session.say("first")
    second = session.generate_reply()
    third = session.say("third")
    order: list[str] = []
    for name, h in (("first", first), ("second", second), ("third", third)):
        h.add_done_callback(lambda _h, n=name: order.append(n))
    await third
    assert order == ["first", "second", "third"]
    assert text_out.segments == ["first", "generated reply", "third"]
    await session.aclose()


async def test_speech_priority_high_goes_first(vh: Any) -> None:
    from voxlane.agents.voice import SpeechHandle

    session: AgentSession[None] = AgentSession()
    text_out = vh.MemoryTextOutput()
    session.output.transcription = text_out
    await session.start(Agent(instructions="x"))
    activity = session._activity
    assert activity is not None
    activity.pause()  # hold the queue while we fill it
    low = session.say("low")
    normal = session.say("normal")
    # re-queue "low" as low priority and add an urgent one at high priority
    activity._queue.clear()
    activity._schedule(low, SpeechHandle.SPEECH_PRIORITY_LOW)
    activity._schedule(normal, SpeechHandle.SPEECH_PRIORITY_NORMAL)
    urgent = session.say("urgent")
    activity._queue = [e for e in activity._queue if e[2] is not urgent]
    activity._schedule(urgent, SpeechHandle.SPEECH_PRIORITY_HIGH)
    activity.resume()
    await low
    assert text_out.segments == ["urgent", "normal", "low"]
    await session.aclose()


async def test_drain_and_aclose_leave_no_task_behind(vh: Any) -> None:
    llm = vh.ScriptedLLM([vh.Reply(text="a slow reply", chunk_delay=2.0)])
    session: AgentSession[None] = AgentSession(llm=llm)
    before = set(asyncio.all_tasks())
    await session.start(Agent(instructions="x"))
    session.generate_reply(user_input="hello")
    await session.drain()
    assert vh.history(session.history)[-1] == ("assistant", "a slow reply", "complete")
    h = session.say("interrupted by close")
    await session.aclose()
    assert h.done()
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
    assert leftover == []
    with pytest.raises(RuntimeError, match="not running"):
        session.say("after close")


async def test_bad_arguments_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="max_endpointing_delay"):
        AgentSession(min_endpointing_delay=2.0, max_endpointing_delay=1.0)
    with pytest.raises(ValueError, match="max_tool_steps"):
        AgentSession(max_tool_steps=0)
    with pytest.raises(ValueError, match="turn_detection"):
        AgentSession(turn_detection="psychic")
    with pytest.raises(ValueError, match="min_interruption_duration"):
        AgentSession(min_interruption_duration=-1)
    with pytest.raises(TypeError, match="instructions"):
        Agent(instructions=None)  # type: ignore[arg-type]
    session: AgentSession[None] = AgentSession()
    with pytest.raises(ValueError, match="userdata"):
        _ = session.userdata
    with pytest.raises(RuntimeError, match="not running"):
        session.generate_reply()
    with pytest.raises(RuntimeError, match="not running"):
        _ = Agent(instructions="x").session
