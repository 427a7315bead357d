"""Options and conventions (topics, attributes) of the room binding."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from livekit import rtc

if TYPE_CHECKING:
    from ..agent_session import AgentSession

TOPIC_TRANSCRIPTION = "lk.transcription"
TOPIC_CHAT = "lk.chat"
ATTRIBUTE_AGENT_STATE = "lk.agent.state"
ATTRIBUTE_SEGMENT_ID = "lk.segment_id"
ATTRIBUTE_TRANSCRIBED_TRACK_ID = "lk.transcribed_track_id"
ATTRIBUTE_TRANSCRIPTION_FINAL = "lk.transcription_final"

DEFAULT_PARTICIPANT_KINDS: tuple[rtc.ParticipantKind.ValueType, ...] = (
    rtc.ParticipantKind.PARTICIPANT_KIND_SIP,
    rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,
    rtc.ParticipantKind.PARTICIPANT_KIND_CONNECTOR,
)


@dataclass
class TextInputEvent:
    """A chat message received on ``lk.chat``, passed to ``RoomInputOptions.text_input_cb``."""

    text: str
    info: Any = None
    """The text stream's ``rtc.TextStreamInfo`` (None when the room gives none)."""
    participant: Any = None
    """The sender (``rtc.RemoteParticipant``), None when it already left."""


TextInputCallback = Callable[
    ["AgentSession[Any]", TextInputEvent], Coroutine[Any, Any, None] | None
]
"""``cb(session, event)``: handle a chat message (may be a coroutine function)."""


def default_text_input_cb(session: AgentSession[Any], ev: TextInputEvent) -> None:
    """Interrupt what the agent is saying and reply to the message."""
    with contextlib.suppress(RuntimeError):  # the current speech may not be interruptible
        session.interrupt()
    session.generate_reply(user_input=ev.text)


NoiseCancellation = Union[
    rtc.NoiseCancellationOptions,
    "rtc.FrameProcessor[rtc.AudioFrame]",
    Callable[[rtc.AudioFrame], rtc.AudioFrame],
]
"""A local filter (``rtc.FrameProcessor`` or ``frame -> frame`` callable), or LiveKit Cloud's
``rtc.NoiseCancellationOptions`` (not available in Voxlane: audio passes unfiltered)."""


@dataclass
class RoomInputOptions:
    """What RoomIO reads from the room."""

    text_enabled: bool = True
    """Accept chat messages on ``lk.chat`` as user turns."""
    audio_enabled: bool = True
    audio_sample_rate: int = 24000
    audio_num_channels: int = 1
    participant_identity: str | None = None
    """Link to this participant (default: the first human participant that joins)."""
    participant_kinds: Sequence[rtc.ParticipantKind.ValueType] = field(
        default_factory=lambda: list(DEFAULT_PARTICIPANT_KINDS)
    )
    close_on_disconnect: bool = True
    """Close the session when no human participant is left."""
    video_enabled: bool = False
    """Subscribe to the participant's video. Voxlane has no video input yet: True logs a
    warning and is otherwise ignored."""
    noise_cancellation: NoiseCancellation | None = None
    """Filter applied to the participant's audio before the session hears it: an
    ``rtc.FrameProcessor`` or a ``frame -> frame`` callable. LiveKit Cloud's models
    (``rtc.NoiseCancellationOptions``) are accepted with a warning and not applied."""
    text_input_cb: TextInputCallback = default_text_input_cb
    """Called for each chat message on ``lk.chat`` (default: interrupt and reply)."""
    pre_connect_audio: bool = True
    """Accept audio a client recorded before the agent joined. Voxlane's RoomIO does not
    receive that buffer yet (see KNOWN_GAPS.md), so this has no effect."""
    pre_connect_audio_timeout: float = 3.0
    """Seconds to wait for the pre-connect audio buffer (must be > 0)."""
    delete_room_on_close: bool = False
    """Delete the room on the server (which disconnects everyone) when the session closes,
    in a job with a real room."""

    def __post_init__(self) -> None:
        if not self.pre_connect_audio_timeout > 0:
            raise ValueError(
                "pre_connect_audio_timeout must be > 0 seconds, "
                f"got {self.pre_connect_audio_timeout}"
            )
        if not callable(self.text_input_cb):
            raise TypeError(
                "text_input_cb must be a callable (session, TextInputEvent) -> None | "
                f"coroutine, got {self.text_input_cb!r}"
            )
        nc = self.noise_cancellation
        known = isinstance(nc, (rtc.NoiseCancellationOptions, rtc.FrameProcessor))
        if nc is not None and not known and not callable(nc):
            raise TypeError(
                "noise_cancellation must be an rtc.FrameProcessor, a callable taking and "
                f"returning an rtc.AudioFrame, or None; got {nc!r}"
            )


@dataclass
class RoomOutputOptions:
    """What RoomIO publishes to the room."""

    transcription_enabled: bool = True
    audio_enabled: bool = True
    audio_sample_rate: int = 24000
    audio_num_channels: int = 1
    audio_track_name: str = "roomio_audio"
    sync_transcription: bool = True
    """Release the agent's transcription word by word as its audio plays (needs audio and
    transcription both enabled); False publishes the text as soon as it is generated."""
    transcription_speed_factor: float = 1.0
    """Speaking-rate factor used to pace the text when the TTS gives no word timings."""

    def __post_init__(self) -> None:
        if not self.transcription_speed_factor > 0:
            raise ValueError(
                "transcription_speed_factor must be > 0 (1.0 is the average speaking rate), "
                f"got {self.transcription_speed_factor}"
            )


__all__ = [
    "ATTRIBUTE_AGENT_STATE",
    "ATTRIBUTE_SEGMENT_ID",
    "ATTRIBUTE_TRANSCRIBED_TRACK_ID",
    "ATTRIBUTE_TRANSCRIPTION_FINAL",
    "DEFAULT_PARTICIPANT_KINDS",
    "TOPIC_CHAT",
    "TOPIC_TRANSCRIPTION",
    "NoiseCancellation",
    "RoomInputOptions",
    "RoomOutputOptions",
    "TextInputCallback",
    "TextInputEvent",
    "default_text_input_cb",
]
