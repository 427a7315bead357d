"""A push-to-talk program written the LiveKit Agents 1.8 way (``turn_handling=``,
``room_options=RoomOptions(...)``, ``commit_user_turn(...)`` returning the transcript,
``skip_reply``, ``interrupt(force=True)``), rewritten and run on Voxlane with scripted models on
the virtual clock."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from livekit import rtc

from voxlane.agents.testing import FakeLLM
from voxlane.agents.testing.clock import VirtualClockEventLoop
from voxlane.agents.testing.fakes import FakeSTT, FakeTTS, ScriptedTranscript, audio_pattern
from voxlane.agents.voice.io_impl import MemoryAudioOutput, QueueAudioInput
from voxlane.agents.voice.room_io import TOPIC_CHAT


class _Guest:
    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.kind = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
        self.attributes: dict[str, str] = {}
        self.track_publications: dict[str, Any] = {}

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.update(attributes)


class _KioskRoom(rtc.EventEmitter[str]):
    """The room parts RoomIO uses when only chat text is read from it."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "kiosk"
        self.local_participant = _Guest("concierge")
        self.remote_participants = {"guest": _Guest("guest")}
        self.handlers: dict[str, Any] = {}

    def isconnected(self) -> bool:
        return True

    def register_text_stream_handler(self, topic: str, handler: Any) -> None:
        self.handlers[topic] = handler

    def unregister_text_stream_handler(self, topic: str) -> None:
        self.handlers.pop(topic, None)


class _Typed:
    def __init__(self, text: str) -> None:
        self.info = None
        self._text = text

    async def read_all(self) -> str:
        return self._text


def _said(session: Any) -> list[tuple[str, str | None, bool]]:
    return [
        (m.role, m.text_content, bool(m.interrupted))
        for m in session.history.items
        if m.type == "message" and m.role in ("user", "assistant")
    ]


async def _scenario(program: Any) -> None:
    # the STT hears the audio it is given (the button gates it): "when is breakfast served"
    # ends at 1.3 s of audio, i.e. after the guest's first 1.0 s plus part of the flush
    stt = FakeSTT(
        [
            ScriptedTranscript(
                "when is breakfast served", 0.1, 1.3, interims=[(0.7, "when is breakfast")]
            ),
            ScriptedTranscript("my room is 204", 1.6, 2.4, interims=()),
        ]
    )
    llm = FakeLLM(["Breakfast is served from seven.", "Checkout is at noon."])
    session = program.make_session(stt=stt, llm=llm, tts=FakeTTS(seconds_per_char=0.05))
    speaker = MemoryAudioOutput()
    mic = QueueAudioInput()
    session.output.audio = speaker
    session.input.audio = mic
    session.input.set_audio_enabled(False)  # the button is up
    room = _KioskRoom()
    await program.start(session, room)

    # the session's options came from turn_handling; the agent's own override them
    opts = session.options
    assert session.turn_detection == "vad"
    assert (opts.min_endpointing_delay, opts.max_endpointing_delay) == (0.4, 3.0)
    assert opts.preemptive_generation is False
    assert session.current_agent.turn_handling == {
        "turn_detection": "manual",
        "interruption": {"enabled": False},
    }

    # the (uninterruptible) greeting plays; the button cuts it: interrupt(force=True)
    await asyncio.sleep(0.5)
    program.button_pressed(session)
    mic.push(audio_pattern([(0.1, False), (0.9, True)]))
    await asyncio.sleep(1.1)
    assert llm.calls == []  # manual turns: nothing until the button is released
    assert await program.button_released(session) == "when is breakfast served"
    await session.wait_for_idle()
    greeting, *rest = _said(session)
    # the greeting was cut after 0.5 s: only its spoken start is in the history
    assert greeting[0] == "assistant" and greeting[2] is True
    full = "Hold the button and ask me anything."
    assert greeting[1] and full.startswith(greeting[1]) and len(greeting[1]) < len(full)
    assert rest == [
        ("user", "when is breakfast served", False),
        ("assistant", "Breakfast is served from seven.", False),
    ]

    # a note for later: committed to the history, no reply
    program.button_pressed(session)
    mic.push(audio_pattern([(1.0, True)]))
    await asyncio.sleep(1.1)
    assert await program.button_released(session, note_only=True) == "my room is 204"
    await session.wait_for_idle()
    assert len(llm.calls) == 1
    assert _said(session)[-1] == ("user", "my room is 204", False)

    # nothing said: an empty transcript, no reply, the program apologises
    program.button_pressed(session)
    mic.push(audio_pattern([(0.3, False)]))
    await asyncio.sleep(0.4)
    assert await program.button_released(session) == ""
    await session.wait_for_idle()
    assert len(llm.calls) == 1
    assert _said(session)[-1][1] == "Sorry, I did not hear you. Hold the button while you speak."

    # a typed chat message through RoomOptions(text_input=TextInputOptions(text_input_cb=...))
    room.handlers[TOPIC_CHAT](_Typed("when is checkout?"), "guest")
    await asyncio.sleep(0.1)
    await session.wait_for_idle()
    assert [c.last_user_message for c in llm.calls] == [
        "when is breakfast served",
        "when is checkout?",
    ]
    # the note is part of what the model saw
    seen = [getattr(item, "text_content", None) for item in llm.calls[1].chat_ctx.items]
    assert "my room is 204" in seen
    assert _said(session)[-1] == ("assistant", "Checkout is at noon.", False)
    await session.aclose()


def test_push_to_talk_program_runs(load_program: Any, caplog: pytest.LogCaptureFixture) -> None:
    program = load_program("push_to_talk_agent")
    loop = VirtualClockEventLoop()
    try:
        with caplog.at_level(logging.INFO, logger="push_to_talk"):
            loop.run_until_complete(asyncio.wait_for(_scenario(program), 120))
    finally:
        loop.close()
    assert [r.getMessage() for r in caplog.records if r.name == "push_to_talk"] == ["nothing heard"]
