"""Realtime Scribe (scribe_v2_realtime) against the fake server: real espeak speech, faults."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import vx_elevenlabs_fake as fake
from livekit import rtc

from voxlane.agents._exceptions import APIStatusError
from voxlane.agents.stt import SpeechEvent, SpeechEventType, STTError
from voxlane.agents.testing import speech
from voxlane.agents.testing.conformance import ErrorInjector, STTConformance
from voxlane.agents.testing.fake_server import status_fault_injector
from voxlane.agents.testing.speech import FAST_RETRY as FAST
from voxlane.agents.testing.speech import (
    HANG_TIMEOUT,
    event_kinds,
    final_texts,
    run_stt_stream,
)
from voxlane.agents.testing.voice_turn import check_spoken_turn
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import elevenlabs

ET = SpeechEventType
REALTIME = "scribe_v2_realtime"


@pytest.fixture
async def rt_stt(el_server: fake.FakeElevenLabs) -> AsyncIterator[elevenlabs.STT]:
    stt = elevenlabs.STT(
        model=REALTIME, language="en", api_key=fake.API_KEY, base_url=el_server.base_url
    )
    yield stt
    await stt.aclose()


def check_times(events: list[SpeechEvent], clip: speech.SpeechClip) -> None:
    final_events = [e for e in events if e.type == ET.FINAL_TRANSCRIPT]
    for ev, (start, end) in zip(final_events, clip.spans, strict=True):
        alt = ev.alternatives[0]
        assert alt.start_time == pytest.approx(start, abs=0.1)
        assert alt.end_time == pytest.approx(end, abs=0.1)
        assert [str(w) for w in alt.words or []] == alt.text.split()


async def test_stream_transcribes_speech_with_events_and_word_times(
    rt_stt: elevenlabs.STT, el_server: fake.FakeElevenLabs, clip: speech.SpeechClip
) -> None:
    assert rt_stt.capabilities.streaming and rt_stt.capabilities.interim_results
    events = await run_stt_stream(rt_stt, clip.frames())
    assert final_texts(events) == clip.texts
    assert event_kinds(events) == [ET.START_OF_SPEECH, ET.FINAL_TRANSCRIPT, ET.END_OF_SPEECH] * 2
    assert any(e.type == ET.INTERIM_TRANSCRIPT for e in events)
    check_times(events, clip)  # the 22.05 kHz clip was resampled to 16 kHz on the wire
    usage = sum(e.recognition_usage.audio_duration for e in events if e.recognition_usage)
    assert usage == pytest.approx(clip.duration, abs=0.05)
    conn = el_server.connections[0]
    assert conn.path == "/v1/speech-to-text/realtime"
    assert conn.headers["xi-api-key"] == fake.API_KEY
    assert conn.query == {
        "model_id": REALTIME,
        "audio_format": "pcm_16000",
        "commit_strategy": "vad",
        "include_timestamps": "true",
        "language_code": "en",
    }
    chunks = conn.messages
    assert all(m["message_type"] == "input_audio_chunk" for m in chunks)
    assert all(m["sample_rate"] == 16000 for m in chunks)
    assert [m["commit"] for m in chunks].count(True) == 1 and chunks[-1]["commit"] is True
    # every pushed sample went out exactly once
    assert sum(m["audio_bytes"] for m in chunks) / 32000 == pytest.approx(clip.duration, abs=0.02)


async def test_socket_dropped_mid_utterance_loses_and_repeats_nothing(
    rt_stt: elevenlabs.STT, el_server: fake.FakeElevenLabs, clip: speech.SpeechClip
) -> None:
    el_server.fail_next("stt", fake.Fault("drop", seconds=clip.spans[1][0] + 0.4))
    errors: list[STTError] = []
    rt_stt.on("error", errors.append)
    events = await run_stt_stream(rt_stt, clip.frames())
    assert [e.recoverable for e in errors] == [True]
    assert len(el_server.connections) == 2 and el_server.connections[0].closed_by_server
    assert final_texts(events) == clip.texts
    check_times(events, clip)  # the replayed audio keeps the stream's clock
    assert event_kinds(events).count(ET.START_OF_SPEECH) == 2
    assert event_kinds(events).count(ET.END_OF_SPEECH) == 2


@pytest.mark.parametrize("status", [429, 503])
async def test_refused_handshake_is_retried(
    rt_stt: elevenlabs.STT, el_server: fake.FakeElevenLabs, clip: speech.SpeechClip, status: int
) -> None:
    el_server.fail_next("stt", fake.Fault("status", status=status))
    errors: list[STTError] = []
    rt_stt.on("error", errors.append)
    events = await run_stt_stream(rt_stt, clip.frames())
    assert final_texts(events) == clip.texts
    assert [getattr(e.error, "status_code", None) for e in errors] == [status]


async def test_bad_key_is_not_retried(
    el_server: fake.FakeElevenLabs, clip: speech.SpeechClip
) -> None:
    stt = elevenlabs.STT(model=REALTIME, api_key="revoked", base_url=el_server.base_url)
    with pytest.raises(APIStatusError) as info:
        await run_stt_stream(stt, clip.frames()[:20])
    assert info.value.status_code == 401 and not info.value.retryable
    assert "401" in info.value.message and "revoked" not in str(info.value)
    await stt.aclose()


async def test_rate_limit_message_is_retried_and_malformed_frames_skipped(
    rt_stt: elevenlabs.STT,
    el_server: fake.FakeElevenLabs,
    clip: speech.SpeechClip,
    caplog: pytest.LogCaptureFixture,
) -> None:
    el_server.fail_next("stt", fake.Fault("error"))
    el_server.fail_next("stt", fake.Fault("malformed"))
    errors: list[STTError] = []
    rt_stt.on("error", errors.append)
    with caplog.at_level(logging.WARNING, logger="voxlane.plugins.elevenlabs"):
        events = await run_stt_stream(rt_stt, clip.frames())
    assert final_texts(events) == clip.texts
    assert [getattr(e.error, "status_code", None) for e in errors] == [429]
    assert "rate_limited" in str(errors[0].error) and errors[0].recoverable
    assert sum("malformed" in r.message for r in caplog.records) == 2


async def test_silent_server_times_out_then_reconnects(
    rt_stt: elevenlabs.STT, el_server: fake.FakeElevenLabs, clip: speech.SpeechClip
) -> None:
    el_server.fail_next("stt", fake.Fault("hang"))
    errors: list[STTError] = []
    rt_stt.on("error", errors.append)
    opts = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=HANG_TIMEOUT)

    async def pace(i: int, stream: Any) -> None:
        if i == 30:  # let the hung connection time out while audio is outstanding
            await asyncio.sleep(HANG_TIMEOUT + 0.5)

    events = await run_stt_stream(rt_stt, clip.frames(), conn_options=opts, on_frame=pace)
    assert [type(e.error).__name__ for e in errors] == ["APITimeoutError"]
    assert final_texts(events) == clip.texts


async def test_flush_commits_without_repeating_words(
    rt_stt: elevenlabs.STT, el_server: fake.FakeElevenLabs, clip: speech.SpeechClip
) -> None:
    cut = int((clip.spans[0][0] + 0.8) / 0.02)

    async def flush(i: int, stream: Any) -> None:
        if i == cut:
            stream.flush()

    events = await run_stt_stream(rt_stt, clip.frames(), on_frame=flush)
    texts = final_texts(events)
    assert len(texts) == 3  # the commit split the first utterance; no word came twice
    assert " ".join(texts[:2]) == clip.texts[0] and texts[2] == clip.texts[1]
    assert [m["commit"] for m in el_server.connections[0].messages].count(True) == 2


async def test_recognize_uses_the_batch_model(
    rt_stt: elevenlabs.STT, el_server: fake.FakeElevenLabs, clip: speech.SpeechClip
) -> None:
    ev = await rt_stt.recognize(clip.frames(), conn_options=FAST)
    assert ev.alternatives[0].text == " ".join(clip.texts)
    assert el_server.rest_requests[0].messages[0]["model_id"] == "scribe_v1"


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        elevenlabs.STT(model=REALTIME, api_key="k", sample_rate=11025)
    with pytest.raises(ValueError, match="batch_model"):
        elevenlabs.STT(model=REALTIME, api_key="k", batch_model=REALTIME)
    with pytest.raises(ValueError, match="vad_silence_threshold_secs"):
        elevenlabs.STT(model=REALTIME, api_key="k", vad_silence_threshold_secs=0.1)
    batch = elevenlabs.STT(api_key="k")
    assert not batch.capabilities.streaming
    with pytest.raises(NotImplementedError, match="scribe_v2_realtime"):
        batch.stream()


async def test_voice_turn_with_realtime_scribe(el_server: fake.FakeElevenLabs) -> None:
    el_server.script = ["hello there my friend"]
    await check_spoken_turn(
        stt=elevenlabs.STT(model=REALTIME, api_key=fake.API_KEY, base_url=el_server.base_url),
        tts=elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url),
        said="hello there my friend",
        reply="Sunny.",
    )
    assert el_server.connections[0].path == "/v1/speech-to-text/realtime"
    assert el_server.rest_requests == []  # streamed, not uploaded


class TestElevenLabsRealtimeSTTConformance(STTConformance):
    @pytest.fixture
    async def stt(self, el_server: fake.FakeElevenLabs) -> AsyncIterator[elevenlabs.STT]:
        stt = elevenlabs.STT(model=REALTIME, api_key=fake.API_KEY, base_url=el_server.base_url)
        yield stt
        await stt.aclose()

    @pytest.fixture
    def speech_audio(self, clip: speech.SpeechClip) -> list[rtc.AudioFrame]:
        return clip.frames()

    @pytest.fixture
    def inject_error(self, el_server: fake.FakeElevenLabs) -> ErrorInjector:
        return status_fault_injector(el_server, "stt")
