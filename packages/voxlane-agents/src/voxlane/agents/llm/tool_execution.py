"""Running a tool call requested by an LLM and turning the outcome into chat items.

Bad calls (invalid JSON, wrong types, missing fields, unknown tool) and tool failures become a
``FunctionCallOutput(is_error=True)`` with a message the model can act on; they never raise.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from .chat_context import FunctionCall, FunctionCallOutput
from .tool_context import FunctionTool, RawFunctionTool, StopResponse, ToolContext, ToolError

logger = logging.getLogger("voxlane.agents.llm")

AGENT_MARKER = "_voxlane_agent"
"""Class attribute (``True``) marking the runtime's Agent class (used to detect handoffs)."""

INTERNAL_ERROR_MESSAGE = "An internal error occurred while running the tool."


class ToolArgumentsError(ValueError):
    """The arguments the LLM produced for a tool are unusable; the message says why."""


def is_agent(obj: object) -> bool:
    """True if ``obj`` is an instance of a class marked ``_voxlane_agent = True``."""
    return getattr(type(obj), AGENT_MARKER, False) is True


def _parse_arguments(tool_name: str, json_arguments: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(json_arguments, Mapping):
        return dict(json_arguments)
    text = json_arguments.strip() if isinstance(json_arguments, str) else json_arguments
    if not isinstance(text, str):
        raise ToolArgumentsError(
            f"arguments for `{tool_name}` must be a JSON object string, "
            f"got {type(json_arguments).__name__}"
        )
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ToolArgumentsError(
            f"arguments for `{tool_name}` are not valid JSON ({e.msg} at position {e.pos}); "
            "send a JSON object matching the tool's parameters"
        ) from e
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ToolArgumentsError(
            f"arguments for `{tool_name}` must be a JSON object, got {type(value).__name__}"
        )
    return value


def _format_validation_error(tool_name: str, err: ValidationError) -> str:
    problems: list[str] = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e.get("loc", ())) or "(arguments)"
        if e.get("type") == "missing":
            problems.append(f"`{loc}` is required but missing")
        else:
            problems.append(f"`{loc}`: {e.get('msg')} (got {e.get('input')!r})")
    return f"invalid arguments for `{tool_name}`: " + "; ".join(problems)


def prepare_function_arguments(
    tool: FunctionTool | RawFunctionTool,
    json_arguments: str | Mapping[str, Any],
    *,
    context: object | None = None,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Parse and validate the LLM's arguments for ``tool``; returns ``(args, kwargs)``.

    Context parameters receive ``context``. Raises :class:`ToolArgumentsError` with a clear
    message for invalid JSON, a non-object, wrong types or missing fields.
    """
    name = tool.info.name
    sig = tool.signature
    raw = _parse_arguments(name, json_arguments)
    if sig.context_params and context is None:
        raise ToolArgumentsError(
            f"tool `{name}` needs a run context (parameter {sig.context_params[0]!r}) "
            "but none was provided by the caller"
        )
    for param, expected in zip(sig.context_params, sig.context_types, strict=False):
        if not isinstance(context, expected):
            hint = (
                "; tools that take an AsyncRunContext run in the background and must be added "
                "to an AsyncToolset (AsyncToolset(id=..., tools=[...]))"
                if expected.__name__ == "AsyncRunContext"
                else ""
            )
            raise ToolArgumentsError(
                f"tool `{name}` declares parameter {param!r} as {expected.__name__}, but the "
                f"caller provides a {type(context).__name__}{hint}"
            )

    values: dict[str, Any]
    if isinstance(tool, RawFunctionTool):
        values = {"raw_arguments": raw}
    else:
        unknown = sorted(set(raw) - set(sig.arg_names))
        if unknown:
            raise ToolArgumentsError(
                f"invalid arguments for `{name}`: unexpected argument(s) "
                f"{', '.join(repr(u) for u in unknown)}; expected "
                f"{', '.join(repr(a) for a in sig.arg_names) or 'no arguments'}"
            )
        try:
            model = sig.args_model.model_validate(raw)
        except ValidationError as e:
            raise ToolArgumentsError(_format_validation_error(name, e)) from e
        values = {field_name: getattr(model, field_name) for field_name in sig.arg_names}

    for param in sig.context_params:
        values[param] = context

    args = tuple(values.pop(p) for p in sig.positional_only if p in values)
    return args, values


@dataclass
class ToolExecutionOutput:
    """The outcome of one tool call.

    ``fnc_call_out`` is ``None`` when the tool raised :class:`StopResponse`. ``agent_handoff``
    holds an Agent returned by the tool (a handoff request).
    """

    fnc_call: FunctionCall
    fnc_call_out: FunctionCallOutput | None
    raw_output: Any
    raw_exception: BaseException | None
    agent_handoff: Any | None = None

    @property
    def reply_required(self) -> bool:
        return self.fnc_call_out is not None and self.fnc_call_out.reply_required


def _output_to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json.dumps(dataclasses.asdict(value), default=str)
    if isinstance(value, (dict, list, tuple, int, float, bool)):
        return json.dumps(value, default=str)
    return str(value)


def _error_output(fnc_call: FunctionCall, message: str) -> FunctionCallOutput:
    return FunctionCallOutput(
        name=fnc_call.name, call_id=fnc_call.call_id, output=message, is_error=True
    )


def make_tool_output(
    *, fnc_call: FunctionCall, output: Any, exception: BaseException | None
) -> ToolExecutionOutput:
    """Turn a tool's return value or exception into a :class:`ToolExecutionOutput`.

    ``None`` gives an empty output with ``reply_required=False``; an Agent (or a tuple/list of
    one Agent and an optional result) is a handoff; several Agents are an error.
    """
    if isinstance(exception, StopResponse):
        return ToolExecutionOutput(fnc_call, None, None, exception)
    if isinstance(exception, ToolError):
        return ToolExecutionOutput(
            fnc_call, _error_output(fnc_call, exception.message), None, exception
        )
    if exception is not None:
        return ToolExecutionOutput(
            fnc_call, _error_output(fnc_call, INTERNAL_ERROR_MESSAGE), None, exception
        )

    agent: Any | None = None
    result = output
    if is_agent(output):
        agent, result = output, None
    elif isinstance(output, (tuple, list)) and any(is_agent(v) for v in output):
        agents = [v for v in output if is_agent(v)]
        others = [v for v in output if not is_agent(v)]
        if len(agents) > 1 or len(others) > 1:
            message = (
                f"`{fnc_call.name}` returned {len(agents)} agents and {len(others)} other "
                "values; a tool may hand off to exactly one agent, optionally with one result"
            )
            logger.error(message)
            return ToolExecutionOutput(fnc_call, _error_output(fnc_call, message), output, None)
        agent = agents[0]
        result = others[0] if others else None

    if result is None:
        out = FunctionCallOutput(
            name=fnc_call.name,
            call_id=fnc_call.call_id,
            output="",
            is_error=False,
            reply_required=False,
        )
    else:
        out = FunctionCallOutput(
            name=fnc_call.name,
            call_id=fnc_call.call_id,
            output=_output_to_str(result),
            is_error=False,
        )
    return ToolExecutionOutput(fnc_call, out, output, None, agent_handoff=agent)


async def execute_function_call(
    tool_ctx: ToolContext, function_call: FunctionCall, *, context: object | None = None
) -> ToolExecutionOutput:
    """Run ``function_call`` against ``tool_ctx`` and return its outcome; never raises
    (except ``asyncio.CancelledError``)."""
    tool = tool_ctx.get_function_tool(function_call.name)
    if tool is None:
        available = ", ".join(sorted(tool_ctx.function_tools)) or "none"
        message = f"unknown function `{function_call.name}`; available functions: {available}"
        logger.warning(message)
        return ToolExecutionOutput(function_call, _error_output(function_call, message), None, None)

    try:
        args, kwargs = prepare_function_arguments(tool, function_call.arguments, context=context)
    except ToolArgumentsError as e:
        logger.warning("rejected tool call %s: %s", function_call.name, e)
        return ToolExecutionOutput(function_call, _error_output(function_call, str(e)), None, e)
    except Exception as e:  # e.g. a tool whose signature cannot be resolved
        logger.exception("cannot prepare the call of tool %s", function_call.name)
        return ToolExecutionOutput(
            function_call, _error_output(function_call, INTERNAL_ERROR_MESSAGE), None, e
        )

    try:
        result = tool(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
    except (ToolError, StopResponse) as e:
        return make_tool_output(fnc_call=function_call, output=None, exception=e)
    except Exception as e:
        logger.exception(
            "tool %s raised an unexpected exception",
            function_call.name,
            extra={"call_id": function_call.call_id},
        )
        return make_tool_output(fnc_call=function_call, output=None, exception=e)
    return make_tool_output(fnc_call=function_call, output=result, exception=None)


__all__ = [
    "AGENT_MARKER",
    "INTERNAL_ERROR_MESSAGE",
    "ToolArgumentsError",
    "ToolExecutionOutput",
    "execute_function_call",
    "is_agent",
    "make_tool_output",
    "prepare_function_arguments",
]
