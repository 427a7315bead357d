"""A LiveKit-style greeter written against the newer 1.x session API: ``start(capture_run=True)``
for the greeting, ``metrics.log_metrics`` in a ``metrics_collected`` handler,
``utils.log_exceptions``, ``wait_for_idle()`` and ``usage``."""

from __future__ import annotations

import logging

from livekit.agents import Agent, AgentSession, MetricsCollectedEvent, llm, metrics, utils

logger = logging.getLogger("greeter")


class Greeter(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You greet visitors of the museum and answer questions.")

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Greet the visitor.")


@utils.log_exceptions(logger=logger)
async def greet_and_answer(model: llm.LLM, question: str) -> tuple[str, str, int]:
    """Greet, answer one question; return (greeting, answer, completion tokens used)."""
    async with AgentSession[None](llm=model) as session:

        @session.on("metrics_collected")
        def _on_metrics(ev: MetricsCollectedEvent) -> None:
            metrics.log_metrics(ev.metrics, logger=logger)

        greeting = await session.start(Greeter(), capture_run=True)
        greeting.expect.next_event().is_message(role="assistant")
        greeting.expect.no_more_events()

        result = await session.run(user_input=question)
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()

        await session.wait_for_idle()
        return greeting.final_output, result.final_output, session.usage.llm_completion_tokens
