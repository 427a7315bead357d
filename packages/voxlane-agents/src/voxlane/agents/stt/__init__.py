"""Speech-to-text: the ``STT`` interface, recognition streams, events and adapters."""

from .fallback_adapter import AvailabilityChangedEvent, FallbackAdapter, FallbackRecognizeStream
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
    "AvailabilityChangedEvent",
    "FallbackAdapter",
    "FallbackRecognizeStream",
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
