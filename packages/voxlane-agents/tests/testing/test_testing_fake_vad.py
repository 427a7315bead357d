"""FakeVAD: scripted segments and energy detection through the real VADStream contract."""

from __future__ import annotations

import asyncio

import pytest

from voxlane.agents.metrics import VADMetrics
from voxlane.agents.testing import now
from voxlane.agents.testing.fakes import FakeVAD, SpeechSegment, audio_pattern
from voxlane.agents.vad import VADEvent, VADEventType

pytestmark = pytest.mark.virtual_clock


async def _run(vad: FakeVAD, pattern: list[tuple[float, bool]]) -> list[VADEvent]:
    stream = vad.stream()
    for frame in audio_pattern(pattern, frame_duration=0.02):
        stream.push_frame(frame)
    stream.end_input()
    events = [ev async for ev in stream]
    await stream.aclose()
    return events


def _speech_events(events: list[VADEvent]) -> list[VADEvent]:
    return [e for e in events if e.type != VADEventType.INFERENCE_DONE]


async def test_scripted_segments_ignore_the_audio_content() -> None:
    vad = FakeVAD(segments=[(0.5, 1.0), SpeechSegment(2.0, 2.5)], update_interval=0.01)
    events = await _run(vad, [(3.0, False)])  # pure silence: the script decides
    speech = _speech_events(events)
    assert [e.type for e in speech] == [
        VADEventType.START_OF_SPEECH,
        VADEventType.END_OF_SPEECH,
        VADEventType.START_OF_SPEECH,
        VADEventType.END_OF_SPEECH,
    ]
    assert [round(e.timestamp, 3) for e in speech] == [0.51, 1.01, 2.01, 2.51]
    end = speech[1]
    assert end.speech_duration == pytest.approx(0.5)
    assert end.silence_duration == pytest.approx(0.01)
    # END_OF_SPEECH carries the speech audio plus the 0.3 s prefix padding
    assert sum(f.duration for f in end.frames) == pytest.approx(0.8, abs=0.011)
    inference = [e for e in events if e.type == VADEventType.INFERENCE_DONE]
    assert len(inference) == 300
    assert {e.probability for e in inference} == {0.0, 1.0}


async def test_energy_mode_detects_tone_with_min_durations() -> None:
    vad = FakeVAD(min_speech_duration=0.1, min_silence_duration=0.4, update_interval=0.02)
    events = await _run(vad, [(0.5, False), (1.0, True), (0.2, False), (0.6, True), (1.0, False)])
    speech = _speech_events(events)
    # the 0.2 s pause is shorter than min_silence_duration: one utterance
    assert [e.type for e in speech] == [VADEventType.START_OF_SPEECH, VADEventType.END_OF_SPEECH]
    start, end = speech
    assert start.timestamp == pytest.approx(0.6)  # 0.1 s of tone needed first
    assert start.speech_duration == pytest.approx(0.1)
    assert end.timestamp == pytest.approx(2.7)  # 0.4 s of silence after the tone ends at 2.3
    assert end.speech_duration == pytest.approx(1.8)
    assert end.silence_duration == pytest.approx(0.4)


async def test_energy_mode_ignores_quiet_audio() -> None:
    vad = FakeVAD(threshold=0.5)  # the tone's RMS is about 0.21
    events = await _run(vad, [(1.0, True)])
    assert _speech_events(events) == []
    assert all(0.0 < e.probability < 0.5 for e in events)


async def test_speech_open_at_end_of_input_is_closed() -> None:
    vad = FakeVAD(segments=[(0.2, 10.0)])
    speech = _speech_events(await _run(vad, [(1.0, False)]))
    assert [e.type for e in speech] == [VADEventType.START_OF_SPEECH, VADEventType.END_OF_SPEECH]
    assert speech[1].speaking is False


async def test_inference_delay_uses_loop_time_and_metrics_are_emitted() -> None:
    vad = FakeVAD(segments=[], update_interval=0.1, inference_delay=0.01)
    metrics: list[VADMetrics] = []
    vad.on("metrics_collected", metrics.append)
    events = await _run(vad, [(2.0, False)])
    assert len(events) == 20
    assert now() == pytest.approx(0.2)
    assert len(metrics) == 2
    assert metrics[0].inference_count == 10
    assert metrics[0].inference_duration_total == pytest.approx(0.1)
    assert vad.streams[0].pushed_duration == pytest.approx(2.0)


async def test_aclose_mid_stream_leaves_no_task() -> None:
    vad = FakeVAD(segments=[(0.0, 1.0)], inference_delay=0.5)
    stream = vad.stream()
    for frame in audio_pattern([(5.0, True)]):
        stream.push_frame(frame)
    first = await stream.__anext__()
    assert first.type == VADEventType.INFERENCE_DONE
    await stream.aclose()
    assert [ev async for ev in stream] == []
    mine = [t for t in asyncio.all_tasks() if "FakeVADStream" in t.get_name()]
    assert all(t.done() for t in mine)
    with pytest.raises(RuntimeError, match="closed"):
        stream.push_frame(audio_pattern([(0.1, True)])[0])


async def test_format_change_is_an_error() -> None:
    vad = FakeVAD()
    stream = vad.stream()
    stream.push_frame(audio_pattern([(0.1, True)], sample_rate=16000)[0])
    stream.push_frame(audio_pattern([(0.1, True)], sample_rate=8000)[0])
    stream.end_input()
    with pytest.raises(ValueError, match="keep one format"):
        async for _ in stream:
            pass
    await stream.aclose()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"segments": [(1.0, 0.5)]}, "start < end"),
        ({"segments": [(0.0, 1.0), (0.5, 2.0)]}, "must not overlap"),
        ({"segments": [0.5]}, r"\(start, end\) tuple"),
        ({"threshold": 0.0}, "threshold"),
        ({"min_silence_duration": -1.0}, "min_silence_duration"),
        ({"update_interval": 0.0}, "update_interval"),
    ],
)
def test_bad_configuration_is_explained(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        FakeVAD(**kwargs)  # type: ignore[arg-type]
