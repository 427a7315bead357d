"""False interruptions without pause, interrupted handoffs, speech during a handoff."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxlane.agents.llm import function_tool
from voxlane.agents.testing.fakes import (
    FakeSTT,
    FakeTTS,
    FakeVAD,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.tool_loop import INTERRUPTED_HANDOFF_MESSAGE

pytestmark = pytest.mark.virtual_clock

LONG = "a fairly long sentence that keeps going for a few seconds at least, on and on"


async def _voice(
    vh: Any,
    *,
    segments: list[tuple[float, float]],
    transcripts: list[ScriptedTranscript],
    replies: list[Any],
    agent: Agent | None = None,
    **opts: Any,
) -> tuple[AgentSession[None], Any, Any, Any]:
    session: AgentSession[None] = AgentSession(
        vad=FakeVAD(segments=segments),
        stt=FakeSTT(transcripts, interim_results=True),
        llm=vh.ScriptedLLM(replies),
        tts=FakeTTS(seconds_per_char=0.05, chunk_duration=0.1),
        user_away_timeout=None,
        **opts,
    )
    audio_in = vh.QueueAudioInput()
    audio_out = vh.MemoryAudioOutput(can_pause=False)
    session.input.audio = audio_in
    session.output.audio = audio_out
    log = vh.EventLog(session)
    await session.start(agent or Agent(instructions="x"))
    return session, log, audio_in, audio_out


async def test_wordless_interruption_without_pause_reports_resumed_false(vh: Any) -> None:
    session, log, audio_in, _out = await _voice(
        vh,
        segments=[(1.0, 1.6)],
        transcripts=[],
        replies=[],
        min_interruption_duration=0.3,
        false_interruption_timeout=1.0,
    )
    handle = session.say(LONG)
    audio_in.push(audio_pattern([(1.0, False), (0.6, True), (4.0, False)]))
    await handle
    assert handle.interrupted  # the output cannot pause: the speech was cut
    await asyncio.sleep(3.0)
    [ev] = log.of("agent_false_interruption")
    assert ev.resumed is False
    user_stopped = log.times("user_state_changed")[1]
    assert log.times("agent_false_interruption")[0] - user_stopped == pytest.approx(1.0, abs=1e-3)
    await session.aclose()


async def test_interruption_with_words_is_not_false(vh: Any) -> None:
    session, log, audio_in, _out = await _voice(
        vh,
        segments=[(1.0, 1.8)],
        transcripts=[ScriptedTranscript("stop please", 1.0, 1.8)],
        replies=["ok"],
        min_interruption_duration=0.3,
        false_interruption_timeout=1.0,
    )
    handle = session.say(LONG)
    audio_in.push(audio_pattern([(1.0, False), (0.8, True), (4.0, False)]))
    await handle
    await asyncio.sleep(4.0)
    assert handle.interrupted
    assert log.of("agent_false_interruption") == []
    assert vh.history(session.history)[-2:] == [
        ("user", "stop please"),
        ("assistant", "ok", "complete"),
    ]
    await session.aclose()


class Billing(Agent):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(instructions="billing", **kwargs)


class Front(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="front")

    @function_tool
    async def to_billing(self) -> tuple[Agent, str]:
        """Transfer to billing."""
        return Billing(), "transferring"


async def test_interrupted_handoff_is_an_error_output_and_does_not_happen(vh: Any) -> None:
    text = "I am transferring you to billing right now, please stay on the line for a moment"
    session: AgentSession[None] = AgentSession(
        llm=vh.ScriptedLLM([vh.Reply(text=text, calls=[vh.Call("to_billing")])]),
        tts=FakeTTS(seconds_per_char=0.05, chunk_duration=0.1),
        user_away_timeout=None,
    )
    session.output.audio = vh.MemoryAudioOutput()
    log = vh.EventLog(session)
    await session.start(Front())
    handle = session.generate_reply(user_input="billing please")
    await asyncio.sleep(1.0)
    session.interrupt()
    await handle
    await session.drain()
    assert handle.interrupted
    assert isinstance(session.current_agent, Front)
    hist = vh.history(session.history)
    assert hist[0] == ("user", "billing please")
    # items are ordered by creation time: the call was streamed before the speech was cut
    said = [h for h in hist if h[0] == "assistant"]
    assert len(said) == 1 and said[0][2] == "interrupted" and text.startswith(said[0][1])
    assert [h for h in hist if h[0] in ("call", "output")] == [
        ("call", "to_billing", "{}"),
        ("output", "to_billing", INTERRUPTED_HANDOFF_MESSAGE, "error"),
    ]
    [executed] = log.of("function_tools_executed")
    out = executed.function_call_outputs[0]
    assert out is not None and out.is_error
    assert not any(item.type == "agent_handoff" for item in session.history.items)
    await session.aclose()


async def test_say_and_generate_reply_during_a_handoff_go_to_the_new_agent(vh: Any) -> None:
    front_llm = vh.ScriptedLLM([])
    billing_llm = vh.ScriptedLLM(["Billing here."])
    session: AgentSession[None] = AgentSession(
        llm=front_llm, tts=FakeTTS(seconds_per_char=0.05), user_away_timeout=None
    )
    session.output.audio = vh.MemoryAudioOutput()
    await session.start(Agent(instructions="front"))
    first = session.say(LONG)
    new_agent = Billing(llm=billing_llm)
    session.update_agent(new_agent)
    await asyncio.sleep(0.5)  # the old agent is draining: its speech is still playing
    assert not first.done()
    said = session.say("you are now with billing")
    reply = session.generate_reply(instructions="introduce yourself")
    await first
    await said
    await reply
    assert not said.interrupted and not reply.interrupted
    assert session.current_agent is new_agent
    assert front_llm.calls == [] and len(billing_llm.calls) == 1
    hist = vh.history(session.history)
    assert hist == [
        ("assistant", LONG, "complete"),
        ("handoff", "agent", "billing"),
        ("assistant", "you are now with billing", "complete"),
        ("assistant", "Billing here.", "complete"),
    ]
    assert said.chat_message is not None
    assert said.chat_message.text_content == "you are now with billing"
    await session.aclose()


async def test_speech_deferred_during_a_handoff_can_be_interrupted_and_ends_on_close(
    vh: Any,
) -> None:
    session: AgentSession[None] = AgentSession(
        llm=vh.ScriptedLLM([]), tts=FakeTTS(seconds_per_char=0.05), user_away_timeout=None
    )
    session.output.audio = vh.MemoryAudioOutput()
    await session.start(Agent(instructions="front"))
    session.say(LONG)
    session.update_agent(Billing())
    await asyncio.sleep(0.5)
    dropped = session.say("never said")
    dropped.interrupt()
    pending = session.say("cut by the close")
    await session.aclose()
    assert dropped.done() and pending.done()
    texts = [i.text_content for i in session.history.items if i.type == "message"]
    assert "never said" not in texts and "cut by the close" not in texts
