"""One voice turn through AgentSession with the Cartesia STT and TTS (on the fake server)."""

from __future__ import annotations

import pytest
import vx_cartesia_fake as fake

from voxlane.agents.testing import speech
from voxlane.agents.testing.voice_turn import run_voice_turn
from voxlane.plugins import cartesia

REPLY = "It is sunny and warm."


async def test_voice_turn_with_cartesia_stt_and_tts(ct_server: fake.FakeCartesia) -> None:
    clip = speech.make_speech_clip(["hello there my friend"], lead=0.3, tail=1.2)
    stt = cartesia.STT(api_key=fake.API_KEY, base_url=ct_server.base_url)
    tts = cartesia.TTS(api_key=fake.API_KEY, base_url=ct_server.base_url)
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
    # the word timings of the TTS drove the transcription output
    assert turn.transcript_segments and "sunny" in turn.transcript_segments[-1]
    # the STT and the TTS both went over their websockets
    paths = [c.path for c in ct_server.connections]
    assert "/stt/websocket" in paths and "/tts/websocket" in paths
