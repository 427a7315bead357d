"""Conformance suite for VAD implementations (see :mod:`voxlane.agents.testing.conformance`)."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from ...metrics import VADMetrics
from ...utils.audio import calculate_audio_duration
from ...vad import VAD, VADEvent, VADEventType
from ._common import TaskTracker

__all__ = ["VADConformance"]


class VADConformance:
    """Subclass as ``class TestMyVAD(VADConformance)`` and provide the ``vad`` fixture and
    ``speech_audio``: frames holding speech surrounded by at least 0.5 s of silence on each
    side, 1.5 s or more in total. ``silence_audio`` defaults to 2 s of digital silence at the
    speech's sample rate."""

    background_task_prefixes: tuple[str, ...] = ()

    @pytest.fixture
    def vad(self) -> VAD:
        raise NotImplementedError("define a `vad` fixture returning the VAD under test")

    @pytest.fixture
    def speech_audio(self) -> list[rtc.AudioFrame]:
        raise NotImplementedError(
            "define a `speech_audio` fixture: speech with silence before and after"
        )

    @pytest.fixture
    def silence_audio(self, speech_audio: list[rtc.AudioFrame]) -> list[rtc.AudioFrame]:
        rate = speech_audio[0].sample_rate
        step = rate // 50
        return [rtc.AudioFrame.create(rate, 1, step) for _ in range(100)]

    async def _run(self, vad: VAD, audio: list[rtc.AudioFrame]) -> list[VADEvent]:
        stream = vad.stream()
        try:
            for frame in audio:
                stream.push_frame(frame)
            stream.end_input()
            return [ev async for ev in stream]
        finally:
            await stream.aclose()

    async def test_detects_speech_with_a_consistent_event_sequence(
        self, vad: VAD, speech_audio: list[rtc.AudioFrame]
    ) -> None:
        tracker = TaskTracker(self.background_task_prefixes)
        events = await self._run(vad, speech_audio)
        total = calculate_audio_duration(speech_audio)
        kinds = [e.type for e in events if e.type != VADEventType.INFERENCE_DONE]
        assert VADEventType.START_OF_SPEECH in kinds, "no speech detected in speech_audio"
        expected = VADEventType.START_OF_SPEECH
        for kind in kinds:  # START and END alternate, starting with START
            assert kind == expected, f"unexpected {kind.value} in {[k.value for k in kinds]}"
            expected = (
                VADEventType.END_OF_SPEECH
                if kind == VADEventType.START_OF_SPEECH
                else VADEventType.START_OF_SPEECH
            )
        assert VADEventType.END_OF_SPEECH in kinds, "speech followed by silence never ended"
        last_ts = -1.0
        for ev in events:
            assert ev.timestamp >= last_ts - 1e-6, "event timestamps must not go back"
            assert ev.timestamp <= total + 0.1
            last_ts = ev.timestamp
            assert 0.0 <= ev.probability <= 1.0
            assert ev.speech_duration >= 0 and ev.silence_duration >= 0
        ends = [e for e in events if e.type == VADEventType.END_OF_SPEECH]
        for end in ends:
            assert end.frames, "END_OF_SPEECH must carry the speech audio"
            assert all(f.samples_per_channel > 0 for f in end.frames)
            assert len({f.sample_rate for f in end.frames}) == 1
            assert 0 < end.speech_duration <= total
        inference = [e for e in events if e.type == VADEventType.INFERENCE_DONE]
        assert inference, "INFERENCE_DONE events are required (the runtime tracks them)"
        assert all(e.inference_duration >= 0 for e in inference)
        await tracker.assert_no_leftovers("a finished VAD stream")

    async def test_silence_has_no_speech(
        self, vad: VAD, silence_audio: list[rtc.AudioFrame]
    ) -> None:
        events = await self._run(vad, silence_audio)
        assert VADEventType.START_OF_SPEECH not in {e.type for e in events}
        assert any(e.type == VADEventType.INFERENCE_DONE for e in events)

    async def test_metrics_are_emitted(self, vad: VAD, speech_audio: list[rtc.AudioFrame]) -> None:
        metrics: list[VADMetrics] = []
        vad.on("metrics_collected", metrics.append)
        try:
            await self._run(vad, speech_audio)
        finally:
            vad.off("metrics_collected", metrics.append)
        assert metrics, "VADMetrics must be emitted (about once per second of audio)"
        assert all(m.inference_count > 0 and m.inference_duration_total >= 0 for m in metrics)

    async def test_aclose_mid_stream_leaves_no_task(
        self, vad: VAD, speech_audio: list[rtc.AudioFrame]
    ) -> None:
        tracker = TaskTracker(self.background_task_prefixes)
        stream = vad.stream()
        for frame in speech_audio:
            stream.push_frame(frame)
        await asyncio.sleep(0)
        await stream.aclose()
        assert [ev async for ev in stream] == []
        with pytest.raises(RuntimeError):
            stream.push_frame(speech_audio[0])
        await tracker.assert_no_leftovers("aclose() of a VAD stream")

    async def test_rejects_input_after_end(
        self, vad: VAD, speech_audio: list[rtc.AudioFrame]
    ) -> None:
        stream = vad.stream()
        try:
            stream.end_input()
            with pytest.raises(RuntimeError):
                stream.push_frame(speech_audio[0])
        finally:
            await stream.aclose()
