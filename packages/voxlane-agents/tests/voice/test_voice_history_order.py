"""History keeps the order the model produced: a step's text comes before that step's tool calls."""

from __future__ import annotations

import pytest

from voxlane.agents.llm import ChatMessage, FunctionCall, FunctionCallOutput, function_tool
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall
from voxlane.agents.voice import Agent, AgentSession

pytestmark = pytest.mark.virtual_clock


class Weather(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="weather")

    @function_tool
    async def forecast(self, city: str) -> str:
        """Tomorrow's forecast.

        Args:
            city: the city name.
        """
        return f"sunny in {city}"


async def test_text_and_tool_call_of_one_step_stay_in_model_order() -> None:
    llm = FakeLLM(
        default=FakeResponse(
            text="Let me check that for you.",
            tool_calls=[FakeToolCall("forecast", {"city": "Oslo"})],
            followup="It will be sunny in Oslo.",
        )
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Weather())
    await session.run(user_input="Weather in Oslo tomorrow?")
    await session.aclose()

    kinds = [
        (type(item).__name__, getattr(item, "role", None))
        for item in session.history.items
        if isinstance(item, ChatMessage | FunctionCall | FunctionCallOutput)
    ]
    assert kinds == [
        ("ChatMessage", "user"),
        ("ChatMessage", "assistant"),
        ("FunctionCall", None),
        ("FunctionCallOutput", None),
        ("ChatMessage", "assistant"),
    ], kinds
    # the follow-up request ends with the tool output, not with the first step's text
    follow_up_ctx = llm.calls[1].chat_ctx
    assert isinstance(follow_up_ctx.items[-1], FunctionCallOutput)
