"""Conformance suite for STT implementations (see :mod:`voxlane.agents.testing.conformance`)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from livekit import rtc

from ..._exceptions import APIError
from ...metrics import STTMetrics
from ...stt import STT, SpeechEvent, SpeechEventType, STTError
from ...types import APIConnectOptions
from ...utils.audio import calculate_audio_duration
from ._common import (
    FAST_CONN_OPTIONS,
    ErrorInjector,
    TaskTracker,
    default_error_injector,
    fatal_error,
    retryable_error,
)

__all__ = ["STTConformance"]

_TEXT_EVENTS = (SpeechEventType.INTERIM_TRANSCRIPT, SpeechEventType.FINAL_TRANSCRIPT)


def _final_texts(events: list[SpeechEvent]) -> list[str]:
    return [
        e.alternatives[0].text
        for e in events
        if e.type == SpeechEventType.FINAL_TRANSCRIPT and e.alternatives
    ]


class STTConformance:
    """Subclass as ``class TestMySTT(STTConformance)`` and provide the ``stt`` and
    ``speech_audio`` fixtures (and ``inject_error`` unless the STT is a voxlane fake)."""

    #: tasks whose name starts with one of these are not reported as left behind
    background_task_prefixes: tuple[str, ...] = ()

    @pytest.fixture
    def stt(self) -> STT:
        raise NotImplementedError("define a `stt` fixture returning the STT under test")

    @pytest.fixture
    def speech_audio(self) -> list[rtc.AudioFrame]:
        raise NotImplementedError(
            "define a `speech_audio` fixture returning frames that contain speech"
        )

    @pytest.fixture
    def conn_options(self) -> APIConnectOptions:
        return FAST_CONN_OPTIONS

    @pytest.fixture
    def inject_error(self, stt: STT) -> ErrorInjector:
        return default_error_injector(stt)

    # -- recognize() ------------------------------------------------------------------------

    async def test_recognize_returns_text_and_metrics(
        self, stt: STT, speech_audio: list[rtc.AudioFrame], conn_options: APIConnectOptions
    ) -> None:
        if not stt.capabilities.offline_recognize:
            assert stt.capabilities.streaming, "an STT must offer recognize() or stream()"
            return
        metrics: list[STTMetrics] = []
        stt.on("metrics_collected", metrics.append)
        try:
            event = await stt.recognize(speech_audio, conn_options=conn_options)
        finally:
            stt.off("metrics_collected", metrics.append)
        assert event.type == SpeechEventType.FINAL_TRANSCRIPT
        assert event.alternatives, "recognize() returned no alternative"
        assert event.alternatives[0].text.strip(), "recognize() returned no text for speech"
        assert len(metrics) == 1, f"expected one STTMetrics per recognize(), got {len(metrics)}"
        m = metrics[0]
        assert not m.streamed
        assert m.duration >= 0
        assert m.audio_duration == pytest.approx(calculate_audio_duration(speech_audio), rel=0.01)

    async def test_recognize_retries_a_retryable_error(
        self,
        stt: STT,
        speech_audio: list[rtc.AudioFrame],
        conn_options: APIConnectOptions,
        inject_error: ErrorInjector,
    ) -> None:
        if not stt.capabilities.offline_recognize:
            return
        errors: list[STTError] = []
        stt.on("error", errors.append)
        try:
            inject_error(retryable_error(), 1)
            event = await stt.recognize(speech_audio, conn_options=conn_options)
        finally:
            stt.off("error", errors.append)
        assert event.alternatives and event.alternatives[0].text.strip()
        assert [e.recoverable for e in errors] == [True]

    async def test_recognize_gives_up_on_a_non_retryable_error(
        self,
        stt: STT,
        speech_audio: list[rtc.AudioFrame],
        conn_options: APIConnectOptions,
        inject_error: ErrorInjector,
    ) -> None:
        if not stt.capabilities.offline_recognize:
            return
        errors: list[STTError] = []
        stt.on("error", errors.append)
        try:
            inject_error(fatal_error(), conn_options.max_retry + 1)
            with pytest.raises(APIError) as info:
                await stt.recognize(speech_audio, conn_options=conn_options)
        finally:
            stt.off("error", errors.append)
        assert not info.value.retryable
        assert [e.recoverable for e in errors] == [False]

    # -- stream() ---------------------------------------------------------------------------

    async def _stream_all(
        self,
        stt: STT,
        audio: list[rtc.AudioFrame],
        conn_options: APIConnectOptions,
        *,
        flush_every: int = 0,
    ) -> list[SpeechEvent]:
        stream = stt.stream(conn_options=conn_options)
        events: list[SpeechEvent] = []

        async def read() -> None:
            async for ev in stream:
                events.append(ev)

        reader = asyncio.create_task(read())
        try:
            for i, frame in enumerate(audio):
                stream.push_frame(frame)
                if flush_every and (i + 1) % flush_every == 0:
                    stream.flush()
                await asyncio.sleep(0)
            stream.end_input()
            await reader
        finally:
            await stream.aclose()
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        return events

    async def test_stream_lifecycle(
        self, stt: STT, speech_audio: list[rtc.AudioFrame], conn_options: APIConnectOptions
    ) -> None:
        if not stt.capabilities.streaming:
            with pytest.raises(NotImplementedError):
                stt.stream()
            return
        tracker = TaskTracker(self.background_task_prefixes)
        events = await self._stream_all(stt, speech_audio, conn_options)
        finals = _final_texts(events)
        assert any(t.strip() for t in finals), f"no final transcript text for speech: {events}"
        for ev in events:
            assert isinstance(ev.type, SpeechEventType)
            if ev.type in _TEXT_EVENTS:
                for alt in ev.alternatives:
                    assert alt.start_time <= alt.end_time or alt.end_time == 0
        if not stt.capabilities.interim_results:
            assert SpeechEventType.INTERIM_TRANSCRIPT not in {e.type for e in events}
        await tracker.assert_no_leftovers("a finished recognition stream")

    async def test_stream_with_flushes_ends(
        self, stt: STT, speech_audio: list[rtc.AudioFrame], conn_options: APIConnectOptions
    ) -> None:
        if not stt.capabilities.streaming:
            return
        every = max(1, len(speech_audio) // 3)
        events = await self._stream_all(stt, speech_audio, conn_options, flush_every=every)
        assert any(t.strip() for t in _final_texts(events))

    async def test_stream_usage_metrics(
        self, stt: STT, speech_audio: list[rtc.AudioFrame], conn_options: APIConnectOptions
    ) -> None:
        if not stt.capabilities.streaming:
            return
        metrics: list[STTMetrics] = []
        stt.on("metrics_collected", metrics.append)
        try:
            await self._stream_all(stt, speech_audio, conn_options)
        finally:
            stt.off("metrics_collected", metrics.append)
        assert metrics, "a stream must report usage (RECOGNITION_USAGE -> metrics_collected)"
        total = sum(m.audio_duration for m in metrics)
        assert all(m.streamed and m.audio_duration >= 0 for m in metrics)
        assert 0 < total <= calculate_audio_duration(speech_audio) * 1.05 + 0.01

    async def test_stream_aclose_mid_stream_leaves_no_task(
        self, stt: STT, speech_audio: list[rtc.AudioFrame], conn_options: APIConnectOptions
    ) -> None:
        if not stt.capabilities.streaming:
            return
        tracker = TaskTracker(self.background_task_prefixes)
        stream = stt.stream(conn_options=conn_options)
        for frame in speech_audio[: max(1, len(speech_audio) // 2)]:
            stream.push_frame(frame)
        await asyncio.sleep(0)
        await stream.aclose()
        assert [ev async for ev in stream] == [], "a closed stream must end iteration"
        with pytest.raises(RuntimeError):
            stream.push_frame(speech_audio[0])
        await tracker.assert_no_leftovers("aclose() of a recognition stream")

    async def test_stream_cancelled_consumer_then_aclose(
        self, stt: STT, speech_audio: list[rtc.AudioFrame], conn_options: APIConnectOptions
    ) -> None:
        if not stt.capabilities.streaming:
            return
        tracker = TaskTracker(self.background_task_prefixes)
        stream = stt.stream(conn_options=conn_options)

        async def consume() -> None:
            async for _ in stream:
                pass

        consumer = asyncio.create_task(consume())
        for frame in speech_audio[: max(1, len(speech_audio) // 2)]:
            stream.push_frame(frame)
        await asyncio.sleep(0)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await stream.aclose()
        await tracker.assert_no_leftovers("a cancelled recognition stream")

    async def test_stream_rejects_input_after_end(
        self, stt: STT, speech_audio: list[rtc.AudioFrame], conn_options: APIConnectOptions
    ) -> None:
        if not stt.capabilities.streaming:
            return
        stream = stt.stream(conn_options=conn_options)
        try:
            stream.end_input()
            with pytest.raises(RuntimeError):
                stream.push_frame(speech_audio[0])
            with pytest.raises(RuntimeError):
                stream.flush()
        finally:
            await stream.aclose()

    async def test_stream_retries_a_retryable_error(
        self,
        stt: STT,
        speech_audio: list[rtc.AudioFrame],
        conn_options: APIConnectOptions,
        inject_error: ErrorInjector,
    ) -> None:
        if not stt.capabilities.streaming:
            return
        errors: list[STTError] = []
        stt.on("error", errors.append)
        try:
            inject_error(retryable_error(), 1)
            events = await self._stream_all(stt, speech_audio, conn_options)
        finally:
            stt.off("error", errors.append)
        assert any(t.strip() for t in _final_texts(events))
        assert [e.recoverable for e in errors] == [True]

    async def test_stream_gives_up_on_a_non_retryable_error(
        self,
        stt: STT,
        speech_audio: list[rtc.AudioFrame],
        conn_options: APIConnectOptions,
        inject_error: ErrorInjector,
    ) -> None:
        if not stt.capabilities.streaming:
            return
        errors: list[STTError] = []
        stt.on("error", errors.append)
        try:
            inject_error(fatal_error(), conn_options.max_retry + 1)
            with pytest.raises(APIError) as info:
                await self._stream_all(stt, speech_audio, conn_options)
        finally:
            stt.off("error", errors.append)
        assert not info.value.retryable
        assert [e.recoverable for e in errors] == [False]
