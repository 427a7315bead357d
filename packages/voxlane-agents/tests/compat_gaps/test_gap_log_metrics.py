"""Gap A1: ``metrics.log_metrics`` logs each metric kind as one readable line."""

from __future__ import annotations

import logging

import pytest

from voxlane.agents import metrics
from voxlane.agents.metrics import (
    EOUMetrics,
    LLMMetrics,
    Metadata,
    RealtimeModelMetrics,
    STTMetrics,
    TTSMetrics,
    VADMetrics,
)


def _llm() -> LLMMetrics:
    return LLMMetrics(
        label="fake.LLM",
        request_id="r1",
        timestamp=1.0,
        duration=1.25,
        ttft=0.4,
        cancelled=False,
        completion_tokens=12,
        prompt_tokens=30,
        prompt_cached_tokens=5,
        total_tokens=42,
        tokens_per_second=9.6,
        metadata=Metadata(model_name="gpt-x", model_provider="openai"),
    )


def test_llm_line_has_ttft_tokens_and_model(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="voxlane.agents.metrics"):
        metrics.log_metrics(_llm())
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert line.startswith("LLM metrics [openai/gpt-x]")
    for part in ("ttft=0.400s", "prompt_tokens=30", "completion_tokens=12", "cached_tokens=5"):
        assert part in line
    assert caplog.records[0].metrics["total_tokens"] == 42  # type: ignore[attr-defined]


def test_each_kind_and_custom_logger(caplog: pytest.LogCaptureFixture) -> None:
    items = [
        STTMetrics(
            label="fake.STT",
            request_id="s",
            timestamp=1,
            duration=0.2,
            audio_duration=2.5,
            streamed=True,
        ),
        TTSMetrics(
            label="fake.TTS",
            request_id="t",
            timestamp=1,
            ttfb=0.15,
            duration=0.5,
            audio_duration=3.0,
            cancelled=True,
            characters_count=44,
            streamed=False,
        ),
        EOUMetrics(timestamp=1, end_of_utterance_delay=0.7, transcription_delay=0.2),
        VADMetrics(
            label="silero.VAD",
            timestamp=1,
            idle_time=0.0,
            inference_duration_total=0.05,
            inference_count=100,
        ),
        RealtimeModelMetrics(
            label="rt",
            request_id="x",
            timestamp=1,
            duration=1,
            ttft=0.3,
            cancelled=False,
            input_tokens=10,
            output_tokens=20,
            total_tokens=30,
            tokens_per_second=20,
        ),
    ]
    log = logging.getLogger("my.app")
    with caplog.at_level(logging.INFO, logger="my.app"):
        for m in items:
            metrics.log_metrics(m, logger=log)
    lines = [r.getMessage() for r in caplog.records if r.name == "my.app"]
    assert len(lines) == 5
    assert lines[0] == "STT metrics [fake.STT]: audio_duration=2.500s, duration=0.200s, streamed"
    assert "ttfb=0.150s" in lines[1] and "characters=44" in lines[1] and "cancelled" in lines[1]
    assert "end_of_utterance_delay=0.700s" in lines[2] and "transcription_delay=0.200s" in lines[2]
    assert "inference_count=100" in lines[3] and "avg_inference=0.50ms" in lines[3]
    assert "output_tokens=20" in lines[4] and "ttft=0.300s" in lines[4]


def test_wrong_type_says_what_to_pass() -> None:
    with pytest.raises(TypeError, match="metrics_collected"):
        metrics.log_metrics({"ttft": 1.0})


def test_chat_cli_exported_from_voice() -> None:
    """Gap A2: ``from voxlane.agents.voice import ChatCLI`` works (seed 001 name)."""
    from voxlane.agents.voice import ChatCLI
    from voxlane.agents.voice.console.chat_cli import ChatCLI as Impl

    assert ChatCLI is Impl
