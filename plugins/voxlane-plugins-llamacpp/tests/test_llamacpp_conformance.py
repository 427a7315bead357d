"""The core LLM conformance suite, run against llama.cpp with the bundled SmolLM2-135M.

The tool-call check uses ``tool_calling="prompt"`` (SmolLM2's template has no tool support);
failures are injected by making the engine's next generations raise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from voxlane.agents import llm
from voxlane.agents._exceptions import APIError
from voxlane.agents.testing.conformance import ErrorInjector, LLMConformance, ToolCallRequest
from voxlane.plugins import llamacpp


@pytest.fixture(scope="module")
def _llm() -> llamacpp.LLM:
    model = llamacpp.LLM(tool_calling="prompt", max_tokens=48)
    model.engine.load()
    return model


@llm.function_tool
async def lookup_order(order_id: str) -> str:
    """Look up the status of an order by its id."""
    return "shipped"


class TestLlamaCppConformance(LLMConformance):
    @pytest.fixture
    def llm(self, _llm: llamacpp.LLM) -> llamacpp.LLM:
        return _llm

    @pytest.fixture
    def tool_call_request(self) -> ToolCallRequest:
        ctx = llm.ChatContext.empty()
        ctx.add_message(role="system", content="You help customers with their orders.")
        ctx.add_message(role="user", content="Where is my order A-1234?")
        return ctx, [lookup_order], "lookup_order"

    @pytest.fixture
    def inject_error(self, _llm: llamacpp.LLM, monkeypatch: pytest.MonkeyPatch) -> ErrorInjector:
        engine = _llm.engine

        def inject(error: APIError, times: int) -> None:
            original: Callable[..., Any] = engine.generate
            remaining = [times]

            def failing(*args: Any, **kwargs: Any) -> Any:
                if remaining[0] > 0:
                    remaining[0] -= 1
                    raise error
                return original(*args, **kwargs)

            monkeypatch.setattr(engine, "generate", failing)

        return inject
