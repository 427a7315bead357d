"""Test doubles for tools: :func:`mock_tools` replaces tool implementations while the LLM still
sees the real tools' schemas; the tool loop asks :func:`find_tool_mock` for the replacement.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import llm as llm_mod
from ..llm import ToolError
from ..llm.tool_execution import ToolArgumentsError, prepare_function_arguments
from .agent import Agent
from .run_context import RunContext

if TYPE_CHECKING:
    from .agent_session import AgentSession

_global_mocks: list[tuple[type[Agent], dict[str, Callable[..., Any]]]] = []


@contextlib.contextmanager
def mock_tools(
    agent: type[Agent],
    mocks: Mapping[str, Callable[..., Any]],
    *,
    session: AgentSession[Any] | None = None,
) -> Iterator[None]:
    """Replace tools of ``agent`` (a class: its instances and subclasses) while in the block.

    ``mocks`` maps tool names to replacements. A replacement is called with the validated
    arguments its signature asks for (by name; ``**kwargs`` gets them all) and, when it has a
    parameter typed ``RunContext`` (or named ``context``/``ctx``), the run context. Its return
    value is the tool's output; raising ``ToolError`` gives an error output. The LLM still sees
    the real tools' schemas. With ``session=``, only that session is affected.
    """
    if not (isinstance(agent, type) and issubclass(agent, Agent)):
        raise TypeError(f"mock_tools() needs an Agent class, got {agent!r}")
    checked: dict[str, Callable[..., Any]] = {}
    for name, fn in mocks.items():
        if not isinstance(name, str) or not callable(fn):
            raise TypeError(
                f"mock_tools() maps tool names to callables; got {name!r}: {type(fn).__name__}"
            )
        checked[name] = fn
    entry = (agent, checked)
    previous: dict[str, Any] = {}
    if session is not None:
        for name, fn in checked.items():
            previous[name] = session._tool_mocks.get(name)
            session._tool_mocks[name] = _AgentScopedMock(agent, fn)
    else:
        _global_mocks.append(entry)
    try:
        yield
    finally:
        if session is not None:
            for name, old in previous.items():
                if old is None:
                    session._tool_mocks.pop(name, None)
                else:
                    session._tool_mocks[name] = old
        else:
            _global_mocks.remove(entry)


@dataclass(frozen=True)
class _AgentScopedMock:
    agent_type: type[Agent]
    fn: Callable[..., Any]


def find_tool_mock(session: AgentSession[Any], agent: Agent, name: str) -> Any | None:
    """The replacement tool for ``agent``'s tool ``name``, or None (used by the tool loop)."""
    mock: Any = session._tool_mocks.get(name)
    if isinstance(mock, _AgentScopedMock):
        mock = mock.fn if isinstance(agent, mock.agent_type) else None
    if mock is None:
        for agent_type, mocks in reversed(_global_mocks):
            if isinstance(agent, agent_type) and name in mocks:
                mock = mocks[name]
                break
    if mock is None:
        return None
    if llm_mod.is_function_tool(mock) or llm_mod.is_raw_function_tool(mock):
        return mock
    real = llm_mod.ToolContext(agent.tools).get_function_tool(name)
    return _make_mock_tool(name, real, mock)


def _wants_context(param: inspect.Parameter) -> bool:
    ann = param.annotation
    if ann is RunContext or (isinstance(ann, type) and issubclass(ann, RunContext)):
        return True
    if isinstance(ann, str) and "RunContext" in ann:
        return True
    origin = getattr(ann, "__origin__", None)
    if origin is RunContext:
        return True
    return param.name in ("context", "ctx") and ann is inspect.Parameter.empty


def _make_mock_tool(name: str, real: Any, fn: Callable[..., Any]) -> Any:
    sig = inspect.signature(fn)
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())

    async def _mocked(raw_arguments: dict[str, Any], context: RunContext[Any]) -> Any:
        if real is not None:
            try:
                _, values = prepare_function_arguments(real, raw_arguments, context=context)
            except ToolArgumentsError as e:
                raise ToolError(str(e)) from e
        else:
            values = dict(raw_arguments)
        kwargs: dict[str, Any] = {}
        for p in sig.parameters.values():
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            if _wants_context(p):
                kwargs[p.name] = context
            elif p.name in values:
                kwargs[p.name] = values[p.name]
        if takes_all:
            for k, v in values.items():
                if k not in kwargs and not isinstance(v, RunContext):
                    kwargs[k] = v
        result = fn(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    schema = {"name": name, "description": f"mock of {name}", "parameters": {"type": "object"}}
    return llm_mod.function_tool(_mocked, raw_schema=schema)


__all__ = ["find_tool_mock", "mock_tools"]
