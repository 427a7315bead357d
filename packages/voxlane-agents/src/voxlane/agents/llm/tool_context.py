"""Tools an LLM can call: ``@function_tool``, raw-schema tools, toolsets and the tool context."""

from __future__ import annotations

import enum
import functools
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

from typing_extensions import TypedDict

from .tool_schema import (
    FunctionSignature,
    UnresolvedHintsError,
    build_signature,
    object_schema,
    parse_docstring,
)

ToolChoiceLiteral = Literal["auto", "required", "none"]
DuplicateMode = Literal["allow", "reject", "replace", "confirm"]
DuplicateScope = Literal["name", "name_and_args"]
ToolFormat = Literal["openai", "openai.responses", "anthropic"]


class ToolFlag(enum.IntFlag):
    """Behaviour flags of a tool."""

    NONE = 0
    IGNORE_ON_ENTER = 1 << 0
    """Hide the tool from replies generated inside ``on_enter``."""
    CANCELLABLE = 1 << 1
    """The tool may be cancelled while it runs (async toolsets)."""


class ToolError(Exception):
    """Raise inside a tool to send ``message`` back to the LLM as an error output."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._message = message

    @property
    def message(self) -> str:
        return self._message


class StopResponse(Exception):
    """Raise inside a tool to end the turn: no tool output and no follow-up LLM reply."""


class Tool(ABC):
    """Anything that can be given to an LLM in ``tools=[...]``."""

    @property
    @abstractmethod
    def id(self) -> str:
        """A stable identifier (the function name for function tools)."""


class ProviderTool(Tool):
    """A tool executed by the provider itself (e.g. a hosted web search)."""

    def __init__(self, *, id: str) -> None:
        self._id = id

    @property
    def id(self) -> str:
        return self._id


@dataclass(frozen=True)
class FunctionToolInfo:
    """Name, description and behaviour of a :class:`FunctionTool`."""

    name: str
    description: str | None
    flags: ToolFlag = ToolFlag.NONE
    on_duplicate: DuplicateMode = "allow"
    duplicate_scope: DuplicateScope = "name"


@dataclass(frozen=True)
class RawFunctionToolInfo:
    """Name and provider-ready schema of a :class:`RawFunctionTool`."""

    name: str
    raw_schema: dict[str, Any]
    flags: ToolFlag = ToolFlag.NONE
    on_duplicate: DuplicateMode = "allow"
    duplicate_scope: DuplicateScope = "name"


_SelfT = TypeVar("_SelfT", bound="_CallableTool")


class _CallableTool(Tool):
    """Shared machinery: wraps a callable, binds like a method when used in a class body."""

    def __init__(
        self,
        fnc: Callable[..., Any],
        signature: FunctionSignature | Callable[[], FunctionSignature],
    ) -> None:
        self._fnc = fnc
        self._signature: FunctionSignature | None = None
        self._signature_builder: Callable[[], FunctionSignature] | None = None
        if isinstance(signature, FunctionSignature):
            self._signature = signature
        else:
            self._signature_builder = signature
        self._instance: object | None = None
        functools.update_wrapper(self, fnc)

    @property
    def signature(self) -> FunctionSignature:
        """Argument model, schema and context parameters of the wrapped callable.

        Built at decoration time, or on first use when a parameter annotation referred to a
        name not defined yet at that point.
        """
        if self._signature is None:
            assert self._signature_builder is not None
            self._signature = self._signature_builder()
        return self._signature

    @property
    def fnc(self) -> Callable[..., Any]:
        """The wrapped callable (unbound when defined in a class body)."""
        return self._fnc

    @property
    def bound_to(self) -> object | None:
        """The instance this tool is bound to, if it is a method."""
        return self._instance

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._instance is not None:
            return self._fnc(self._instance, *args, **kwargs)
        return self._fnc(*args, **kwargs)

    def _bind(self: _SelfT, instance: object) -> _SelfT:
        bound = object.__new__(type(self))
        bound.__dict__.update(self.__dict__)
        bound._instance = instance
        return bound

    @overload
    def __get__(self: _SelfT, instance: None, owner: type | None = None) -> _SelfT: ...

    @overload
    def __get__(self: _SelfT, instance: object, owner: type | None = None) -> _SelfT: ...

    def __get__(self: _SelfT, instance: object | None, owner: type | None = None) -> _SelfT:
        if instance is None:
            return self
        return self._bind(instance)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _CallableTool) or type(other) is not type(self):
            return NotImplemented
        return self._fnc is other._fnc and self._instance is other._instance

    def __hash__(self) -> int:
        return hash((id(self._fnc), id(self._instance)))


class FunctionTool(_CallableTool):
    """A Python function exposed to the LLM, with a schema built from its signature."""

    def __init__(
        self,
        fnc: Callable[..., Any],
        info: FunctionToolInfo,
        signature: FunctionSignature | Callable[[], FunctionSignature],
    ) -> None:
        super().__init__(fnc, signature)
        self._info = info

    @property
    def info(self) -> FunctionToolInfo:
        return self._info

    @property
    def id(self) -> str:
        return self._info.name

    @property
    def parameters_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments (context parameters excluded)."""
        return object_schema(self.signature.parameters_schema)

    def __repr__(self) -> str:
        return f"FunctionTool(name={self._info.name!r})"


class RawFunctionTool(_CallableTool):
    """A tool whose schema is given as-is; the handler receives ``raw_arguments: dict``."""

    def __init__(
        self,
        fnc: Callable[..., Any],
        info: RawFunctionToolInfo,
        signature: FunctionSignature | Callable[[], FunctionSignature],
    ) -> None:
        super().__init__(fnc, signature)
        self._info = info

    @property
    def info(self) -> RawFunctionToolInfo:
        return self._info

    @property
    def id(self) -> str:
        return self._info.name

    @property
    def parameters_schema(self) -> dict[str, Any]:
        return object_schema(dict(self._info.raw_schema.get("parameters") or {}))

    def __repr__(self) -> str:
        return f"RawFunctionTool(name={self._info.name!r})"


def _validate_raw_schema(raw_schema: Any) -> dict[str, Any]:
    if not isinstance(raw_schema, dict):
        raise TypeError("raw_schema must be a dict like {'name': ..., 'parameters': {...}}")
    name = raw_schema.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("raw_schema must contain a non-empty 'name' string")
    params = raw_schema.get("parameters", {})
    if not isinstance(params, dict):
        raise ValueError(f"raw_schema 'parameters' of tool {name!r} must be a JSON schema dict")
    desc = raw_schema.get("description")
    if desc is not None and not isinstance(desc, str):
        raise ValueError(f"raw_schema 'description' of tool {name!r} must be a string")
    return raw_schema


def _signature_or_builder(
    fnc: Callable[..., Any],
    *,
    tool_name: str,
    arg_descriptions: dict[str, str],
    raw: bool,
    localns: Mapping[str, Any] | None,
) -> FunctionSignature | Callable[[], FunctionSignature]:
    """Build now; if an annotation names something not defined yet, build on first use."""

    def build() -> FunctionSignature:
        return build_signature(
            fnc, tool_name=tool_name, arg_descriptions=arg_descriptions, raw=raw, localns=localns
        )

    try:
        return build()
    except UnresolvedHintsError:
        return build


def _make_tool(
    fnc: Callable[..., Any],
    *,
    name: str | None,
    description: str | None,
    raw_schema: dict[str, Any] | None,
    flags: ToolFlag,
    on_duplicate: DuplicateMode,
    duplicate_scope: DuplicateScope,
    localns: Mapping[str, Any] | None,
) -> FunctionTool | RawFunctionTool:
    if isinstance(fnc, _CallableTool):
        raise TypeError(f"{fnc!r} is already a tool; apply @function_tool only once")
    if not callable(fnc):
        raise TypeError(f"@function_tool expects a function or method, got {type(fnc).__name__}")
    if raw_schema is not None:
        schema = _validate_raw_schema(raw_schema)
        tool_name = schema["name"]
        signature = _signature_or_builder(
            fnc, tool_name=tool_name, arg_descriptions={}, raw=True, localns=localns
        )
        raw_info = RawFunctionToolInfo(
            name=tool_name,
            raw_schema=schema,
            flags=flags,
            on_duplicate=on_duplicate,
            duplicate_scope=duplicate_scope,
        )
        return RawFunctionTool(fnc, raw_info, signature)

    tool_name = name or getattr(fnc, "__name__", None)
    if not tool_name:
        raise ValueError("cannot infer the tool name; pass function_tool(name=...)")
    doc_description, arg_descriptions = parse_docstring(fnc)
    signature = _signature_or_builder(
        fnc, tool_name=tool_name, arg_descriptions=arg_descriptions, raw=False, localns=localns
    )
    info = FunctionToolInfo(
        name=tool_name,
        description=description if description is not None else (doc_description or None),
        flags=flags,
        on_duplicate=on_duplicate,
        duplicate_scope=duplicate_scope,
    )
    return FunctionTool(fnc, info, signature)


@overload
def function_tool(
    f: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    flags: ToolFlag = ToolFlag.NONE,
    on_duplicate: DuplicateMode = "allow",
    duplicate_scope: DuplicateScope = "name",
) -> FunctionTool: ...


@overload
def function_tool(
    f: Callable[..., Any],
    *,
    raw_schema: dict[str, Any],
    flags: ToolFlag = ToolFlag.NONE,
    on_duplicate: DuplicateMode = "allow",
    duplicate_scope: DuplicateScope = "name",
) -> RawFunctionTool: ...


@overload
def function_tool(
    f: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    flags: ToolFlag = ToolFlag.NONE,
    on_duplicate: DuplicateMode = "allow",
    duplicate_scope: DuplicateScope = "name",
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


@overload
def function_tool(
    f: None = None,
    *,
    raw_schema: dict[str, Any],
    flags: ToolFlag = ToolFlag.NONE,
    on_duplicate: DuplicateMode = "allow",
    duplicate_scope: DuplicateScope = "name",
) -> Callable[[Callable[..., Any]], RawFunctionTool]: ...


def function_tool(
    f: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    raw_schema: dict[str, Any] | None = None,
    flags: ToolFlag = ToolFlag.NONE,
    on_duplicate: DuplicateMode = "allow",
    duplicate_scope: DuplicateScope = "name",
) -> (
    FunctionTool
    | RawFunctionTool
    | Callable[[Callable[..., Any]], FunctionTool]
    | Callable[[Callable[..., Any]], RawFunctionTool]
):
    """Turn a function or method into a tool the LLM can call.

    Use it bare (``@function_tool``) or called (``@function_tool(name=...)``). The description
    comes from the docstring (Google-style ``Args:`` describe parameters) and the JSON schema
    from the type hints (``Annotated[T, Field(description=...)]`` works). A parameter typed as
    the run context (e.g. ``RunContext``) is hidden from the schema and injected at call time.
    With ``raw_schema={"name", "description", "parameters"}`` the schema is used as-is and the
    handler receives ``raw_arguments: dict``.
    """
    if raw_schema is not None and (name is not None or description is not None):
        raise ValueError("with raw_schema, put name/description inside raw_schema")

    def make(fnc: Callable[..., Any], localns: Mapping[str, Any] | None) -> Any:
        return _make_tool(
            fnc,
            name=name,
            description=description,
            raw_schema=raw_schema,
            flags=flags,
            on_duplicate=on_duplicate,
            duplicate_scope=duplicate_scope,
            localns=localns,
        )

    def deco(fnc: Callable[..., Any]) -> Any:
        return make(fnc, _caller_locals())

    if f is not None:
        return make(f, _caller_locals())  # type: ignore[no-any-return]
    return deco


def _caller_locals() -> Mapping[str, Any] | None:
    """The namespace where the decorator is applied (a class body or a function), so that
    annotations naming local classes resolve."""
    frame = sys._getframe(2)
    return frame.f_locals if frame.f_code.co_name != "<module>" else None


def is_function_tool(obj: object) -> bool:
    """True for a :class:`FunctionTool` (schema built from the signature)."""
    return isinstance(obj, FunctionTool)


def is_raw_function_tool(obj: object) -> bool:
    """True for a :class:`RawFunctionTool` (schema given as-is)."""
    return isinstance(obj, RawFunctionTool)


def find_function_tools(obj: object) -> list[FunctionTool | RawFunctionTool]:
    """The ``@function_tool`` methods of ``obj``'s class (bound to ``obj``), in definition order.

    Base-class tools come first; a subclass override replaces the base definition.
    """
    names: dict[str, None] = {}
    for klass in reversed(type(obj).__mro__):
        for attr_name, value in vars(klass).items():
            if isinstance(value, (FunctionTool, RawFunctionTool)):
                names.setdefault(attr_name, None)
    found: list[FunctionTool | RawFunctionTool] = []
    for attr_name in names:
        value = getattr(obj, attr_name, None)
        if isinstance(value, (FunctionTool, RawFunctionTool)):
            found.append(value)
    return found


class Toolset(Tool):
    """A named group of tools (and nested toolsets) with an async lifecycle.

    ``@function_tool`` methods defined on a subclass are part of the toolset.
    """

    def __init__(self, *, id: str, tools: Sequence[Tool] | None = None) -> None:
        if not id:
            raise ValueError("Toolset needs a non-empty id")
        self._id = id
        self._tools: list[Tool] = list(tools or [])

    @property
    def id(self) -> str:
        return self._id

    @property
    def tools(self) -> list[Tool]:
        """The tools of this set: the given ones, then the decorated methods."""
        own: list[Tool] = list(find_function_tools(self))
        return [*self._tools, *[t for t in own if t not in self._tools]]

    async def setup(self) -> None:
        """Prepare the tools (open connections...). Called before the tools are used."""
        for tool in self._tools:
            if isinstance(tool, Toolset):
                await tool.setup()

    async def aclose(self) -> None:
        """Release what :meth:`setup` acquired."""
        for tool in self._tools:
            if isinstance(tool, Toolset):
                await tool.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self._id!r}, tools={len(self.tools)})"


@dataclass
class _Flattened:
    function_tools: dict[str, FunctionTool | RawFunctionTool] = field(default_factory=dict)
    provider_tools: list[ProviderTool] = field(default_factory=list)
    toolsets: list[Toolset] = field(default_factory=list)


def _flatten(tools: Iterable[Tool | Any], out: _Flattened) -> None:
    for tool in tools:
        if isinstance(tool, (FunctionTool, RawFunctionTool)):
            existing = out.function_tools.get(tool.info.name)
            if existing is not None and existing != tool:
                raise ValueError(
                    f"duplicate tool name {tool.info.name!r}: two different tools share it; "
                    "rename one with @function_tool(name=...)"
                )
            out.function_tools[tool.info.name] = tool
        elif isinstance(tool, Toolset):
            if tool not in out.toolsets:
                out.toolsets.append(tool)
            _flatten(tool.tools, out)
        elif isinstance(tool, ProviderTool):
            out.provider_tools.append(tool)
        else:
            raise TypeError(
                f"unsupported tool {tool!r}: expected a @function_tool, a RawFunctionTool, "
                "a Toolset or a ProviderTool"
            )


class ToolContext:
    """The flattened set of tools available to one LLM call."""

    def __init__(self, tools: Sequence[Tool | Any] | None = None) -> None:
        self._tools: list[Tool] = []
        self._flat = _Flattened()
        self.update_tools(list(tools or []))

    @classmethod
    def empty(cls) -> ToolContext:
        return cls([])

    def update_tools(self, tools: Sequence[Tool | Any]) -> None:
        """Replace the tools. Raises ``ValueError`` on duplicate names."""
        flat = _Flattened()
        _flatten(tools, flat)
        self._tools = list(tools)
        self._flat = flat

    @property
    def tools(self) -> list[Tool]:
        """The tools as given (toolsets not expanded)."""
        return list(self._tools)

    def flatten(self) -> list[Tool]:
        """Function tools and provider tools, with toolsets expanded."""
        return [*self._flat.function_tools.values(), *self._flat.provider_tools]

    @property
    def function_tools(self) -> dict[str, FunctionTool | RawFunctionTool]:
        """Function tools by name."""
        return dict(self._flat.function_tools)

    @property
    def provider_tools(self) -> list[ProviderTool]:
        return list(self._flat.provider_tools)

    @property
    def toolsets(self) -> list[Toolset]:
        return list(self._flat.toolsets)

    def get_function_tool(self, name: str) -> FunctionTool | RawFunctionTool | None:
        return self._flat.function_tools.get(name)

    def parse_function_tools(
        self, format: ToolFormat | str, *, strict: bool = False
    ) -> list[dict[str, Any]]:
        """Tool definitions in a provider's format (``"openai"``, ``"openai.responses"``,
        ``"anthropic"``)."""
        return [tool_to_provider_schema(t, format) for t in self._flat.function_tools.values()]

    def copy(self) -> ToolContext:
        return ToolContext(self._tools)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolContext):
            return NotImplemented
        return (
            self._flat.function_tools == other._flat.function_tools
            and self._flat.provider_tools == other._flat.provider_tools
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ToolContext(function_tools={sorted(self._flat.function_tools)})"


def tool_to_provider_schema(
    tool: FunctionTool | RawFunctionTool, format: ToolFormat | str
) -> dict[str, Any]:
    """One tool's definition in a provider's format."""
    name = tool.info.name
    if isinstance(tool, FunctionTool):
        description = tool.info.description or ""
    else:
        description = str(tool.info.raw_schema.get("description") or "")
    params = tool.parameters_schema
    if format == "openai":
        fn: dict[str, Any] = {"name": name, "parameters": params}
        if description:
            fn["description"] = description
        return {"type": "function", "function": fn}
    if format == "openai.responses":
        out: dict[str, Any] = {"type": "function", "name": name, "parameters": params}
        if description:
            out["description"] = description
        return out
    if format == "anthropic":
        out = {"name": name, "input_schema": params}
        if description:
            out["description"] = description
        return out
    raise ValueError(
        f"unknown tool format {format!r}; expected 'openai', 'openai.responses' or 'anthropic'"
    )


class NamedToolChoiceFunction(TypedDict):
    name: str


class NamedToolChoice(TypedDict):
    """Force a specific function: ``{"type": "function", "function": {"name": ...}}``."""

    type: Literal["function"]
    function: NamedToolChoiceFunction


ToolChoice = NamedToolChoice | ToolChoiceLiteral
"""``"auto"``, ``"required"``, ``"none"`` or a :class:`NamedToolChoice`."""


__all__ = [
    "DuplicateMode",
    "FunctionTool",
    "FunctionToolInfo",
    "NamedToolChoice",
    "NamedToolChoiceFunction",
    "ProviderTool",
    "RawFunctionTool",
    "RawFunctionToolInfo",
    "StopResponse",
    "Tool",
    "ToolChoice",
    "ToolContext",
    "ToolError",
    "ToolFlag",
    "Toolset",
    "find_function_tools",
    "function_tool",
    "is_function_tool",
    "is_raw_function_tool",
    "tool_to_provider_schema",
]
