"""An agent turn with a tool call through the voice runtime (text mode) on anthropic.LLM."""

from __future__ import annotations

from typing import Any

import vx_anthropic_fake as fk

from voxlane.agents.llm import function_tool
from voxlane.agents.types import APIConnectOptions
from voxlane.agents.voice import Agent, AgentSession, RunContext
from voxlane.agents.voice.agent_session import SessionConnectOptions
from voxlane.plugins import anthropic as vx_anthropic


class WeatherAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You report the weather.")

    @function_tool
    async def get_weather(self, context: RunContext[dict[str, Any]], city: str) -> str:
        """Look up the weather.

        Args:
            city: the city name.
        """
        context.userdata.setdefault("cities", []).append(city)
        return f"sunny in {city}"


async def test_agent_turn_with_tool(fake_anthropic: fk.FakeAnthropic) -> None:
    fake_anthropic.queue.extend(
        [
            fk.Fault("status", status=529, message="Overloaded"),
            fk.MessageReply(
                tool_uses=[fk.ToolUseSpec("get_weather", '{"city": "Lyon"}', "toolu_l")]
            ),
            fk.MessageReply(text=["It is ", "sunny in Lyon."]),
        ]
    )
    llm = vx_anthropic.LLM(api_key="sk-ant-x", base_url=fake_anthropic.base_url)
    session: AgentSession[dict[str, Any]] = AgentSession(
        llm=llm,
        userdata={},
        conn_options=SessionConnectOptions(
            llm_conn_options=APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=2.0)
        ),
    )
    await session.start(WeatherAgent())
    result = await session.run(user_input="weather in Lyon?")
    result.expect.next_event().is_function_call(name="get_weather", arguments={"city": "Lyon"})
    result.expect.next_event().is_function_call_output(output="sunny in Lyon", is_error=False)
    result.expect.next_event().is_message(role="assistant").contains_text("sunny in Lyon")
    result.expect.no_more_events()
    assert session.userdata["cities"] == ["Lyon"]

    assert len(fake_anthropic.requests) == 3
    first = fake_anthropic.requests[1].body
    assert first["system"] == [{"type": "text", "text": "You report the weather."}]
    assert first["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather in Lyon?"}]}
    ]
    assert [t["name"] for t in first["tools"]] == ["get_weather"]
    follow = fake_anthropic.requests[2].body["messages"]
    assert follow[-2]["role"] == "assistant"
    assert follow[-2]["content"] == [
        {"type": "tool_use", "id": "toolu_l", "name": "get_weather", "input": {"city": "Lyon"}}
    ]
    assert follow[-1] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_l",
                "content": "sunny in Lyon",
                "is_error": False,
            }
        ],
    }
    await session.aclose()
