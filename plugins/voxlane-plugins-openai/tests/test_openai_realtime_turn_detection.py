"""openai.realtime ``update_turn_detection``: ``session.update`` with ``turn_detection: null``
or the server VAD config, kept across reconnections; with a client-side VAD the voice runtime
switches the server's off and commits the turns itself. Against the local fake Realtime server."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
import vx_openai_realtime_fake as rf
from livekit import rtc

from voxlane.agents.llm import ChatMessage
from voxlane.agents.testing import FakeVAD
from voxlane.agents.types import APIConnectOptions
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.io_impl import MemoryAudioOutput, QueueAudioInput
from voxlane.plugins.openai import realtime
from voxlane.plugins.openai.realtime.realtime_model import DEFAULT_TURN_DETECTION

FAST = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=3.0)


def _model(server: rf.FakeRealtimeServer, **kwargs: Any) -> realtime.RealtimeModel:
    return realtime.RealtimeModel(
        api_key="sk-rt", base_url=server.base_url, conn_options=FAST, **kwargs
    )


def _audio(seconds: float, *, loud: bool) -> list[rtc.AudioFrame]:
    per = 320  # 20 ms at 16 kHz
    out = []
    for _ in range(round(seconds * 50)):
        t = np.arange(per) / 16000.0
        pcm = (
            (np.sin(2 * np.pi * 250 * t) * 9000).astype(np.int16)
            if loud
            else np.zeros(per, np.int16)
        )
        out.append(rtc.AudioFrame(pcm.tobytes(), 16000, 1, per))
    return out


def _input_cfg(server: rf.FakeRealtimeServer) -> dict[str, Any]:
    cfg: dict[str, Any] = server.session["audio"]["input"]
    return cfg


async def _until(cond: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout} s")


async def test_switching_off_and_on_updates_the_server(
    fake_realtime: rf.FakeRealtimeServer,
) -> None:
    custom = {**DEFAULT_TURN_DETECTION, "silence_duration_ms": 800}
    async with _model(fake_realtime, turn_detection=custom) as model:
        sess = model.session()
        speech_started: list[Any] = []
        sess.on("input_speech_started", speech_started.append)
        await sess.wait_connected()
        await fake_realtime.wait_for("session.update", 1)
        assert _input_cfg(fake_realtime)["turn_detection"]["silence_duration_ms"] == 800

        assert sess.update_turn_detection(enabled=False) is True
        [_, off] = await fake_realtime.wait_for("session.update", 2)
        assert off["session"]["audio"]["input"]["turn_detection"] is None
        cfg = _input_cfg(fake_realtime)
        assert cfg["turn_detection"] is None
        # the rest of the input block is untouched
        assert cfg["format"] == {"type": "audio/pcm", "rate": 24000}
        assert cfg["transcription"] == {"model": "gpt-4o-mini-transcribe"}
        # speech and silence: the server detects no turn and starts no response
        for f in _audio(0.4, loud=True) + _audio(0.5, loud=False):
            sess.push_audio(f)
        await _until(lambda: len(fake_realtime.of_type("input_audio_buffer.append")) >= 15)
        await asyncio.sleep(0.2)
        assert fake_realtime.of_type("input_audio_buffer.commit") == []
        assert speech_started == []

        assert sess.update_turn_detection(enabled=True) is True
        await fake_realtime.wait_for("session.update", 3)
        assert _input_cfg(fake_realtime)["turn_detection"] == custom  # the model's own config
        with pytest.raises(TypeError, match="bool"):
            sess.update_turn_detection(enabled=1)  # type: ignore[arg-type]
        await sess.aclose()


async def test_switching_on_a_model_built_without_uses_server_vad(
    fake_realtime: rf.FakeRealtimeServer,
) -> None:
    async with _model(fake_realtime, turn_detection=None) as model:
        sess = model.session()
        await sess.wait_connected()
        await fake_realtime.wait_for("session.update", 1)
        assert _input_cfg(fake_realtime)["turn_detection"] is None
        assert sess.update_turn_detection(enabled=True) is True
        await fake_realtime.wait_for("session.update", 2)
        assert _input_cfg(fake_realtime)["turn_detection"] == DEFAULT_TURN_DETECTION
        # the model's options are not changed: only this session switched
        assert model.options.turn_detection is None
        await sess.aclose()


async def test_the_choice_survives_a_reconnection(fake_realtime: rf.FakeRealtimeServer) -> None:
    async with _model(fake_realtime) as model:
        sess = model.session()
        reconnected = asyncio.Event()
        sess.on("session_reconnected", lambda _: reconnected.set())
        await sess.wait_connected()
        sess.update_turn_detection(enabled=False)
        await fake_realtime.wait_for("session.update", 2)
        await fake_realtime.drop()
        await asyncio.wait_for(reconnected.wait(), 10)
        first_after = fake_realtime.of_type("session.update")[2]
        assert first_after["session"]["audio"]["input"]["turn_detection"] is None
        await sess.aclose()


async def test_client_vad_turns_switch_the_server_vad_off(
    fake_realtime: rf.FakeRealtimeServer,
) -> None:
    fake_realtime.transcripts.append("hello there")
    fake_realtime.responses.append(rf.ScriptedResponse(text="Hi!", audio_ms=200))
    model = _model(fake_realtime)
    session: AgentSession[None] = AgentSession(
        llm=model,
        vad=FakeVAD(segments=[(0.2, 0.6)]),
        turn_detection="vad",
        min_endpointing_delay=0.2,
        user_away_timeout=None,
    )
    session.output.audio = MemoryAudioOutput(can_pause=False)
    await session.start(Agent(instructions="be brief"))
    activity = session._activity
    assert activity is not None and activity._realtime is not None
    assert not activity._realtime.ignores_model_turns
    await _until(
        lambda: any(
            e["session"].get("audio", {}).get("input", {}).get("turn_detection", "x") is None
            for e in fake_realtime.of_type("session.update")
        )
    )
    mic = QueueAudioInput()
    session.input.audio = mic
    mic.push(_audio(0.2, loud=False) + _audio(0.4, loud=True) + _audio(0.6, loud=False))

    def said() -> list[tuple[str, str]]:
        return [
            (m.role, m.text_content or "")
            for m in session.history.items
            if isinstance(m, ChatMessage) and m.role in ("user", "assistant")
        ]

    await _until(lambda: ("assistant", "Hi!") in said())
    # the runtime committed the turn and asked for the reply; the server never detected one
    assert len(fake_realtime.of_type("input_audio_buffer.commit")) == 1
    assert len(fake_realtime.of_type("response.create")) == 1
    assert said() == [("user", "hello there"), ("assistant", "Hi!")]
    await session.aclose()
    await model.aclose()
