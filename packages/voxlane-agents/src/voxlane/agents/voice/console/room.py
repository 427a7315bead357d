"""The console's stand-in for a LiveKit room: a local room with no other participant.

`cli console` runs the job against a :class:`ConsoleRoom`; when the entrypoint calls
``session.start(room=ctx.room)``, `RoomIO` sees the console room and binds the session to the
terminal (or to WAV files) instead of a LiveKit room.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from livekit import rtc

ConsoleMode = Literal["audio", "text", "file"]


@dataclass
class ConsoleOptions:
    """How the console talks to the user."""

    mode: ConsoleMode = "audio"
    input_audio: str | None = None
    """File mode: WAV file with the user's speech."""
    output_audio: str | None = None
    """File mode: WAV file receiving the agent's speech."""
    transcript: str | None = None
    """File mode: text file receiving the conversation transcript."""
    realtime_input: bool = True
    """File mode: feed the input WAV at real-time speed (as a microphone would), and play the
    agent's speech at real-time speed (so the user's audio can interrupt it)."""
    sync_transcription: bool = True
    """Show the agent's words as its audio plays (when there is an audio output)."""


class _ConsoleParticipant:
    def __init__(self, identity: str, kind: rtc.ParticipantKind.ValueType) -> None:
        self._identity = identity
        self._kind = kind
        self._attributes: dict[str, str] = {}

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def name(self) -> str:
        return self._identity

    @property
    def kind(self) -> rtc.ParticipantKind.ValueType:
        return self._kind

    @property
    def attributes(self) -> dict[str, str]:
        return self._attributes

    @property
    def track_publications(self) -> Mapping[str, Any]:
        return {}

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self._attributes.update(attributes)


class ConsoleRoom(rtc.EventEmitter[str]):
    """Implements the job room surface locally for the console."""

    def __init__(self, options: ConsoleOptions | None = None, *, name: str = "console") -> None:
        super().__init__()
        self.options = options or ConsoleOptions()
        self._name = name
        self._connected = False
        self._local = _ConsoleParticipant(
            "console-agent", rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def local_participant(self) -> Any:
        return self._local

    @property
    def remote_participants(self) -> Mapping[str, Any]:
        return {}

    def isconnected(self) -> bool:
        return self._connected

    async def connect(self, url: str, token: str, options: rtc.RoomOptions | None = None) -> None:
        self._connected = True

    async def disconnect(self) -> None:
        if self._connected:
            self._connected = False
            self.emit("disconnected", "console closed")


__all__ = ["ConsoleMode", "ConsoleOptions", "ConsoleRoom"]
