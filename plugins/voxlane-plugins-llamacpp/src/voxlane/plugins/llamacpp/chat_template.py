"""Render a Voxlane chat history into a prompt with the model's own Jinja chat template."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import jinja2
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from voxlane.agents import llm
from voxlane.agents.llm.tool_context import tool_to_provider_schema

ToolFormat = Literal["template", "prompt"]

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

_PROMPT_TOOLS_INTRO = (
    "You can call these functions. To call one, reply with only this, one line per call:\n"
    f'{TOOL_CALL_OPEN}{{"name": "<function name>", "arguments": {{<arguments as JSON>}}}}'
    f"{TOOL_CALL_CLOSE}\n"
    "Function results come back in <tool_response> tags. Functions:\n"
)

# a ChatML template for GGUF files that carry none
FALLBACK_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


class TemplateError(ValueError):
    """The chat template could not render this conversation."""


def _raise(message: str) -> None:
    raise TemplateError(f"the model's chat template refused the conversation: {message}")


class ChatTemplate:
    """A compiled chat template, with the special tokens it may reference."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, undefined=jinja2.Undefined
        )
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        env.filters["tojson"] = _tojson
        try:
            parsed = env.parse(source)
            self._template = env.from_string(source)
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(f"the model's chat template is not valid Jinja: {e}") from e
        self._variables = jinja2.meta.find_undeclared_variables(parsed)
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token

    @property
    def supports_tools(self) -> bool:
        """True when the template renders tool definitions (it reads the ``tools`` variable)."""
        return "tools" in self._variables

    @property
    def uses_tool_call_tags(self) -> bool:
        """True when the template's tool calls are ``<tool_call>`` JSON blocks (Hermes style)."""
        return TOOL_CALL_OPEN in self.source

    def render(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
    ) -> str:
        kwargs: dict[str, Any] = {
            "messages": list(messages),
            "add_generation_prompt": add_generation_prompt,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
        }
        if tools:
            kwargs["tools"] = list(tools)
        try:
            return str(self._template.render(**kwargs))
        except TemplateError:
            raise
        except jinja2.TemplateError as e:
            raise TemplateError(f"the model's chat template failed to render: {e}") from e


def _tojson(value: Any, indent: int | None = None, **_: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def tool_definitions(
    tools: Sequence[llm.FunctionTool | llm.RawFunctionTool],
) -> list[dict[str, Any]]:
    """OpenAI-style definitions, the shape chat templates expect."""
    return [tool_to_provider_schema(t, "openai") for t in tools]


def prompt_tools_instructions(tools: Sequence[llm.FunctionTool | llm.RawFunctionTool]) -> str:
    """System-prompt text that teaches a template without tool support to call functions."""
    lines = [
        json.dumps(d["function"], ensure_ascii=False, separators=(",", ":"))
        for d in tool_definitions(tools)
    ]
    return _PROMPT_TOOLS_INTRO + "\n".join(lines)


def _arguments_object(arguments: str) -> Any:
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return arguments


def _tool_call_text(call: llm.FunctionCall) -> str:
    payload = {"name": call.name, "arguments": _arguments_object(call.arguments)}
    return f"{TOOL_CALL_OPEN}{json.dumps(payload, ensure_ascii=False)}{TOOL_CALL_CLOSE}"


def to_messages(
    chat_ctx: llm.ChatContext,
    *,
    tool_format: ToolFormat,
    tools_instructions: str | None = None,
) -> list[dict[str, Any]]:
    """Convert a chat history into template messages.

    ``tool_format="template"``: tool calls and results use the OpenAI message shape that
    tool-aware templates read (``tool_calls``, role ``tool``). ``"prompt"``: they become plain
    text (``<tool_call>``/``<tool_response>`` blocks) so any template can render them, and
    ``tools_instructions`` is added to the system message. Consecutive messages of the same role
    are merged, as many templates require roles to alternate.
    """
    out: list[dict[str, Any]] = []

    def add(role: str, content: str, **extra: Any) -> None:
        if out and out[-1]["role"] == role and not extra and set(out[-1]) == {"role", "content"}:
            out[-1]["content"] = (
                f"{out[-1]['content']}\n\n{content}" if content else out[-1]["content"]
            )
            return
        out.append({"role": role, "content": content, **extra})

    for item in chat_ctx.items:
        if isinstance(item, llm.ChatMessage):
            role = "system" if item.role in ("system", "developer") else item.role
            add(role, item.text_content or "")
        elif isinstance(item, llm.FunctionCall):
            if tool_format == "template":
                call = {
                    "id": item.call_id,
                    "type": "function",
                    "function": {"name": item.name, "arguments": _arguments_object(item.arguments)},
                }
                if out and out[-1]["role"] == "assistant" and "tool_calls" in out[-1]:
                    out[-1]["tool_calls"].append(call)
                else:
                    out.append({"role": "assistant", "content": "", "tool_calls": [call]})
            else:
                add("assistant", _tool_call_text(item))
        elif isinstance(item, llm.FunctionCallOutput):
            if tool_format == "template":
                out.append(
                    {
                        "role": "tool",
                        "content": item.output,
                        "tool_call_id": item.call_id,
                        "name": item.name,
                    }
                )
            else:
                payload = json.dumps(
                    {"name": item.name, "content": item.output}, ensure_ascii=False
                )
                add("user", f"<tool_response>{payload}</tool_response>")
        # handoffs and config updates are bookkeeping, not conversation

    if tools_instructions:
        if out and out[0]["role"] == "system":
            out[0]["content"] = f"{out[0]['content']}\n\n{tools_instructions}".strip()
        else:
            out.insert(0, {"role": "system", "content": tools_instructions})
    return out
