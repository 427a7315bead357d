"""Metrics models emitted by models and the runtime as ``metrics_collected`` events."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Metadata(BaseModel):
    """Which model produced a metric."""

    model_config = ConfigDict(protected_namespaces=())

    model_name: str | None = None
    model_provider: str | None = None


class LLMMetrics(BaseModel):
    type: Literal["llm_metrics"] = "llm_metrics"
    label: str
    request_id: str
    timestamp: float
    duration: float
    ttft: float
    cancelled: bool
    completion_tokens: int
    prompt_tokens: int
    prompt_cached_tokens: int = 0
    total_tokens: int
    tokens_per_second: float
    speech_id: str | None = None
    metadata: Metadata | None = None


class STTMetrics(BaseModel):
    type: Literal["stt_metrics"] = "stt_metrics"
    label: str
    request_id: str
    timestamp: float
    duration: float
    audio_duration: float
    streamed: bool
    input_tokens: int = 0
    output_tokens: int = 0
    metadata: Metadata | None = None


class TTSMetrics(BaseModel):
    type: Literal["tts_metrics"] = "tts_metrics"
    label: str
    request_id: str
    timestamp: float
    ttfb: float
    duration: float
    audio_duration: float
    cancelled: bool
    characters_count: int
    streamed: bool
    segment_id: str | None = None
    speech_id: str | None = None
    metadata: Metadata | None = None


class VADMetrics(BaseModel):
    type: Literal["vad_metrics"] = "vad_metrics"
    label: str
    timestamp: float
    idle_time: float
    inference_duration_total: float
    inference_count: int
    metadata: Metadata | None = None


class EOUMetrics(BaseModel):
    """End-of-utterance timings for one user turn."""

    type: Literal["eou_metrics"] = "eou_metrics"
    timestamp: float
    end_of_utterance_delay: float
    transcription_delay: float
    on_user_turn_completed_delay: float = 0.0
    speech_id: str | None = None
    metadata: Metadata | None = None


class RealtimeModelMetrics(BaseModel):
    type: Literal["realtime_model_metrics"] = "realtime_model_metrics"
    label: str
    request_id: str
    timestamp: float
    duration: float
    ttft: float
    cancelled: bool
    input_tokens: int
    output_tokens: int
    total_tokens: int
    tokens_per_second: float
    metadata: Metadata | None = None


AgentMetrics = LLMMetrics | STTMetrics | TTSMetrics | VADMetrics | EOUMetrics | RealtimeModelMetrics


class UsageSummary(BaseModel):
    """Totals accumulated by :class:`UsageCollector`."""

    llm_prompt_tokens: int = 0
    llm_prompt_cached_tokens: int = 0
    llm_completion_tokens: int = 0
    tts_characters_count: int = 0
    tts_audio_duration: float = 0.0
    stt_audio_duration: float = 0.0
    per_model: dict[str, dict[str, float]] = Field(default_factory=dict)
