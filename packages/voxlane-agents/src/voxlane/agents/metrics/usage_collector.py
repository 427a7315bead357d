"""Accumulate usage (tokens, characters, audio seconds) over a session."""

from __future__ import annotations

from .base import (
    AgentMetrics,
    LLMMetrics,
    RealtimeModelMetrics,
    STTMetrics,
    TTSMetrics,
    UsageSummary,
)


class UsageCollector:
    """Feed it every metric with :meth:`collect`; read totals with :meth:`get_summary`."""

    def __init__(self) -> None:
        self._summary = UsageSummary()

    def _bump(self, m: AgentMetrics, key: str, value: float) -> None:
        meta = getattr(m, "metadata", None)
        name = getattr(m, "label", type(m).__name__)
        if meta is not None and meta.model_provider:
            name = f"{meta.model_provider}/{meta.model_name or ''}"
        per = self._summary.per_model.setdefault(name, {})
        per[key] = per.get(key, 0) + value

    def collect(self, metrics: AgentMetrics) -> None:
        s = self._summary
        if isinstance(metrics, LLMMetrics):
            s.llm_prompt_tokens += metrics.prompt_tokens
            s.llm_prompt_cached_tokens += metrics.prompt_cached_tokens
            s.llm_completion_tokens += metrics.completion_tokens
            self._bump(metrics, "prompt_tokens", metrics.prompt_tokens)
            self._bump(metrics, "completion_tokens", metrics.completion_tokens)
        elif isinstance(metrics, RealtimeModelMetrics):
            s.llm_prompt_tokens += metrics.input_tokens
            s.llm_completion_tokens += metrics.output_tokens
            self._bump(metrics, "prompt_tokens", metrics.input_tokens)
            self._bump(metrics, "completion_tokens", metrics.output_tokens)
        elif isinstance(metrics, TTSMetrics):
            s.tts_characters_count += metrics.characters_count
            s.tts_audio_duration += metrics.audio_duration
            self._bump(metrics, "characters_count", metrics.characters_count)
            self._bump(metrics, "audio_duration", metrics.audio_duration)
        elif isinstance(metrics, STTMetrics):
            s.stt_audio_duration += metrics.audio_duration
            self._bump(metrics, "audio_duration", metrics.audio_duration)

    def get_summary(self) -> UsageSummary:
        return self._summary.model_copy(deep=True)
