"""Models shared by several sessions in one process: each session hears only its own events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxlane.agents import APIStatusError
from voxlane.agents.metrics import LLMMetrics, VADMetrics
from voxlane.agents.testing.fakes import FakeVAD, audio_pattern
from voxlane.agents.voice import Agent, AgentSession, CloseReason

pytestmark = pytest.mark.virtual_clock


async def test_shared_vad_metrics_reach_only_the_session_whose_stream_made_them(vh: Any) -> None:
    vad = FakeVAD(segments=[(0.2, 1.0)])
    on_model: list[VADMetrics] = []
    vad.on("metrics_collected", on_model.append)
    sessions: list[AgentSession[None]] = []
    logs: list[Any] = []
    inputs: list[Any] = []
    for _ in range(3):
        session: AgentSession[None] = AgentSession(vad=vad, user_away_timeout=None)
        audio_in = vh.QueueAudioInput()
        session.input.audio = audio_in
        session.output.audio = vh.MemoryAudioOutput()
        logs.append(vh.EventLog(session))
        await session.start(Agent(instructions="x"))
        sessions.append(session)
        inputs.append(audio_in)
    # the sessions hear 1 s, 2 s and 3 s of audio: about 1, 2 and 3 metrics events each
    for seconds, audio_in in zip((1.0, 2.0, 3.0), inputs, strict=True):
        audio_in.push(audio_pattern([(0.2, False), (0.8, True), (seconds - 1.0, False)]))
    await asyncio.sleep(4.0)

    per_session = [[ev.metrics for ev in log.of("metrics_collected")] for log in logs]
    counts = [len(m) for m in per_session]
    assert all(isinstance(m, VADMetrics) for ms in per_session for m in ms)
    assert counts[0] < counts[1] < counts[2], counts
    # every event reached the model's own listeners once and exactly one session
    assert sum(counts) == len(on_model)
    seen = [id(m) for ms in per_session for m in ms]
    assert sorted(seen) == sorted(id(m) for m in on_model)
    for session in sessions:
        await session.aclose()


async def test_shared_llm_metrics_and_errors_stay_with_their_session(vh: Any) -> None:
    err = APIStatusError("unauthorized", status_code=401)
    llm = vh.ScriptedLLM(["first answer"] + [vh.Reply(error=err) for _ in range(3)])
    talking: AgentSession[None] = AgentSession(llm=llm)
    quiet: AgentSession[None] = AgentSession(llm=llm)
    talking_log, quiet_log = vh.EventLog(talking), vh.EventLog(quiet)
    await talking.start(Agent(instructions="x"))
    await quiet.start(Agent(instructions="x"))

    await talking.generate_reply(user_input="hello")
    [metrics] = [ev.metrics for ev in talking_log.of("metrics_collected")]
    assert isinstance(metrics, LLMMetrics)
    assert quiet_log.of("metrics_collected") == []

    # three unrecoverable failures close the session that made the requests, not its neighbour
    for i in range(3):
        await talking.generate_reply(user_input=f"try {i}")
    await asyncio.sleep(0.1)
    assert len(talking_log.of("error")) == 3
    [close] = talking_log.of("close")
    assert close.reason == CloseReason.ERROR
    assert quiet_log.of("error") == [] and quiet_log.of("close") == []
    quiet.say("still here")  # raises if the session was closed by another session's errors
    await quiet.aclose()


async def test_model_used_outside_any_session_still_reaches_listening_sessions(vh: Any) -> None:
    llm = vh.ScriptedLLM(["from the session", "from a helper task"])
    session: AgentSession[None] = AgentSession(llm=llm)
    log = vh.EventLog(session)
    await session.start(Agent(instructions="x"))
    await session.generate_reply(user_input="hello")

    async def helper() -> None:  # a user's own task, created outside the session
        from voxlane.agents.llm import ChatContext

        async with llm.chat(chat_ctx=ChatContext.empty()) as stream:
            async for _ in stream:
                pass

    await asyncio.create_task(helper())
    assert len(log.of("metrics_collected")) == 2
    await session.aclose()
