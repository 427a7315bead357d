"""Tests for restaurant_agent.py in the style of LiveKit's "testing and evaluation" docs.

The harness copies this file as ``test_restaurant_agent.py`` next to the rewritten agent and
runs pytest on it in a subprocess. ``_llm()`` is the factory a LiveKit user writes; the
harness's conftest replaces it with a scripted FakeLLM per test (see ``restaurant_conftest.py``).
"""

from __future__ import annotations

import pytest
from livekit.agents import AgentSession, llm, mock_tools
from livekit.plugins import openai
from restaurant_agent import Greeter, Reservation, Takeaway, UserData


def _llm() -> llm.LLM:
    return openai.LLM(model="gpt-4o-mini")


# The agents greet from on_enter; these variants stay quiet so that a run only holds the
# events of the user's turn (the greeting would otherwise race with the first run).
class QuietGreeter(Greeter):
    async def on_enter(self) -> None:
        pass


class QuietReservation(Reservation):
    async def on_enter(self) -> None:
        pass


class QuietTakeaway(Takeaway):
    async def on_enter(self) -> None:
        pass


@pytest.mark.asyncio
async def test_name_is_recorded_in_userdata() -> None:
    userdata = UserData()
    async with _llm() as model, AgentSession[UserData](llm=model, userdata=userdata) as session:
        await session.start(QuietGreeter())
        result = await session.run(user_input="Hi, my name is Ana")
        result.expect.next_event().is_function_call(name="update_name", arguments={"name": "Ana"})
        result.expect.next_event().is_function_call_output(output="The name is updated to Ana")
        await (
            result.expect.next_event()
            .is_message(role="assistant")
            .judge(model, intent="greets Ana by name")
        )
        result.expect.no_more_events()
    assert userdata.customer_name == "Ana"


@pytest.mark.asyncio
async def test_booking_hands_off_to_the_reservation_agent() -> None:
    async with _llm() as model, AgentSession[UserData](llm=model, userdata=UserData()) as session:
        await session.start(QuietGreeter())
        result = await session.run(user_input="I'd like to book a table")
        result.expect.next_event().is_function_call(name="to_reservation")
        result.expect.next_event().is_function_call_output()
        result.expect.contains_agent_handoff(new_agent_type=Reservation)
        result.expect[-1].is_message(role="assistant")
        assert isinstance(session.current_agent, Reservation)


@pytest.mark.asyncio
async def test_reservation_details_and_invalid_party_size() -> None:
    userdata = UserData()
    async with _llm() as model, AgentSession[UserData](llm=model, userdata=userdata) as session:
        await session.start(QuietReservation())
        result = await session.run(user_input="Seven pm, for four people")
        result.expect.next_event().is_function_call(
            name="update_reservation", arguments={"time": "7pm", "party_size": 4}
        )
        result.expect.next_event().is_function_call_output(output="Reservation set for 4 at 7pm")
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        assert (userdata.reservation_time, userdata.party_size) == ("7pm", 4)

        # Field(ge=1, le=12) is enforced: the tool is not run and the LLM sees an error
        result = await session.run(user_input="Actually make it forty people")
        result.expect.next_event().is_function_call(name="update_reservation")
        result.expect.next_event().is_function_call_output(is_error=True)
        assert userdata.party_size == 4


@pytest.mark.asyncio
async def test_takeaway_with_mocked_tool() -> None:
    async with _llm() as model, AgentSession[UserData](llm=model, userdata=UserData()) as session:
        await session.start(QuietTakeaway())
        with mock_tools(QuietTakeaway, {"add_item": lambda item: f"mocked: {item} added"}):
            result = await session.run(user_input="One pizza please")
        result.expect.next_event().is_function_call(name="add_item", arguments={"item": "pizza"})
        result.expect.next_event().is_function_call_output(output="mocked: pizza added")
        result.expect.next_event().is_message(role="assistant")
        assert session.userdata.order == []  # the real tool did not run


@pytest.mark.asyncio
async def test_unknown_dish_is_a_tool_error() -> None:
    async with _llm() as model, AgentSession[UserData](llm=model, userdata=UserData()) as session:
        await session.start(QuietTakeaway())
        result = await session.run(user_input="A burger")
        result.expect.next_event().is_function_call(name="add_item")
        result.expect.next_event().is_function_call_output(is_error=True)
        result.expect.next_event().is_message(role="assistant")
        assert session.userdata.order == []
