"""One voice turn through AgentSession with the ElevenLabs STT (behind the VAD) and TTS."""

from __future__ import annotations

import pytest
import vx_elevenlabs_fake as fake

from voxlane.agents.testing import speech
from voxlane.agents.testing.voice_turn import run_voice_turn
from voxlane.plugins import elevenlabs

REPLY = "It is sunny and warm."


async def test_voice_turn_with_elevenlabs_stt_and_tts(el_server: fake.FakeElevenLabs) -> None:
    clip = speech.make_speech_clip(["hello there my friend"], lead=0.3, tail=1.2)
    stt = elevenlabs.STT(api_key=fake.API_KEY, base_url=el_server.base_url)
    tts = elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url)
    try:
        turn = await run_voice_turn(
            stt=stt, tts=tts, audio=clip.frames(), reply=REPLY, turn_detection="vad"
        )
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
    # Scribe was called over REST for the utterance the VAD found; the TTS used the websocket
    assert [r.path for r in el_server.rest_requests] == ["/v1/speech-to-text"]
    assert el_server.connections[0].path.endswith("/multi-stream-input")
    # the alignment of the TTS drove the transcription output
    assert turn.transcript_segments and "sunny" in turn.transcript_segments[-1]
