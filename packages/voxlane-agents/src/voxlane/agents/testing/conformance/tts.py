"""Conformance suite for TTS implementations (see :mod:`voxlane.agents.testing.conformance`)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from ..._exceptions import APIError
from ...metrics import TTSMetrics
from ...tts import TTS, SynthesizedAudio, TTSError
from ...types import APIConnectOptions
from ._common import (
    FAST_CONN_OPTIONS,
    ErrorInjector,
    TaskTracker,
    default_error_injector,
    fatal_error,
    retryable_error,
)

__all__ = ["TTSConformance"]


class TTSConformance:
    """Subclass as ``class TestMyTTS(TTSConformance)`` and provide the ``tts`` fixture (and
    ``inject_error`` unless the TTS is a voxlane fake). Override ``text`` to change the input.

    ``max_seconds_per_char`` bounds the plausible audio length of a text.
    """

    background_task_prefixes: tuple[str, ...] = ()
    max_seconds_per_char: float = 0.5

    @pytest.fixture
    def tts(self) -> TTS:
        raise NotImplementedError("define a `tts` fixture returning the TTS under test")

    @pytest.fixture
    def text(self) -> str:
        return "Hello there. This is a short conformance test."

    @pytest.fixture
    def conn_options(self) -> APIConnectOptions:
        return FAST_CONN_OPTIONS

    @pytest.fixture
    def inject_error(self, tts: TTS) -> ErrorInjector:
        return default_error_injector(tts)

    def _check_audio(self, tts: TTS, events: list[SynthesizedAudio], text: str) -> float:
        assert events, "no audio was produced"
        total = 0.0
        for ev in events:
            frame = ev.frame
            assert frame.sample_rate == tts.sample_rate, (
                f"frame at {frame.sample_rate} Hz, but tts.sample_rate is {tts.sample_rate}"
            )
            assert frame.num_channels == tts.num_channels
            assert frame.samples_per_channel > 0, "empty audio frame"
            assert len(frame.data) == frame.samples_per_channel * frame.num_channels
            total += frame.duration
        chars = len(text.strip())
        assert 0.1 <= total <= chars * self.max_seconds_per_char + 1.0, (
            f"{total:.2f} s of audio for {chars} characters is not plausible"
        )
        return total

    async def test_synthesize_audio_format_and_metrics(
        self, tts: TTS, text: str, conn_options: APIConnectOptions
    ) -> None:
        metrics: list[TTSMetrics] = []
        tts.on("metrics_collected", metrics.append)
        tracker = TaskTracker(self.background_task_prefixes)
        try:
            async with tts.synthesize(text, conn_options=conn_options) as stream:
                events = [ev async for ev in stream]
        finally:
            tts.off("metrics_collected", metrics.append)
        total = self._check_audio(tts, events, text)
        assert len({ev.request_id for ev in events}) == 1
        assert len(metrics) == 1, f"expected one TTSMetrics per synthesize(), got {len(metrics)}"
        m = metrics[0]
        assert m.audio_duration == pytest.approx(total, rel=0.01)
        assert m.characters_count == len(text)
        assert m.ttfb >= 0 and m.duration >= 0
        assert not m.cancelled and not m.streamed
        await tracker.assert_no_leftovers("a finished synthesis")

    async def test_synthesize_aclose_mid_stream_leaves_no_task(
        self, tts: TTS, text: str, conn_options: APIConnectOptions
    ) -> None:
        tracker = TaskTracker(self.background_task_prefixes)
        stream = tts.synthesize(text * 3, conn_options=conn_options)
        first = await stream.__anext__()
        assert first.frame.samples_per_channel > 0
        await stream.aclose()
        assert [ev async for ev in stream] == [], "a closed synthesis must end iteration"
        await tracker.assert_no_leftovers("aclose() of a synthesis")

    async def test_synthesize_retries_a_retryable_error(
        self, tts: TTS, text: str, conn_options: APIConnectOptions, inject_error: ErrorInjector
    ) -> None:
        errors: list[TTSError] = []
        tts.on("error", errors.append)
        try:
            inject_error(retryable_error(), 1)
            events = [ev async for ev in tts.synthesize(text, conn_options=conn_options)]
        finally:
            tts.off("error", errors.append)
        self._check_audio(tts, events, text)
        assert [e.recoverable for e in errors] == [True]

    async def test_synthesize_gives_up_on_a_non_retryable_error(
        self, tts: TTS, text: str, conn_options: APIConnectOptions, inject_error: ErrorInjector
    ) -> None:
        errors: list[TTSError] = []
        tts.on("error", errors.append)
        try:
            inject_error(fatal_error(), conn_options.max_retry + 1)
            with pytest.raises(APIError) as info:
                async for _ in tts.synthesize(text, conn_options=conn_options):
                    pass
        finally:
            tts.off("error", errors.append)
        assert not info.value.retryable
        assert [e.recoverable for e in errors] == [False]

    async def test_stream_lifecycle(
        self, tts: TTS, text: str, conn_options: APIConnectOptions
    ) -> None:
        if not tts.capabilities.streaming:
            with pytest.raises(NotImplementedError):
                tts.stream()
            return
        metrics: list[TTSMetrics] = []
        tts.on("metrics_collected", metrics.append)
        tracker = TaskTracker(self.background_task_prefixes)
        sentences = [s.strip() + " " for s in text.split(".") if s.strip()]
        try:
            async with tts.stream(conn_options=conn_options) as stream:
                for sentence in sentences:
                    for word in sentence.split(" "):
                        if word:
                            stream.push_text(word + " ")
                    stream.flush()
                stream.end_input()
                events = [ev async for ev in stream]
                with pytest.raises(RuntimeError):
                    stream.push_text("too late")
        finally:
            tts.off("metrics_collected", metrics.append)
        self._check_audio(tts, events, "".join(sentences))
        segments: dict[str, list[SynthesizedAudio]] = {}
        for ev in events:
            segments.setdefault(ev.segment_id, []).append(ev)
        assert segments, "no segment was produced"
        for seg_events in segments.values():
            finals = [ev.is_final for ev in seg_events]
            assert finals[-1], "the last frame of a segment must be marked is_final"
            assert finals.count(True) == 1
        assert metrics and all(m.streamed for m in metrics)
        assert sum(m.characters_count for m in metrics) > 0
        await tracker.assert_no_leftovers("a finished synthesis stream")

    async def test_stream_aclose_mid_stream_leaves_no_task(
        self, tts: TTS, text: str, conn_options: APIConnectOptions
    ) -> None:
        if not tts.capabilities.streaming:
            return
        tracker = TaskTracker(self.background_task_prefixes)
        stream = tts.stream(conn_options=conn_options)
        stream.push_text(text * 3)
        stream.flush()
        first = await stream.__anext__()
        assert first.frame.samples_per_channel > 0
        await stream.aclose()
        assert [ev async for ev in stream] == []
        with pytest.raises(RuntimeError):
            stream.push_text("after close")
        await tracker.assert_no_leftovers("aclose() of a synthesis stream")

    async def test_stream_cancelled_consumer_then_aclose(
        self, tts: TTS, text: str, conn_options: APIConnectOptions
    ) -> None:
        if not tts.capabilities.streaming:
            return
        tracker = TaskTracker(self.background_task_prefixes)
        stream = tts.stream(conn_options=conn_options)

        async def consume() -> None:
            async for _ in stream:
                pass

        consumer = asyncio.create_task(consume())
        stream.push_text(text)
        stream.flush()
        await asyncio.sleep(0)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await stream.aclose()
        await tracker.assert_no_leftovers("a cancelled synthesis stream")

    async def test_stream_retries_a_retryable_error(
        self, tts: TTS, text: str, conn_options: APIConnectOptions, inject_error: ErrorInjector
    ) -> None:
        if not tts.capabilities.streaming:
            return
        errors: list[TTSError] = []
        tts.on("error", errors.append)
        try:
            inject_error(retryable_error(), 1)
            async with tts.stream(conn_options=conn_options) as stream:
                stream.push_text(text)
                stream.end_input()
                events = [ev async for ev in stream]
        finally:
            tts.off("error", errors.append)
        self._check_audio(tts, events, text)
        assert [e.recoverable for e in errors] == [True]
