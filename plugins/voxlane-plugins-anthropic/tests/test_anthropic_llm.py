"""anthropic.LLM with the real SDK against the local fake Messages API."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
import vx_anthropic_fake as fk

from voxlane.agents._exceptions import APIConnectionError, APIError, APIStatusError
from voxlane.agents.llm import (
    ChatContext,
    FunctionCall,
    FunctionCallOutput,
    ImageContent,
    LLMError,
    function_tool,
)
from voxlane.agents.metrics import LLMMetrics
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import anthropic as vx_anthropic

FAST = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=5.0)
NO_RETRY = APIConnectOptions(max_retry=0, retry_interval=0.01, timeout=5.0)
# a hung request costs this once; the healthy retry must answer within it on a loaded machine
HANG_TIMEOUT = 1.5


def make_llm(server: fk.FakeAnthropic, **kwargs: Any) -> vx_anthropic.LLM:
    return vx_anthropic.LLM(
        model="claude-haiku-4-5", api_key="sk-ant-secret", base_url=server.base_url, **kwargs
    )


def user_ctx(text: str = "hello") -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="be brief")
    ctx.add_message(role="user", content=text)
    return ctx


@function_tool
async def get_weather(city: str) -> str:
    """Weather of a city."""
    return f"sunny in {city}"


@function_tool
async def get_time(zone: str) -> str:
    """Time in a zone."""
    return "noon"


async def test_streams_text_and_usage(fake_anthropic: fk.FakeAnthropic) -> None:
    fake_anthropic.queue.append(
        fk.MessageReply(text=["Hi", " there"], cache_read=30, cache_creation=4)
    )
    llm = make_llm(fake_anthropic)
    metrics: list[LLMMetrics] = []
    llm.on("metrics_collected", metrics.append)
    chunks = [c async for c in llm.chat(chat_ctx=user_ctx(), conn_options=FAST)]
    assert [c.delta.content for c in chunks if c.delta and c.delta.content] == ["Hi", " there"]
    [usage] = [c.usage for c in chunks if c.usage]
    assert usage.prompt_tokens == 20 + 30 + 4
    assert usage.cache_read_tokens == 30 and usage.prompt_cached_tokens == 30
    assert usage.cache_creation_tokens == 4
    assert usage.completion_tokens == 9 and usage.total_tokens == 54 + 9
    assert all(c.id == "msg_fake01" for c in chunks)
    [req] = fake_anthropic.requests
    assert (
        req.headers.get("Authorization") == "Bearer sk-ant-secret"
        or req.headers.get("X-Api-Key") == "sk-ant-secret"
    )
    assert req.body["model"] == "claude-haiku-4-5" and req.body["stream"] is True
    assert req.body["max_tokens"] == 1024
    assert req.body["system"] == [{"type": "text", "text": "be brief"}]
    assert req.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hello"}]}
    ]
    assert "tools" not in req.body
    assert llm.client.max_retries == 0
    assert len(metrics) == 1 and metrics[0].prompt_cached_tokens == 30


async def test_tool_use_blocks_are_assembled(fake_anthropic: fk.FakeAnthropic) -> None:
    fake_anthropic.queue.append(
        fk.MessageReply(
            text=["Let me look."],
            tool_uses=[
                fk.ToolUseSpec("get_weather", '{"city": "Paris"}', "toolu_a"),
                fk.ToolUseSpec("get_time", '{"zone": "CET"}', "toolu_b"),
            ],
        )
    )
    resp = (
        await make_llm(fake_anthropic)
        .chat(
            chat_ctx=user_ctx(),
            tools=[get_weather, get_time],
            tool_choice="required",
            conn_options=FAST,
        )
        .collect()
    )
    assert resp.text == "Let me look."
    assert [(c.name, c.call_id, json.loads(c.arguments)) for c in resp.tool_calls] == [
        ("get_weather", "toolu_a", {"city": "Paris"}),
        ("get_time", "toolu_b", {"zone": "CET"}),
    ]
    [req] = fake_anthropic.requests
    assert req.body["tool_choice"] == {"type": "any"}
    assert [t["name"] for t in req.body["tools"]] == ["get_weather", "get_time"]
    assert req.body["tools"][0]["input_schema"]["properties"]["city"]["type"] == "string"


async def test_tool_choice_variants(fake_anthropic: fk.FakeAnthropic) -> None:
    llm = make_llm(fake_anthropic, parallel_tool_calls=False)
    for choice, expected in [
        (
            {"type": "function", "function": {"name": "get_time"}},
            {"type": "tool", "name": "get_time", "disable_parallel_tool_use": True},
        ),
        ("none", {"type": "none"}),
        ("auto", {"type": "auto", "disable_parallel_tool_use": True}),
    ]:
        fake_anthropic.queue.append(fk.MessageReply(text=["ok"]))
        await llm.chat(
            chat_ctx=user_ctx(),
            tools=[get_weather, get_time],
            tool_choice=choice,
            conn_options=FAST,
        ).collect()  # type: ignore[arg-type]
        assert fake_anthropic.requests[-1].body["tool_choice"] == expected
    with pytest.raises(ValueError, match="no such tool"):
        llm.chat(
            chat_ctx=user_ctx(),
            tools=[get_weather],
            tool_choice={"type": "function", "function": {"name": "x"}},
        )


async def test_history_conversion(fake_anthropic: fk.FakeAnthropic) -> None:
    ctx = ChatContext.empty()
    ctx.add_message(role="assistant", content="Welcome!")  # the agent spoke first
    ctx.add_message(role="system", content="sys one")
    ctx.add_message(role="user", content="weather and time?")
    t = ctx.items[-1].created_at
    ctx.insert(
        FunctionCall(call_id="a", name="get_weather", arguments='{"city":"Oslo"}', created_at=t + 1)
    )
    ctx.insert(
        FunctionCall(call_id="b", name="get_time", arguments='{"zone":"UTC"}', created_at=t + 2)
    )
    ctx.add_message(role="user", content="quickly", created_at=t + 3)
    ctx.insert(
        FunctionCallOutput(
            call_id="a", name="get_weather", output="cold", is_error=False, created_at=t + 4
        )
    )
    ctx.insert(
        FunctionCallOutput(
            call_id="b", name="get_time", output="boom", is_error=True, created_at=t + 5
        )
    )
    ctx.insert(FunctionCall(call_id="orphan", name="get_time", arguments="{}", created_at=t + 6))
    ctx.add_message(role="assistant", content="It is cold.", created_at=t + 7)
    ctx.add_message(role="user", content="thanks", created_at=t + 8)
    fake_anthropic.queue.append(fk.MessageReply(text=["bye"]))
    await (
        make_llm(fake_anthropic, caching="ephemeral")
        .chat(chat_ctx=ctx, tools=[get_weather, get_time], conn_options=FAST)
        .collect()
    )
    body = fake_anthropic.requests[-1].body
    assert body["system"] == [
        {"type": "text", "text": "sys one", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["tools"][0]
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert msgs[0]["content"][0]["type"] == "text"  # placeholder: the API wants a user first
    assert msgs[3]["content"] == [
        {"type": "tool_use", "id": "a", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "b", "name": "get_time", "input": {"zone": "UTC"}},
    ]
    assert msgs[4]["content"] == [
        {"type": "tool_result", "tool_use_id": "a", "content": "cold", "is_error": False},
        {"type": "tool_result", "tool_use_id": "b", "content": "boom", "is_error": True},
        {"type": "text", "text": "quickly"},
    ]
    assert msgs[6]["content"] == [
        {"type": "text", "text": "thanks", "cache_control": {"type": "ephemeral"}}
    ]
    # the caller's context is not modified by the cache markers
    assert ctx.items[-1].content == ["thanks"]


async def test_retry_on_529_and_on_error_event(fake_anthropic: fk.FakeAnthropic) -> None:
    fake_anthropic.queue.extend(
        [
            fk.Fault("status", status=529, message="Overloaded"),
            fk.Fault("error_event", after=1, error_type="overloaded_error", message="Overloaded"),
            fk.MessageReply(text=["fine"]),
        ]
    )
    llm = make_llm(fake_anthropic)
    errors: list[LLMError] = []
    llm.on("error", errors.append)
    resp = await llm.chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert resp.text == "fine"
    assert [e.recoverable for e in errors] == [True, True]
    statuses = [e.error.status_code for e in errors if isinstance(e.error, APIStatusError)]
    assert statuses == [529, 529]
    assert len(fake_anthropic.requests) == 3


async def test_429_retry_after_and_401(fake_anthropic: fk.FakeAnthropic) -> None:
    fake_anthropic.queue.append(fk.Fault("status", status=429, retry_after="3"))
    with pytest.raises(APIStatusError) as info:
        await make_llm(fake_anthropic).chat(chat_ctx=user_ctx(), conn_options=NO_RETRY).collect()
    assert info.value.status_code == 429 and info.value.retry_after == 3.0 and info.value.retryable
    assert info.value.request_id == "req_err_anthropic"
    fake_anthropic.queue.extend([fk.Fault("status", status=401), fk.MessageReply(text=["x"])])
    with pytest.raises(APIStatusError) as info:
        await make_llm(fake_anthropic).chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert info.value.status_code == 401 and not info.value.retryable
    assert len(fake_anthropic.requests) == 2


async def test_invalid_request_error_event_is_not_retried(fake_anthropic: fk.FakeAnthropic) -> None:
    fake_anthropic.queue.extend(
        [
            fk.Fault("error_event", after=1, error_type="invalid_request_error", message="bad"),
            fk.MessageReply(text=["x"]),
        ]
    )
    with pytest.raises(APIStatusError) as info:
        await make_llm(fake_anthropic).chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert info.value.status_code == 400 and not info.value.retryable
    assert len(fake_anthropic.requests) == 1


async def test_timeout_then_success(fake_anthropic: fk.FakeAnthropic) -> None:
    fake_anthropic.queue.extend([fk.Fault("hang"), fk.MessageReply(text=["late"])])
    opts = APIConnectOptions(max_retry=1, retry_interval=0.01, timeout=HANG_TIMEOUT)
    llm = make_llm(fake_anthropic)
    errors: list[LLMError] = []
    llm.on("error", errors.append)
    assert (await llm.chat(chat_ctx=user_ctx(), conn_options=opts).collect()).text == "late"
    assert type(errors[0].error).__name__ == "APITimeoutError"


async def test_drop_mid_stream(fake_anthropic: fk.FakeAnthropic) -> None:
    reply = fk.MessageReply(text=["one", "two", "three"])
    # 3 events = message_start, content_block_start, ping: nothing streamed yet -> retried
    fake_anthropic.queue.extend([fk.Fault("drop", after=3, reply=reply), reply])
    assert (
        await make_llm(fake_anthropic).chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    ).text == "onetwothree"
    # after two text deltas: raised, never duplicated
    fake_anthropic.queue.extend([fk.Fault("drop", after=5, reply=reply), reply])
    got: list[str] = []
    with pytest.raises(APIConnectionError):
        async for chunk in make_llm(fake_anthropic).chat(chat_ctx=user_ctx(), conn_options=FAST):
            if chunk.delta and chunk.delta.content:
                got.append(chunk.delta.content)
    assert got == ["one", "two"]
    assert len(fake_anthropic.requests) == 3


async def test_truncated_and_malformed(fake_anthropic: fk.FakeAnthropic) -> None:
    reply = fk.MessageReply(text=["a", "b"])
    fake_anthropic.queue.append(fk.Fault("truncate", after=5, reply=reply))
    with pytest.raises(APIConnectionError, match="message_stop"):
        await make_llm(fake_anthropic).chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    fake_anthropic.queue.extend([fk.Fault("malformed", after=1, reply=reply), reply])
    llm = make_llm(fake_anthropic)
    errors: list[LLMError] = []
    llm.on("error", errors.append)
    assert (await llm.chat(chat_ctx=user_ctx(), conn_options=FAST).collect()).text == "ab"
    assert "malformed" in str(errors[0].error)
    fake_anthropic.queue.append(fk.Fault("malformed", after=1, reply=reply))
    with pytest.raises(APIError, match="malformed"):
        await llm.chat(chat_ctx=user_ctx(), conn_options=NO_RETRY).collect()


def test_key_handling(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        vx_anthropic.LLM()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-secret")
    llm = vx_anthropic.LLM(model="claude-sonnet-4-5")
    assert llm.client.api_key == "sk-ant-env-secret"
    assert "secret" not in repr(llm)
    assert llm.provider == "anthropic" and llm.model == "claude-sonnet-4-5"
    with pytest.raises(ValueError, match="caching"):
        vx_anthropic.LLM(caching="forever")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tokens"):
        vx_anthropic.LLM(max_tokens=0)


async def test_the_key_never_reaches_the_logs_or_errors(
    fake_anthropic: fk.FakeAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    # the SDK and httpx log every request at DEBUG; a retried 529 and a final 401 are logged too
    fake_anthropic.queue.extend(
        [
            fk.Fault("status", status=529, message="Overloaded"),
            fk.MessageReply(text=["fine"]),
            fk.Fault("status", status=401),
        ]
    )
    llm = make_llm(fake_anthropic)
    with caplog.at_level(logging.DEBUG):
        assert (await llm.chat(chat_ctx=user_ctx(), conn_options=FAST).collect()).text == "fine"
        with pytest.raises(APIStatusError) as info:
            await llm.chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("anthropic") for r in caplog.records)  # the SDK did log
    assert all("sk-ant-secret" not in r.getMessage() for r in caplog.records)
    assert "sk-ant-secret" not in str(info.value) and "sk-ant-secret" not in repr(info.value.body)
    assert "sk-ant-secret" not in repr(llm)


async def test_images_are_sent_as_image_blocks(fake_anthropic: fk.FakeAnthropic) -> None:
    ctx = ChatContext.empty()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    ctx.add_message(
        role="user",
        content=[
            "what is this?",
            ImageContent(image=png),
            ImageContent(image="https://x.test/a.png"),
        ],
    )
    fake_anthropic.queue.append(fk.MessageReply(text=["a cat"]))
    resp = await make_llm(fake_anthropic).chat(chat_ctx=ctx, conn_options=FAST).collect()
    assert resp.text == "a cat"
    [msg] = fake_anthropic.requests[-1].body["messages"]
    blocks = msg["content"]
    assert blocks[0] == {"type": "text", "text": "what is this?"}
    assert blocks[1]["type"] == "image" and blocks[1]["source"]["type"] == "base64"
    assert blocks[1]["source"]["media_type"] == "image/png"
    assert base64.b64decode(blocks[1]["source"]["data"]) == png
    assert blocks[2] == {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}
