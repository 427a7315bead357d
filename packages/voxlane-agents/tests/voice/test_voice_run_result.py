"""Text-only testing: session.run -> RunResult, the fluent assertions and mock_tools."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from voxlane.agents.llm import ToolError, function_tool
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall, RunResult, mock_tools
from voxlane.agents.voice import Agent, AgentSession, RunContext
from voxlane.agents.voice.run_result import AgentHandoffEvent, FunctionCallEvent

pytestmark = pytest.mark.virtual_clock


class Billing(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="billing")

    async def on_enter(self) -> None:
        self.session.generate_reply()


class Shop(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="shop")

    @function_tool
    async def lookup(self, context: RunContext[dict[str, Any]], item: str) -> str:
        """Look up the price of an item.

        Args:
            item: the item name.
        """
        context.userdata.setdefault("looked_up", []).append(item)
        return f"{item} costs 3 euros"

    @function_tool
    async def refund(self, order_id: int) -> str:
        """Refund an order.

        Args:
            order_id: the order number.
        """
        raise ToolError(f"order {order_id} cannot be refunded")

    @function_tool
    async def to_billing(self) -> tuple[Agent, str]:
        """Transfer to billing."""
        return Billing(), "transferring"


async def _session(llm: FakeLLM) -> AgentSession[dict[str, Any]]:
    session: AgentSession[dict[str, Any]] = AgentSession(llm=llm, userdata={})
    await session.start(Shop())
    return session


async def test_run_records_calls_outputs_and_messages_in_order() -> None:
    llm = FakeLLM(
        [
            FakeResponse(
                tool_calls=[FakeToolCall("lookup", {"item": "tea"})],
                followup="Tea costs 3 euros.",
            )
        ]
    )
    session = await _session(llm)
    result = await session.run(user_input="how much is tea?")
    assert isinstance(result, RunResult) and result.done()
    result.expect.next_event().is_function_call(name="lookup", arguments={"item": "tea"})
    result.expect.next_event().is_function_call_output(output="tea costs 3 euros", is_error=False)
    msg = result.expect.next_event().is_message(role="assistant")
    msg.contains_text("3 euros")
    result.expect.no_more_events()
    assert result.final_output == "Tea costs 3 euros."
    assert session.userdata["looked_up"] == ["tea"]
    # indexing and whole-run searches
    result.expect[0].is_function_call(name="lookup")
    result.expect[-1].is_message(role="assistant")
    result.expect.contains_function_call(name="lookup", arguments={"item": "tea"})
    result.expect[1:].contains_message(role="assistant")
    await session.aclose()


async def test_failed_assertions_show_the_event_timeline() -> None:
    llm = FakeLLM(["Hello there, how can I help?"])
    session = await _session(llm)
    result = await session.run(user_input="hi")
    with pytest.raises(AssertionError) as err:
        result.expect.next_event().is_function_call(name="lookup")
    text = str(err.value)
    assert "expected a call of 'lookup' at event [0], but it is not a function call" in text
    assert ">> [0] message assistant: 'Hello there, how can I help?'" in text
    with pytest.raises(AssertionError, match="no more"):
        result.expect.next_event()
    with pytest.raises(AssertionError, match="found none"):
        result.expect.contains_function_call(name="lookup")
    with pytest.raises(AssertionError, match="out of range"):
        result.expect[3]
    with pytest.raises(AssertionError, match="cannot skip 2"):
        result.expect.skip_next(2)
    await session.aclose()


async def test_no_more_events_and_skipping() -> None:
    llm = FakeLLM(
        [
            FakeResponse(
                tool_calls=[FakeToolCall("refund", {"order_id": 7})],
                followup="Sorry, that order cannot be refunded.",
            )
        ]
    )
    session = await _session(llm)
    result = await session.run(user_input="refund order 7")
    expect = result.expect
    assert expect.skip_next_event_if(type="message") is None
    assert expect.skip_next_event_if(type="function_call", name="refund") is not None
    with pytest.raises(AssertionError, match="expected no more events, but 2 remain"):
        expect.no_more_events()
    out = expect.next_event().is_function_call_output(is_error=True)
    assert out.event().item.output == "order 7 cannot be refunded"
    expect.skip_next()
    expect.no_more_events()
    with pytest.raises(AssertionError, match="is an error output"):
        result.expect[1].is_function_call_output(is_error=False)
    await session.aclose()


async def test_handoff_is_an_event_and_the_new_agent_reply_is_awaited() -> None:
    llm = FakeLLM(
        [
            FakeResponse(tool_calls=[FakeToolCall("to_billing")], followup="One moment."),
            "Billing here, what can I do?",
        ]
    )
    session = await _session(llm)
    result = await session.run(user_input="I have a billing question")
    result.expect.next_event().is_function_call(name="to_billing")
    result.expect.next_event().is_function_call_output(output="transferring")
    result.expect.skip_next_event_if(type="message", role="assistant")
    handoff = result.expect.next_event().is_agent_handoff(new_agent_type=Billing)
    ev = handoff.event()
    assert isinstance(ev, AgentHandoffEvent)
    assert isinstance(ev.old_agent, Shop) and isinstance(ev.new_agent, Billing)
    result.expect.next_event().is_message(role="assistant").contains_text("Billing here")
    result.expect.no_more_events()
    result.expect.contains_agent_handoff(new_agent_type=Billing)
    with pytest.raises(AssertionError, match="expected a handoff to Shop in events"):
        result.expect.contains_agent_handoff(new_agent_type=Shop)
    with pytest.raises(AssertionError, match="hands off to Billing, not to a Shop"):
        result.expect[3].is_agent_handoff(new_agent_type=Shop)
    assert isinstance(session.current_agent, Billing)
    await session.aclose()


async def test_mock_tools_replaces_the_implementation_only_inside_the_block() -> None:
    calls: list[str] = []

    def fake_lookup(item: str) -> str:
        calls.append(item)
        return "free today"

    llm = FakeLLM(
        default=FakeResponse(tool_calls=[FakeToolCall("lookup", {"item": "cake"})], followup="ok")
    )
    session = await _session(llm)
    with mock_tools(Shop, {"lookup": fake_lookup}):
        result = await session.run(user_input="cake?")
    result.expect.contains_function_call_output(output="free today")
    assert calls == ["cake"]
    # the LLM still saw the real tool schema
    assert "lookup" in llm.calls[0].tool_names
    # outside the block the real tool runs again
    result = await session.run(user_input="cake again?")
    result.expect.contains_function_call_output(output="cake costs 3 euros")
    await session.aclose()


async def test_mock_tools_validates_arguments_passes_context_and_scopes_by_agent() -> None:
    seen: list[Any] = []

    async def fake_lookup(ctx: RunContext[Any]) -> str:
        seen.append(ctx.function_call.name)
        return "mocked"

    llm = FakeLLM(
        [
            FakeResponse(tool_calls=[FakeToolCall("lookup", {"item": 5})], followup="hm"),
            FakeResponse(tool_calls=[FakeToolCall("lookup", {"item": "x"})], followup="ok"),
        ]
    )
    session = await _session(llm)
    with mock_tools(Shop, {"lookup": fake_lookup}, session=session):
        bad = await session.run(user_input="price of 5?")
        good = await session.run(user_input="price of x?")
    # invalid arguments for the real schema give an error output, as the real tool would
    bad.expect.contains_function_call_output(is_error=True)
    good.expect.contains_function_call_output(output="mocked", is_error=False)
    assert seen == ["lookup"]
    assert session._tool_mocks == {}
    with mock_tools(Billing, {"lookup": fake_lookup}):
        llm.add_response(FakeResponse(tool_calls=[FakeToolCall("lookup", {"item": "y"})]))
        llm.add_response("done")
        other = await session.run(user_input="y?")
    other.expect.contains_function_call_output(output="y costs 3 euros")
    with pytest.raises(TypeError, match="Agent class"), mock_tools(Shop(), {}):  # type: ignore[arg-type]
        pass
    with pytest.raises(TypeError, match="callables"), mock_tools(Shop, {"lookup": "nope"}):  # type: ignore[dict-item]
        pass
    await session.aclose()


class Order(BaseModel):
    item: str
    quantity: int


async def test_final_output_parses_structured_output() -> None:
    llm = FakeLLM(['{"item": "tea", "quantity": 2}', "not json"])
    session = await _session(llm)
    result = await session.run(user_input="order", output_type=Order)
    assert result.final_output == Order(item="tea", quantity=2)
    bad = await session.run(user_input="order again", output_type=Order)
    with pytest.raises(ValueError, match="not a valid"):
        _ = bad.final_output
    await session.aclose()


async def test_run_errors_are_clear() -> None:
    llm = FakeLLM(["hello"])
    session: AgentSession[None] = AgentSession(llm=llm)
    with pytest.raises(RuntimeError, match="not running"):
        await session.run(user_input="hi")
    await session.start(Agent(instructions="x"))
    with pytest.raises(ValueError, match="non-empty user_input"):
        await session.run(user_input="  ")
    result = await session.run(user_input="hi")
    assert [type(e) for e in result.events] != [FunctionCallEvent]
    assert result.final_output == "hello"
    await session.aclose()


async def test_judge_checks_intent_with_a_forced_tool_call() -> None:
    llm = FakeLLM(["The shop opens at nine."])
    session = await _session(llm)
    result = await session.run(user_input="when do you open?")
    judge = FakeLLM(
        [
            FakeResponse(
                tool_calls=[FakeToolCall("check_intent", {"success": True, "reason": "ok"})]
            ),
            FakeResponse(
                tool_calls=[
                    FakeToolCall("check_intent", {"success": False, "reason": "no price given"})
                ]
            ),
        ]
    )
    msg = result.expect[0].is_message(role="assistant")
    await msg.judge(judge, intent="gives the opening time")
    assert judge.calls[0].tool_choice == {"type": "function", "function": {"name": "check_intent"}}
    with pytest.raises(AssertionError, match="no price given"):
        await msg.judge(judge, intent="gives a price")
    await session.aclose()


async def test_a_failing_reply_makes_the_run_raise() -> None:
    llm = FakeLLM([FakeResponse(error=ValueError("model exploded"))])
    session = await _session(llm)
    with pytest.raises(RuntimeError, match="a speech of the run failed") as err:
        await session.run(user_input="hello?")
    assert "model exploded" in repr(err.value.__cause__)
    # the session is still usable for the next run
    llm.add_response("Back again.")
    result = await session.run(user_input="hello again?")
    assert result.final_output == "Back again."
    await session.aclose()
