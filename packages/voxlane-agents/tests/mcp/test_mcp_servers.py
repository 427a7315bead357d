"""MCP servers as tool sources, with real server subprocesses (stdio) and HTTP on 127.0.0.1.

Tools are called through agent turns: a FakeLLM issues the tool calls and the runtime runs
them against the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from voxlane.agents import mcp
from voxlane.agents.llm import ChatContext, ToolContext
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall
from voxlane.agents.voice import Agent, AgentSession

SERVERS = Path(__file__).parent / "servers"
DEMO_SERVER = str(SERVERS / "demo_server.py")
BROKEN_SERVER = str(SERVERS / "broken_server.py")


def call(tool: str, id_: str, **arguments: Any) -> FakeResponse:
    return FakeResponse(
        tool_calls=[FakeToolCall(tool, arguments, call_id=id_)], followup=f"answered {id_}"
    )


def outputs(ctx: ChatContext) -> dict[str, tuple[str, bool]]:
    return {
        i.call_id: (i.output, i.is_error) for i in ctx.items if i.type == "function_call_output"
    }


async def ask(session: AgentSession[None], text: str) -> None:
    await session.generate_reply(user_input=text)
    await session.drain()


def demo_stdio(**kwargs: Any) -> mcp.MCPServerStdio:
    return mcp.MCPServerStdio(sys.executable, [DEMO_SERVER, "stdio"], **kwargs)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_stdio_server_tools_in_agent_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    server = demo_stdio(env={"GREETING": "hello"})
    llm = FakeLLM(
        [
            call("add", "c1", a=2, b=3),
            call("shout", "c2", text="quiet"),
            call("picture", "c3"),
            call("fail", "c4", reason="the reactor is offline"),
            call("env_names", "c5"),
            call("env_value", "c6", name="GREETING"),
            call("pid", "c7"),
        ]
    )
    session: AgentSession[None] = AgentSession(llm=llm, mcp_servers=[server])
    await session.start(Agent(instructions="x"))
    for i in range(7):
        await ask(session, f"turn {i}")
    out = outputs(session.history)
    assert out["c1"] == ('{"result": 5}', False)  # structured content as JSON
    assert out["c2"] == ("QUIET", False)
    assert out["c3"] == ("a red dot\n[image (image/png, 69 bytes)]", False)
    assert out["c4"][1] is True and "the reactor is offline" in out["c4"][0]
    names = json.loads(out["c5"][0])
    assert "OPENAI_API_KEY" not in names
    assert {"PATH", "GREETING", "LC_ALL"} <= set(names)
    assert out["c6"] == ("hello", False)
    # the model was given the server's own JSON schemas
    tools = ToolContext(llm.calls[0].tools).function_tools
    add_schema = tools["add"].parameters_schema
    assert add_schema["required"] == ["a", "b"]
    assert add_schema["properties"]["a"]["type"] == "integer"
    assert llm.calls[1].chat_ctx.items[-1].type == "function_call_output"
    pid = int(out["c7"][0])
    assert process_alive(pid)
    await session.aclose()
    for _ in range(100):
        if not process_alive(pid):
            break
        await asyncio.sleep(0.05)
    assert not process_alive(pid), "the stdio server survived the session"


async def test_tool_list_changed_notification_refreshes_the_tools() -> None:
    server = demo_stdio()
    llm = FakeLLM(
        [
            call("secret_word", "s1"),
            call("unlock", "u1"),
            call("secret_word", "s2"),
        ]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    agent = Agent(instructions="x", mcp_servers=[server])
    await session.start(agent)
    await ask(session, "what is the secret?")
    await ask(session, "unlock it")
    names: set[str] = set()
    for _ in range(200):
        names = set(ToolContext(session._activity.tools).function_tools)  # type: ignore[union-attr]
        if "secret_word" in names:
            break
        await asyncio.sleep(0.05)
    assert "secret_word" in names
    await ask(session, "and now?")
    out = outputs(session.history)
    assert out["s1"][1] is True and "unknown function `secret_word`" in out["s1"][0]
    assert out["u1"] == ("unlocked", False)
    assert out["s2"] == ("swordfish", False)
    await session.aclose()


async def test_server_crash_mid_session(caplog: pytest.LogCaptureFixture) -> None:
    server = demo_stdio()
    llm = FakeLLM([call("crash", "k1"), call("add", "k2", a=1, b=1), "Still here."])
    session: AgentSession[None] = AgentSession(llm=llm, mcp_servers=[server])
    await session.start(Agent(instructions="x"))
    with caplog.at_level(logging.ERROR, logger="voxlane.agents.mcp"):
        await ask(session, "crash it")
        await ask(session, "add")
    await ask(session, "are you there?")
    out = outputs(session.history)
    assert out["k1"][1] is True and "stopped or crashed" in out["k1"][0]
    assert out["k2"][1] is True and "unavailable" in out["k2"][0]
    assert "crash" in caplog.text and "stdio" in caplog.text
    texts = [i.text_content for i in session.history.items if i.type == "message"]
    assert texts[-1] == "Still here."
    await session.aclose()


async def test_hung_tool_times_out_and_the_server_keeps_working() -> None:
    # given as a toolset in tools= (the newer style) rather than mcp_servers=
    toolset = mcp.MCPToolset(id="demo", mcp_server=demo_stdio(client_session_timeout_seconds=1.0))
    llm = FakeLLM([call("hang", "h1"), call("shout", "h2", text="ok")])
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", tools=[toolset]))
    await ask(session, "hang")
    await ask(session, "shout")
    out = outputs(session.history)
    assert out["h1"][1] is True and "no answer within 1 s" in out["h1"][0]
    assert out["h2"] == ("OK", False)
    await session.aclose()
    assert not toolset.mcp_server.initialized


async def test_malformed_result_is_a_clear_error() -> None:
    server = mcp.MCPServerStdio(sys.executable, [BROKEN_SERVER, "malformed"])
    llm = FakeLLM([call("weird", "w1")])
    session: AgentSession[None] = AgentSession(llm=llm, mcp_servers=[server])
    await session.start(Agent(instructions="x"))
    await ask(session, "weird")
    out = outputs(session.history)
    assert out["w1"][1] is True
    assert "weird" in out["w1"][0] and "invalid response" in out["w1"][0]
    await session.aclose()


async def test_servers_that_fail_to_start(caplog: pytest.LogCaptureFixture) -> None:
    missing = mcp.MCPServerStdio("/nonexistent/voxlane-mcp-server")
    exits = mcp.MCPServerStdio(sys.executable, [BROKEN_SERVER, "exit-at-start"])
    silent = mcp.MCPServerStdio(
        sys.executable, [BROKEN_SERVER, "silent"], startup_timeout_seconds=1.0
    )
    working = demo_stdio()
    llm = FakeLLM([call("shout", "w1", text="fine"), "All good."])
    session: AgentSession[None] = AgentSession(
        llm=llm, mcp_servers=[missing, exits, silent, working]
    )
    with caplog.at_level(logging.ERROR):
        await session.start(Agent(instructions="x"))
    await ask(session, "shout")
    assert outputs(session.history)["w1"] == ("FINE", False)
    notes = [
        i.text_content or ""
        for i in llm.calls[0].chat_ctx.items
        if i.type == "message" and i.role == "system"
    ]
    unavailable = [n for n in notes if "unavailable" in n]
    assert len(unavailable) == 3, notes
    assert any("voxlane-mcp-server" in n for n in unavailable)
    assert any("handshake" in n or "did not start" in n for n in unavailable)
    assert "setting up toolset" in caplog.text
    await session.aclose()


async def test_http_server_tools_in_agent_turns(http_server_url: str) -> None:
    server = mcp.MCPServerHTTP(
        http_server_url,
        headers={"X-Voxlane-Test": "token-123"},
        allowed_tools=["add", "fail", "header"],
    )
    expected = "sse" if http_server_url.endswith("/sse") else "streamable_http"
    assert server.transport_type == expected
    llm = FakeLLM(
        [
            call("add", "h1", a=20, b=22),
            call("fail", "h2", reason="no way"),
            call("header", "h3", name="X-Voxlane-Test"),
            call("shout", "h4", text="filtered out"),
        ]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Agent(instructions="x", mcp_servers=[server]))
    for text in ("add", "fail", "header", "shout"):
        await ask(session, text)
    out = outputs(session.history)
    assert out["h1"] == ('{"result": 42}', False)
    assert out["h2"][1] is True and "no way" in out["h2"][0]
    assert out["h3"] == ("token-123", False)
    assert out["h4"][1] is True and "unknown function `shout`" in out["h4"][0]
    await session.aclose()
    assert not server.initialized


def test_constructor_errors() -> None:
    with pytest.raises(ValueError, match="http"):
        mcp.MCPServerHTTP("ftp://example")
    with pytest.raises(ValueError, match="transport_type"):
        mcp.MCPServerHTTP("http://127.0.0.1:1/mcp", transport_type="carrier-pigeon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="command"):
        mcp.MCPServerStdio("")
    with pytest.raises(TypeError, match="list of strings"):
        mcp.MCPServerStdio("python", "server.py")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="> 0"):
        mcp.MCPServerStdio("python", client_session_timeout_seconds=0)
    with pytest.raises(TypeError, match="MCPServerStdio or MCPServerHTTP"):
        mcp.MCPToolset(id="x", mcp_server="python server.py")  # type: ignore[arg-type]
    assert mcp.MCPServerHTTP("http://127.0.0.1:1/sse").transport_type == "sse"


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
async def test_unreachable_http_server(
    closed_port: int, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = mcp.MCPServerHTTP(f"http://127.0.0.1:{closed_port}{path}", startup_timeout_seconds=5)
    llm = FakeLLM([call("add", "a1", a=1, b=2)])
    session: AgentSession[None] = AgentSession(llm=llm)
    with caplog.at_level(logging.ERROR):
        await session.start(Agent(instructions="x", mcp_servers=[server]))
    await ask(session, "add")
    notes = [
        i.text_content or ""
        for i in llm.calls[0].chat_ctx.items
        if i.type == "message" and i.role == "system" and "unavailable" in (i.text_content or "")
    ]
    assert len(notes) == 1 and f"127.0.0.1:{closed_port}" in notes[0], notes
    assert f"127.0.0.1:{closed_port}" in caplog.text
    out = outputs(session.history)
    assert out["a1"][1] is True and "unknown function `add`" in out["a1"][0]
    texts = [i.text_content for i in session.history.items if i.type == "message"]
    assert texts[-1] == "answered a1"  # the session keeps working
    await session.aclose()


async def test_http_server_stopping_mid_session(
    http_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = mcp.MCPServerHTTP(http_server.url, client_session_timeout_seconds=3.0)
    llm = FakeLLM([call("add", "k1", a=1, b=1), call("add", "k2", a=2, b=2), "Still here."])
    session: AgentSession[None] = AgentSession(llm=llm, mcp_servers=[server])
    await session.start(Agent(instructions="x"))
    await ask(session, "add")
    http_server.proc.kill()
    http_server.proc.wait()
    with caplog.at_level(logging.ERROR, logger="voxlane.agents.mcp"):
        await ask(session, "add again")
    await ask(session, "are you there?")
    out = outputs(session.history)
    assert out["k1"] == ('{"result": 2}', False)
    error, is_error = out["k2"]
    assert is_error and "add" in error and "MCP server" in error and "failed" in error, error
    assert "add" in caplog.text and http_server.url in caplog.text
    texts = [i.text_content for i in session.history.items if i.type == "message"]
    assert texts[-1] == "Still here."
    await session.aclose()


async def test_stdio_server_runs_in_the_given_cwd(tmp_path: Path) -> None:
    folder = await asyncio.to_thread(os.path.realpath, tmp_path)
    server = demo_stdio(cwd=tmp_path)
    llm = FakeLLM([call("cwd", "d1")])
    session: AgentSession[None] = AgentSession(llm=llm, mcp_servers=[server])
    await session.start(Agent(instructions="x"))
    await ask(session, "where are you?")
    assert outputs(session.history)["d1"] == (folder, False)
    await session.aclose()
