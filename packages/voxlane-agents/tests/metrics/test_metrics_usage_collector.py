"""UsageCollector: totals per kind and per model, fed by metrics_collected from the base classes."""

from __future__ import annotations

import pytest

from voxlane.agents.llm import ChatContext
from voxlane.agents.metrics import (
    EOUMetrics,
    LLMMetrics,
    RealtimeModelMetrics,
    STTMetrics,
    TTSMetrics,
    UsageCollector,
    VADMetrics,
)
from voxlane.agents.metrics.base import Metadata
from voxlane.agents.testing import FakeLLM, FakeSTT, FakeTTS, audio_pattern

pytestmark = pytest.mark.virtual_clock


def _llm(
    prompt: int, completion: int, *, cached: int = 0, provider: str | None = None
) -> LLMMetrics:
    return LLMMetrics(
        label="x.LLM",
        request_id="r",
        timestamp=0.0,
        duration=1.0,
        ttft=0.1,
        cancelled=False,
        completion_tokens=completion,
        prompt_tokens=prompt,
        prompt_cached_tokens=cached,
        total_tokens=prompt + completion,
        tokens_per_second=1.0,
        metadata=Metadata(model_name="m1", model_provider=provider) if provider else None,
    )


def test_totals_per_kind_and_per_model() -> None:
    collector = UsageCollector()
    collector.collect(_llm(10, 5, cached=4, provider="acme"))
    collector.collect(_llm(3, 2))
    collector.collect(
        RealtimeModelMetrics(
            label="rt",
            request_id="r",
            timestamp=0.0,
            duration=1.0,
            ttft=0.1,
            cancelled=False,
            input_tokens=7,
            output_tokens=9,
            total_tokens=16,
            tokens_per_second=1.0,
        )
    )
    collector.collect(
        TTSMetrics(
            label="t",
            request_id="r",
            timestamp=0.0,
            ttfb=0.1,
            duration=1.0,
            audio_duration=1.5,
            cancelled=False,
            characters_count=12,
            streamed=True,
        )
    )
    collector.collect(
        STTMetrics(
            label="s",
            request_id="r",
            timestamp=0.0,
            duration=0.0,
            audio_duration=2.25,
            streamed=True,
        )
    )
    # metrics that carry no usage are accepted and ignored
    collector.collect(
        VADMetrics(
            label="v", timestamp=0.0, idle_time=0, inference_duration_total=0, inference_count=1
        )
    )
    collector.collect(EOUMetrics(timestamp=0.0, end_of_utterance_delay=0.5, transcription_delay=0))

    summary = collector.get_summary()
    assert summary.llm_prompt_tokens == 10 + 3 + 7
    assert summary.llm_prompt_cached_tokens == 4
    assert summary.llm_completion_tokens == 5 + 2 + 9
    assert summary.tts_characters_count == 12
    assert summary.tts_audio_duration == pytest.approx(1.5)
    assert summary.stt_audio_duration == pytest.approx(2.25)
    assert summary.per_model["acme/m1"] == {"prompt_tokens": 10, "completion_tokens": 5}
    assert summary.per_model["x.LLM"] == {"prompt_tokens": 3, "completion_tokens": 2}
    assert summary.per_model["t"] == {"characters_count": 12, "audio_duration": 1.5}


def test_summary_is_a_snapshot() -> None:
    collector = UsageCollector()
    collector.collect(_llm(1, 1))
    first = collector.get_summary()
    first.llm_prompt_tokens = 999
    first.per_model.clear()
    collector.collect(_llm(1, 1))
    second = collector.get_summary()
    assert second.llm_prompt_tokens == 2
    assert second.per_model["x.LLM"]["prompt_tokens"] == 2


async def test_fed_from_the_metrics_collected_events_of_real_streams() -> None:
    collector = UsageCollector()
    llm = FakeLLM(["one two three"])
    tts = FakeTTS(seconds_per_char=0.1)
    stt = FakeSTT(["hello"], streaming=False)
    for model in (llm, tts, stt):
        model.on("metrics_collected", collector.collect)

    ctx = ChatContext.empty()
    ctx.add_message(role="user", content="say three words")
    assert (await llm.chat(chat_ctx=ctx).collect()).text == "one two three"
    await tts.synthesize("abcd").collect()
    await stt.recognize(audio_pattern([(1.5, True)]))

    summary = collector.get_summary()
    assert summary.llm_completion_tokens == 3
    assert summary.llm_prompt_tokens == 3
    assert summary.tts_characters_count == 4
    assert summary.tts_audio_duration == pytest.approx(0.4)
    assert summary.stt_audio_duration == pytest.approx(1.5)
