"""End to end with real models and real audio, no network (issue 9).

A question spoken by piper goes through examples/offline_agent.py's pipeline: silero -> whisper ->
llama.cpp -> piper -> WAV out. Whisper then transcribes the answer WAV, which must be speech
about the question; the session's events and history must show the whole turn.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
import wave
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents.llm import ChatMessage, FunctionCall, FunctionCallOutput
from voxlane.agents.metrics import LLMMetrics, STTMetrics, TTSMetrics, VADMetrics
from voxlane.agents.voice import AgentSession
from voxlane.agents.voice.io_impl import WavAudioInput, WavAudioOutput
from voxlane.plugins.piper import SynthesisOptions

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "offline_agent.py"
TURN_TIMEOUT = 240.0  # generous: the machine may be busy; nothing here asserts a duration


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@pytest.fixture(scope="module")
def ex() -> ModuleType:
    spec = importlib.util.spec_from_file_location("offline_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models(ex: ModuleType) -> dict[str, Any]:
    built: dict[str, Any] = ex.build_models()
    # wait for the background loads, so the turn below measures nothing but the pipeline
    built["stt"].engine.load()
    built["tts"].engine.load()
    built["llm"].engine.load()
    return built


@pytest.fixture(scope="module")
def question_wav(models: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    voice = models["tts"].engine
    # without noise piper's output is exactly reproducible: the same question every run
    quiet = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    pcm = b"".join(voice.synthesize("What is the capital of France?", quiet))
    lead = bytes(int(voice.sample_rate * 0.6) * 2)
    path = tmp_path_factory.mktemp("e2e") / "question.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(voice.sample_rate)
        w.writeframes(lead + pcm)
    return path


async def test_spoken_question_gets_a_spoken_answer(
    ex: ModuleType, models: dict[str, Any], question_wav: Path, tmp_path: Path
) -> None:
    session: AgentSession[None] = ex.make_session(models)
    answer_path = tmp_path / "answer.wav"
    audio_out = WavAudioOutput(answer_path)
    session.input.audio = WavAudioInput(question_wav, trailing_silence=1.5)
    session.output.audio = audio_out

    log: list[tuple[str, Any]] = []
    for name in (
        "user_state_changed",
        "agent_state_changed",
        "user_input_transcribed",
        "conversation_item_added",
        "metrics_collected",
        "speech_created",
        "error",
    ):
        session.on(name, lambda ev, n=name: log.append((n, ev)))
    answered = asyncio.Event()

    def on_state(ev: Any) -> None:
        # back to listening after speaking: the answer was played to the end
        if ev.old_state == "speaking" and ev.new_state == "listening":
            answered.set()

    session.on("agent_state_changed", on_state)
    await session.start(ex.OfflineAssistant())
    try:
        await asyncio.wait_for(answered.wait(), timeout=TURN_TIMEOUT)
    finally:
        await session.aclose()
        await audio_out.aclose()

    assert not [ev for n, ev in log if n == "error"], [ev for n, ev in log if n == "error"]

    # the history holds the whole turn: the transcribed question, then the spoken answer
    messages = [i for i in session.history.items if isinstance(i, ChatMessage)]
    assert [m.role for m in messages] == ["user", "assistant"]
    question, answer = messages[0].text_content or "", messages[1].text_content or ""
    assert {"capital", "france"} <= _words(question), question
    assert answer.strip() and not messages[1].interrupted

    # events of the turn, in order
    names = [n for n, _ in log]
    user_states = [ev.new_state for n, ev in log if n == "user_state_changed"]
    agent_states = [ev.new_state for n, ev in log if n == "agent_state_changed"]
    assert user_states[:2] == ["speaking", "listening"]
    assert agent_states[-3:] == ["thinking", "speaking", "listening"]
    finals = [ev for n, ev in log if n == "user_input_transcribed" and ev.is_final]
    assert finals and finals[-1].transcript == question
    added = [ev.item.role for n, ev in log if n == "conversation_item_added"]
    assert added == ["user", "assistant"]
    assert names.index("speech_created") < names.index("conversation_item_added")
    kinds = {type(ev.metrics) for n, ev in log if n == "metrics_collected"}
    assert {VADMetrics, STTMetrics, LLMMetrics, TTSMetrics} <= kinds

    # the answer WAV is speech, and whisper hears it talk about the question
    with wave.open(str(answer_path), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert pcm.size / rate > 0.5 and np.abs(pcm).max() > 1000
    heard = await models["stt"].recognize(rtc.AudioFrame(pcm.tobytes(), rate, 1, pcm.size))
    heard_words = _words(heard.alternatives[0].text)
    assert heard_words, "whisper heard nothing in the answer"
    assert heard_words & _words(answer), (heard.alternatives[0].text, answer)
    assert heard_words & {"paris", "france", "capital"}, heard.alternatives[0].text


async def test_function_tool_runs_with_the_local_model(
    ex: ModuleType, models: dict[str, Any]
) -> None:
    session: AgentSession[None] = AgentSession(llm=models["llm"])
    await session.start(ex.OfflineAssistant())
    try:
        handle = session.generate_reply(user_input="What time is it?", tool_choice="required")
        await asyncio.wait_for(handle.wait_for_playout(), timeout=TURN_TIMEOUT)
        # the answer to the tool output is a child speech of `handle`
        await asyncio.wait_for(session.drain(), timeout=TURN_TIMEOUT)
    finally:
        await session.aclose()
    items = session.history.items
    calls = [i for i in items if isinstance(i, FunctionCall)]
    outputs = [i for i in items if isinstance(i, FunctionCallOutput)]
    assert [c.name for c in calls][:1] == ["get_current_time"]
    assert outputs and outputs[0].output.startswith("It is") and not outputs[0].is_error
    replies = [i for i in items if isinstance(i, ChatMessage) and i.role == "assistant"]
    assert replies and (replies[-1].text_content or "").strip()


async def test_provider_strings_build_the_offline_pipeline(
    ex: ModuleType, models: dict[str, Any]
) -> None:
    from voxlane.plugins import llamacpp, piper, silero, whisper

    session: AgentSession[None] = AgentSession(
        vad="silero",
        stt="whisper/tiny.en",
        llm="llamacpp/smollm2-135m:prompt",
        tts="piper/en_US-joe-medium",
    )
    assert isinstance(session.vad, silero.VAD)
    assert isinstance(session.stt, whisper.STT)
    assert isinstance(session.tts, piper.TTS)
    assert isinstance(session.llm, llamacpp.LLM) and session.llm.tool_calling == "prompt"
    await session.start(ex.OfflineAssistant())
    try:
        result = await asyncio.wait_for(
            session.run(user_input="What is the capital of France?"), timeout=TURN_TIMEOUT
        )
    finally:
        await session.aclose()
    result.expect.next_event().is_message(role="assistant").contains_text("Paris")
