"""A push-to-talk concierge written the LiveKit Agents 1.8 way: the turn options as one
``turn_handling=`` mapping (on the session and on the agent), the room binding as
``room_options=room_io.RoomOptions(...)``, ``commit_user_turn(transcript_timeout=...,
stt_flush_duration=...)`` whose future gives the committed transcript,
``commit_user_turn(skip_reply=True)`` and ``interrupt(force=True)``."""

from __future__ import annotations

import logging
from typing import Any

from livekit.agents import Agent, AgentSession, room_io
from livekit.agents.voice.room_io import TextInputEvent, TextInputOptions

logger = logging.getLogger("push_to_talk")


class Concierge(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions="You are the hotel concierge. Answer in one short sentence.",
            # the button decides when the guest is done; the concierge is never cut off
            turn_handling={"turn_detection": "manual", "interruption": {"enabled": False}},
        )

    async def on_enter(self) -> None:
        self.session.say("Hold the button and ask me anything.")


def make_session(*, stt: Any, llm: Any, tts: Any = None) -> AgentSession[None]:
    return AgentSession(
        stt=stt,
        llm=llm,
        tts=tts,
        turn_handling={
            "turn_detection": "vad",
            "endpointing": {"min_delay": 0.4, "max_delay": 3.0},
            "preemptive_generation": {"enabled": False},
        },
        user_away_timeout=None,
    )


async def on_chat(session: AgentSession[None], ev: TextInputEvent) -> None:
    """A typed message is a whole turn: stop whatever is said and answer it."""
    session.interrupt(force=True)
    session.generate_reply(user_input=ev.text)


async def start(session: AgentSession[None], room: Any) -> None:
    await session.start(
        Concierge(),
        room=room,
        room_options=room_io.RoomOptions(
            text_input=TextInputOptions(text_input_cb=on_chat),
            audio_input=False,  # the kiosk's microphone is wired to session.input directly
            audio_output=False,
            text_output=False,
        ),
    )


def button_pressed(session: AgentSession[None]) -> None:
    """The guest starts talking: silence the agent and listen."""
    session.interrupt(force=True)
    session.clear_user_turn()
    session.input.set_audio_enabled(True)


async def button_released(session: AgentSession[None], *, note_only: bool = False) -> str:
    """The guest is done: stop listening and commit what they said."""
    session.input.set_audio_enabled(False)
    transcript = await session.commit_user_turn(
        transcript_timeout=1.0, stt_flush_duration=0.5, skip_reply=note_only
    )
    if not transcript:
        logger.info("nothing heard")
        session.say("Sorry, I did not hear you. Hold the button while you speak.")
    return transcript
