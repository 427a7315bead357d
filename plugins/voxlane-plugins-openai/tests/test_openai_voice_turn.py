"""One voice turn through AgentSession with openai.STT (behind the VAD) and openai.TTS.

Real espeak-ng speech goes in; the fake transcription endpoint checks it received the
utterance as a WAV upload, and the fake speech endpoint answers with espeak-ng PCM at 24 kHz.
"""

from __future__ import annotations

import io
import wave
from typing import Any

import pytest
import vx_openai_fake as fk

from voxlane.agents.testing import speech
from voxlane.agents.testing.voice_turn import run_voice_turn
from voxlane.plugins import openai as vx_openai

SPOKEN = "hello there my friend"
REPLY = "It is sunny and warm."


def _spoken_reply(body: dict[str, Any]) -> bytes:
    return speech.spoken_pcm(str(body["input"]), 24000)


async def test_voice_turn_with_openai_stt_and_tts(fake_openai: fk.FakeOpenAI) -> None:
    clip = speech.make_speech_clip([SPOKEN], lead=0.3, tail=1.2)
    fake_openai.stt_default = SPOKEN
    fake_openai.tts_default = _spoken_reply
    stt = vx_openai.STT(api_key="sk-voice", base_url=fake_openai.base_url)
    tts = vx_openai.TTS(api_key="sk-voice", base_url=fake_openai.base_url, voice="coral")
    turn = await run_voice_turn(
        stt=stt, tts=tts, audio=clip.frames(), reply=REPLY, turn_detection="vad"
    )

    assert turn.messages == [("user", SPOKEN), ("assistant", REPLY)]
    heard = turn.llm.calls[0].chat_ctx.items[-1]
    assert heard.type == "message" and SPOKEN in str(heard.content)
    # the VAD cut one utterance; it was uploaded once, as a WAV holding the speech
    [upload] = fake_openai.requests_to("/v1/audio/transcriptions")
    with wave.open(io.BytesIO(upload.body["file"]["data"])) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    (start, end) = clip.spans[0]
    assert seconds >= (end - start) - 0.05
    # the reply was synthesized once (one sentence) and all of it was played
    [spoken] = fake_openai.requests_to("/v1/audio/speech")
    assert spoken.body["input"].strip() == REPLY and spoken.body["voice"] == "coral"
    played = turn.played
    assert played is not None and played.sample_rate == 24000
    expected = len(speech.espeak_pcm(REPLY)) / 2 / speech.ESPEAK_RATE
    assert played.duration == pytest.approx(expected, abs=0.05)
