"""OpenAI (and OpenAI-compatible) chat completions as a Voxlane :class:`~voxlane.agents.llm.LLM`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import httpx2
import pydantic

import openai
from voxlane.agents import llm
from voxlane.agents._exceptions import APIConnectionError
from voxlane.agents.llm import ChatChunk, ChoiceDelta, CompletionUsage, FunctionToolCall
from voxlane.agents.llm.tool_context import ProviderTool, Tool, ToolChoice, ToolContext
from voxlane.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
    is_given,
)
from voxlane.agents.utils.misc import shortuuid

from ._client import make_client
from ._errors import to_api_error
from .chat_format import to_chat_messages
from .log import logger
from .models import DEFAULT_CHAT_MODEL, ChatModels

ReasoningEffort = Literal["minimal", "low", "medium", "high"]

_SDK_ERRORS = (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError, pydantic.ValidationError)


@dataclass
class _LLMOptions:
    model: str
    user: NotGivenOr[str] = NOT_GIVEN
    temperature: NotGivenOr[float] = NOT_GIVEN
    top_p: NotGivenOr[float] = NOT_GIVEN
    max_completion_tokens: NotGivenOr[int] = NOT_GIVEN
    parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN
    tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN
    seed: NotGivenOr[int] = NOT_GIVEN
    service_tier: NotGivenOr[str] = NOT_GIVEN
    reasoning_effort: NotGivenOr[ReasoningEffort] = NOT_GIVEN
    store: NotGivenOr[bool] = NOT_GIVEN
    metadata: NotGivenOr[dict[str, str]] = NOT_GIVEN
    extra_body: dict[str, Any] = field(default_factory=dict)

    def request_kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in (
            "user",
            "temperature",
            "top_p",
            "max_completion_tokens",
            "seed",
            "service_tier",
            "reasoning_effort",
            "store",
            "metadata",
        ):
            value = getattr(self, name)
            if is_given(value):
                out[name] = value
        return out


class LLM(llm.LLM):
    """Chat completions streamed through the official ``openai`` SDK.

    Works with any OpenAI-compatible server through ``base_url`` (see the ``with_*`` helpers).
    The API key comes from ``api_key`` or ``OPENAI_API_KEY``; it is never logged or shown.
    """

    def __init__(
        self,
        *,
        model: ChatModels | str = DEFAULT_CHAT_MODEL,
        api_key: NotGivenOr[str | None] = NOT_GIVEN,
        base_url: NotGivenOr[str | None] = NOT_GIVEN,
        client: openai.AsyncOpenAI | None = None,
        user: NotGivenOr[str] = NOT_GIVEN,
        temperature: NotGivenOr[float] = NOT_GIVEN,
        top_p: NotGivenOr[float] = NOT_GIVEN,
        max_completion_tokens: NotGivenOr[int] = NOT_GIVEN,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        seed: NotGivenOr[int] = NOT_GIVEN,
        service_tier: NotGivenOr[str] = NOT_GIVEN,
        reasoning_effort: NotGivenOr[ReasoningEffort] = NOT_GIVEN,
        store: NotGivenOr[bool] = NOT_GIVEN,
        metadata: NotGivenOr[dict[str, str]] = NOT_GIVEN,
        extra_body: dict[str, Any] | None = None,
        provider: str = "openai",
        api_key_env: str = "OPENAI_API_KEY",
    ) -> None:
        super().__init__()
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty model name, got {model!r}")
        if is_given(temperature) and not 0.0 <= temperature <= 2.0:
            raise ValueError(f"temperature must be between 0 and 2, got {temperature}")
        if is_given(top_p) and not 0.0 <= top_p <= 1.0:
            raise ValueError(f"top_p must be between 0 and 1, got {top_p}")
        if is_given(max_completion_tokens) and max_completion_tokens <= 0:
            raise ValueError(f"max_completion_tokens must be > 0, got {max_completion_tokens}")
        self._opts = _LLMOptions(
            model=model,
            user=user,
            temperature=temperature,
            top_p=top_p,
            max_completion_tokens=max_completion_tokens,
            parallel_tool_calls=parallel_tool_calls,
            tool_choice=tool_choice,
            seed=seed,
            service_tier=service_tier,
            reasoning_effort=reasoning_effort,
            store=store,
            metadata=metadata,
            extra_body=dict(extra_body or {}),
        )
        self._provider = provider
        if client is not None:
            self._client = client.with_options(max_retries=0)
        else:
            self._client = make_client(
                api_key=api_key, base_url=base_url, api_key_env=api_key_env, what=f"{provider} LLM"
            )

    # -- OpenAI-compatible providers --------------------------------------------------------

    @classmethod
    def with_ollama(
        cls,
        *,
        model: str = "llama3.1",
        base_url: str = "http://localhost:11434/v1",
        **kwargs: Any,
    ) -> LLM:
        """A local Ollama server through its OpenAI-compatible endpoint (no key needed)."""
        kwargs.setdefault("api_key", "ollama")
        return cls(model=model, base_url=base_url, provider="ollama", **kwargs)

    @classmethod
    def with_groq(
        cls,
        *,
        model: str = "llama-3.3-70b-versatile",
        base_url: str = "https://api.groq.com/openai/v1",
        **kwargs: Any,
    ) -> LLM:
        """Groq (key from ``api_key`` or ``GROQ_API_KEY``)."""
        return cls(
            model=model, base_url=base_url, provider="groq", api_key_env="GROQ_API_KEY", **kwargs
        )

    @classmethod
    def with_deepseek(
        cls,
        *,
        model: str = "deepseek-chat",
        base_url: str = "https://api.deepseek.com/v1",
        **kwargs: Any,
    ) -> LLM:
        """DeepSeek (key from ``api_key`` or ``DEEPSEEK_API_KEY``)."""
        return cls(
            model=model,
            base_url=base_url,
            provider="deepseek",
            api_key_env="DEEPSEEK_API_KEY",
            **kwargs,
        )

    @classmethod
    def with_openrouter(
        cls,
        *,
        model: str = "openai/gpt-4.1-mini",
        base_url: str = "https://openrouter.ai/api/v1",
        **kwargs: Any,
    ) -> LLM:
        """OpenRouter (key from ``api_key`` or ``OPENROUTER_API_KEY``)."""
        return cls(
            model=model,
            base_url=base_url,
            provider="openrouter",
            api_key_env="OPENROUTER_API_KEY",
            **kwargs,
        )

    @classmethod
    def with_together(
        cls,
        *,
        model: str = "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        base_url: str = "https://api.together.xyz/v1",
        **kwargs: Any,
    ) -> LLM:
        """Together AI (key from ``api_key`` or ``TOGETHER_API_KEY``)."""
        return cls(
            model=model,
            base_url=base_url,
            provider="together",
            api_key_env="TOGETHER_API_KEY",
            **kwargs,
        )

    @classmethod
    def with_cerebras(
        cls,
        *,
        model: str = "llama-3.3-70b",
        base_url: str = "https://api.cerebras.ai/v1",
        **kwargs: Any,
    ) -> LLM:
        """Cerebras (key from ``api_key`` or ``CEREBRAS_API_KEY``)."""
        return cls(
            model=model,
            base_url=base_url,
            provider="cerebras",
            api_key_env="CEREBRAS_API_KEY",
            **kwargs,
        )

    @classmethod
    def with_xai(
        cls, *, model: str = "grok-3-mini", base_url: str = "https://api.x.ai/v1", **kwargs: Any
    ) -> LLM:
        """xAI (key from ``api_key`` or ``XAI_API_KEY``)."""
        return cls(
            model=model, base_url=base_url, provider="xai", api_key_env="XAI_API_KEY", **kwargs
        )

    # -- properties -------------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    @property
    def client(self) -> openai.AsyncOpenAI:
        return self._client

    def __repr__(self) -> str:
        return (
            f"openai.LLM(model={self._opts.model!r}, provider={self._provider!r}, "
            f"base_url={self.base_url!r})"
        )

    # -- chat -------------------------------------------------------------------------------

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
        """Stream a completion of ``chat_ctx``; tool calls arrive complete (one chunk each)."""
        kwargs: dict[str, Any] = self._opts.request_kwargs()
        tool_ctx = ToolContext(list(tools or []))
        schemas = tool_ctx.parse_function_tools("openai")
        for provider_tool in tool_ctx.provider_tools:
            _warn_provider_tool(provider_tool)
        if schemas:
            kwargs["tools"] = schemas
            ptc = (
                parallel_tool_calls
                if is_given(parallel_tool_calls)
                else self._opts.parallel_tool_calls
            )
            if is_given(ptc):
                kwargs["parallel_tool_calls"] = ptc
            choice = tool_choice if is_given(tool_choice) else self._opts.tool_choice
            if is_given(choice):
                kwargs["tool_choice"] = _tool_choice(cast(ToolChoice, choice), tool_ctx)
        extra_body = dict(self._opts.extra_body)
        if is_given(extra_kwargs):
            for key, value in extra_kwargs.items():
                if key == "extra_body" and isinstance(value, dict):
                    extra_body.update(value)
                else:
                    kwargs[key] = value
        if extra_body:
            kwargs["extra_body"] = extra_body
        messages = to_chat_messages(chat_ctx)
        return LLMStream(
            self,
            client=self._client,
            model=self._opts.model,
            messages=messages,
            request_kwargs=kwargs,
            chat_ctx=chat_ctx,
            tools=list(tools or []),
            conn_options=conn_options,
        )


def _warn_provider_tool(tool: ProviderTool) -> None:
    logger.warning(
        "provider tool %r is not supported by chat completions and was not sent", tool.id
    )


def _tool_choice(choice: ToolChoice, tool_ctx: ToolContext) -> str | dict[str, Any]:
    if isinstance(choice, str):
        if choice not in ("auto", "required", "none"):
            raise ValueError(
                f"tool_choice must be 'auto', 'required', 'none' or "
                f"{{'type': 'function', 'function': {{'name': ...}}}}, got {choice!r}"
            )
        return choice
    name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if not name:
        raise ValueError(f"a named tool_choice needs function.name, got {choice!r}")
    if tool_ctx.get_function_tool(name) is None:
        raise ValueError(
            f"tool_choice names {name!r} but no such tool was given; "
            f"available: {sorted(tool_ctx.function_tools)}"
        )
    return {"type": "function", "function": {"name": name}}


@dataclass
class _PendingCall:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class LLMStream(llm.LLMStream):
    """One streamed chat completion."""

    def __init__(
        self,
        llm_: LLM,
        *,
        client: openai.AsyncOpenAI,
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
            raise to_api_error(e, what=f"{self._llm.provider} chat completion") from e

    async def _stream_once(self) -> None:
        request_id = shortuuid("chatcmpl_")
        pending: dict[int, _PendingCall] = {}
        finished = False
        stream = await self._client.chat.completions.create(
            model=self._model,
            messages=cast(Any, self._messages),
            stream=True,
            stream_options={"include_usage": True},
            timeout=self._conn_options.timeout,
            **self._request_kwargs,
        )
        async with stream:
            async for chunk in stream:
                chunk_id = chunk.id or request_id
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    delta = choice.delta
                    if delta is not None:
                        for tc in delta.tool_calls or []:
                            call = pending.setdefault(tc.index, _PendingCall())
                            if tc.id and not call.call_id:
                                call.call_id = tc.id
                            if tc.function is not None:
                                if tc.function.name and not call.name:
                                    call.name = tc.function.name
                                if tc.function.arguments:
                                    call.arguments.append(tc.function.arguments)
                        if delta.content:
                            self._event_ch.send_nowait(
                                ChatChunk(
                                    id=chunk_id,
                                    delta=ChoiceDelta(role="assistant", content=delta.content),
                                )
                            )
                    if choice.finish_reason is not None:
                        finished = True
                        self._flush_calls(chunk_id, pending)
                if chunk.usage is not None:
                    self._event_ch.send_nowait(ChatChunk(id=chunk_id, usage=_usage(chunk.usage)))
        if not finished:
            raise APIConnectionError(
                f"{self._llm.provider} chat completion: the stream ended before the model "
                "finished (no finish_reason); the connection was probably cut"
            )

    def _flush_calls(self, chunk_id: str, pending: dict[int, _PendingCall]) -> None:
        calls: list[FunctionToolCall] = []
        for index in sorted(pending):
            call = pending[index]
            if not call.name:
                logger.warning("dropping a streamed tool call without a function name: %r", call)
                continue
            calls.append(
                FunctionToolCall(
                    name=call.name,
                    arguments="".join(call.arguments).strip() or "{}",
                    call_id=call.call_id or shortuuid("call_"),
                )
            )
        pending.clear()
        if calls:
            self._event_ch.send_nowait(
                ChatChunk(id=chunk_id, delta=ChoiceDelta(role="assistant", tool_calls=calls))
            )


def _usage(usage: Any) -> CompletionUsage:
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return CompletionUsage(
        completion_tokens=usage.completion_tokens or 0,
        prompt_tokens=usage.prompt_tokens or 0,
        prompt_cached_tokens=cached,
        cache_read_tokens=cached,
        total_tokens=usage.total_tokens or 0,
    )


__all__ = ["LLM", "LLMStream"]
