"""Preemptive generation under the virtual clock: the LLM starts on the final/preflight
transcript before the end of turn, and its answer is dropped when the turn ends differently."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import pytest
from livekit import rtc

from voxlane.agents import stt
from voxlane.agents.llm import ChatContext, ChatMessage
from voxlane.agents.testing.fakes import (
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeVAD,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.voice import Agent, AgentSession, ModelSettings
from voxlane.agents.voice.io_impl import MemoryAudioOutput, QueueAudioInput

pytestmark = pytest.mark.virtual_clock

TTFT = 0.4
# the user speaks from 0.5 s to 1.5 s; the final transcript comes at 1.5 s; the turn ends
# after min_endpointing_delay, at 2.0 s


async def _session(
    llm: FakeLLM,
    *,
    agent: Agent | None = None,
    stt_model: Any = None,
    vad: Any = None,
    **kwargs: Any,
) -> tuple[AgentSession[None], MemoryAudioOutput, FakeTTS, QueueAudioInput]:
    tts = FakeTTS(seconds_per_char=0.02)
    session: AgentSession[None] = AgentSession(
        llm=llm,
        stt=stt_model or FakeSTT([ScriptedTranscript("book a table", 0.5, 1.5, interims=())]),
        vad=vad,
        tts=tts,
        min_endpointing_delay=0.5,
        user_away_timeout=None,
        **kwargs,
    )
    audio = MemoryAudioOutput()
    mic = QueueAudioInput()
    session.output.audio = audio
    session.input.audio = mic
    await session.start(agent or Agent(instructions="restaurant"))
    mic.push(audio_pattern([(0.5, False), (1.0, True), (3.0, False)]))
    return session, audio, tts, mic


def _reply_start(audio: MemoryAudioOutput) -> float:
    started = audio.segments[0].started_at
    assert started is not None
    return started


async def test_preemptive_llm_starts_before_the_end_of_turn_without_tts() -> None:
    llm = FakeLLM(default="For how many people?", ttft=TTFT)
    t0 = asyncio.get_running_loop().time()
    session, audio, tts, _mic = await _session(
        llm, vad=FakeVAD(segments=[(0.5, 1.5)]), preemptive_generation=True
    )
    await asyncio.sleep(1.9)
    # the final transcript (1.5 s) started the LLM; the turn is not over, nothing is spoken
    assert len(llm.calls) == 1 and llm.calls[0].last_user_message == "book a table"
    assert tts.requests == [] and audio.segments == []
    await asyncio.sleep(3.0)
    assert len(llm.calls) == 1  # the preemptive request was used
    # the reply starts at the end of turn (2.0 s), not end of turn + time to first token
    assert _reply_start(audio) - t0 == pytest.approx(2.0, abs=0.05)
    hist = [(m.role, m.text_content) for m in session.history.items if m.type == "message"]
    assert hist == [("user", "book a table"), ("assistant", "For how many people?")]
    await session.aclose()


async def test_without_preemptive_generation_the_llm_waits_for_the_end_of_turn() -> None:
    llm = FakeLLM(default="For how many people?", ttft=TTFT)
    t0 = asyncio.get_running_loop().time()
    session, audio, _tts, _mic = await _session(llm, vad=FakeVAD(segments=[(0.5, 1.5)]))
    await asyncio.sleep(1.9)
    assert llm.calls == []
    await asyncio.sleep(3.0)
    assert len(llm.calls) == 1
    assert _reply_start(audio) - t0 == pytest.approx(2.0 + TTFT, abs=0.05)
    await session.aclose()


class PreflightSTT(Agent):
    """An stt_node that sends a preflight transcript, then a different final one."""

    def __init__(self, preflight: str, final: str) -> None:
        super().__init__(instructions="restaurant")
        self.preflight = preflight
        self.final = final

    async def stt_node(
        self, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
    ) -> AsyncIterator[stt.SpeechEvent]:
        heard = 0.0
        sent: set[str] = set()

        def event(kind: stt.SpeechEventType, text: str = "") -> stt.SpeechEvent:
            return stt.SpeechEvent(
                type=kind, alternatives=[stt.SpeechData(language="en", text=text)]
            )

        async for frame in audio:
            heard += frame.samples_per_channel / frame.sample_rate
            if heard >= 0.5 and "start" not in sent:
                sent.add("start")
                yield event(stt.SpeechEventType.START_OF_SPEECH)
            if heard >= 1.0 and "preflight" not in sent:
                sent.add("preflight")
                yield event(stt.SpeechEventType.PREFLIGHT_TRANSCRIPT, self.preflight)
            if heard >= 1.5 and "final" not in sent:
                sent.add("final")
                yield event(stt.SpeechEventType.FINAL_TRANSCRIPT, self.final)
                yield event(stt.SpeechEventType.END_OF_SPEECH)


async def test_preflight_request_is_replaced_when_the_final_text_differs() -> None:
    llm = FakeLLM(default="Which day?", ttft=TTFT)
    llm.when("for two", "A table for two, noted.")
    session, _audio, _tts, _mic = await _session(
        llm,
        agent=PreflightSTT("book a table", "book a table for two"),
        stt_model=FakeSTT([]),
        turn_detection="stt",
        preemptive_generation=True,
    )
    await asyncio.sleep(1.2)
    # the preflight transcript (1.0 s) started a request for "book a table"
    assert [c.last_user_message for c in llm.calls] == ["book a table"]
    await asyncio.sleep(4.0)
    # the final text differed: a new request replaced it, and only its answer was spoken
    assert [c.last_user_message for c in llm.calls] == ["book a table", "book a table for two"]
    hist = [(m.role, m.text_content) for m in session.history.items if m.type == "message"]
    assert hist == [("user", "book a table for two"), ("assistant", "A table for two, noted.")]
    await session.aclose()


class AddsContext(Agent):
    """on_user_turn_completed adds context: a preemptive request made without it is stale."""

    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        turn_ctx.add_message(role="system", content="Tables are free at 8 pm.")


async def test_preemptive_request_is_discarded_when_the_context_changed() -> None:
    # replies by call: the preemptive request (made without the added context) gets the first
    llm = FakeLLM(["Any time you like.", "At 8 pm, then."], ttft=TTFT)
    agent = AddsContext(instructions="restaurant")
    session, _audio, _tts, _mic = await _session(
        llm, agent=agent, vad=FakeVAD(segments=[(0.5, 1.5)]), preemptive_generation=True
    )
    await asyncio.sleep(5.0)
    assert len(llm.calls) == 2
    seen = [
        [m.text_content for m in c.chat_ctx.items if isinstance(m, ChatMessage)] for c in llm.calls
    ]
    assert "Tables are free at 8 pm." not in seen[0]
    assert "Tables are free at 8 pm." in seen[1]
    assert session.history.items[-1].text_content == "At 8 pm, then."
    await session.aclose()


async def test_no_preemptive_request_while_the_agent_speaks() -> None:
    llm = FakeLLM(default="ok", ttft=TTFT)
    session, _audio, _tts, _mic = await _session(
        llm, vad=FakeVAD(segments=[(0.5, 1.5)]), preemptive_generation=True
    )
    # a long uninterruptible speech covers the user's whole turn
    session.say("x" * 250, allow_interruptions=False)  # 5 s at 0.02 s/char
    await asyncio.sleep(1.9)
    assert llm.calls == []
    await session.aclose()
