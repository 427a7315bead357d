"""An in-memory room for testing a :class:`~voxlane.agents.voice.room_io.RoomIO` binding.

No LiveKit server needed: :class:`MemoryRoom` has the small surface RoomIO uses (participants
and their audio tracks, attributes, text stream handlers, ``participant_connected`` events).
A participant who joins gets one microphone track; push frames into ``track.frames`` and pass
:func:`track_frames` as RoomIO's ``audio_stream_factory`` so the agent hears them::

    room = MemoryRoom()
    room_io = RoomIO(session, room, audio_stream_factory=track_frames)
    await room_io.start()
    mic = room.join("alice")
    mic.frames.put_nowait(frame)
    room.handlers[TOPIC_CHAT](TextReader("hello"), "alice")  # a chat message
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from livekit import rtc

from ..utils.events import EventEmitter


class MemoryParticipant:
    """A participant: identity, kind, attributes and track publications."""

    def __init__(
        self, identity: str, kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
    ) -> None:
        self.identity = identity
        self.name = identity
        self.kind = kind
        self.attributes: dict[str, str] = {}
        self.track_publications: dict[str, MemoryPublication] = {}

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.update(attributes)


class MemoryAudioTrack:
    """A microphone track; the test puts frames into ``frames``."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.kind = rtc.TrackKind.KIND_AUDIO
        self.frames: asyncio.Queue[rtc.AudioFrame] = asyncio.Queue()


class MemoryPublication:
    """The publication of a :class:`MemoryAudioTrack`."""

    def __init__(self, track: MemoryAudioTrack) -> None:
        self.sid = track.sid
        self.kind = track.kind
        self.track = track


class MemoryRoom(EventEmitter[str]):
    """The parts of an ``rtc.Room`` that RoomIO uses, kept in memory."""

    def __init__(self, name: str = "memory-room") -> None:
        super().__init__()
        self.name = name
        self.local_participant = MemoryParticipant(
            "agent", rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        )
        self.remote_participants: dict[str, MemoryParticipant] = {}
        self.handlers: dict[str, Any] = {}

    def isconnected(self) -> bool:
        return True

    def register_text_stream_handler(self, topic: str, handler: Any) -> None:
        self.handlers[topic] = handler

    def unregister_text_stream_handler(self, topic: str) -> None:
        self.handlers.pop(topic, None)

    def join(
        self, identity: str, kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
    ) -> MemoryAudioTrack:
        """A participant joins with one microphone track, which is returned."""
        participant = MemoryParticipant(identity, kind)
        track = MemoryAudioTrack(f"TR_{identity}")
        participant.track_publications[track.sid] = MemoryPublication(track)
        self.remote_participants[identity] = participant
        self.emit("participant_connected", participant)
        return track


class TextReader:
    """A received text stream (a chat message) as RoomIO's text handler reads it."""

    def __init__(self, text: str, info: rtc.TextStreamInfo | None = None) -> None:
        self.info = info
        self._text = text

    async def read_all(self) -> str:
        return self._text


async def track_frames(
    track: Any, sample_rate: int, num_channels: int
) -> AsyncIterator[rtc.AudioFrame]:
    """RoomIO's ``audio_stream_factory`` for memory tracks: the frames the test pushes."""
    while True:
        yield await track.frames.get()


__all__ = [
    "MemoryAudioTrack",
    "MemoryParticipant",
    "MemoryPublication",
    "MemoryRoom",
    "TextReader",
    "track_frames",
]
