"""RoomIO against an in-process fake of the room surface it uses."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from livekit import rtc

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from vx_worker_jobs import FakeParticipant, FakeRoom  # noqa: E402

from voxlane.agents.llm import ChatMessage  # noqa: E402
from voxlane.agents.testing import (  # noqa: E402
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeVAD,
    ScriptedTranscript,
    tone,
)
from voxlane.agents.voice import Agent, AgentSession  # noqa: E402
from voxlane.agents.voice.room_io import (  # noqa: E402
    ATTRIBUTE_AGENT_STATE,
    ATTRIBUTE_TRANSCRIPTION_FINAL,
    TOPIC_CHAT,
    TOPIC_TRANSCRIPTION,
    ParticipantAudioInput,
    RoomIO,
)


class FakeTextWriter:
    def __init__(
        self, log: list[dict[str, Any]], topic: str, attributes: dict[str, str], sender: str
    ) -> None:
        self.entry: dict[str, Any] = {
            "topic": topic,
            "attributes": dict(attributes),
            "sender": sender,
            "text": "",
            "closed": False,
        }
        log.append(self.entry)

    async def write(self, text: str) -> None:
        self.entry["text"] += text

    async def aclose(self) -> None:
        self.entry["closed"] = True


class FakeLocalParticipant(FakeParticipant):
    def __init__(self) -> None:
        super().__init__("agent-1", rtc.ParticipantKind.PARTICIPANT_KIND_AGENT)
        self.published: list[Any] = []
        self.unpublished: list[str] = []
        self.streams: list[dict[str, Any]] = []
        self.attribute_history: list[dict[str, str]] = []

    async def publish_track(self, track: Any, options: Any) -> Any:
        self.published.append((track, options))
        pub = type("Pub", (), {"sid": "TR_agent"})()
        return pub

    async def unpublish_track(self, sid: str) -> None:
        self.unpublished.append(sid)

    async def stream_text(
        self,
        *,
        topic: str = "",
        attributes: dict[str, str] | None = None,
        sender_identity: str | None = None,
        **_: Any,
    ) -> FakeTextWriter:
        return FakeTextWriter(
            self.streams, topic, attributes or {}, sender_identity or self.identity
        )

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self._attributes.update(attributes)
        self.attribute_history.append(dict(attributes))


class FakeAudioTrack:
    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.kind = rtc.TrackKind.KIND_AUDIO
        self.frames: asyncio.Queue[rtc.AudioFrame | None] = asyncio.Queue()


class TrackPublication:
    def __init__(self, track: FakeAudioTrack) -> None:
        self.sid = track.sid
        self.kind = track.kind
        self.track = track


class IORoom(FakeRoom):
    def __init__(self) -> None:
        super().__init__("io-room")
        self.agent_participant = FakeLocalParticipant()
        self.local = self.agent_participant
        self.handlers: dict[str, Any] = {}
        self._connected = True

    def register_text_stream_handler(self, topic: str, handler: Any) -> None:
        if topic in self.handlers:
            raise ValueError(f"handler for {topic} already set")
        self.handlers[topic] = handler

    def unregister_text_stream_handler(self, topic: str) -> None:
        self.handlers.pop(topic, None)

    def join_with_mic(self, identity: str) -> FakeAudioTrack:
        p = FakeParticipant(identity)
        track = FakeAudioTrack(f"TR_{identity}")
        p.publications[track.sid] = TrackPublication(track)  # type: ignore[assignment]
        self.add_participant(p)
        self.emit("track_subscribed", track, p.publications[track.sid], p)
        return track


async def fake_track_frames(
    track: Any, sample_rate: int, num_channels: int
) -> AsyncIterator[rtc.AudioFrame]:
    while True:
        frame = await track.frames.get()
        if frame is None:
            return
        yield frame


class FakeReader:
    def __init__(self, text: str) -> None:
        self._text = text

    async def read_all(self) -> str:
        return self._text


async def _wait(predicate: Any, timeout: float = 20.0) -> Any:
    async def loop() -> Any:
        while True:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(loop(), timeout)


def _make_session() -> AgentSession[None]:
    llm = FakeLLM(default="I heard you.")
    llm.when("hello", "Hello there, how can I help?")
    llm.when("time", "It is noon.")
    return AgentSession(
        llm=llm,
        stt=FakeSTT([ScriptedTranscript("hello agent", start=0.1, end=0.6)]),
        vad=FakeVAD(segments=[(0.1, 0.6)]),
        tts=FakeTTS(seconds_per_char=0.005),
        min_endpointing_delay=0.1,
        user_away_timeout=None,
    )


async def test_room_io_voice_turn_chat_state_and_leave() -> None:
    room = IORoom()
    session = _make_session()
    room_io = RoomIO(session, room, audio_stream_factory=fake_track_frames)
    closed = asyncio.Event()
    session.on("close", lambda ev: closed.set())
    # AgentSession.start(room=...) would create RoomIO itself; here it is injected explicitly
    await room_io.start()
    await session.start(Agent(instructions="test"))

    # the agent's audio track is published
    assert len(room.agent_participant.published) == 1
    track, options = room.agent_participant.published[0]
    assert isinstance(track, rtc.LocalAudioTrack) and track.name == "roomio_audio"
    assert options.source == rtc.TrackSource.SOURCE_MICROPHONE

    # a participant joins and speaks (48 kHz audio, resampled by RoomIO)
    mic = room.join_with_mic("alice")
    assert room_io.linked_participant.identity == "alice"
    speech = tone(1.2, sample_rate=48000)
    step = 480  # 10 ms
    data = bytes(speech.data)
    for i in range(0, speech.samples_per_channel, step):
        chunk = data[i * 2 : (i + step) * 2]
        await mic.frames.put(rtc.AudioFrame(chunk, 48000, 1, len(chunk) // 2))

    def agent_text(text: str) -> bool:
        return any(
            s["topic"] == TOPIC_TRANSCRIPTION
            and s["sender"] == "agent-1"
            and s["text"] == text
            and s["closed"]
            for s in room.agent_participant.streams
        )

    await _wait(lambda: agent_text("Hello there, how can I help?"))
    user = [s for s in room.agent_participant.streams if s["sender"] == "alice"]
    finals = [s for s in user if s["attributes"][ATTRIBUTE_TRANSCRIPTION_FINAL] == "true"]
    assert [s["text"] for s in finals] == ["hello agent"]
    assert all(s["topic"] == TOPIC_TRANSCRIPTION for s in user)
    agent_stream = next(s for s in room.agent_participant.streams if s["sender"] == "agent-1")
    assert agent_stream["attributes"]["lk.transcribed_track_id"] == "TR_agent"

    # the agent state is published as a participant attribute
    states = [a[ATTRIBUTE_AGENT_STATE] for a in room.agent_participant.attribute_history]
    assert "speaking" in states
    await _wait(lambda: room.agent_participant.attributes.get(ATTRIBUTE_AGENT_STATE) == "listening")

    # chat on lk.chat becomes a user turn
    room.handlers[TOPIC_CHAT](FakeReader("what time is it?"), "alice")
    await _wait(lambda: agent_text("It is noon."))

    # the only human leaves: the session closes
    room.remove_participant("alice")
    await asyncio.wait_for(closed.wait(), 20)
    await room_io.aclose()
    assert TOPIC_CHAT not in room.handlers
    assert room.agent_participant.unpublished == ["TR_agent"]


async def test_room_io_links_the_requested_participant_only() -> None:
    from voxlane.agents.voice.room_io import RoomInputOptions

    room = IORoom()
    session = _make_session()
    room_io = RoomIO(
        session,
        room,
        input_options=RoomInputOptions(participant_identity="bob"),
        audio_stream_factory=fake_track_frames,
    )
    await room_io.start()
    room.join_with_mic("alice")
    assert room_io.linked_participant is None
    room.join_with_mic("bob")
    linked = room_io.linked_participant
    assert linked is not None and linked.identity == "bob"
    await room_io.aclose()


async def test_participant_audio_is_resampled() -> None:
    audio_in = ParticipantAudioInput(
        sample_rate=16000, num_channels=1, stream_factory=fake_track_frames
    )
    track = FakeAudioTrack("TR_x")
    audio_in.attach(track)
    frame = tone(0.1, sample_rate=48000)
    for _ in range(5):
        await track.frames.put(frame)
    got = await asyncio.wait_for(audio_in.__anext__(), 5)
    assert got.sample_rate == 16000
    await audio_in.aclose()


ROOM_SENTENCES = [
    "Cat dog pig hen cow elk.",
    "Rat bat owl fox ape yak.",
    "Ant bee eel emu gnu hog.",
]
ROOM_SECONDS_PER_CHAR = 0.02


def _room_played_words(position: float) -> str:
    """Words whose FakeTTS audio started within ``position`` s (each word: 4 characters)."""
    out: list[str] = []
    start = 0.0
    for sentence in ROOM_SENTENCES:
        for i, word in enumerate(sentence.split()):
            if start + i * 4 * ROOM_SECONDS_PER_CHAR <= position:
                out.append(word)
        start += len(sentence) * ROOM_SECONDS_PER_CHAR
    return " ".join(out)


async def test_room_io_interrupted_reply_keeps_exactly_the_played_words() -> None:
    room = IORoom()
    # streaming=False: tts.StreamAdapter gives one timing per sentence, not per word
    session: AgentSession[None] = AgentSession(
        tts=FakeTTS(seconds_per_char=ROOM_SECONDS_PER_CHAR, streaming=False),
        user_away_timeout=None,
    )
    room_io = RoomIO(session, room, audio_stream_factory=fake_track_frames)
    await room_io.start()
    await session.start(Agent(instructions="test"))
    out = room_io.audio_output
    assert out is not None
    started = asyncio.Event()
    finished: list[Any] = []
    out.on("playback_started", lambda _: started.set())
    out.on("playback_finished", finished.append)
    reply = " ".join(ROOM_SENTENCES)
    handle = session.say(reply)
    await asyncio.wait_for(started.wait(), 10)
    # 0.68 s: mid-way between "owl" (0.64 s) and "fox" (0.72 s) of the second sentence
    await asyncio.sleep(0.68)
    session.interrupt()
    await asyncio.wait_for(handle, 10)
    assert handle.interrupted
    msg = session.history.items[-1]
    assert isinstance(msg, ChatMessage)
    said = msg.text_content
    assert msg.role == "assistant" and msg.interrupted
    position = finished[0].playback_position
    # the words whose audio was played (the wall clock may move the cut a little)
    assert said in {_room_played_words(position + d) for d in (-0.03, 0.0, 0.03)}
    assert 7 <= len(said.split()) < 18 and reply.startswith(said)

    def published() -> list[dict[str, Any]]:
        return [
            s
            for s in room.agent_participant.streams
            if s["topic"] == TOPIC_TRANSCRIPTION and s["sender"] == "agent-1" and s["closed"]
        ]

    await _wait(published)
    # the room saw exactly the words kept in the history
    assert [s["text"].strip() for s in published()] == [said]
    await session.aclose()
    await room_io.aclose()


async def test_room_io_sync_transcription_off_publishes_the_text_at_once() -> None:
    from voxlane.agents.voice.room_io import RoomOutputOptions

    room = IORoom()
    session: AgentSession[None] = AgentSession(
        tts=FakeTTS(seconds_per_char=ROOM_SECONDS_PER_CHAR, streaming=False),
        user_away_timeout=None,
    )
    room_io = RoomIO(
        session,
        room,
        output_options=RoomOutputOptions(sync_transcription=False),
        audio_stream_factory=fake_track_frames,
    )
    await room_io.start()
    await session.start(Agent(instructions="test"))
    assert not session.output.sync_transcription
    reply = " ".join(ROOM_SENTENCES)
    handle = session.say(reply)
    # the whole text is published long before the 1.4 s of audio are played
    await _wait(
        lambda: any(
            s["sender"] == "agent-1" and s["text"] == reply for s in room.agent_participant.streams
        ),
        timeout=1.0,
    )
    assert not handle.done()
    session.interrupt()
    await asyncio.wait_for(handle, 10)
    await session.aclose()
    await room_io.aclose()
    import pytest

    with pytest.raises(ValueError, match="transcription_speed_factor must be > 0"):
        RoomOutputOptions(transcription_speed_factor=0)


async def test_room_io_moves_to_the_next_human_and_closes_when_all_left() -> None:
    room = IORoom()
    session = _make_session()
    closed = asyncio.Event()
    session.on("close", lambda ev: closed.set())
    room_io = RoomIO(session, room, audio_stream_factory=fake_track_frames)
    await room_io.start()
    await session.start(Agent(instructions="test"))
    room.join_with_mic("alice")
    room.join_with_mic("bob")
    room.add_participant(FakeParticipant("helper", rtc.ParticipantKind.PARTICIPANT_KIND_AGENT))
    assert room_io.linked_participant.identity == "alice"

    # the linked user leaves while another human is still there: RoomIO follows bob
    room.remove_participant("alice")
    await asyncio.sleep(0.1)
    assert room_io.linked_participant is not None
    assert room_io.linked_participant.identity == "bob"
    assert not closed.is_set()
    # bob's microphone is now the session's audio input
    audio_in = session.input.audio
    assert isinstance(audio_in, ParticipantAudioInput) and audio_in.track_sid == "TR_bob"
    # bob republishes his microphone: the old track goes, the new one is read
    old_track = room.remote_participants["bob"].publications["TR_bob"].track
    new_track = FakeAudioTrack("TR_bob_2")
    room.emit("track_unsubscribed", old_track, None, room.remote_participants["bob"])
    room.emit("track_subscribed", new_track, None, room.remote_participants["bob"])
    await asyncio.sleep(0.1)
    assert audio_in.track_sid == "TR_bob_2"

    # the last human leaves (another agent does not count): the session closes
    room.remove_participant("bob")
    await asyncio.wait_for(closed.wait(), 20)
    assert room_io.linked_participant is None
    await room_io.aclose()
