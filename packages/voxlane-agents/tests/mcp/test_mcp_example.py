"""examples/async_mcp_agent.py: the offline demo uses the MCP server and the background tool."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "async_mcp_agent.py"


@pytest.fixture
def ex() -> ModuleType:
    spec = importlib.util.spec_from_file_location("async_mcp_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_demo_conversation(ex: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ex, "BOOKING_STEP_SECONDS", 0.2)
    history = await ex.chat(ex.demo_llm(), ex.DEMO_LINES, settle=1.5)
    outputs = {i.name: i.output for i in history.items if i.type == "function_call_output"}
    # answered by the MCP server subprocess
    assert outputs["get_weather"] == "Lisbon: sunny, 24 C"
    assert outputs["convert_currency"] == '{"result": 540.0}'
    # the booking answered at once, then reported through later replies
    booked = [
        (i.call_id, i.output)
        for i in history.items
        if i.type == "function_call_output"
        if i.name == "book_trip"
    ]
    assert "Searching flights and hotels for 3 nights in Lisbon" in booked[0][1]
    assert booked[1][0].endswith("/update_1") and "now booking them" in booked[1][1]
    assert booked[2][0].endswith("/finished") and "TRIP-LIS-03" in booked[2][1]
    said = [i.text_content for i in history.items if i.type == "message" and i.role == "assistant"]
    assert said[-1] == "Your trip is booked! Your confirmation code is TRIP-LIS-03."
    assert "500 euros is about 540 dollars." in said


def test_main_rejects_unknown_arguments(ex: ModuleType) -> None:
    with pytest.raises(SystemExit):
        ex.main(["--no-such-flag"])
