"""Speech-to-text: the ``STT`` interface, recognition streams, events and adapters."""

from .stream_adapter import StreamAdapter, StreamAdapterWrapper
from .stt import (
    STT,
    RecognitionUsage,
    RecognizeStream,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    SpeechStream,
    STTCapabilities,
    STTError,
)

__all__ = [
    "STT",
    "RecognitionUsage",
    "RecognizeStream",
    "STTCapabilities",
    "STTError",
    "SpeechData",
    "SpeechEvent",
    "SpeechEventType",
    "SpeechStream",
    "StreamAdapter",
    "StreamAdapterWrapper",
]
