from __future__ import annotations

import enum
import logging
from typing import Annotated, Any, Generic, TypeVar

import pytest
from pydantic import BaseModel, Field

from voxlane.agents.llm import (
    FunctionCall,
    FunctionTool,
    ProviderTool,
    RawFunctionTool,
    StopResponse,
    ToolArgumentsError,
    ToolContext,
    ToolError,
    ToolFlag,
    Toolset,
    execute_function_call,
    find_function_tools,
    function_tool,
    is_context_type,
    prepare_function_arguments,
)
from voxlane.agents.llm.tool_execution import INTERNAL_ERROR_MESSAGE

T = TypeVar("T")


class FakeRunContext(Generic[T]):
    """Stands in for the runtime's RunContext (detected by the class marker)."""

    _voxlane_run_context = True

    def __init__(self, userdata: T) -> None:
        self.userdata = userdata


class SubContext(FakeRunContext[T]):
    pass


class FakeAgent:
    _voxlane_agent = True


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip_code: int


@function_tool
async def get_weather(
    location: str,
    unit: Annotated[str, Field(description="celsius or fahrenheit")] = "celsius",
) -> str:
    """Get the weather.

    Look it up in a database.

    Args:
        location: The city to look up.
        unit: ignored, Field wins.
    """
    return f"sunny in {location} ({unit})"


@function_tool(name="paint", description="Paint a thing")
def paint_thing(color: Color, address: Address, note: str | None = None) -> dict[str, Any]:
    return {"color": color.value, "zip": address.zip_code, "note": note}


@function_tool
async def with_ctx(ctx: FakeRunContext[dict[str, int]], amount: int) -> int:
    """Add to the counter."""
    ctx.userdata["n"] = ctx.userdata.get("n", 0) + amount
    return ctx.userdata["n"]


def test_is_context_type() -> None:
    assert is_context_type(FakeRunContext)
    assert is_context_type(FakeRunContext[int])
    assert is_context_type(SubContext[int])
    assert is_context_type(Annotated[FakeRunContext[int], "x"])
    assert not is_context_type(int)
    assert not is_context_type(list[int])
    assert not is_context_type(FakeAgent)


def test_schema_from_docstring_and_annotations() -> None:
    assert isinstance(get_weather, FunctionTool)
    assert get_weather.info.name == "get_weather"
    assert get_weather.info.description == "Get the weather.\n\nLook it up in a database."
    schema = get_weather.parameters_schema
    assert schema["type"] == "object"
    assert schema["required"] == ["location"]
    assert schema["properties"]["location"] == {
        "type": "string",
        "description": "The city to look up.",
    }
    assert schema["properties"]["unit"]["description"] == "celsius or fahrenheit"
    assert schema["properties"]["unit"]["default"] == "celsius"


def test_schema_enums_nested_models_optional() -> None:
    assert paint_thing.info.name == "paint"
    assert paint_thing.info.description == "Paint a thing"
    schema = paint_thing.parameters_schema
    assert sorted(schema["required"]) == ["address", "color"]
    assert schema["$defs"]["Color"]["enum"] == ["red", "blue"]
    assert set(schema["$defs"]["Address"]["properties"]) == {"street", "zip_code"}
    assert schema["properties"]["note"]["default"] is None


def test_context_param_hidden_from_schema() -> None:
    assert with_ctx.signature.context_params == ("ctx",)
    assert list(with_ctx.parameters_schema["properties"]) == ["amount"]


def test_bad_tool_definitions_give_clear_errors() -> None:
    def no_hint(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(TypeError, match="'x' has no type annotation"):
        function_tool(no_hint)

    def var_args(*args: int) -> None:
        return None

    with pytest.raises(TypeError, match=r"\*args/\*\*kwargs"):
        function_tool(var_args)

    with pytest.raises(ValueError, match="non-empty 'name'"):
        function_tool(lambda raw_arguments: None, raw_schema={"parameters": {}})

    def raw_bad(other: dict[str, Any]) -> None:
        return None

    with pytest.raises(TypeError, match="unexpected parameter 'other'"):
        function_tool(raw_bad, raw_schema={"name": "x", "parameters": {}})

    with pytest.raises(TypeError, match="already a tool"):
        function_tool(get_weather)


class MyAgent:
    _voxlane_agent = True

    def __init__(self) -> None:
        self.calls: list[str] = []

    @function_tool
    async def greet(self, name: str) -> str:
        """Greet someone.

        Args:
            name: who to greet
        """
        self.calls.append(name)
        return f"hello {name}"

    @function_tool()
    async def transfer(self) -> MyAgent:
        """Hand off."""
        return MyAgent()


class ChildAgent(MyAgent):
    @function_tool
    async def greet(self, name: str) -> str:
        """Greet differently."""
        return f"hi {name}"

    @function_tool(raw_schema={"name": "raw_op", "parameters": {"type": "object"}})
    async def raw_op(self, raw_arguments: dict[str, Any], ctx: FakeRunContext[Any]) -> str:
        return f"raw {sorted(raw_arguments)} {ctx.userdata}"


async def test_methods_are_bound_and_found() -> None:
    agent = MyAgent()
    tools = find_function_tools(agent)
    assert [t.info.name for t in tools] == ["greet", "transfer"]
    assert list(tools[0].parameters_schema["properties"]) == ["name"]
    assert tools[0].parameters_schema["properties"]["name"]["description"] == "who to greet"
    assert await tools[0]("bob") == "hello bob"
    assert agent.calls == ["bob"]
    # the same bound tool compares equal across lookups, differs across instances
    assert agent.greet == agent.greet
    assert agent.greet != MyAgent().greet
    assert ToolContext(find_function_tools(agent)) == ToolContext(find_function_tools(agent))

    child = ChildAgent()
    ctools = find_function_tools(child)
    assert [t.info.name for t in ctools] == ["greet", "transfer", "raw_op"]
    assert isinstance(ctools[0], FunctionTool)
    assert ctools[0].info.description == "Greet differently."
    assert isinstance(ctools[2], RawFunctionTool)


async def test_prepare_function_arguments() -> None:
    args, kwargs = prepare_function_arguments(get_weather, '{"location": "Paris"}')
    assert args == () and kwargs == {"location": "Paris", "unit": "celsius"}
    ctx = FakeRunContext[dict[str, int]]({})
    _, kwargs = prepare_function_arguments(with_ctx, '{"amount": "3"}', context=ctx)
    assert kwargs == {"ctx": ctx, "amount": 3}
    _, kwargs = prepare_function_arguments(
        paint_thing, {"color": "red", "address": {"street": "s", "zip_code": 1}}
    )
    assert kwargs["color"] is Color.RED and isinstance(kwargs["address"], Address)

    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        prepare_function_arguments(get_weather, "{oops")
    with pytest.raises(ToolArgumentsError, match="must be a JSON object, got list"):
        prepare_function_arguments(get_weather, "[1]")
    with pytest.raises(ToolArgumentsError, match="`location` is required but missing"):
        prepare_function_arguments(get_weather, "{}")
    with pytest.raises(ToolArgumentsError, match="`amount`: Input should be a valid integer"):
        prepare_function_arguments(with_ctx, '{"amount": "many"}', context=ctx)
    with pytest.raises(ToolArgumentsError, match="unexpected argument"):
        prepare_function_arguments(get_weather, '{"location": "x", "zzz": 1}')
    with pytest.raises(ToolArgumentsError, match="needs a run context"):
        prepare_function_arguments(with_ctx, '{"amount": 1}')
    with pytest.raises(ToolArgumentsError, match="`color`"):
        prepare_function_arguments(
            paint_thing, '{"color": "green", "address": {"street": "s", "zip_code": 1}}'
        )


def _call(name: str, arguments: str) -> FunctionCall:
    return FunctionCall(call_id=f"call_{name}", name=name, arguments=arguments)


async def test_execute_success_and_context() -> None:
    tctx = ToolContext([get_weather, with_ctx])
    out = await execute_function_call(tctx, _call("get_weather", '{"location": "Oslo"}'))
    assert out.fnc_call_out is not None
    assert out.fnc_call_out.output == "sunny in Oslo (celsius)"
    assert not out.fnc_call_out.is_error and out.fnc_call_out.call_id == "call_get_weather"
    assert out.raw_exception is None and out.reply_required

    ctx = FakeRunContext[dict[str, int]]({"n": 1})
    out = await execute_function_call(tctx, _call("with_ctx", '{"amount": 2}'), context=ctx)
    assert out.fnc_call_out is not None and out.fnc_call_out.output == "3"


async def test_execute_sync_tool_json_output() -> None:
    out = await execute_function_call(
        ToolContext([paint_thing]),
        _call("paint", '{"color": "blue", "address": {"street": "a", "zip_code": 9}}'),
    )
    assert out.fnc_call_out is not None
    assert out.fnc_call_out.output == '{"color": "blue", "zip": 9, "note": null}'


async def test_execute_failures_become_error_outputs(caplog: pytest.LogCaptureFixture) -> None:
    @function_tool
    async def fails_politely() -> str:
        """x"""
        raise ToolError("the database is offline, try later")

    @function_tool
    async def crashes() -> str:
        """x"""
        raise RuntimeError("secret connection string abc123")

    @function_tool
    async def stops() -> str:
        """x"""
        raise StopResponse()

    tctx = ToolContext([get_weather, fails_politely, crashes, stops])

    out = await execute_function_call(tctx, _call("nope", "{}"))
    assert out.fnc_call_out is not None and out.fnc_call_out.is_error
    assert "unknown function `nope`" in out.fnc_call_out.output
    assert "get_weather" in out.fnc_call_out.output

    out = await execute_function_call(tctx, _call("get_weather", "{bad json"))
    assert out.fnc_call_out is not None and out.fnc_call_out.is_error
    assert "not valid JSON" in out.fnc_call_out.output
    assert isinstance(out.raw_exception, ToolArgumentsError)

    out = await execute_function_call(tctx, _call("get_weather", '{"location": 5}'))
    assert out.fnc_call_out is not None and out.fnc_call_out.is_error
    assert "`location`" in out.fnc_call_out.output

    out = await execute_function_call(tctx, _call("get_weather", "{}"))
    assert out.fnc_call_out is not None and "required but missing" in out.fnc_call_out.output

    out = await execute_function_call(tctx, _call("fails_politely", ""))
    assert out.fnc_call_out is not None and out.fnc_call_out.is_error
    assert out.fnc_call_out.output == "the database is offline, try later"

    with caplog.at_level(logging.ERROR, logger="voxlane.agents.llm"):
        out = await execute_function_call(tctx, _call("crashes", "{}"))
    assert out.fnc_call_out is not None and out.fnc_call_out.is_error
    assert out.fnc_call_out.output == INTERNAL_ERROR_MESSAGE
    assert "abc123" not in out.fnc_call_out.output
    assert isinstance(out.raw_exception, RuntimeError)
    assert any("crashes" in r.getMessage() for r in caplog.records)

    out = await execute_function_call(tctx, _call("stops", "{}"))
    assert out.fnc_call_out is None and isinstance(out.raw_exception, StopResponse)
    assert not out.reply_required


async def test_execute_handoffs() -> None:
    target = FakeAgent()

    @function_tool
    async def handoff_only() -> FakeAgent:
        """x"""
        return target

    @function_tool
    async def handoff_with_result() -> tuple[FakeAgent, str]:
        """x"""
        return target, "transferring you"

    @function_tool
    async def two_agents() -> list[FakeAgent]:
        """x"""
        return [FakeAgent(), FakeAgent()]

    @function_tool
    async def returns_none() -> None:
        """x"""

    tctx = ToolContext([handoff_only, handoff_with_result, two_agents, returns_none])
    out = await execute_function_call(tctx, _call("handoff_only", "{}"))
    assert out.agent_handoff is target
    assert out.fnc_call_out is not None and not out.fnc_call_out.reply_required

    out = await execute_function_call(tctx, _call("handoff_with_result", "{}"))
    assert out.agent_handoff is target
    assert out.fnc_call_out is not None and out.fnc_call_out.output == "transferring you"
    assert out.fnc_call_out.reply_required

    out = await execute_function_call(tctx, _call("two_agents", "{}"))
    assert out.agent_handoff is None
    assert out.fnc_call_out is not None and out.fnc_call_out.is_error
    assert "exactly one agent" in out.fnc_call_out.output

    out = await execute_function_call(tctx, _call("returns_none", "{}"))
    assert out.fnc_call_out is not None and out.fnc_call_out.output == ""
    assert not out.fnc_call_out.reply_required


async def test_raw_function_tool() -> None:
    schema = {
        "name": "lookup",
        "description": "Look up a key",
        "parameters": {"type": "object", "properties": {"key": {"type": "string"}}},
    }

    @function_tool(raw_schema=schema)
    async def lookup(raw_arguments: dict[str, Any]) -> str:
        return f"value of {raw_arguments['key']}"

    assert isinstance(lookup, RawFunctionTool)
    assert lookup.info.name == "lookup"
    tctx = ToolContext([lookup])
    assert tctx.parse_function_tools("openai") == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": schema["parameters"],
                "description": "Look up a key",
            },
        }
    ]
    out = await execute_function_call(tctx, _call("lookup", '{"key": "k"}'))
    assert out.fnc_call_out is not None and out.fnc_call_out.output == "value of k"

    child = ChildAgent()
    tctx2 = ToolContext(find_function_tools(child))
    out = await execute_function_call(
        tctx2, _call("raw_op", '{"b": 1, "a": 2}'), context=FakeRunContext("u")
    )
    assert out.fnc_call_out is not None and out.fnc_call_out.output == "raw ['a', 'b'] u"


class WeatherTools(Toolset):
    def __init__(self) -> None:
        super().__init__(id="weather", tools=[get_weather])
        self.setup_calls = 0
        self.closed = False

    @function_tool
    async def forecast(self, days: int) -> str:
        """Forecast."""
        return f"{days} days"

    async def setup(self) -> None:
        self.setup_calls += 1
        await super().setup()

    async def aclose(self) -> None:
        self.closed = True
        await super().aclose()


async def test_toolset_and_tool_context() -> None:
    ws = WeatherTools()
    outer = Toolset(id="outer", tools=[ws])
    assert [getattr(t, "id", None) for t in ws.tools] == ["get_weather", "forecast"]
    await outer.setup()
    assert ws.setup_calls == 1
    await outer.aclose()
    assert ws.closed

    web = ProviderTool(id="web_search")
    tctx = ToolContext([outer, with_ctx, web])
    assert set(tctx.function_tools) == {"get_weather", "forecast", "with_ctx"}
    assert tctx.provider_tools == [web]
    assert tctx.toolsets == [outer, ws]
    assert tctx.get_function_tool("forecast") is not None
    assert tctx.get_function_tool("missing") is None
    assert len(tctx.flatten()) == 4

    anth = {t["name"]: t for t in tctx.parse_function_tools("anthropic")}
    assert anth["with_ctx"]["input_schema"]["properties"] == {"amount": {"type": "integer"}}
    assert anth["with_ctx"]["description"] == "Add to the counter."
    resp = tctx.parse_function_tools("openai.responses")
    assert all(t["type"] == "function" and "name" in t for t in resp)
    with pytest.raises(ValueError, match="unknown tool format"):
        tctx.parse_function_tools("gemini")

    assert tctx == ToolContext([outer, with_ctx, web])
    assert tctx != ToolContext([outer, web])
    assert tctx.copy() == tctx

    out = await execute_function_call(tctx, _call("forecast", '{"days": 3}'))
    assert out.fnc_call_out is not None and out.fnc_call_out.output == "3 days"


def test_tool_context_rejects_duplicates_and_junk() -> None:
    @function_tool(name="get_weather")
    async def other(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="duplicate tool name 'get_weather'"):
        ToolContext([get_weather, other])
    # the same tool twice is fine
    assert len(ToolContext([get_weather, get_weather]).function_tools) == 1
    with pytest.raises(TypeError, match="unsupported tool"):
        ToolContext([object()])
    with pytest.raises(ValueError, match="non-empty id"):
        Toolset(id="")


def test_flags_and_options() -> None:
    @function_tool(flags=ToolFlag.IGNORE_ON_ENTER | ToolFlag.CANCELLABLE, on_duplicate="reject")
    async def flagged() -> None:
        """x"""

    assert ToolFlag.IGNORE_ON_ENTER in flagged.info.flags
    assert ToolFlag.CANCELLABLE in flagged.info.flags
    assert flagged.info.on_duplicate == "reject"
    assert get_weather.info.flags == ToolFlag.NONE


def test_kind_predicates() -> None:
    from voxlane.agents.llm import is_function_tool, is_raw_function_tool

    @function_tool(raw_schema={"name": "r", "parameters": {}})
    async def r(raw_arguments: dict[str, Any]) -> None:
        return None

    assert is_function_tool(get_weather) and not is_raw_function_tool(get_weather)
    assert is_raw_function_tool(r) and not is_function_tool(r)
    assert not is_function_tool(len)


def test_public_names() -> None:
    import voxlane.agents.llm as llm

    expected = {
        "ChatContext", "ChatMessage", "ChatRole", "ChatItem", "FunctionCall", "FunctionCallOutput",
        "ImageContent", "AudioContent", "AgentHandoff", "AgentConfigUpdate", "LLM", "LLMStream",
        "ChatChunk", "ChoiceDelta", "FunctionToolCall", "CompletionUsage", "ToolChoice",
        "function_tool", "FunctionTool", "RawFunctionTool", "Tool", "Toolset", "ToolContext",
        "ToolError", "StopResponse", "ToolFlag", "find_function_tools", "FallbackAdapter",
        "AvailabilityChangedEvent", "RealtimeModel", "RealtimeSession", "RealtimeCapabilities",
        "RealtimeError", "RealtimeModelError", "GenerationCreatedEvent", "MessageGeneration",
        "InputSpeechStartedEvent", "InputSpeechStoppedEvent", "InputTranscriptionCompleted",
        "LLMError", "CollectedResponse", "is_context_type", "execute_function_call",
        "prepare_function_arguments", "ToolExecutionOutput",
    }  # fmt: skip
    assert expected <= set(llm.__all__)
    for name in llm.__all__:
        assert getattr(llm, name) is not None, name


@function_tool
async def uses_later_type(item: LaterModel) -> str:
    """Refers to a model defined further down this module."""
    return item.label


class LaterModel(BaseModel):
    label: str


async def test_forward_reference_resolved_on_first_use() -> None:
    assert list(uses_later_type.parameters_schema["properties"]) == ["item"]
    out = await execute_function_call(
        ToolContext([uses_later_type]), _call("uses_later_type", '{"item": {"label": "ok"}}')
    )
    assert out.fnc_call_out is not None and out.fnc_call_out.output == "ok"


async def test_unresolvable_annotation_is_an_error_output_not_a_crash() -> None:
    @function_tool
    async def broken(x: NeverDefined) -> str:  # type: ignore[name-defined]  # noqa: F821
        """x"""
        return "unreachable"

    with pytest.raises(TypeError, match="cannot resolve the type hints of tool 'broken'"):
        _ = broken.parameters_schema
    out = await execute_function_call(ToolContext([broken]), _call("broken", "{}"))
    assert out.fnc_call_out is not None and out.fnc_call_out.is_error
    assert out.fnc_call_out.output == INTERNAL_ERROR_MESSAGE


async def test_local_types_in_annotations_resolve() -> None:
    class Point(BaseModel):
        x: int
        y: int

    @function_tool
    async def norm1(p: Point) -> int:
        """Manhattan norm."""
        return abs(p.x) + abs(p.y)

    @function_tool()
    async def norm1_called(p: Point) -> int:
        """Same, decorator called."""
        return abs(p.x) + abs(p.y)

    tctx = ToolContext([norm1, norm1_called])
    for name in ("norm1", "norm1_called"):
        out = await execute_function_call(tctx, _call(name, '{"p": {"x": -2, "y": 3}}'))
        assert out.fnc_call_out is not None and out.fnc_call_out.output == "5", name
