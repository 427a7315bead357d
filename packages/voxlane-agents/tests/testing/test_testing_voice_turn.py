"""testing.voice_turn: one turn through AgentSession with a given STT and TTS."""

from __future__ import annotations

import pytest

from voxlane.agents.testing import FakeSTT, FakeTTS, ScriptedTranscript, speech
from voxlane.agents.testing.voice_turn import run_voice_turn


async def test_a_turn_hears_the_user_and_plays_the_reply() -> None:
    clip = speech.make_speech_clip(["what is the weather"], lead=0.3, tail=1.0)
    (start, end) = clip.spans[0]
    stt = FakeSTT([ScriptedTranscript("what is the weather", start=start, end=end)])
    tts = FakeTTS(seconds_per_char=0.05)
    turn = await run_voice_turn(stt=stt, tts=tts, audio=clip.frames(), reply="It is sunny.")
    assert turn.messages == [("user", "what is the weather"), ("assistant", "It is sunny.")]
    heard = turn.llm.calls[0].chat_ctx.items[-1]
    assert heard.type == "message" and "what is the weather" in str(heard.content)
    assert turn.played is not None
    assert turn.played.duration == pytest.approx(len("It is sunny.") * 0.05, abs=0.1)
    assert turn.transcript_segments and "sunny" in turn.transcript_segments[-1]


async def test_no_transcript_means_a_timeout_that_says_why() -> None:
    clip = speech.make_speech_clip(["hello"], lead=0.2, tail=0.5)
    with pytest.raises(TimeoutError, match="final transcript"):
        await run_voice_turn(
            stt=FakeSTT([]), tts=FakeTTS(), audio=clip.frames(), reply="hi", timeout=1.0
        )


async def test_no_audio_is_refused() -> None:
    with pytest.raises(ValueError, match="audio frames"):
        await run_voice_turn(stt=FakeSTT([]), tts=FakeTTS(), audio=[], reply="hi")
