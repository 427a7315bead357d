"""Options and conventions (topics, attributes) of the room binding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from livekit import rtc

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
    "RoomInputOptions",
    "RoomOutputOptions",
]
