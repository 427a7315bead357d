"""Gaps G3/O1/O2 and A6 (session part): ``start(capture_run=True)``, ``wait_for_idle()``,
``usage``, ``shutdown(drain=...)``, ``run(timeout=...)`` and the greeting kept out of runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxlane.agents.llm import function_tool
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall, FakeTTS
from voxlane.agents.voice import Agent, AgentSession, RunContext
from voxlane.agents.voice.io import AudioOutput
from voxlane.agents.voice.run_control import RunTimeoutError

pytestmark = pytest.mark.virtual_clock


class Greeter(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="greet")

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="greet the user")


class Lookup(Agent):
    """on_enter looks something up with a tool before greeting."""

    def __init__(self) -> None:
        super().__init__(instructions="lookup")

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="check the weather")

    @function_tool
    async def weather(self, city: str) -> str:
        """Weather of a city.

        Args:
            city: the city.
        """
        return f"sunny in {city}"


# -- capture_run -------------------------------------------------------------------------------


async def test_capture_run_returns_the_on_enter_greeting() -> None:
    llm = FakeLLM(["Hello! How can I help?"], default="I heard you.")
    session: AgentSession[None] = AgentSession(llm=llm)
    result = await session.start(Greeter(), capture_run=True)
    assert result.done()
    result.expect.next_event().is_message(role="assistant").contains_text("How can I help")
    result.expect.no_more_events()
    assert result.final_output == "Hello! How can I help?"
    # the next run only holds its own turn
    run = await session.run(user_input="hi")
    run.expect.next_event().is_message(role="assistant").contains_text("I heard you")
    run.expect.no_more_events()
    await session.aclose()


async def test_capture_run_records_on_enter_tool_calls() -> None:
    llm = FakeLLM(
        [
            FakeResponse(
                tool_calls=[FakeToolCall("weather", {"city": "Oslo"})],
                followup="It is sunny in Oslo today.",
            )
        ]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    result = await session.start(Lookup(), capture_run=True)
    result.expect.next_event().is_function_call(name="weather", arguments={"city": "Oslo"})
    result.expect.next_event().is_function_call_output(output="sunny in Oslo")
    result.expect.next_event().is_message(role="assistant")
    result.expect.no_more_events()
    await session.aclose()


async def test_start_without_capture_returns_none() -> None:
    session: AgentSession[None] = AgentSession(llm=FakeLLM(default="x"))
    assert await session.start(Agent(instructions="quiet")) is None
    await session.aclose()


# -- greeting vs first run ---------------------------------------------------------------------


async def test_run_right_after_start_keeps_the_greeting_out() -> None:
    """O1: the greeting's LLM call does not see the run's input, and the run's events do not
    include the greeting."""
    llm = FakeLLM(["Welcome to the shop!", "Tea is 3 euros."], ttft=0.5)
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Greeter())
    result = await session.run(user_input="how much is tea?")
    result.expect.next_event().is_message(role="assistant").contains_text("3 euros")
    result.expect.no_more_events()
    greeting_call, run_call = llm.calls
    assert greeting_call.last_user_message is None
    assert run_call.last_user_message == "how much is tea?"
    roles = [(m.role, m.text_content) for m in session.history.messages()]
    assert roles == [
        ("assistant", "Welcome to the shop!"),
        ("user", "how much is tea?"),
        ("assistant", "Tea is 3 euros."),
    ]
    await session.aclose()


# -- run timeout -------------------------------------------------------------------------------


class Waiter(Agent):
    """A tool that waits for something that never happens during the run."""

    def __init__(self, gate: asyncio.Event) -> None:
        super().__init__(instructions="wait")
        self._gate = gate

    @function_tool
    async def wait_for_manager(self, context: RunContext[None]) -> str:
        """Ask the manager."""
        await self._gate.wait()
        return "approved"


async def test_run_that_never_completes_times_out_with_a_clear_error() -> None:
    gate = asyncio.Event()
    llm = FakeLLM(
        [FakeResponse(tool_calls=[FakeToolCall("wait_for_manager")], followup="Approved.")]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Waiter(gate))
    with pytest.raises(RunTimeoutError, match=r"did not complete within 30 s") as info:
        await session.run(user_input="can I get a refund?", timeout=30)
    assert isinstance(info.value, TimeoutError)
    assert "generate_reply(user_input=...)" in str(info.value)
    # the session still works: the tool finishes once the gate opens
    gate.set()
    await session.wait_for_idle()
    assert session.history.messages()[-1].text_content == "Approved."
    await session.aclose()


async def test_run_timeout_is_validated() -> None:
    session: AgentSession[None] = AgentSession(llm=FakeLLM(default="x"))
    await session.start(Agent(instructions="x"))
    with pytest.raises(ValueError, match="timeout"):
        await session.run(user_input="hi", timeout=0)
    await session.aclose()


class _StuckOutput(AudioOutput):
    """An audio output that never reports playback as finished."""

    def __init__(self) -> None:
        super().__init__(label="stuck", sample_rate=24000)

    async def capture_frame(self, frame: Any) -> None:
        await super().capture_frame(frame)

    def flush(self) -> None:
        super().flush()

    def clear_buffer(self) -> None:
        pass


async def test_run_behind_a_greeting_that_never_ends_times_out() -> None:
    session: AgentSession[None] = AgentSession(
        llm=FakeLLM(["Welcome!"], default="x"), tts=FakeTTS(seconds_per_char=0.01)
    )
    session.output.audio = _StuckOutput()
    await session.start(Greeter())
    with pytest.raises(RunTimeoutError, match="could not start within 5 s"):
        await session.run(user_input="hello", timeout=5)
    await session.aclose()


# -- wait_for_idle, usage, shutdown ------------------------------------------------------------


async def test_wait_for_idle_waits_for_the_greeting() -> None:
    session: AgentSession[None] = AgentSession(llm=FakeLLM(["Hi there."], ttft=1.0))
    await session.start(Greeter())
    assert [m.role for m in session.history.messages()] == []
    await session.wait_for_idle()
    assert [m.text_content for m in session.history.messages()] == ["Hi there."]
    assert session.agent_state in ("listening", "idle")
    await session.aclose()
    with pytest.raises(RuntimeError, match="not running"):
        await session.wait_for_idle()


async def test_usage_sums_llm_tokens() -> None:
    session: AgentSession[None] = AgentSession(llm=FakeLLM(default="one two three"))
    assert session.usage.llm_completion_tokens == 0
    await session.start(Agent(instructions="x"))
    await session.run(user_input="hello")
    first = session.usage
    assert first.llm_prompt_tokens > 0 and first.llm_completion_tokens > 0
    await session.run(user_input="again")
    assert session.usage.llm_completion_tokens > first.llm_completion_tokens
    await session.aclose()


@pytest.mark.parametrize("drain", [True, False])
async def test_shutdown_closes_after_draining_or_at_once(drain: bool) -> None:
    session: AgentSession[None] = AgentSession(llm=FakeLLM(["A long goodbye message."], ttft=2.0))
    closed = asyncio.Event()
    session.on("close", lambda ev: closed.set())
    await session.start(Greeter())
    await asyncio.sleep(0.1)  # the greeting is being generated
    session.shutdown(drain=drain)
    session.shutdown(drain=drain)  # a second call is ignored
    await asyncio.wait_for(closed.wait(), 30)
    said = [m.text_content for m in session.history.messages() if m.role == "assistant"]
    assert said == (["A long goodbye message."] if drain else [])
