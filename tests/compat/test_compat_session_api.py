"""A program using the newer LiveKit 1.x session API (``start(capture_run=True)``,
``metrics.log_metrics``, ``utils.log_exceptions``, ``wait_for_idle``, ``usage``), rewritten and
run on Voxlane with a scripted model."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from voxlane.agents.testing import FakeLLM


async def test_greeter_program_runs(load_program: Any, caplog: pytest.LogCaptureFixture) -> None:
    program = load_program("greeter_agent")
    model = FakeLLM(["Welcome to the museum!", "The museum closes at six."])
    with caplog.at_level(logging.INFO, logger="greeter"):
        greeting, answer, tokens = await program.greet_and_answer(model, "When do you close?")
    assert greeting == "Welcome to the museum!"
    assert answer == "The museum closes at six."
    assert tokens > 0
    # the greeting was generated before the question existed
    assert model.calls[0].last_user_message is None
    assert model.calls[1].last_user_message == "When do you close?"
    lines = [r.getMessage() for r in caplog.records if r.name == "greeter"]
    assert sum(line.startswith("LLM metrics") for line in lines) == 2


async def test_log_exceptions_reports_a_failing_program(
    load_program: Any, caplog: pytest.LogCaptureFixture
) -> None:
    program = load_program("greeter_agent")
    model = FakeLLM(["Welcome!", "Sure."])
    with caplog.at_level(logging.ERROR, logger="greeter"), pytest.raises(ValueError):
        await program.greet_and_answer(model, "")  # run() rejects an empty user input
    assert any("greet_and_answer" in r.getMessage() for r in caplog.records)
