"""A tool that takes an AsyncRunContext but sits outside an AsyncToolset gets a clear error."""

from __future__ import annotations

import pytest

from voxlane.agents.llm import ChatContext, function_tool
from voxlane.agents.llm.async_toolset import AsyncRunContext
from voxlane.agents.llm.tool_execution import ToolArgumentsError, prepare_function_arguments
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall
from voxlane.agents.voice import Agent, AgentSession, RunContext

pytestmark = pytest.mark.virtual_clock


@function_tool
async def slow_report(ctx: AsyncRunContext[None], topic: str) -> str:
    """Write a long report in the background.

    Args:
        topic: what the report is about
    """
    await ctx.update("started")
    return f"report on {topic}"


def error_outputs(ctx: ChatContext) -> list[str]:
    return [i.output for i in ctx.items if i.type == "function_call_output" and i.is_error]


async def test_async_tool_in_plain_tools_tells_the_model_and_the_developer_why() -> None:
    llm = FakeLLM(
        [
            FakeResponse(tool_calls=[FakeToolCall("slow_report", {"topic": "sales"})]),
            "Sorry, I could not start the report.",
        ]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="assistant", tools=[slow_report]))
    await session.run(user_input="write a report on sales")
    await session.aclose()
    errors = error_outputs(session.history)
    assert len(errors) == 1, errors
    assert "AsyncRunContext" in errors[0] and "AsyncToolset" in errors[0]


def test_prepare_arguments_rejects_a_context_of_the_wrong_class() -> None:
    class NotAContext:
        pass

    with pytest.raises(ToolArgumentsError, match=r"declares parameter 'ctx' as AsyncRunContext"):
        prepare_function_arguments(slow_report, '{"topic": "x"}', context=NotAContext())


def test_a_plain_run_context_tool_accepts_its_context_subclasses() -> None:
    @function_tool
    async def note(ctx: RunContext[None], text: str) -> str:
        """Take a note.

        Args:
            text: the note
        """
        return text

    ctx = object.__new__(AsyncRunContext)  # a subclass instance is a valid RunContext
    args, kwargs = prepare_function_arguments(note, '{"text": "hi"}', context=ctx)
    assert kwargs == {"ctx": ctx, "text": "hi"} and args == ()
