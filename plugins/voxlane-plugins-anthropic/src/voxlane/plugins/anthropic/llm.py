"""Anthropic Claude (Messages API, streamed) as a Voxlane :class:`~voxlane.agents.llm.LLM`."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from typing import Any, Literal, cast

import httpx2
import pydantic

import anthropic
from anthropic.types import (
    InputJSONDelta,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    TextDelta,
    ToolUseBlock,
)
from voxlane.agents import llm
from voxlane.agents._exceptions import APIConnectionError, APIError
from voxlane.agents.llm import ChatChunk, ChoiceDelta, CompletionUsage, FunctionToolCall
from voxlane.agents.llm.tool_context import Tool, ToolChoice, ToolContext
from voxlane.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
    is_given,
)
from voxlane.agents.utils.misc import shortuuid

from ._errors import to_api_error
from .chat_format import to_anthropic
from .log import logger
from .models import DEFAULT_CHAT_MODEL, ChatModels

CachingMode = Literal["ephemeral"]

_SDK_ERRORS = (
    anthropic.AnthropicError,
    httpx2.HTTPError,
    json.JSONDecodeError,
    pydantic.ValidationError,
)


@dataclass
class _LLMOptions:
    model: str
    max_tokens: int
    temperature: NotGivenOr[float]
    top_p: NotGivenOr[float]
    top_k: NotGivenOr[int]
    parallel_tool_calls: NotGivenOr[bool]
    tool_choice: NotGivenOr[ToolChoice]
    caching: CachingMode | None
    user: NotGivenOr[str]


def _resolve_key(api_key: NotGivenOr[str | None]) -> str:
    key = api_key if is_given(api_key) else None
    key = key or os.environ.get("ANTHROPIC_API_KEY") or None
    if not key:
        raise ValueError(
            "the Anthropic LLM needs an API key: pass api_key=... or set the ANTHROPIC_API_KEY "
            "environment variable"
        )
    return key


class LLM(llm.LLM):
    """Claude through the official ``anthropic`` SDK (``messages.create(stream=True)``).

    ``caching="ephemeral"`` marks the system prompt, the tool definitions and the latest
    message with ``cache_control`` so repeated prefixes are served from the prompt cache.
    The key comes from ``api_key`` or ``ANTHROPIC_API_KEY``; it is never logged or shown.
    """

    def __init__(
        self,
        *,
        model: ChatModels | str = DEFAULT_CHAT_MODEL,
        api_key: NotGivenOr[str | None] = NOT_GIVEN,
        base_url: NotGivenOr[str | None] = NOT_GIVEN,
        client: anthropic.AsyncAnthropic | None = None,
        max_tokens: int = 1024,
        temperature: NotGivenOr[float] = NOT_GIVEN,
        top_p: NotGivenOr[float] = NOT_GIVEN,
        top_k: NotGivenOr[int] = NOT_GIVEN,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        caching: CachingMode | None = None,
        user: NotGivenOr[str] = NOT_GIVEN,
    ) -> None:
        super().__init__()
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty model name, got {model!r}")
        if not isinstance(max_tokens, int) or max_tokens <= 0:
            raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
        if is_given(temperature) and not 0.0 <= temperature <= 1.0:
            raise ValueError(f"temperature must be between 0 and 1, got {temperature}")
        if caching not in (None, "ephemeral"):
            raise ValueError(f"caching must be None or 'ephemeral', got {caching!r}")
        self._opts = _LLMOptions(
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            parallel_tool_calls=parallel_tool_calls,
            tool_choice=tool_choice,
            caching=caching,
            user=user,
        )
        if client is not None:
            self._client = client.with_options(max_retries=0)
        else:
            url = base_url if is_given(base_url) and base_url else None
            self._client = anthropic.AsyncAnthropic(
                api_key=_resolve_key(api_key), base_url=url, max_retries=0
            )

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "anthropic"

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        return self._client

    def __repr__(self) -> str:
        return (
            f"anthropic.LLM(model={self._opts.model!r}, base_url={str(self._client.base_url)!r}, "
            f"caching={self._opts.caching!r})"
        )

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> LLMStream:
        """Stream a reply to ``chat_ctx``; tool calls arrive complete (one chunk per call)."""
        opts = self._opts
        converted = to_anthropic(chat_ctx)
        kwargs: dict[str, Any] = {"max_tokens": opts.max_tokens}
        for name in ("temperature", "top_p", "top_k"):
            value = getattr(opts, name)
            if is_given(value):
                kwargs[name] = value
        if is_given(opts.user):
            kwargs["metadata"] = {"user_id": opts.user}

        tool_ctx = ToolContext(list(tools or []))
        schemas = tool_ctx.parse_function_tools("anthropic")
        if tool_ctx.provider_tools:
            logger.warning(
                "provider tools %s are not supported by this plugin and were not sent",
                [t.id for t in tool_ctx.provider_tools],
            )
        cache = {"type": opts.caching} if opts.caching else None
        if schemas:
            schemas = [dict(s) for s in schemas]
            if cache is not None:
                schemas[-1]["cache_control"] = cache
            kwargs["tools"] = schemas
            choice = tool_choice if is_given(tool_choice) else opts.tool_choice
            ptc = parallel_tool_calls if is_given(parallel_tool_calls) else opts.parallel_tool_calls
            tc = _tool_choice(cast(ToolChoice, choice) if is_given(choice) else None, tool_ctx)
            if tc is not None or (is_given(ptc) and not ptc):
                tc = tc or {"type": "auto"}
                if is_given(ptc) and not ptc and tc["type"] != "none":
                    tc["disable_parallel_tool_use"] = True
                kwargs["tool_choice"] = tc

        system = converted.system
        messages = converted.messages
        if cache is not None:
            system = copy.deepcopy(system)
            messages = copy.deepcopy(messages)
            if system:
                system[-1]["cache_control"] = cache
            messages[-1]["content"][-1]["cache_control"] = cache
        if system:
            kwargs["system"] = system
        if is_given(extra_kwargs):
            kwargs.update(extra_kwargs)
        return LLMStream(
            self,
            client=self._client,
            model=opts.model,
            messages=messages,
            request_kwargs=kwargs,
            chat_ctx=chat_ctx,
            tools=list(tools or []),
            conn_options=conn_options,
        )


def _tool_choice(choice: ToolChoice | None, tool_ctx: ToolContext) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        mapping = {"auto": "auto", "required": "any", "none": "none"}
        if choice not in mapping:
            raise ValueError(
                f"tool_choice must be 'auto', 'required', 'none' or "
                f"{{'type': 'function', 'function': {{'name': ...}}}}, got {choice!r}"
            )
        return {"type": mapping[choice]}
    name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if not name:
        raise ValueError(f"a named tool_choice needs function.name, got {choice!r}")
    if tool_ctx.get_function_tool(name) is None:
        raise ValueError(
            f"tool_choice names {name!r} but no such tool was given; "
            f"available: {sorted(tool_ctx.function_tools)}"
        )
    return {"type": "tool", "name": name}


@dataclass
class _ToolUse:
    call_id: str
    name: str
    json_parts: list[str]


class LLMStream(llm.LLMStream):
    """One streamed Messages API call."""

    def __init__(
        self,
        llm_: LLM,
        *,
        client: anthropic.AsyncAnthropic,
        model: str,
        messages: list[dict[str, Any]],
        request_kwargs: dict[str, Any],
        chat_ctx: llm.ChatContext,
        tools: list[Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        self._client = client
        self._model = model
        self._messages = messages
        self._request_kwargs = request_kwargs
        super().__init__(llm_, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)

    async def _run(self) -> None:
        try:
            await self._stream_once()
        except _SDK_ERRORS as e:
            raise to_api_error(e, what="Anthropic messages stream") from e

    async def _stream_once(self) -> None:
        request_id = shortuuid("msg_")
        blocks: dict[int, _ToolUse] = {}
        input_tokens = cache_creation = cache_read = output_tokens = 0
        stopped = False
        stream = await self._client.messages.create(
            model=self._model,
            messages=cast(Any, self._messages),
            stream=True,
            timeout=self._conn_options.timeout,
            **self._request_kwargs,
        )
        async with stream:
            async for event in stream:
                if isinstance(event, RawMessageStartEvent):
                    request_id = event.message.id or request_id
                    usage = event.message.usage
                    input_tokens = usage.input_tokens or 0
                    cache_creation = usage.cache_creation_input_tokens or 0
                    cache_read = usage.cache_read_input_tokens or 0
                    output_tokens = usage.output_tokens or 0
                elif isinstance(event, RawContentBlockStartEvent):
                    block = event.content_block
                    if isinstance(block, ToolUseBlock):
                        blocks[event.index] = _ToolUse(block.id, block.name, [])
                    elif getattr(block, "type", None) == "text":
                        text = getattr(block, "text", "")
                        if text:
                            self._send_text(request_id, text)
                elif isinstance(event, RawContentBlockDeltaEvent):
                    delta = event.delta
                    if isinstance(delta, TextDelta):
                        if delta.text:
                            self._send_text(request_id, delta.text)
                    elif isinstance(delta, InputJSONDelta):
                        tool_use = blocks.get(event.index)
                        if tool_use is None:
                            raise APIError(
                                "Anthropic messages stream: input_json_delta for a content "
                                f"block that is not a tool_use (index {event.index})"
                            )
                        tool_use.json_parts.append(delta.partial_json)
                elif isinstance(event, RawContentBlockStopEvent):
                    tool_use = blocks.pop(event.index, None)
                    if tool_use is not None:
                        self._send_tool_call(request_id, tool_use)
                elif isinstance(event, RawMessageDeltaEvent):
                    if event.usage is not None:
                        output_tokens = event.usage.output_tokens or output_tokens
                        if event.usage.input_tokens:
                            input_tokens = event.usage.input_tokens
                        if event.usage.cache_creation_input_tokens:
                            cache_creation = event.usage.cache_creation_input_tokens
                        if event.usage.cache_read_input_tokens:
                            cache_read = event.usage.cache_read_input_tokens
                elif isinstance(event, RawMessageStopEvent):
                    stopped = True
        if not stopped:
            raise APIConnectionError(
                "Anthropic messages stream ended before message_stop; the connection was "
                "probably cut"
            )
        prompt = input_tokens + cache_creation + cache_read
        self._event_ch.send_nowait(
            ChatChunk(
                id=request_id,
                usage=CompletionUsage(
                    completion_tokens=output_tokens,
                    prompt_tokens=prompt,
                    prompt_cached_tokens=cache_read,
                    cache_creation_tokens=cache_creation,
                    cache_read_tokens=cache_read,
                    total_tokens=prompt + output_tokens,
                ),
            )
        )

    def _send_text(self, request_id: str, text: str) -> None:
        self._event_ch.send_nowait(
            ChatChunk(id=request_id, delta=ChoiceDelta(role="assistant", content=text))
        )

    def _send_tool_call(self, request_id: str, tool_use: _ToolUse) -> None:
        arguments = "".join(tool_use.json_parts).strip() or "{}"
        call = FunctionToolCall(name=tool_use.name, arguments=arguments, call_id=tool_use.call_id)
        self._event_ch.send_nowait(
            ChatChunk(id=request_id, delta=ChoiceDelta(role="assistant", tool_calls=[call]))
        )


__all__ = ["LLM", "LLMStream"]
