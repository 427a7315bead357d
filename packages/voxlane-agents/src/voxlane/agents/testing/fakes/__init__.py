"""Scripted fakes of every model interface, built on the real base classes."""

from ._faults import FaultPlan, InjectedFault
from .audio import audio_pattern, split_frame, tone, tone_pcm
from .llm import FakeLLM, FakeLLMStream, FakeResponse, FakeToolCall, LLMCall
from .realtime import FakeRealtimeModel, FakeRealtimeSession, GenerateReplyCall, Truncation
from .stt import FakeRecognizeStream, FakeSTT, RecognizeCall, ScriptedTranscript
from .tts import FakeChunkedStream, FakeSynthesizeStream, FakeTTS
from .vad import FakeVAD, FakeVADStream, SpeechSegment

__all__ = [
    "FakeChunkedStream",
    "FakeLLM",
    "FakeLLMStream",
    "FakeRealtimeModel",
    "FakeRealtimeSession",
    "FakeRecognizeStream",
    "FakeResponse",
    "FakeSTT",
    "FakeSynthesizeStream",
    "FakeTTS",
    "FakeToolCall",
    "FakeVAD",
    "FakeVADStream",
    "FaultPlan",
    "GenerateReplyCall",
    "InjectedFault",
    "LLMCall",
    "RecognizeCall",
    "ScriptedTranscript",
    "SpeechSegment",
    "Truncation",
    "audio_pattern",
    "split_frame",
    "tone",
    "tone_pcm",
]
