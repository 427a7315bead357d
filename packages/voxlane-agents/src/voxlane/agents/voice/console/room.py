"""The console's stand-in for a LiveKit room: the agent and one simulated user.

`cli console` runs the job against a :class:`ConsoleRoom`; when the entrypoint calls
``session.start(room=ctx.room)``, `RoomIO` sees the console room and binds the session to the
terminal (or to WAV files) instead of a LiveKit room.

The person at the terminal appears as one remote participant, ``console-user`` (kind
STANDARD), from ``connect()`` on, so entrypoints that ``await ctx.wait_for_participant()``
work under ``console`` as they do in a real room.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from livekit import rtc

ConsoleMode = Literal["audio", "text", "file"]

CONSOLE_USER_IDENTITY = "console-user"
CONSOLE_AGENT_IDENTITY = "console-agent"


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
            CONSOLE_AGENT_IDENTITY, rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        )
        self._user = _ConsoleParticipant(
            CONSOLE_USER_IDENTITY, rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
        )
        self._remote: dict[str, _ConsoleParticipant] = {}
        self.error: str | None = None
        """What went wrong in the console session (e.g. a file-mode run that never finished);
        ``cli console`` prints it and exits with status 1."""

    @property
    def name(self) -> str:
        return self._name

    @property
    def local_participant(self) -> Any:
        return self._local

    @property
    def remote_participants(self) -> Mapping[str, Any]:
        """The simulated console user once connected (empty before)."""
        return dict(self._remote)

    @property
    def console_user(self) -> Any:
        """The participant standing for the person at the terminal."""
        return self._user

    def isconnected(self) -> bool:
        return self._connected

    async def connect(self, url: str, token: str, options: rtc.RoomOptions | None = None) -> None:
        if self._connected:
            return
        self._connected = True
        # like a participant already in a LiveKit room when the agent joins: listed, no event
        self._remote[self._user.identity] = self._user

    async def disconnect(self) -> None:
        if self._connected:
            self._connected = False
            self._remote.clear()
            self.emit("disconnected", "console closed")


__all__ = [
    "CONSOLE_AGENT_IDENTITY",
    "CONSOLE_USER_IDENTITY",
    "ConsoleMode",
    "ConsoleOptions",
    "ConsoleRoom",
]
