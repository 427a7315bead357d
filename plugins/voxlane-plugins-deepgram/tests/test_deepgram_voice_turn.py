"""One voice turn through AgentSession with the Deepgram STT and TTS (on the fake server)."""

from __future__ import annotations

import pytest
import vx_deepgram_fake as fake

from voxlane.agents.testing import speech
from voxlane.agents.testing.voice_turn import run_voice_turn
from voxlane.plugins import deepgram

REPLY = "It is sunny and warm."


async def test_voice_turn_with_deepgram_stt_and_tts(dg_server: fake.FakeDeepgram) -> None:
    clip = speech.make_speech_clip(["hello there my friend"], lead=0.3, tail=1.2)
    stt = deepgram.STT(api_key=fake.API_KEY, base_url=dg_server.base_url)
    tts = deepgram.TTS(api_key=fake.API_KEY, base_url=dg_server.base_url)
    try:
        turn = await run_voice_turn(stt=stt, tts=tts, audio=clip.frames(), reply=REPLY)
    finally:
        await stt.aclose()
        await tts.aclose()

    assert turn.messages == [("user", "hello there my friend"), ("assistant", REPLY)]
    heard = turn.llm.calls[0].chat_ctx.items[-1]
    assert heard.type == "message" and "hello there my friend" in str(heard.content)
    played = turn.played
    assert played is not None
    expected = len(speech.espeak_pcm(REPLY)) / 2 / speech.ESPEAK_RATE
    assert played.duration == pytest.approx(expected, abs=0.3)
    # the STT went over the live websocket, the TTS over the speak websocket
    paths = [c.path for c in dg_server.connections]
    assert "/v1/listen" in paths and "/v1/speak" in paths
