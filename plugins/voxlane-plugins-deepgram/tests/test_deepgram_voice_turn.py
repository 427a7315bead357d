"""One voice turn through AgentSession with the Deepgram STT and TTS (on the fake server)."""

from __future__ import annotations

import vx_deepgram_fake as fake

from voxlane.agents.testing.voice_turn import check_spoken_turn
from voxlane.plugins import deepgram


async def test_voice_turn_with_deepgram_stt_and_tts(dg_server: fake.FakeDeepgram) -> None:
    await check_spoken_turn(
        stt=deepgram.STT(api_key=fake.API_KEY, base_url=dg_server.base_url),
        tts=deepgram.TTS(api_key=fake.API_KEY, base_url=dg_server.base_url),
        said="hello there my friend",
        reply="It is sunny and warm.",
    )
    # the STT went over the live websocket, the TTS over the speak websocket
    paths = [c.path for c in dg_server.connections]
    assert "/v1/listen" in paths and "/v1/speak" in paths
