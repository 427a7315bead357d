"""The shop program: mcp.MCPServerStdio tools and an AsyncToolset tool using ctx.update."""

from __future__ import annotations

from typing import Any

from voxlane.agents.llm import FunctionCallOutput
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall
from voxlane.agents.voice import AgentSession


def _outputs(session: AgentSession[Any]) -> list[FunctionCallOutput]:
    return [i for i in session.history.items if isinstance(i, FunctionCallOutput)]


def _shop_llm() -> FakeLLM:
    llm = FakeLLM(default="Anything else?")
    llm.when(
        "blue mug",
        FakeResponse(
            tool_calls=[FakeToolCall("check_stock", {"product": "blue mug"})],
            followup="We have three blue mugs.",
        ),
    )
    llm.when(
        "kettle",
        FakeResponse(
            tool_calls=[FakeToolCall("check_stock", {"product": "kettle"})],
            followup="Sorry, we don't sell kettles.",
        ),
    )
    llm.when(
        "ship",
        FakeResponse(
            tool_calls=[FakeToolCall("ship_order", {"order_id": "42"})],
            followup="I'm shipping order 42 now.",
        ),
    )
    return llm


async def test_mcp_stdio_tools_answer_through_session_run(load_program: Any) -> None:
    program = load_program("shop_agent")
    async with AgentSession[None](llm=_shop_llm()) as session:
        await session.start(program.ShopAgent())
        result = await session.run(user_input="Do you have the blue mug?")
        result.expect.next_event().is_function_call(
            name="check_stock", arguments={"product": "blue mug"}
        )
        result.expect.next_event().is_function_call_output(output="blue mug: 3 in stock")
        result.expect.next_event().is_message(role="assistant").contains_text("three blue mugs")
        result.expect.no_more_events()

        result = await session.run(user_input="And a kettle?")
        result.expect.next_event().is_function_call(name="check_stock")
        out = result.expect.next_event().is_function_call_output(is_error=True).event()
        assert "unknown product 'kettle'" in out.item.output


async def test_async_toolset_updates_then_delivers_the_result(
    load_program: Any, until: Any
) -> None:
    program = load_program("shop_agent")
    program.SHIPPING_STEP_SECONDS = 0.05
    llm = _shop_llm()
    async with AgentSession[None](llm=llm) as session:
        await session.start(program.ShopAgent())
        result = await session.run(user_input="Please ship order 42")
        result.expect.next_event().is_function_call(name="ship_order", arguments={"order_id": "42"})
        first = result.expect.next_event().is_function_call_output().event().item
        assert "Packing order 42." in first.output  # the first update answers the call at once
        result.expect.next_event().is_message(role="assistant").contains_text("shipping order 42")

        await until(
            lambda: any("TRK-42" in o.output for o in _outputs(session)),
            "the tracking number is delivered",
        )
        texts = [o.output for o in _outputs(session) if o.name == "ship_order"]
        assert any("packed and waiting for the courier" in t for t in texts)
        assert "TRK-42" in texts[-1]
        # the later updates reached the model, which was asked to tell the user
        await until(
            lambda: any("TRK-42" in str(call.chat_ctx.items) for call in llm.calls),
            "the model is told about the delivered result",
        )
