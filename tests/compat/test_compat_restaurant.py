"""The restaurant program and its LiveKit-style pytest file, rewritten and run on Voxlane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from voxlane.agents.llm import ChatMessage
from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall

PYTEST_INI = """[pytest]
asyncio_default_fixture_loop_scope = function
addopts = -p no:cacheprovider
"""


def test_livekit_style_test_file_passes(rewritten_programs: Path, tmp_path: Path) -> None:
    """``session.run`` + ``result.expect`` tests written for LiveKit pass after the rewrite."""
    work = tmp_path / "project"
    work.mkdir()
    shutil.copy(rewritten_programs / "restaurant_agent.py", work / "restaurant_agent.py")
    shutil.copy(rewritten_programs / "restaurant_agent_tests.py", work / "test_restaurant_agent.py")
    shutil.copy(rewritten_programs / "restaurant_conftest.py", work / "conftest.py")
    (work / "pytest.ini").write_text(PYTEST_INI)
    env = dict(os.environ, PYTHONPATH=str(work))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "--timeout=60", str(work)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout, proc.stdout


def _assistant_texts(session: Any) -> list[str]:
    return [
        item.text_content or ""
        for item in session.history.items
        if item.type == "message" and item.role == "assistant"
    ]


async def test_on_enter_generate_reply_greets(load_program: Any, until: Any) -> None:
    program = load_program("restaurant_agent")
    llm = FakeLLM(default="Welcome to Luigi's!")
    async with program.AgentSession(llm=llm, userdata=program.UserData()) as session:
        await session.start(program.Greeter())
        await until(lambda: bool(_assistant_texts(session)), "the greeting is in the history")
        assert _assistant_texts(session) == ["Welcome to Luigi's!"]
        # the on_enter instructions reached the model
        last = llm.calls[0].chat_ctx.items[-1]
        assert isinstance(last, ChatMessage)
        assert "Greet the customer" in (last.text_content or "")


async def test_agent_task_awaited_in_a_tool_collects_the_phone(
    load_program: Any, until: Any
) -> None:
    program = load_program("restaurant_agent")
    llm = FakeLLM(default="Hello again.")
    llm.when("confirm", FakeResponse(tool_calls=[FakeToolCall("confirm_reservation")]))
    llm.when(
        "555",
        FakeResponse(
            tool_calls=[FakeToolCall("record_phone", {"phone": "555 123 4567"})],
            followup="Thanks!",
        ),
    )
    userdata = program.UserData(reservation_time="7pm", party_size=2)
    async with program.AgentSession(llm=llm, userdata=userdata) as session:
        await session.start(program.Reservation())
        session.generate_reply(user_input="Yes, please confirm it")
        await until(
            lambda: isinstance(session.current_agent, program.CollectPhoneTask),
            "the CollectPhoneTask is the current agent",
        )
        await until(lambda: "Hello again." in _assistant_texts(session), "the task asks")
        session.generate_reply(user_input="It's 555 123 4567")
        await until(lambda: userdata.customer_phone is not None, "the phone is recorded")
        await until(
            lambda: isinstance(session.current_agent, program.Reservation),
            "the reservation agent is back",
        )
        await until(
            lambda: any(
                o.name == "confirm_reservation"
                for o in session.history.items
                if o.type == "function_call_output"
            ),
            "confirm_reservation returned",
        )
    assert userdata.customer_phone == "5551234567"
    outputs = [i for i in session.history.items if i.type == "function_call_output"]
    confirm = [o for o in outputs if o.name == "confirm_reservation"]
    assert confirm and confirm[0].output.startswith("Reservation confirmed: name=None")
    assert "phone=5551234567" in confirm[0].output
