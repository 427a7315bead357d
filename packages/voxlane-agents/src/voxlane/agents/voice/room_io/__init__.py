"""RoomIO: the binding between an `AgentSession` and a LiveKit room."""

from ._input import AudioStreamFactory, ParticipantAudioInput, default_audio_stream
from ._output import RoomAudioOutput, RoomTranscriptionOutput
from .options import (
    ATTRIBUTE_AGENT_STATE,
    ATTRIBUTE_SEGMENT_ID,
    ATTRIBUTE_TRANSCRIBED_TRACK_ID,
    ATTRIBUTE_TRANSCRIPTION_FINAL,
    DEFAULT_PARTICIPANT_KINDS,
    TOPIC_CHAT,
    TOPIC_TRANSCRIPTION,
    RoomInputOptions,
    RoomOutputOptions,
)
from .room_io import RoomIO

__all__ = [
    "ATTRIBUTE_AGENT_STATE",
    "ATTRIBUTE_SEGMENT_ID",
    "ATTRIBUTE_TRANSCRIBED_TRACK_ID",
    "ATTRIBUTE_TRANSCRIPTION_FINAL",
    "DEFAULT_PARTICIPANT_KINDS",
    "TOPIC_CHAT",
    "TOPIC_TRANSCRIPTION",
    "AudioStreamFactory",
    "ParticipantAudioInput",
    "RoomAudioOutput",
    "RoomIO",
    "RoomInputOptions",
    "RoomOutputOptions",
    "RoomTranscriptionOutput",
    "default_audio_stream",
]
