"""Overridable nodes, manual turns, interrupt(), RunContext controls, STT turn detection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from typing import Any

import pytest

from voxlane.agents.llm import ChatContext, function_tool
from voxlane.agents.testing.fakes import (
    FakeSTT,
    FakeTTS,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.voice import Agent, AgentSession, ModelSettings, RunContext

pytestmark = pytest.mark.virtual_clock


class CannedAgent(Agent):
    """llm_node returns a coroutine of a str; transcription_node shouts."""

    async def llm_node(  # type: ignore[override]
        self, chat_ctx: ChatContext, tools: list[Any], model_settings: ModelSettings
    ) -> str:
        return "canned answer"

    async def transcription_node(  # type: ignore[override]
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> AsyncIterable[str]:
        async def _upper() -> AsyncIterable[str]:
            async for t in Agent.default.transcription_node(self, text, model_settings):
                yield t.upper()

        return _upper()


async def test_nodes_may_return_str_or_coroutines(vh: Any) -> None:
    session: AgentSession[None] = AgentSession(llm=vh.ScriptedLLM([]))
    text_out = vh.MemoryTextOutput()
    session.output.transcription = text_out
    await session.start(CannedAgent(instructions="x"))
    await session.generate_reply(user_input="hi")
    assert text_out.segments == ["CANNED ANSWER"]
    assert vh.history(session.history)[-1] == ("assistant", "CANNED ANSWER", "complete")
    await session.aclose()


class SilentAgent(Agent):
    def llm_node(  # type: ignore[override]
        self, chat_ctx: ChatContext, tools: list[Any], model_settings: ModelSettings
    ) -> Any:
        async def _nothing() -> None:
            return None

        return _nothing()


async def test_node_returning_none_produces_no_message(vh: Any) -> None:
    session: AgentSession[None] = AgentSession(llm=vh.ScriptedLLM([]))
    await session.start(SilentAgent(instructions="x"))
    handle = session.generate_reply(user_input="hi")
    await handle
    assert handle.exception() is None
    assert vh.history(session.history) == [("user", "hi")]
    await session.aclose()


async def test_non_streaming_stt_without_vad_is_a_clear_error(vh: Any) -> None:
    session: AgentSession[None] = AgentSession(stt=FakeSTT(streaming=False), llm=vh.ScriptedLLM([]))
    with pytest.raises(RuntimeError, match="does not support streaming, add a VAD"):
        await session.start(Agent(instructions="x"))


async def test_manual_turns_commit_and_clear(vh: Any) -> None:
    llm = vh.ScriptedLLM(["you said something"])
    session: AgentSession[None] = AgentSession(
        stt=FakeSTT(
            [
                ScriptedTranscript("forget this", 0.1, 0.6),
                ScriptedTranscript("book a table", 1.0, 1.6),
            ]
        ),
        llm=llm,
        turn_detection="manual",
        user_away_timeout=None,
    )
    audio_in = vh.QueueAudioInput()
    session.input.audio = audio_in
    await session.start(Agent(instructions="x"))
    assert session._activity is not None and session._activity.turn_detection == "manual"
    audio_in.push(audio_pattern([(0.1, False), (0.5, True), (0.3, False)]))
    await asyncio.sleep(1.5)
    assert llm.calls == []  # no automatic end of turn in manual mode
    session.clear_user_turn()
    audio_in.push(audio_pattern([(0.1, False), (0.6, True), (0.5, False)]))
    await asyncio.sleep(2.0)
    assert llm.calls == []
    session.commit_user_turn()
    await asyncio.sleep(1.0)
    assert vh.history(session.history) == [
        ("user", "book a table"),
        ("assistant", "you said something", "complete"),
    ]
    await session.aclose()


async def test_stt_turn_detection_uses_stt_end_of_speech(vh: Any) -> None:
    llm = vh.ScriptedLLM(["hello from stt mode"])
    session: AgentSession[None] = AgentSession(
        stt=FakeSTT([ScriptedTranscript("hi there", 0.2, 0.8)]),
        llm=llm,
        min_endpointing_delay=0.3,
        user_away_timeout=None,
    )
    log = vh.EventLog(session)
    audio_in = vh.QueueAudioInput()
    session.input.audio = audio_in
    await session.start(Agent(instructions="x"))
    assert session._activity is not None and session._activity.turn_detection == "stt"
    audio_in.push(audio_pattern([(0.2, False), (0.6, True), (1.5, False)]))
    await asyncio.sleep(2.5)
    assert vh.history(session.history)[0] == ("user", "hi there")
    stop_t = log.times("user_state_changed")[1]
    commit_t = log.times("conversation_item_added")[0]
    assert commit_t - stop_t == pytest.approx(0.3, abs=1e-3)
    await session.aclose()


async def test_session_interrupt_stops_speech_and_records_played_part(vh: Any) -> None:
    session: AgentSession[None] = AgentSession(tts=FakeTTS(seconds_per_char=0.1))
    audio_out = vh.MemoryAudioOutput()
    session.output.audio = audio_out
    await session.start(Agent(instructions="x"))
    text = "this sentence will be cut somewhere in the middle"
    handle = session.say(text)
    await asyncio.sleep(2.0)
    assert session.agent_state == "speaking"
    await session.interrupt()
    assert handle.interrupted and handle.done()
    [(_role, said, state)] = vh.history(session.history)
    assert state == "interrupted" and text.startswith(said) and 0 < len(said) < len(text)
    assert audio_out.finished[0][1] is True
    assert audio_out.finished[0][0] == pytest.approx(2.0, abs=0.11)
    await session.aclose()


class CarefulAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="x")
        self.errors: list[str] = []
        self.played_before_tool = False

    @function_tool
    async def transfer_money(self, context: RunContext[None]) -> str:
        """Transfer money (must not be interrupted)."""
        context.disallow_interruptions()
        try:
            await context.speech_handle.wait_for_playout()
        except RuntimeError as e:
            self.errors.append(str(e))
        await context.wait_for_playout()
        self.played_before_tool = True
        return "done"


async def test_run_context_controls(vh: Any) -> None:
    llm = vh.ScriptedLLM(
        [vh.Reply(text="Sending it now.", calls=[vh.Call("transfer_money")]), "Sent."]
    )
    session: AgentSession[None] = AgentSession(llm=llm)
    agent = CarefulAgent()
    await session.start(agent)
    handle = session.generate_reply(user_input="send 5 euros")
    await handle
    assert not handle.allow_interruptions
    assert agent.played_before_tool
    assert len(agent.errors) == 1 and "RunContext.wait_for_playout()" in agent.errors[0]
    # the reply to the tool output is a child speech; it inherits the disallowed interruptions
    await session.drain()
    assert vh.history(session.history)[-1] == ("assistant", "Sent.", "complete")
    await session.aclose()
