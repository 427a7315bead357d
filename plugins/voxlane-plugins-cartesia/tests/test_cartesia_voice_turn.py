"""One voice turn through AgentSession with the Cartesia STT and TTS (on the fake server)."""

from __future__ import annotations

import vx_cartesia_fake as fake

from voxlane.agents.testing.voice_turn import check_spoken_turn
from voxlane.plugins import cartesia


async def test_voice_turn_with_cartesia_stt_and_tts(ct_server: fake.FakeCartesia) -> None:
    turn = await check_spoken_turn(
        stt=cartesia.STT(api_key=fake.API_KEY, base_url=ct_server.base_url),
        tts=cartesia.TTS(api_key=fake.API_KEY, base_url=ct_server.base_url),
        said="hello there my friend",
        reply="It is sunny and warm.",
    )
    # the word timings of the TTS drove the transcription output
    assert turn.transcript_segments and "sunny" in turn.transcript_segments[-1]
    # the STT and the TTS both went over their websockets
    paths = [c.path for c in ct_server.connections]
    assert "/stt/websocket" in paths and "/tts/websocket" in paths
