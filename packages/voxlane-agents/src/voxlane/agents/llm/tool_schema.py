"""Building JSON schemas for function tools from Python signatures, type hints and docstrings."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin

import docstring_parser
from pydantic import BaseModel, ConfigDict, create_model
from pydantic.fields import FieldInfo

CONTEXT_MARKER = "_voxlane_run_context"
"""Class attribute (set to ``True``) that marks a type as a run context to inject."""


def context_class(tp: Any) -> type | None:
    """The run-context class behind ``tp`` (``Annotated`` and generics unwrapped), or None."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    origin = get_origin(tp)
    if isinstance(origin, type):
        tp = origin
    if isinstance(tp, type) and getattr(tp, CONTEXT_MARKER, False) is True:
        return tp
    return None


def is_context_type(tp: Any) -> bool:
    """True if ``tp`` is a run-context type: hidden from tool schemas and injected by the caller.

    ``Annotated[...]`` and generic aliases (``RunContext[MyData]``) are unwrapped; the class must
    carry the attribute ``_voxlane_run_context = True``.
    """
    return context_class(tp) is not None


@dataclass
class FunctionSignature:
    """What the tool machinery knows about a function's parameters."""

    parameters_schema: dict[str, Any]
    args_model: type[BaseModel]
    context_params: tuple[str, ...]
    positional_only: tuple[str, ...]
    arg_names: tuple[str, ...] = field(default_factory=tuple)
    context_types: tuple[type, ...] = field(default_factory=tuple)
    """The run-context class each of ``context_params`` is annotated with (generics unwrapped)."""


def parse_docstring(fnc: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """(description, {arg name: description}) from a Google/ReST/numpy style docstring."""
    doc = inspect.getdoc(fnc)
    if not doc:
        return "", {}
    parsed = docstring_parser.parse(doc)
    parts = [p for p in (parsed.short_description, parsed.long_description) if p]
    args = {p.arg_name: p.description for p in parsed.params if p.description}
    return "\n\n".join(parts), args


def _skip_first_param(fnc: Callable[..., Any], params: list[inspect.Parameter]) -> bool:
    """An undecorated method in a class body: first parameter ``self``/``cls`` unannotated."""
    if inspect.ismethod(fnc) or not params:
        return False
    first = params[0]
    return first.name in ("self", "cls") and first.annotation is inspect.Parameter.empty


class UnresolvedHintsError(TypeError):
    """A parameter annotation names something not defined (yet)."""


class _AnnotationsHolder:
    """Lets ``typing.get_type_hints`` evaluate a subset of a function's annotations."""

    def __init__(self, annotations: dict[str, Any], globalns: dict[str, Any]) -> None:
        self.__annotations__ = annotations
        self.__globals__ = globalns


def _resolve_hints(
    fnc: Callable[..., Any], tool_name: str, localns: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Type hints of the parameters (the return annotation is never evaluated)."""
    target = inspect.unwrap(getattr(fnc, "__func__", fnc))
    annotations = dict(getattr(target, "__annotations__", {}) or {})
    annotations.pop("return", None)
    holder = _AnnotationsHolder(annotations, getattr(target, "__globals__", {}))
    try:
        return typing.get_type_hints(
            holder, globalns=holder.__globals__, localns=dict(localns or {}), include_extras=True
        )
    except NameError as e:
        raise UnresolvedHintsError(
            f"cannot resolve the type hints of tool {tool_name!r}: {e}. Define or import the "
            "types used in its parameters at module level (not only under TYPE_CHECKING)."
        ) from e


def build_signature(
    fnc: Callable[..., Any],
    *,
    tool_name: str,
    arg_descriptions: dict[str, str],
    raw: bool = False,
    localns: Mapping[str, Any] | None = None,
) -> FunctionSignature:
    """Inspect ``fnc`` and build its argument model and JSON schema.

    ``localns`` resolves names local to where the tool was defined (e.g. a class body).
    For ``raw`` tools only context parameters and one ``raw_arguments`` parameter are allowed.
    Raises ``TypeError`` with the reason when the signature cannot be used as a tool.
    """
    params = list(inspect.signature(fnc).parameters.values())
    if _skip_first_param(fnc, params):
        params = params[1:]
    hints = _resolve_hints(fnc, tool_name, localns)

    context_params: list[str] = []
    context_types: list[type] = []
    positional_only: list[str] = []
    fields: dict[str, Any] = {}
    for p in params:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(
                f"tool {tool_name!r}: *args/**kwargs parameters are not supported "
                f"(found {p.name!r}); declare each argument explicitly"
            )
        hint = hints.get(p.name, inspect.Parameter.empty)
        ctx_cls = None if hint is inspect.Parameter.empty else context_class(hint)
        if ctx_cls is not None:
            context_params.append(p.name)
            context_types.append(ctx_cls)
            continue
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            positional_only.append(p.name)
        if raw:
            if p.name != "raw_arguments":
                raise TypeError(
                    f"raw tool {tool_name!r}: unexpected parameter {p.name!r}; a raw tool takes "
                    "`raw_arguments: dict` and optionally a RunContext parameter"
                )
            continue
        if hint is inspect.Parameter.empty:
            raise TypeError(
                f"tool {tool_name!r}: parameter {p.name!r} has no type annotation; annotate it "
                "so a JSON schema can be built (e.g. `city: str`)"
            )
        default: Any = ... if p.default is inspect.Parameter.empty else p.default
        description = arg_descriptions.get(p.name)
        if description and not _has_field_description(hint):
            fields[p.name] = (hint, FieldInfo(default=default, description=description))
        else:
            fields[p.name] = (hint, default)

    if raw and "raw_arguments" not in [p.name for p in params]:
        raise TypeError(
            f"raw tool {tool_name!r}: the handler must take a `raw_arguments` parameter"
        )

    model_name = "".join(part.capitalize() for part in tool_name.split("_")) + "Args"
    try:
        args_model = create_model(
            model_name or "ToolArgs",
            __config__=ConfigDict(arbitrary_types_allowed=False),
            **fields,
        )
        schema = args_model.model_json_schema() if not raw else {}
    except Exception as e:
        raise TypeError(f"tool {tool_name!r}: cannot build a JSON schema: {e}") from e
    return FunctionSignature(
        parameters_schema=_clean_schema(schema),
        args_model=args_model,
        context_params=tuple(context_params),
        positional_only=tuple(positional_only),
        arg_names=tuple(fields),
        context_types=tuple(context_types),
    )


def _has_field_description(hint: Any) -> bool:
    if get_origin(hint) is not Annotated:
        return False
    return any(isinstance(m, FieldInfo) and m.description for m in get_args(hint)[1:])


def _clean_schema(schema: Any) -> Any:
    """Drop pydantic's cosmetic ``title`` entries; keep a well-formed object schema."""
    if isinstance(schema, dict):
        out = {
            k: _clean_schema(v)
            for k, v in schema.items()
            if not (k == "title" and isinstance(v, str))
        }
        return out
    if isinstance(schema, list):
        return [_clean_schema(v) for v in schema]
    return schema


def object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Ensure a parameters schema is a JSON object schema with ``properties``."""
    out = dict(schema)
    out.setdefault("type", "object")
    out.setdefault("properties", {})
    return out


__all__ = [
    "CONTEXT_MARKER",
    "FunctionSignature",
    "UnresolvedHintsError",
    "build_signature",
    "is_context_type",
]
