"""Offline chat completion with llama.cpp as a Voxlane ``llm.LLM``.

The prompt is rendered with the chat template stored in the GGUF file, tokens are generated in a
worker thread and streamed into the :class:`LLMStream` as they come. At ``temperature=0`` decoding
is greedy, so a given model, prompt and seed always give the same reply.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from voxlane.agents import llm
from voxlane.agents._exceptions import AgentsError
from voxlane.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGiven,
    NotGivenOr,
    is_given,
)
from voxlane.agents.utils.misc import shortuuid
from voxlane.agents.utils.thread_iter import iterate_in_thread

from .chat_template import (
    FALLBACK_TEMPLATE,
    TOOL_CALL_OPEN,
    ChatTemplate,
    prompt_tools_instructions,
    to_messages,
    tool_definitions,
)
from .engine import DEFAULT_MODEL, LlamaEngine, Piece, SamplingOptions
from .tool_calls import ToolCallParser

ToolCalling = Literal["auto", "template", "prompt"]


class ToolCallingNotSupportedError(AgentsError, ValueError):
    """Tools were given but the model's chat template has no way to describe them."""


@dataclass
class _Prepared:
    """What the worker thread tells the stream before generating."""

    prompt_tokens: int
    forced_prefix: str
    parse_tags: bool
    bare_json: bool
    grammar_schema: dict[str, Any] | None = None


class LLM(llm.LLM):
    """A local GGUF model on llama.cpp; the default is the bundled SmolLM2-135M-Instruct.

    ``model`` is ``"smollm2-135m"`` or the path of a ``.gguf`` file. ``tool_calling`` says how
    tools reach the model: ``"template"`` through the model's chat template, which must support
    tools (otherwise chat() with tools fails with :class:`ToolCallingNotSupportedError`);
    ``"prompt"`` by describing them in the system message and reading ``<tool_call>`` blocks
    back, which works with any template; ``"auto"`` (default) uses the template when it supports
    tools and the prompt otherwise. ``chat_template`` overrides the model's template.
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        temperature: float = 0.0,
        max_tokens: int = 512,
        top_p: float = 0.95,
        top_k: int = 40,
        repeat_penalty: float = 1.0,
        seed: int = 0,
        tool_calling: ToolCalling = "auto",
        chat_template: str | None = None,
        n_ctx: int = 4096,
        n_threads: int = 0,
        n_gpu_layers: int = 0,
    ) -> None:
        super().__init__()
        if tool_calling not in ("auto", "template", "prompt"):
            raise ValueError(
                f"tool_calling must be 'auto', 'template' or 'prompt', got {tool_calling!r}"
            )
        self._engine = LlamaEngine(
            model, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers
        )
        self._sampling = SamplingOptions(
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            repeat_penalty=repeat_penalty,
            seed=seed,
        )
        _validate_sampling(self._sampling)
        self._tool_calling: ToolCalling = tool_calling
        self._template_override = chat_template
        if chat_template is not None:
            ChatTemplate(chat_template)  # fail now on a syntax error
        self._template: ChatTemplate | None = None
        self._template_lock = threading.Lock()
        self._prewarm_thread: threading.Thread | None = None

    @property
    def model(self) -> str:
        return self._engine.name

    @property
    def provider(self) -> str:
        return "llamacpp"

    @property
    def engine(self) -> LlamaEngine:
        """The underlying synchronous engine."""
        return self._engine

    @property
    def tool_calling(self) -> ToolCalling:
        return self._tool_calling

    def prewarm(self) -> None:
        """Start loading the model in a background thread (returns immediately)."""
        if self._engine.loaded or self._prewarm_thread is not None:
            return
        self._prewarm_thread = threading.Thread(
            target=self._engine.load, name="llamacpp-prewarm", daemon=True
        )
        self._prewarm_thread.start()

    def chat_template(self) -> ChatTemplate:
        """The compiled chat template (loads the model; blocking)."""
        with self._template_lock:
            if self._template is None:
                source = self._template_override or self._engine.chat_template or FALLBACK_TEMPLATE
                self._template = ChatTemplate(
                    source,
                    bos_token=self._engine.special_token("bos"),
                    eos_token=self._engine.special_token("eos"),
                )
            return self._template

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> LLMStream:
        """Stream a reply to ``chat_ctx``. ``extra_kwargs`` may override sampling options
        (``temperature``, ``max_tokens``, ``top_p``, ``top_k``, ``repeat_penalty``, ``seed``,
        ``stop``) for this request."""
        sampling = replace(self._sampling, stop=list(self._sampling.stop))
        if is_given(extra_kwargs):
            unknown = set(extra_kwargs) - {
                "temperature",
                "max_tokens",
                "top_p",
                "top_k",
                "repeat_penalty",
                "seed",
                "stop",
            }
            if unknown:
                raise ValueError(
                    f"unsupported extra_kwargs for llama.cpp: {sorted(unknown)}; allowed are "
                    "temperature, max_tokens, top_p, top_k, repeat_penalty, seed, stop"
                )
            for key, value in extra_kwargs.items():
                setattr(sampling, key, list(value) if key == "stop" else value)
            _validate_sampling(sampling)
        choice: llm.ToolChoice = "auto"
        if not isinstance(tool_choice, NotGiven):
            choice = tool_choice
        return LLMStream(
            self,
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
            sampling=sampling,
            parallel_tool_calls=parallel_tool_calls if is_given(parallel_tool_calls) else True,
            tool_choice=choice,
        )


def _validate_sampling(opts: SamplingOptions) -> None:
    if opts.temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 is greedy), got {opts.temperature}")
    if opts.max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {opts.max_tokens}")
    if not 0 < opts.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {opts.top_p}")
    if opts.top_k < 0:
        raise ValueError(f"top_k must be >= 0, got {opts.top_k}")
    if opts.repeat_penalty <= 0:
        raise ValueError(f"repeat_penalty must be > 0, got {opts.repeat_penalty}")


def _function_tools(tools: Sequence[llm.Tool]) -> list[llm.FunctionTool | llm.RawFunctionTool]:
    return list(llm.ToolContext(list(tools)).function_tools.values())


def _call_schema(tools: Sequence[llm.FunctionTool | llm.RawFunctionTool]) -> dict[str, Any]:
    """JSON schema of one call to any of ``tools``: ``{"name": ..., "arguments": {...}}``."""
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"const": t.info.name},
                "arguments": t.parameters_schema or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for t in tools
    ]
    return options[0] if len(options) == 1 else {"oneOf": options}


class LLMStream(llm.LLMStream):
    """One streamed llama.cpp completion."""

    def __init__(
        self,
        llm_: LLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
        sampling: SamplingOptions,
        parallel_tool_calls: bool,
        tool_choice: llm.ToolChoice,
    ) -> None:
        self._model = llm_
        self._sampling = sampling
        self._parallel = parallel_tool_calls
        self._tool_choice = tool_choice
        super().__init__(llm_, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)

    def _prepare(self) -> tuple[_Prepared, list[int], SamplingOptions]:
        """Render and tokenize the prompt (worker thread)."""
        model = self._model
        engine = model.engine
        template = model.chat_template()
        tools = [] if self._tool_choice == "none" else _function_tools(self._tools)
        named: str | None = None
        if isinstance(self._tool_choice, dict):
            named = self._tool_choice["function"]["name"]
            tools = [t for t in tools if t.info.name == named]
            if not tools:
                raise ValueError(
                    f"tool_choice names the function {named!r}, which is not among the tools"
                )

        tool_calling = model.tool_calling
        if tool_calling == "auto":
            tool_calling = "template" if template.supports_tools else "prompt"
        if tools and tool_calling == "template" and not template.supports_tools:
            raise ToolCallingNotSupportedError(
                f"the chat template of the llama.cpp model {model.model!r} does not support "
                "tools, so this model cannot call functions as is; create the LLM with "
                "tool_calling='prompt' (provider string 'llamacpp/<model>:prompt') to describe "
                "the tools in the system prompt instead, or use a model whose template "
                "supports tools"
            )
        use_template_tools = bool(tools) and tool_calling == "template"
        parse_tags = bool(tools) and (not use_template_tools or template.uses_tool_call_tags)
        bare_json = use_template_tools and not template.uses_tool_call_tags

        # a forced call ("required" or a named function) is decoded under a JSON-schema grammar,
        # so even a small model produces a well-formed call with valid arguments
        forced_prefix = ""
        grammar_schema: dict[str, Any] | None = None
        forced = named is not None or self._tool_choice == "required"
        if tools and forced and (parse_tags or bare_json):
            forced_prefix = TOOL_CALL_OPEN if parse_tags else ""
            grammar_schema = _call_schema(tools)

        messages = to_messages(
            self._chat_ctx,
            tool_format="template" if use_template_tools else "prompt",
            tools_instructions=(
                prompt_tools_instructions(tools) if tools and not use_template_tools else None
            ),
        )
        definitions = tool_definitions(tools) if use_template_tools else None

        sampling = replace(self._sampling, stop=list(self._sampling.stop))
        for s in (template.eos_token, "<|im_end|>" if "<|im_end|>" in template.source else ""):
            if s and s not in sampling.stop:
                sampling.stop.append(s)
        if parse_tags:
            sampling.stop.append("<tool_response>")

        reserve = min(sampling.max_tokens, engine.n_ctx // 4)
        while True:
            prompt = template.render(messages, tools=definitions) + forced_prefix
            tokens = engine.tokenize(prompt)
            if len(tokens) + reserve <= engine.n_ctx:
                break
            # drop the oldest non-system message and try again
            drop = next((i for i, m in enumerate(messages[:-1]) if m["role"] != "system"), None)
            if drop is None:
                raise ValueError(
                    f"the prompt needs {len(tokens)} tokens, more than the context window of "
                    f"{engine.n_ctx} leaves room for; load the model with a larger n_ctx or "
                    "shorten the instructions"
                )
            del messages[drop]
        prepared = _Prepared(
            prompt_tokens=len(tokens),
            forced_prefix=forced_prefix,
            parse_tags=parse_tags,
            bare_json=bare_json,
            grammar_schema=grammar_schema,
        )
        return prepared, tokens, sampling

    def _produce(self, stop: threading.Event) -> Iterator[_Prepared | Piece]:
        prepared, tokens, sampling = self._prepare()
        yield prepared
        yield from self._model.engine.generate(
            tokens, sampling, stop=stop, json_schema=prepared.grammar_schema
        )

    async def _run(self) -> None:
        request_id = shortuuid("llamacpp_")
        parser: ToolCallParser | None = None
        sent_role = False

        def send_text(text: str) -> None:
            nonlocal sent_role
            if not text:
                return
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=request_id,
                    delta=llm.ChoiceDelta(role=None if sent_role else "assistant", content=text),
                )
            )
            sent_role = True

        async with contextlib.aclosing(iterate_in_thread(self._produce)) as items:
            async for item in items:
                if isinstance(item, _Prepared):
                    if item.parse_tags or item.bare_json:
                        parser = ToolCallParser(bare_json=item.bare_json)
                        if item.forced_prefix:
                            parser.feed(item.forced_prefix)
                    continue
                if item.finish_reason is None:
                    send_text(parser.feed(item.text) if parser else item.text)
                    continue
                if parser is not None:
                    send_text(parser.finish())
                    calls = parser.calls if self._parallel else parser.calls[:1]
                    if calls:
                        self._event_ch.send_nowait(
                            llm.ChatChunk(
                                id=request_id,
                                delta=llm.ChoiceDelta(
                                    role=None if sent_role else "assistant",
                                    tool_calls=[
                                        llm.FunctionToolCall(
                                            name=c.name,
                                            arguments=c.arguments,
                                            call_id=shortuuid("call_"),
                                        )
                                        for c in calls
                                    ],
                                ),
                            )
                        )
                self._event_ch.send_nowait(
                    llm.ChatChunk(
                        id=request_id,
                        usage=llm.CompletionUsage(
                            completion_tokens=item.completion_tokens,
                            prompt_tokens=item.prompt_tokens,
                            total_tokens=item.prompt_tokens + item.completion_tokens,
                        ),
                    )
                )
