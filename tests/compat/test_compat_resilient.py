"""The adapters program: llm/stt/tts FallbackAdapter and stt/tts StreamAdapter composition."""

from __future__ import annotations

from typing import Any

import pytest

from voxlane.agents import APIStatusError, llm, stt, tts
from voxlane.agents.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, split_frame, tone
from voxlane.agents.voice import AgentSession
from voxlane.plugins import anthropic, cartesia, deepgram, openai, silero


async def test_real_plugins_compose_with_livekit_signatures(
    load_program: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The factories build with the real plugins (keys from the environment, no request sent)."""
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPGRAM_API_KEY", "CARTESIA_API_KEY"):
        monkeypatch.setenv(var, "test-key")
    program = load_program("resilient_agent")
    model = program.build_llm()
    recognizer = program.build_stt()
    speaker = program.build_tts()
    try:
        assert isinstance(model, llm.FallbackAdapter)
        assert [type(m) for m in model.llms] == [openai.LLM, anthropic.LLM]
        assert isinstance(recognizer, stt.FallbackAdapter)
        assert recognizer.capabilities.streaming
        assert isinstance(recognizer.stt_instances[0], deepgram.STT)
        assert isinstance(recognizer.stt_instances[1], stt.StreamAdapter)
        assert isinstance(speaker, tts.FallbackAdapter)
        assert isinstance(speaker.tts_instances[0], cartesia.TTS)
        assert isinstance(speaker.tts_instances[1], tts.StreamAdapter)
        assert isinstance(silero.VAD.load(), silero.VAD)
    finally:
        for m in (model, recognizer, speaker):
            await m.aclose()


async def test_llm_fallback_answers_when_the_primary_is_down(load_program: Any) -> None:
    program = load_program("resilient_agent")
    primary = FakeLLM(default="from the primary")
    primary.faults.fail_next(times=10)
    backup = FakeLLM(default="Hello from the backup.")
    model = program.build_llm(primary, backup)
    changes: list[tuple[Any, bool]] = []
    model.on("llm_availability_changed", lambda ev: changes.append((ev.llm, ev.available)))
    async with AgentSession[None](llm=model) as session:
        await session.start(program.Assistant())
        result = await session.run(user_input="hi")
        result.expect[-1].is_message(role="assistant").contains_text("Hello from the backup.")
    assert (primary, False) in changes
    assert primary.faults.attempts >= 1 and len(backup.calls) >= 1


async def test_tts_stream_adapter_speaks_sentence_by_sentence(load_program: Any) -> None:
    program = load_program("resilient_agent")
    streaming = FakeTTS()
    streaming.faults.fail_next(APIStatusError("unauthorized", status_code=401), times=10)
    batch = FakeTTS(streaming=False, seconds_per_char=0.01)
    speaker = program.build_tts(streaming, batch)
    async with speaker.stream() as stream:
        stream.push_text("Hello there, welcome to the shop. How are ")
        stream.push_text("you doing on this fine day?")
        stream.end_input()
        audio = [ev.frame async for ev in stream]
    # the basic sentence tokenizer (like LiveKit's) merges sentences under 20 characters
    assert batch.requests == [
        "Hello there, welcome to the shop.",
        "How are you doing on this fine day?",
    ]
    seconds = sum(f.samples_per_channel / f.sample_rate for f in audio)
    assert seconds == pytest.approx(sum(map(len, batch.requests)) * 0.01, abs=0.05)
    await speaker.aclose()


async def test_stt_stream_adapter_transcribes_vad_segments(load_program: Any) -> None:
    program = load_program("resilient_agent")
    streaming = FakeSTT()
    streaming.faults.fail_next(APIStatusError("unauthorized", status_code=401), times=10)
    batch = FakeSTT(["book a table for two"], streaming=False)
    recognizer = program.build_stt(streaming, batch, FakeVAD(segments=[(0.2, 0.9)]))
    finals: list[str] = []
    async with recognizer.stream() as stream:
        for frame in split_frame(tone(1.6), 0.02):
            stream.push_frame(frame)
        stream.end_input()
        async for ev in stream:
            if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                finals.append(ev.alternatives[0].text)
    assert finals == ["book a table for two"]
    await recognizer.aclose()
