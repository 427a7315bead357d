"""The small, explicit part of a LiveKit room that jobs depend on.

`JobContext` talks to its room only through :class:`RoomLike`. In production the object is a
``livekit.rtc.Room``; tests (and the console) inject an in-process fake that implements the same
methods, through ``WorkerOptions(room_factory=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from livekit import rtc


class TrackPublicationLike(Protocol):
    """A track published by a remote participant."""

    @property
    def sid(self) -> str: ...

    @property
    def kind(self) -> rtc.TrackKind.ValueType: ...

    def set_subscribed(self, subscribed: bool) -> None: ...


class ParticipantLike(Protocol):
    """A participant in the room (remote or local)."""

    @property
    def identity(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> rtc.ParticipantKind.ValueType: ...

    @property
    def attributes(self) -> dict[str, str]: ...

    @property
    def track_publications(self) -> Mapping[str, Any]: ...


@runtime_checkable
class RoomLike(Protocol):
    """What a job needs from a room: identity, connection, participants and events."""

    @property
    def name(self) -> str: ...

    @property
    def local_participant(self) -> Any: ...

    @property
    def remote_participants(self) -> Mapping[str, Any]: ...

    def isconnected(self) -> bool: ...

    async def connect(self, url: str, token: str, options: rtc.RoomOptions = ...) -> None: ...

    async def disconnect(self) -> None: ...

    def on(self, event: Any, callback: Callable[..., Any] | None = None) -> Callable[..., Any]: ...

    def off(self, event: Any, callback: Callable[..., Any]) -> None: ...


RoomFactory = Callable[[], Any]
"""A picklable zero-argument callable returning a :class:`RoomLike` (default: ``rtc.Room``)."""


def default_room_factory() -> Any:
    """Create a real ``livekit.rtc.Room``."""
    return rtc.Room()


__all__ = [
    "ParticipantLike",
    "RoomFactory",
    "RoomLike",
    "TrackPublicationLike",
    "default_room_factory",
]
