"""``log_metrics``: one readable log line per metric, for ``metrics_collected`` handlers::

@session.on("metrics_collected")
def _on_metrics(ev: MetricsCollectedEvent) -> None:
    metrics.log_metrics(ev.metrics)
"""

from __future__ import annotations

import logging
from typing import Any

from .base import (
    EOUMetrics,
    LLMMetrics,
    RealtimeModelMetrics,
    STTMetrics,
    TTSMetrics,
    VADMetrics,
)

default_logger = logging.getLogger("voxlane.agents.metrics")


def _model(m: Any) -> str:
    """``provider/model`` when the metric says which model produced it, else its label."""
    meta = getattr(m, "metadata", None)
    if meta is not None and (meta.model_provider or meta.model_name):
        return f"{meta.model_provider or '?'}/{meta.model_name or '?'}"
    label = getattr(m, "label", None)
    return str(label) if label else "unknown"


def _s(value: float) -> str:
    return f"{value:.3f}s"


def format_metrics(metrics: Any) -> str:
    """The line :func:`log_metrics` writes for ``metrics`` (without the log prefix)."""
    m = metrics
    if isinstance(m, LLMMetrics):
        flag = ", cancelled" if m.cancelled else ""
        return (
            f"LLM metrics [{_model(m)}]: ttft={_s(m.ttft)}, duration={_s(m.duration)}, "
            f"prompt_tokens={m.prompt_tokens}, prompt_cached_tokens={m.prompt_cached_tokens}, "
            f"completion_tokens={m.completion_tokens}, "
            f"tokens_per_second={m.tokens_per_second:.2f}{flag}"
        )
    if isinstance(m, RealtimeModelMetrics):
        flag = ", cancelled" if m.cancelled else ""
        return (
            f"Realtime model metrics [{_model(m)}]: ttft={_s(m.ttft)}, "
            f"duration={_s(m.duration)}, input_tokens={m.input_tokens}, "
            f"output_tokens={m.output_tokens}, tokens_per_second={m.tokens_per_second:.2f}{flag}"
        )
    if isinstance(m, STTMetrics):
        mode = "streamed" if m.streamed else "batch"
        return (
            f"STT metrics [{_model(m)}]: audio_duration={_s(m.audio_duration)}, "
            f"duration={_s(m.duration)}, {mode}"
        )
    if isinstance(m, TTSMetrics):
        flag = ", cancelled" if m.cancelled else ""
        return (
            f"TTS metrics [{_model(m)}]: ttfb={_s(m.ttfb)}, duration={_s(m.duration)}, "
            f"audio_duration={_s(m.audio_duration)}, characters={m.characters_count}{flag}"
        )
    if isinstance(m, EOUMetrics):
        return (
            f"EOU metrics: end_of_utterance_delay={_s(m.end_of_utterance_delay)}, "
            f"transcription_delay={_s(m.transcription_delay)}, "
            f"on_user_turn_completed_delay={_s(m.on_user_turn_completed_delay)}"
        )
    if isinstance(m, VADMetrics):
        avg = m.inference_duration_total / m.inference_count if m.inference_count else 0.0
        return (
            f"VAD metrics [{_model(m)}]: inference_count={m.inference_count}, "
            f"avg_inference={avg * 1000:.2f}ms, idle_time={_s(m.idle_time)}"
        )
    raise TypeError(
        f"log_metrics() got {type(m).__name__}; pass a metric from a metrics_collected event "
        "(LLMMetrics, STTMetrics, TTSMetrics, VADMetrics, EOUMetrics or RealtimeModelMetrics)"
    )


def log_metrics(metrics: Any, *, logger: logging.Logger | None = None) -> None:
    """Log ``metrics`` as one INFO line on ``logger`` (default ``voxlane.agents.metrics``).

    The metric's fields are also attached to the record as ``extra`` (key ``metrics``), for
    structured log handlers.
    """
    line = format_metrics(metrics)
    (logger or default_logger).info(line, extra={"metrics": metrics.model_dump()})


__all__ = ["format_metrics", "log_metrics"]
