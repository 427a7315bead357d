"""The drive-thru example in text mode: tools, userdata and a handoff, checked by session.run."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from voxlane.agents.llm import FunctionCallOutput
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall, mock_tools
from voxlane.agents.voice import AgentSession

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "drive_thru_agent.py"


@pytest.fixture(scope="module")
def ex() -> ModuleType:
    spec = importlib.util.spec_from_file_location("drive_thru_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def _start(ex: ModuleType, llm: FakeLLM) -> tuple[AgentSession[Any], Any]:
    order = ex.Order()
    session: AgentSession[Any] = AgentSession(llm=llm, userdata=order)
    await session.start(ex.DriveThruAgent())
    for _ in range(5):  # on_enter queues the greeting
        await asyncio.sleep(0)
    await session.drain()
    return session, order


async def test_order_items_are_added_to_userdata(ex: ModuleType) -> None:
    llm = FakeLLM(
        [
            FakeResponse(
                tool_calls=[
                    FakeToolCall("add_item", {"item": "cheeseburger", "size": "large"}),
                    FakeToolCall("add_item", {"item": "soda", "quantity": 2, "size": "small"}),
                ],
                followup="A large cheeseburger and two small sodas.",
            )
        ]
    )
    session, order = await _start(ex, llm)
    result = await session.run(user_input="a large cheeseburger and two small sodas")
    result.expect.next_event().is_function_call(
        name="add_item", arguments={"item": "cheeseburger", "size": "large"}
    )
    result.expect.next_event().is_function_call(name="add_item", arguments={"quantity": 2})
    result.expect.next_event().is_function_call_output(is_error=False)
    result.expect.next_event().is_function_call_output(is_error=False)
    result.expect.next_event().is_message(role="assistant").contains_text("cheeseburger")
    result.expect.no_more_events()
    assert [(line.item, line.size, line.quantity) for line in order.lines] == [
        ("cheeseburger", "large", 1),
        ("soda", "small", 2),
    ]
    assert order.total == pytest.approx(7.0 + 3.6)
    await session.aclose()


async def test_unknown_item_gives_an_error_output_the_llm_can_answer(ex: ModuleType) -> None:
    llm = FakeLLM(
        [
            FakeResponse(
                tool_calls=[FakeToolCall("add_item", {"item": "pizza"})],
                followup="Sorry, we don't have pizza. Maybe a burger?",
            )
        ]
    )
    session, order = await _start(ex, llm)
    result = await session.run(user_input="a pizza")
    out = result.expect.contains_function_call_output(is_error=True).event()
    assert "'pizza' is not on the menu" in out.item.output
    result.expect[-1].is_message(role="assistant").contains_text("burger")
    assert order.lines == []
    # the error was sent back to the LLM
    assert any(
        isinstance(i, FunctionCallOutput) and i.is_error for i in llm.calls[-1].chat_ctx.items
    )
    await session.aclose()


async def test_checkout_hands_off_to_the_cashier_who_takes_payment(ex: ModuleType) -> None:
    llm = FakeLLM(
        [
            FakeResponse(
                tool_calls=[FakeToolCall("add_item", {"item": "burger"})], followup="Anything else?"
            ),
            FakeResponse(tool_calls=[FakeToolCall("checkout")], followup="One moment."),
            "That's 6.00. Card or cash?",
            FakeResponse(tool_calls=[FakeToolCall("pay", {"method": "cash"})], followup="Thanks!"),
        ]
    )
    session, order = await _start(ex, llm)
    await session.run(user_input="a burger")
    result = await session.run(user_input="that's all")
    result.expect.next_event().is_function_call(name="checkout")
    result.expect.next_event().is_function_call_output(output="order complete: " + order.summary())
    result.expect.skip_next_event_if(type="message", role="assistant")
    result.expect.next_event().is_agent_handoff(new_agent_type=ex.CashierAgent)
    result.expect.next_event().is_message(role="assistant").contains_text("card or cash")
    result.expect.no_more_events()
    # the cashier was told the real total
    greeting = llm.calls[-1]
    last = greeting.chat_ctx.items[-1]
    assert last.type == "message" and last.role == "system"
    assert "their total is 6.00" in (last.text_content or "")
    assert "pay" in greeting.tool_names and "add_item" not in greeting.tool_names
    result = await session.run(user_input="cash")
    result.expect.next_event().is_function_call(name="pay", arguments={"method": "cash"})
    result.expect.next_event().is_function_call_output(
        output="paid 6.00 by cash; please drive to the next window"
    )
    assert order.paid_with == "cash"
    assert isinstance(session.current_agent, ex.CashierAgent)
    await session.aclose()


async def test_empty_checkout_is_refused_and_tools_can_be_mocked(ex: ModuleType) -> None:
    llm = FakeLLM(
        [
            FakeResponse(tool_calls=[FakeToolCall("checkout")], followup="What would you like?"),
            FakeResponse(tool_calls=[FakeToolCall("read_order")], followup="Here it is."),
        ]
    )
    session, _ = await _start(ex, llm)
    result = await session.run(user_input="that's all")
    result.expect.contains_function_call_output(is_error=True)
    with pytest.raises(AssertionError):
        result.expect.contains_agent_handoff()
    with mock_tools(ex.DriveThruAgent, {"read_order": lambda: "3 x fries; total 9.00"}):
        result = await session.run(user_input="what did I order?")
    result.expect.contains_function_call_output(output="3 x fries; total 9.00")
    await session.aclose()


async def test_demo_conversation_runs_offline(ex: ModuleType, capsys: Any) -> None:
    order = await ex.chat(
        ex.demo_llm(), ["a large burger please", "and fries", "that's all", "card"]
    )
    assert order.paid_with == "card"
    assert order.total == pytest.approx(12.5)
    printed = capsys.readouterr().out
    assert "agent> Welcome! What can I get you today?" in printed
    assert printed.index("Welcome") < printed.index("you> a large burger please")
