"""The core LLM conformance suite run against anthropic.LLM (fake server on its own thread)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import vx_anthropic_fake as fk

from voxlane.agents._exceptions import APIError
from voxlane.agents.llm import LLM, ChatContext, function_tool
from voxlane.agents.testing.conformance import ErrorInjector, LLMConformance
from voxlane.agents.testing.conformance.llm import ToolCallRequest
from voxlane.plugins import anthropic as vx_anthropic


def _default(body: dict[str, Any]) -> fk.MessageReply:
    tools = body.get("tools") or []
    if tools and (body.get("tool_choice") or {}).get("type") == "any":
        return fk.MessageReply(
            tool_uses=[fk.ToolUseSpec(tools[0]["name"], json.dumps({"city": "Rome"}), "toolu_c")]
        )
    return fk.MessageReply(text=["Hello! ", "One, two, ", "three, four, five."])


@pytest.fixture
def threaded_anthropic() -> Iterator[fk.FakeAnthropic]:
    server = fk.FakeAnthropic()
    server.default = _default
    runner = fk.ServerThread(server)
    runner.start()
    try:
        yield server
    finally:
        runner.stop()


@function_tool
async def get_weather(city: str) -> str:
    """Weather of a city."""
    return "sunny"


class TestAnthropicLLMConformance(LLMConformance):
    @pytest.fixture
    def llm(self, threaded_anthropic: fk.FakeAnthropic) -> LLM:
        return vx_anthropic.LLM(api_key="sk-conf", base_url=threaded_anthropic.base_url)

    @pytest.fixture
    def inject_error(self, threaded_anthropic: fk.FakeAnthropic) -> ErrorInjector:
        def inject(error: APIError, times: int) -> None:
            status = 529 if error.retryable else 401
            for _ in range(times):
                threaded_anthropic.queue.appendleft(fk.Fault("status", status=status))

        return inject

    @pytest.fixture
    def tool_call_request(self) -> ToolCallRequest:
        ctx = ChatContext.empty()
        ctx.add_message(role="user", content="weather in Rome?")
        return ctx, [get_weather], "get_weather"
