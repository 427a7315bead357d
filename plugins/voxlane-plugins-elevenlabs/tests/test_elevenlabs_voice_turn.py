"""One voice turn through AgentSession with the ElevenLabs STT (behind the VAD) and TTS."""

from __future__ import annotations

import vx_elevenlabs_fake as fake

from voxlane.agents.testing.voice_turn import check_spoken_turn
from voxlane.plugins import elevenlabs


async def test_voice_turn_with_elevenlabs_stt_and_tts(el_server: fake.FakeElevenLabs) -> None:
    turn = await check_spoken_turn(
        stt=elevenlabs.STT(api_key=fake.API_KEY, base_url=el_server.base_url),
        tts=elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url),
        said="hello there my friend",
        reply="It is sunny and warm.",
        turn_detection="vad",
    )
    # Scribe was called over REST for the utterance the VAD found; the TTS used the websocket
    assert [r.path for r in el_server.rest_requests] == ["/v1/speech-to-text"]
    assert el_server.connections[0].path.endswith("/multi-stream-input")
    # the alignment of the TTS drove the transcription output
    assert turn.transcript_segments and "sunny" in turn.transcript_segments[-1]
