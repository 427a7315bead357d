"""RoomIO: the binding between an `AgentSession` and a LiveKit room."""

from ._input import AudioStreamFactory, FrameFilter, ParticipantAudioInput, default_audio_stream
from ._output import RoomAudioOutput, RoomTranscriptionOutput
from .options import (
    ATTRIBUTE_AGENT_STATE,
    ATTRIBUTE_SEGMENT_ID,
    ATTRIBUTE_TRANSCRIBED_TRACK_ID,
    ATTRIBUTE_TRANSCRIPTION_FINAL,
    DEFAULT_PARTICIPANT_KINDS,
    TOPIC_CHAT,
    TOPIC_TRANSCRIPTION,
    NoiseCancellation,
    RoomInputOptions,
    RoomOutputOptions,
    TextInputCallback,
    TextInputEvent,
    default_text_input_cb,
)
from .room_io import RoomIO
from .room_options import (
    AudioInputOptions,
    AudioOutputOptions,
    RoomOptions,
    TextInputOptions,
    TextOutputOptions,
)

__all__ = [
    "ATTRIBUTE_AGENT_STATE",
    "ATTRIBUTE_SEGMENT_ID",
    "ATTRIBUTE_TRANSCRIBED_TRACK_ID",
    "ATTRIBUTE_TRANSCRIPTION_FINAL",
    "DEFAULT_PARTICIPANT_KINDS",
    "TOPIC_CHAT",
    "TOPIC_TRANSCRIPTION",
    "AudioInputOptions",
    "AudioOutputOptions",
    "AudioStreamFactory",
    "FrameFilter",
    "NoiseCancellation",
    "ParticipantAudioInput",
    "RoomAudioOutput",
    "RoomIO",
    "RoomInputOptions",
    "RoomOptions",
    "RoomOutputOptions",
    "RoomTranscriptionOutput",
    "TextInputCallback",
    "TextInputEvent",
    "TextInputOptions",
    "TextOutputOptions",
    "default_audio_stream",
    "default_text_input_cb",
]
