"""openai.LLM with the real SDK against the local fake chat-completions server."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import vx_openai_fake as fk

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
from voxlane.plugins import openai as vx_openai

FAST = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=5.0)
NO_RETRY = APIConnectOptions(max_retry=0, retry_interval=0.01, timeout=5.0)
# a hung request costs this once; the healthy retry must answer within it on a loaded machine
HANG_TIMEOUT = 1.5


def make_llm(server: fk.FakeOpenAI, **kwargs: Any) -> vx_openai.LLM:
    return vx_openai.LLM(
        model="gpt-4.1-mini", api_key="sk-test-secret", base_url=server.base_url, **kwargs
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


async def test_streams_text_usage_and_metrics(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.chat_queue.append(fk.ChatReply(text=["Hel", "lo", " there"], cached_tokens=5))
    llm = make_llm(fake_openai)
    metrics: list[LLMMetrics] = []
    llm.on("metrics_collected", metrics.append)
    chunks = [c async for c in llm.chat(chat_ctx=user_ctx(), conn_options=FAST)]
    texts = [c.delta.content for c in chunks if c.delta and c.delta.content]
    assert texts == ["Hel", "lo", " there"]
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1
    assert usage[0].prompt_tokens == 12 and usage[0].completion_tokens == 7
    assert usage[0].total_tokens == 19 and usage[0].prompt_cached_tokens == 5
    assert all(c.id == "chatcmpl-fake123" for c in chunks)
    [req] = fake_openai.requests_to("/v1/chat/completions")
    assert req.headers["Authorization"] == "Bearer sk-test-secret"
    assert req.body["model"] == "gpt-4.1-mini"
    assert req.body["stream"] is True
    assert req.body["stream_options"] == {"include_usage": True}
    assert req.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert "tools" not in req.body and "tool_choice" not in req.body
    # the SDK's own retry machinery is off: the base class owns retries
    assert llm.client.max_retries == 0
    assert len(metrics) == 1 and metrics[0].prompt_cached_tokens == 5
    assert metrics[0].completion_tokens == 7 and metrics[0].ttft >= 0


@pytest.mark.parametrize("interleave", [False, True])
async def test_parallel_tool_calls_are_assembled(
    fake_openai: fk.FakeOpenAI, interleave: bool
) -> None:
    fake_openai.chat_queue.append(
        fk.ChatReply(
            text=["Checking."],
            tool_calls=[
                fk.ToolCallSpec("get_weather", '{"city": "Paris"}', "call_a"),
                fk.ToolCallSpec("get_time", '{"zone": "CET"}', "call_b"),
            ],
            interleave_tool_calls=interleave,
        )
    )
    llm = make_llm(fake_openai)
    resp = await llm.chat(
        chat_ctx=user_ctx("weather?"),
        tools=[get_weather, get_time],
        tool_choice="required",
        parallel_tool_calls=True,
        conn_options=FAST,
    ).collect()
    assert resp.text == "Checking."
    assert [(c.name, c.call_id, json.loads(c.arguments)) for c in resp.tool_calls] == [
        ("get_weather", "call_a", {"city": "Paris"}),
        ("get_time", "call_b", {"zone": "CET"}),
    ]
    [req] = fake_openai.requests_to("/v1/chat/completions")
    assert req.body["tool_choice"] == "required"
    assert req.body["parallel_tool_calls"] is True
    names = [t["function"]["name"] for t in req.body["tools"]]
    assert names == ["get_weather", "get_time"]
    assert req.body["tools"][0]["function"]["parameters"]["properties"]["city"]["type"] == "string"


async def test_named_tool_choice_and_unknown_name(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.chat_queue.append(
        fk.ChatReply(tool_calls=[fk.ToolCallSpec("get_time", "", "call_t")])
    )
    llm = make_llm(fake_openai, parallel_tool_calls=False)
    resp = await llm.chat(
        chat_ctx=user_ctx(),
        tools=[get_weather, get_time],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
        conn_options=FAST,
    ).collect()
    assert [(c.name, c.arguments) for c in resp.tool_calls] == [("get_time", "{}")]
    [req] = fake_openai.requests_to("/v1/chat/completions")
    assert req.body["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    assert req.body["parallel_tool_calls"] is False
    with pytest.raises(ValueError, match="no such tool"):
        llm.chat(
            chat_ctx=user_ctx(),
            tools=[get_weather],
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )


async def test_history_conversion_orders_tool_outputs(fake_openai: fk.FakeOpenAI) -> None:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="sys")
    ctx.add_message(role="user", content=["look", ImageContent(image=b"\x89PNG\r\n\x1a\nxx")])
    ctx.add_message(role="assistant", content="Let me check.")
    ctx.insert(
        FunctionCall(
            call_id="c1",
            name="get_weather",
            arguments='{"city":"Oslo"}',
            created_at=ctx.items[-1].created_at + 1,
        )
    )
    ctx.insert(
        FunctionCall(
            call_id="c2",
            name="get_time",
            arguments='{"zone":"UTC"}',
            created_at=ctx.items[-1].created_at + 1,
        )
    )
    # a user message recorded while the tools ran, before their outputs
    ctx.add_message(role="user", content="also hurry", created_at=ctx.items[-1].created_at + 1)
    ctx.insert(
        FunctionCallOutput(
            call_id="c1",
            name="get_weather",
            output="cold",
            is_error=False,
            created_at=ctx.items[-1].created_at + 1,
        )
    )
    ctx.insert(
        FunctionCallOutput(
            call_id="c2",
            name="get_time",
            output="9am",
            is_error=False,
            created_at=ctx.items[-1].created_at + 1,
        )
    )
    # an orphan call (no output) and an orphan output (no call) are not sent
    ctx.insert(
        FunctionCall(
            call_id="c3", name="get_time", arguments="{}", created_at=ctx.items[-1].created_at + 1
        )
    )
    ctx.insert(
        FunctionCallOutput(
            call_id="zz",
            name="x",
            output="?",
            is_error=True,
            created_at=ctx.items[-1].created_at + 1,
        )
    )
    fake_openai.chat_queue.append(fk.ChatReply(text=["ok"]))
    await make_llm(fake_openai).chat(chat_ctx=ctx, conn_options=FAST).collect()
    [req] = fake_openai.requests_to("/v1/chat/completions")
    msgs = req.body["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool", "tool", "user"]
    assert msgs[1]["content"][0] == {"type": "text", "text": "look"}
    assert msgs[1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert msgs[2]["content"] == "Let me check."
    assert [c["id"] for c in msgs[2]["tool_calls"]] == ["c1", "c2"]
    assert msgs[2]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Oslo"}',
    }
    assert [(m["tool_call_id"], m["content"]) for m in msgs[3:5]] == [("c1", "cold"), ("c2", "9am")]
    assert msgs[5] == {"role": "user", "content": "also hurry"}


async def test_retries_500_then_succeeds_without_duplicates(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.chat_queue.extend([fk.Fault("status", status=500), fk.ChatReply(text=["a", "b"])])
    llm = make_llm(fake_openai)
    errors: list[LLMError] = []
    llm.on("error", errors.append)
    resp = await llm.chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert resp.text == "ab"
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 2
    assert [e.recoverable for e in errors] == [True]
    assert isinstance(errors[0].error, APIStatusError) and errors[0].error.status_code == 500


async def test_429_maps_retry_after(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.chat_queue.append(
        fk.Fault("status", status=429, retry_after="7", message="slow down")
    )
    with pytest.raises(APIStatusError) as info:
        await make_llm(fake_openai).chat(chat_ctx=user_ctx(), conn_options=NO_RETRY).collect()
    err = info.value
    assert err.status_code == 429 and err.retryable and err.retry_after == 7.0
    assert err.request_id == "req_err" and "slow down" in err.message


async def test_429_is_retried(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.chat_queue.extend(
        [fk.Fault("status", status=429, retry_after="0"), fk.ChatReply(text=["fine"])]
    )
    resp = await make_llm(fake_openai).chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert resp.text == "fine"


async def test_401_is_not_retried(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.chat_queue.extend(
        [fk.Fault("status", status=401, message="bad key"), fk.ChatReply(text=["x"])]
    )
    llm = make_llm(fake_openai)
    errors: list[LLMError] = []
    llm.on("error", errors.append)
    with pytest.raises(APIStatusError) as info:
        await llm.chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert info.value.status_code == 401 and not info.value.retryable
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 1
    assert [e.recoverable for e in errors] == [False]


async def test_timeout_is_retried(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.chat_queue.extend([fk.Fault("hang"), fk.ChatReply(text=["late"])])
    llm = make_llm(fake_openai)
    errors: list[LLMError] = []
    llm.on("error", errors.append)
    opts = APIConnectOptions(max_retry=1, retry_interval=0.01, timeout=HANG_TIMEOUT)
    resp = await llm.chat(chat_ctx=user_ctx(), conn_options=opts).collect()
    assert resp.text == "late"
    assert type(errors[0].error).__name__ == "APITimeoutError"


async def test_timeouts_exhaust_retries(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.chat_queue.extend([fk.Fault("hang"), fk.Fault("hang")])
    opts = APIConnectOptions(max_retry=1, retry_interval=0.01, timeout=0.2)
    with pytest.raises(APIConnectionError, match="after 2 attempts"):
        await make_llm(fake_openai).chat(chat_ctx=user_ctx(), conn_options=opts).collect()


async def test_drop_before_output_is_retried(fake_openai: fk.FakeOpenAI) -> None:
    reply = fk.ChatReply(text=["one", "two"])
    # frame 0 is the role-only frame: no text was streamed when the connection drops
    fake_openai.chat_queue.extend([fk.Fault("drop", after=1, reply=reply), reply])
    resp = await make_llm(fake_openai).chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert resp.text == "onetwo"
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 2


async def test_drop_after_output_raises_without_duplicating(fake_openai: fk.FakeOpenAI) -> None:
    reply = fk.ChatReply(text=["one", "two", "three"])
    fake_openai.chat_queue.extend([fk.Fault("drop", after=3, reply=reply), reply])
    stream = make_llm(fake_openai).chat(chat_ctx=user_ctx(), conn_options=FAST)
    got: list[str] = []
    with pytest.raises(APIConnectionError):
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                got.append(chunk.delta.content)
    assert got == ["one", "two"]
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 1


async def test_truncated_stream_is_an_error(fake_openai: fk.FakeOpenAI) -> None:
    reply = fk.ChatReply(text=["one", "two"])
    fake_openai.chat_queue.extend([fk.Fault("truncate", after=1, reply=reply), reply])
    resp = await make_llm(fake_openai).chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert resp.text == "onetwo"  # nothing was streamed before the cut, so it was retried
    fake_openai.chat_queue.append(fk.Fault("truncate", after=2, reply=reply))
    with pytest.raises(APIConnectionError, match="finish_reason"):
        await make_llm(fake_openai).chat(chat_ctx=user_ctx(), conn_options=FAST).collect()


async def test_malformed_chunk(fake_openai: fk.FakeOpenAI) -> None:
    reply = fk.ChatReply(text=["fine"])
    fake_openai.chat_queue.extend([fk.Fault("malformed", after=1, reply=reply), reply])
    llm = make_llm(fake_openai)
    errors: list[LLMError] = []
    llm.on("error", errors.append)
    resp = await llm.chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert resp.text == "fine"
    assert "malformed" in str(errors[0].error)
    fake_openai.chat_queue.append(fk.Fault("malformed", after=1, reply=reply))
    with pytest.raises(APIError, match="malformed"):
        await llm.chat(chat_ctx=user_ctx(), conn_options=NO_RETRY).collect()


async def test_error_event_mid_stream(fake_openai: fk.FakeOpenAI) -> None:
    fake_openai.chat_queue.append(fk.Fault("error_event", message="overloaded"))
    with pytest.raises(APIError, match="overloaded"):
        await make_llm(fake_openai).chat(chat_ctx=user_ctx(), conn_options=NO_RETRY).collect()


def test_missing_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        vx_openai.LLM()


def test_key_from_env_and_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-secret")
    llm = vx_openai.LLM(model="gpt-4o")
    assert llm.client.api_key == "sk-from-env-secret"
    assert "secret" not in repr(llm)
    assert llm.model == "gpt-4o" and llm.provider == "openai"


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="temperature"):
        vx_openai.LLM(api_key="k", temperature=3.0)
    with pytest.raises(ValueError, match="model"):
        vx_openai.LLM(api_key="k", model="")


async def test_with_ollama_helper(fake_openai: fk.FakeOpenAI) -> None:
    llm = vx_openai.LLM.with_ollama(model="qwen3:4b", base_url=fake_openai.base_url)
    assert llm.provider == "ollama" and llm.model == "qwen3:4b"
    fake_openai.chat_queue.append(fk.ChatReply(text=["hi"]))
    assert (await llm.chat(chat_ctx=user_ctx(), conn_options=FAST).collect()).text == "hi"
    [req] = fake_openai.requests_to("/v1/chat/completions")
    assert req.body["model"] == "qwen3:4b"
    with pytest.raises(ValueError, match="GROQ_API_KEY"):
        vx_openai.LLM.with_groq()


async def test_the_key_never_reaches_the_logs_or_errors(
    fake_openai: fk.FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    # the SDK and httpx log every request at DEBUG; a retried 500 and a final 401 are logged too
    fake_openai.chat_queue.extend(
        [
            fk.Fault("status", status=500),
            fk.ChatReply(text=["fine"]),
            fk.Fault("status", status=401, message="Incorrect API key provided"),
        ]
    )
    llm = make_llm(fake_openai)
    with caplog.at_level(logging.DEBUG):
        assert (await llm.chat(chat_ctx=user_ctx(), conn_options=FAST).collect()).text == "fine"
        with pytest.raises(APIStatusError) as info:
            await llm.chat(chat_ctx=user_ctx(), conn_options=FAST).collect()
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("openai") for r in caplog.records)  # the SDK did log
    assert all("sk-test-secret" not in r.getMessage() for r in caplog.records)
    assert "sk-test-secret" not in str(info.value) and "sk-test-secret" not in repr(info.value.body)
    assert "sk-test-secret" not in repr(llm)
