"""Metrics emitted by models and the voice runtime."""

from .base import (
    AgentMetrics,
    EOUMetrics,
    LLMMetrics,
    Metadata,
    RealtimeModelMetrics,
    STTMetrics,
    TTSMetrics,
    UsageSummary,
    VADMetrics,
)
from .log import log_metrics
from .usage_collector import UsageCollector

__all__ = [
    "AgentMetrics",
    "EOUMetrics",
    "LLMMetrics",
    "Metadata",
    "RealtimeModelMetrics",
    "STTMetrics",
    "TTSMetrics",
    "UsageCollector",
    "UsageSummary",
    "VADMetrics",
    "log_metrics",
]
