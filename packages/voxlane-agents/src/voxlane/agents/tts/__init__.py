"""Text-to-speech: base classes for TTS plugins, the audio emitter, and adapters."""

from .audio_emitter import TIMED_TRANSCRIPTS_KEY, AudioEmitter, SynthesizedAudio, TimedString
from .fallback_adapter import (
    AvailabilityChangedEvent,
    FallbackAdapter,
    FallbackChunkedStream,
    FallbackSynthesizeStream,
)
from .stream_adapter import StreamAdapter, StreamAdapterWrapper
from .stream_pacer import SentenceStreamPacer
from .tts import (
    TTS,
    ChunkedStream,
    SynthesizeStream,
    TTSCapabilities,
    TTSError,
)

__all__ = [
    "TIMED_TRANSCRIPTS_KEY",
    "TTS",
    "AudioEmitter",
    "AvailabilityChangedEvent",
    "ChunkedStream",
    "FallbackAdapter",
    "FallbackChunkedStream",
    "FallbackSynthesizeStream",
    "SentenceStreamPacer",
    "StreamAdapter",
    "StreamAdapterWrapper",
    "SynthesizeStream",
    "SynthesizedAudio",
    "TTSCapabilities",
    "TTSError",
    "TimedString",
]
