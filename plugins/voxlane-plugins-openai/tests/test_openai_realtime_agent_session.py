"""A realtime-model turn through the voice runtime: user audio in, the model's server VAD and
transcription, a function call executed by the runtime, the follow-up reply, and a barge-in
that interrupts and truncates it. Real plugin + fake Realtime server, real clock."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import vx_openai_realtime_fake as rf
from livekit import rtc

from voxlane.agents.llm import ChatMessage, function_tool
from voxlane.agents.types import APIConnectOptions
from voxlane.agents.voice import Agent, AgentSession, RunContext
from voxlane.agents.voice.io_impl import MemoryAudioOutput, MemoryTextOutput, QueueAudioInput
from voxlane.plugins.openai import realtime


class WeatherAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You report the weather.")

    @function_tool
    async def get_weather(self, context: RunContext[dict[str, Any]], city: str) -> str:
        """Look up the weather.

        Args:
            city: the city name.
        """
        context.userdata.setdefault("cities", []).append(city)
        return f"sunny in {city}"


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


async def _until(cond: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout} s")


def _items(session: AgentSession[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for i in session.history.items:
        if isinstance(i, ChatMessage) and i.role in ("user", "assistant"):
            out.append((i.role, i.text_content, i.interrupted))
        elif i.type in ("function_call", "function_call_output"):
            out.append((i.type,))
    return out


async def test_realtime_turns_with_barge_in_and_tool(fake_realtime: rf.FakeRealtimeServer) -> None:
    story = "Once upon a time a fox lived in a quiet wood near a river and sang"
    fake_realtime.transcripts.extend(["tell me a story", "stop", "weather in Paris?"])
    fake_realtime.responses.extend(
        [
            rf.ScriptedResponse(text=story, audio_ms=3000, chunk_delay=0.01),
            rf.ScriptedResponse(text="Okay.", audio_ms=200),
            rf.ScriptedResponse(function_calls=[("get_weather", '{"city": "Paris"}', "call_p")]),
            rf.ScriptedResponse(text="It is sunny in Paris.", audio_ms=300),
        ]
    )
    model = realtime.RealtimeModel(
        api_key="sk-rt",
        base_url=fake_realtime.base_url,
        conn_options=APIConnectOptions(max_retry=1, retry_interval=0.01, timeout=3.0),
    )
    session: AgentSession[dict[str, Any]] = AgentSession(
        llm=model, userdata={}, user_away_timeout=None
    )
    audio_out = MemoryAudioOutput(can_pause=False)
    session.output.audio = audio_out
    session.output.transcription = MemoryTextOutput()
    await session.start(WeatherAgent())
    mic = QueueAudioInput()
    session.input.audio = mic

    # turn 1: audio in -> server VAD + transcription -> a long spoken answer ...
    mic.push(_audio(0.4, loud=True) + _audio(0.5, loud=False))
    await _until(lambda: bool(audio_out.segments) and len(audio_out.segments[0].played) >= 4)
    # ... that the user talks over: the runtime interrupts and truncates at what was heard
    mic.push(_audio(0.3, loud=True) + _audio(0.5, loud=False))
    [trunc] = await fake_realtime.wait_for("conversation.item.truncate", timeout=10)
    assert 300 <= trunc["audio_end_ms"] < 3000
    await _until(lambda: ("assistant", "Okay.", False) in _items(session))
    cut = [i for i in _items(session) if i[0] == "assistant" and i[2]]
    assert len(cut) == 1 and story.startswith(cut[0][1]) and len(cut[0][1]) < len(story)
    assert audio_out.segments[0].interrupted

    # turn 2: a function call run by the runtime, its output sent back, then the answer
    mic.push(_audio(0.4, loud=True) + _audio(0.5, loud=False))
    await _until(lambda: ("assistant", "It is sunny in Paris.", False) in _items(session))
    assert session.userdata["cities"] == ["Paris"]
    [out] = [
        e["item"]
        for e in fake_realtime.of_type("conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]
    assert out["call_id"] == "call_p" and out["output"] == "sunny in Paris"
    assert len(fake_realtime.of_type("response.create")) == 1  # the reply to the tool output
    assert _items(session) == [
        ("user", "tell me a story", False),
        ("assistant", cut[0][1], True),
        ("user", "stop", False),
        ("assistant", "Okay.", False),
        ("user", "weather in Paris?", False),
        ("function_call",),
        ("function_call_output",),
        ("assistant", "It is sunny in Paris.", False),
    ]
    assert fake_realtime.session["instructions"] == "You report the weather."
    assert [t["name"] for t in fake_realtime.session["tools"]] == ["get_weather"]
    await session.aclose()
    await model.aclose()
