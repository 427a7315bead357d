"""Model and voice names known to the plugin (any other name is passed through as-is)."""

from __future__ import annotations

from typing import Literal, get_args

ChatModels = Literal[
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "o4-mini",
]
STTModels = Literal["gpt-4o-transcribe", "gpt-4o-mini-transcribe", "whisper-1"]
TTSModels = Literal["gpt-4o-mini-tts", "tts-1", "tts-1-hd"]
TTSVoices = Literal[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"
]
RealtimeModels = Literal["gpt-realtime", "gpt-realtime-mini"]

CHAT_MODELS: tuple[str, ...] = get_args(ChatModels)
STT_MODELS: tuple[str, ...] = get_args(STTModels)
TTS_MODELS: tuple[str, ...] = get_args(TTSModels)
REALTIME_MODELS: tuple[str, ...] = get_args(RealtimeModels)

DEFAULT_CHAT_MODEL = "gpt-4.1-mini"
DEFAULT_STT_MODEL = "gpt-4o-mini-transcribe"
DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"
DEFAULT_TTS_VOICE = "ash"
DEFAULT_REALTIME_MODEL = "gpt-realtime"

__all__ = [
    "CHAT_MODELS",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_REALTIME_MODEL",
    "DEFAULT_STT_MODEL",
    "DEFAULT_TTS_MODEL",
    "DEFAULT_TTS_VOICE",
    "REALTIME_MODELS",
    "STT_MODELS",
    "TTS_MODELS",
    "ChatModels",
    "RealtimeModels",
    "STTModels",
    "TTSModels",
    "TTSVoices",
]
