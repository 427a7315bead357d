"""One voice turn through AgentSession with the ElevenLabs STT (behind the VAD) and TTS."""

from __future__ import annotations

import asyncio

import pytest
import vx_el_speech as speech
import vx_elevenlabs_fake as fake

from voxlane.agents.testing import FakeLLM, FakeVAD
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.io_impl.memory import (
    MemoryAudioOutput,
    MemoryTextOutput,
    QueueAudioInput,
)
from voxlane.plugins import elevenlabs

REPLY = "It is sunny and warm."


async def test_voice_turn_with_elevenlabs_stt_and_tts(el_server: fake.FakeElevenLabs) -> None:
    clip = speech.make_clip(["hello there my friend"], lead=0.3, tail=1.2)
    stt = elevenlabs.STT(api_key=fake.API_KEY, base_url=el_server.base_url)
    tts = elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url)
    llm = FakeLLM([REPLY])
    session: AgentSession[None] = AgentSession(
        stt=stt,
        tts=tts,
        llm=llm,
        vad=FakeVAD(),
        turn_detection="vad",
        min_endpointing_delay=0.2,
        user_away_timeout=None,
    )
    audio_in = QueueAudioInput()
    audio_out = MemoryAudioOutput()
    text_out = MemoryTextOutput()
    session.input.audio = audio_in
    session.output.audio = audio_out
    session.output.transcription = text_out
    done = asyncio.Event()

    @session.on("conversation_item_added")
    def _added(ev: object) -> None:
        item = getattr(ev, "item", None)
        if getattr(item, "role", None) == "assistant":
            done.set()

    await session.start(Agent(instructions="answer briefly"))
    audio_in.push(clip.frames())
    await asyncio.wait_for(done.wait(), 20)

    messages = [
        (item.role, item.text_content)
        for item in session.history.items
        if item.type == "message" and item.role in ("user", "assistant")
    ]
    assert messages == [("user", "hello there my friend"), ("assistant", REPLY)]
    assert "hello there my friend" in str(llm.calls[0].chat_ctx.items[-1].content)
    played = audio_out.played_audio()
    assert played is not None
    expected = len(speech.espeak_pcm(REPLY)) / 2 / speech.ESPEAK_RATE
    assert played.duration == pytest.approx(expected, abs=0.3)
    # Scribe was called over REST for the utterance the VAD found; the TTS used the websocket
    assert [r.path for r in el_server.rest_requests] == ["/v1/speech-to-text"]
    assert el_server.connections[0].path.endswith("/multi-stream-input")
    # the alignment of the TTS drove the transcription output
    assert text_out.segments and "sunny" in text_out.segments[-1]
    await session.aclose()
    await stt.aclose()
    await tts.aclose()
