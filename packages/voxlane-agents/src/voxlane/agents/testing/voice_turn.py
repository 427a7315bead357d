"""One voice turn through a real ``AgentSession`` with the STT and TTS under test.

A speech plugin's end-to-end test is always the same: speak into an ``AgentSession`` that uses
the plugin's STT and/or TTS (with a scripted LLM and VAD), wait for the agent's answer, and check
what was heard, what was said and what was played. :func:`run_voice_turn` does the wiring::

    result = await run_voice_turn(
        stt=deepgram.STT(base_url=server.base_url, api_key="test"),
        tts=deepgram.TTS(base_url=server.base_url, api_key="test"),
        audio=clip.frames(),
        reply="It is sunny and warm.",
    )
    assert result.messages == [("user", "hello there"), ("assistant", "It is sunny and warm.")]
    assert result.played is not None

The STT and TTS are not closed (the caller owns them); the session is.

:func:`check_spoken_turn` is the whole test: it speaks a sentence with espeak-ng, runs the
turn, closes the engines and checks what was heard and played, returning the turn for
provider-specific checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from livekit import rtc

from ..stt import STT
from ..tts import TTS
from ..voice import Agent, AgentSession
from ..voice.io_impl.memory import MemoryAudioOutput, MemoryTextOutput, QueueAudioInput
from . import speech
from .fakes import FakeLLM, FakeVAD

__all__ = ["VoiceTurn", "check_spoken_turn", "run_voice_turn"]


@dataclass
class VoiceTurn:
    """What happened in the turn.

    Attributes:
        messages: ``(role, text)`` of the user and assistant messages in the history, in order.
        played: the audio of the last segment the output played, as one frame (or ``None``).
        transcript_segments: the text segments the transcription output received.
        llm: the scripted LLM (its ``calls`` show what the STT's transcript became).
    """

    messages: list[tuple[str, str]]
    played: rtc.AudioFrame | None
    transcript_segments: list[str]
    llm: FakeLLM


async def run_voice_turn(
    *,
    stt: STT,
    tts: TTS,
    audio: Sequence[rtc.AudioFrame],
    reply: str,
    instructions: str = "answer briefly",
    timeout: float = 20.0,
    **session_options: Any,
) -> VoiceTurn:
    """Push ``audio`` into an ``AgentSession`` using ``stt`` and ``tts`` and return the turn
    once the assistant's ``reply`` (from a scripted ``FakeLLM``) is in the history.

    The session uses STT turn detection, a ``FakeVAD``, ``min_endpointing_delay=0.2`` and no
    user-away timer; ``session_options`` override or add ``AgentSession`` arguments. Raises
    ``TimeoutError`` naming what is missing when no reply came within ``timeout`` seconds.
    """
    if not audio:
        raise ValueError("run_voice_turn needs some audio frames to speak into the session")
    llm = FakeLLM([reply])
    options: dict[str, Any] = {
        "vad": FakeVAD(),
        "turn_detection": "stt",
        "min_endpointing_delay": 0.2,
        "user_away_timeout": None,
        **session_options,
    }
    session: AgentSession[None] = AgentSession(stt=stt, tts=tts, llm=llm, **options)
    audio_in = QueueAudioInput()
    audio_out = MemoryAudioOutput()
    text_out = MemoryTextOutput()
    session.input.audio = audio_in
    session.output.audio = audio_out
    session.output.transcription = text_out
    answered = asyncio.Event()

    @session.on("conversation_item_added")
    def _on_item(ev: object) -> None:
        if getattr(getattr(ev, "item", None), "role", None) == "assistant":
            answered.set()

    try:
        await session.start(Agent(instructions=instructions))
        audio_in.push(list(audio))
        try:
            await asyncio.wait_for(answered.wait(), timeout)
        except asyncio.TimeoutError:
            heard = [c.chat_ctx.items[-1] for c in llm.calls]
            raise TimeoutError(
                f"no assistant reply within {timeout} s; the LLM was called {len(llm.calls)} "
                f"time(s) (last input: {heard[-1] if heard else 'none'}): check that the STT "
                "produced a final transcript for the audio"
            ) from None
        messages: list[tuple[str, str]] = [
            (str(item.role), item.text_content or "")
            for item in session.history.items
            if item.type == "message" and item.role in ("user", "assistant")
        ]
        return VoiceTurn(
            messages=messages,
            played=audio_out.played_audio(),
            transcript_segments=list(text_out.segments),
            llm=llm,
        )
    finally:
        await session.aclose()


async def check_spoken_turn(
    *, stt: STT, tts: TTS, said: str, reply: str, **session_options: Any
) -> VoiceTurn:
    """Speak ``said`` (espeak-ng) into a session using ``stt`` and ``tts``, then close both.

    Checks that the history is ``said`` then ``reply``, that the LLM was given ``said`` and that
    the played answer lasts as long as espeak-ng speaks ``reply`` (within 0.3 s); returns the
    turn for provider-specific checks. ``session_options`` go to :func:`run_voice_turn`.
    """
    clip = speech.make_speech_clip([said], lead=0.3, tail=1.2)
    try:
        turn = await run_voice_turn(
            stt=stt, tts=tts, audio=clip.frames(), reply=reply, **session_options
        )
    finally:
        await stt.aclose()
        await tts.aclose()
    assert turn.messages == [("user", said), ("assistant", reply)], turn.messages
    heard = turn.llm.calls[0].chat_ctx.items[-1]
    assert heard.type == "message" and said in str(heard.content), heard
    assert turn.played is not None, "nothing was played"
    expected = speech.espeak_seconds(reply)
    assert abs(turn.played.duration - expected) <= 0.3, (
        f"played {turn.played.duration} s, expected about {expected} s"
    )
    return turn
