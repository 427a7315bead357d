"""conftest.py the harness puts next to the rewritten ``test_restaurant_agent.py``.

It replaces the test module's ``_llm()`` factory (a real OpenAI model in the user's program)
with a :class:`FakeLLM` scripted for each test. The judge is scripted too: it passes only when
the judged message contains the word the intent names, so a wrong reply still fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall


def _call(name: str, **arguments: object) -> FakeResponse:
    return FakeResponse(tool_calls=[FakeToolCall(name, arguments)])


def _add_keyword_judge(llm: FakeLLM) -> None:
    def verdict(success: bool) -> FakeResponse:
        return _call("check_intent", success=success, reason="keyword judge")

    def passes(text: str) -> bool:
        match = re.search(r"^Intent: .*?(\b[A-Z][a-z]+\b)", text)
        message = text.split("\n\nMessage", 1)[-1]
        return match is not None and match.group(1) in message

    llm.when(lambda t: t.startswith("Intent:") and passes(t), verdict(True))
    llm.when(lambda t: t.startswith("Intent:"), verdict(False))


def _name() -> FakeLLM:
    llm = FakeLLM(default="Welcome! Would you like to book a table or order takeaway?")
    llm.when(
        "my name is",
        FakeResponse(
            tool_calls=[FakeToolCall("update_name", {"name": "Ana"})],
            followup="Nice to meet you, Ana! How can I help?",
        ),
    )
    return llm


def _handoff() -> FakeLLM:
    llm = FakeLLM(default="When would you like to come?")
    llm.when("book a table", _call("to_reservation"))
    return llm


def _reservation() -> FakeLLM:
    llm = FakeLLM(default="Great, anything else?")
    llm.when(
        "seven pm",
        FakeResponse(
            tool_calls=[FakeToolCall("update_reservation", {"time": "7pm", "party_size": 4})],
            followup="Booked for four at 7pm.",
        ),
    )
    llm.when(
        "forty",
        FakeResponse(
            tool_calls=[FakeToolCall("update_reservation", {"time": "7pm", "party_size": 40})],
            followup="Sorry, we can seat at most twelve.",
        ),
    )
    return llm


def _takeaway() -> FakeLLM:
    llm = FakeLLM(default="We have pizza, salad and soup.")
    llm.when(
        "pizza",
        FakeResponse(
            tool_calls=[FakeToolCall("add_item", {"item": "pizza"})], followup="One pizza, noted."
        ),
    )
    llm.when(
        "burger",
        FakeResponse(
            tool_calls=[FakeToolCall("add_item", {"item": "burger"})],
            followup="Sorry, no burgers. Pizza, salad or soup?",
        ),
    )
    return llm


SCRIPTS: dict[str, Callable[[], FakeLLM]] = {
    "test_name_is_recorded_in_userdata": _name,
    "test_booking_hands_off_to_the_reservation_agent": _handoff,
    "test_reservation_details_and_invalid_party_size": _reservation,
    "test_takeaway_with_mocked_tool": _takeaway,
    "test_unknown_dish_is_a_tool_error": _takeaway,
}


@pytest.fixture(autouse=True)
def scripted_llm(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Swap the program's ``_llm`` factory for the FakeLLM scripted for this test."""
    name = request.node.name
    if name not in SCRIPTS:
        raise LookupError(f"no FakeLLM script for {name}; add one to SCRIPTS")

    def factory() -> FakeLLM:
        llm = SCRIPTS[name]()
        _add_keyword_judge(llm)
        return llm

    monkeypatch.setattr(request.module, "_llm", factory)
