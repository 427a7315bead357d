"""An agent turn with a tool call through the voice runtime (text mode) on openai.LLM."""

from __future__ import annotations

from typing import Any

import vx_openai_fake as fk

from voxlane.agents.llm import function_tool
from voxlane.agents.types import APIConnectOptions
from voxlane.agents.voice import Agent, AgentSession, RunContext
from voxlane.agents.voice.agent_session import SessionConnectOptions
from voxlane.plugins import openai as vx_openai


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


async def test_agent_turn_with_tool(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.chat_queue.extend(
        [
            fk.Fault("status", status=503),  # the first attempt fails and is retried
            fk.ChatReply(tool_calls=[fk.ToolCallSpec("get_weather", '{"city": "Lyon"}', "call_l")]),
            fk.ChatReply(text=["It is ", "sunny in Lyon."]),
        ]
    )
    llm = vx_openai.LLM(model="gpt-4.1-mini", api_key="sk-x", base_url=fake_openai.base_url)
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

    reqs = fake_openai.requests_to("/v1/chat/completions")
    assert len(reqs) == 3
    first = reqs[1].body
    assert first["messages"][0] == {"role": "system", "content": "You report the weather."}
    assert first["messages"][-1] == {"role": "user", "content": "weather in Lyon?"}
    assert [t["function"]["name"] for t in first["tools"]] == ["get_weather"]
    assert "context" not in first["tools"][0]["function"]["parameters"]["properties"]
    follow = reqs[2].body["messages"]
    assert follow[-2]["role"] == "assistant"
    assert follow[-2]["tool_calls"][0]["id"] == "call_l"
    assert follow[-1] == {"role": "tool", "tool_call_id": "call_l", "content": "sunny in Lyon"}
    await session.aclose()
