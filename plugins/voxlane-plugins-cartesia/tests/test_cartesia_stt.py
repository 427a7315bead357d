"""Cartesia STT against the fake server: real espeak speech, streaming and batch, faults."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import vx_cartesia_fake as fake

from voxlane.agents._exceptions import APIStatusError
from voxlane.agents.stt import SpeechEventType, STTError
from voxlane.agents.testing import speech
from voxlane.agents.testing.speech import FAST_RETRY as FAST
from voxlane.agents.testing.speech import (
    HANG_TIMEOUT,
    event_kinds,
    final_texts,
    run_stt_stream,
)
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import cartesia

ET = SpeechEventType


@pytest.fixture
async def ct_stt(ct_server: fake.FakeCartesia) -> AsyncIterator[cartesia.STT]:
    stt = cartesia.STT(api_key=fake.API_KEY, base_url=ct_server.base_url)
    yield stt
    await stt.aclose()


async def test_stream_transcribes_speech(
    ct_stt: cartesia.STT, ct_server: fake.FakeCartesia, clip: speech.SpeechClip
) -> None:
    events = await run_stt_stream(ct_stt, clip.frames())
    assert final_texts(events) == clip.texts
    assert event_kinds(events) == [ET.START_OF_SPEECH, ET.FINAL_TRANSCRIPT, ET.END_OF_SPEECH] * 2
    assert any(e.type == ET.INTERIM_TRANSCRIPT for e in events)
    final_events = [e for e in events if e.type == ET.FINAL_TRANSCRIPT]
    for ev, (start, end) in zip(final_events, clip.spans, strict=True):
        assert ev.alternatives[0].start_time == pytest.approx(start, abs=0.1)
        assert ev.alternatives[0].end_time == pytest.approx(end, abs=0.1)
    usage = sum(e.recognition_usage.audio_duration for e in events if e.recognition_usage)
    assert usage == pytest.approx(clip.duration, abs=0.05)
    conn = ct_server.connections[0]
    assert conn.query == {
        "model": "ink-whisper",
        "language": "en",
        "encoding": "pcm_s16le",
        "sample_rate": "16000",
    }
    assert conn.messages[-1] == "close"


async def test_dropped_socket_replays_unacknowledged_audio(
    ct_stt: cartesia.STT, ct_server: fake.FakeCartesia, clip: speech.SpeechClip
) -> None:
    ct_server.fail_next("stt", fake.Fault("drop", seconds=clip.spans[1][0] + 0.4))
    errors: list[STTError] = []
    ct_stt.on("error", errors.append)
    events = await run_stt_stream(ct_stt, clip.frames())
    assert [e.recoverable for e in errors] == [True]
    assert len(ct_server.connections) == 2
    assert final_texts(events) == clip.texts
    final_events = [e for e in events if e.type == ET.FINAL_TRANSCRIPT]
    for ev, (start, end) in zip(final_events, clip.spans, strict=True):
        assert ev.alternatives[0].start_time == pytest.approx(start, abs=0.1)
        assert ev.alternatives[0].end_time == pytest.approx(end, abs=0.1)


@pytest.mark.parametrize("status", [429, 502])
async def test_refused_handshake_is_retried(
    ct_stt: cartesia.STT, ct_server: fake.FakeCartesia, clip: speech.SpeechClip, status: int
) -> None:
    ct_server.fail_next("stt", fake.Fault("status", status=status))
    errors: list[STTError] = []
    ct_stt.on("error", errors.append)
    events = await run_stt_stream(ct_stt, clip.frames())
    assert final_texts(events) == clip.texts
    assert [getattr(e.error, "status_code", None) for e in errors] == [status]


async def test_hang_times_out_and_malformed_frames_are_skipped(
    ct_stt: cartesia.STT,
    ct_server: fake.FakeCartesia,
    clip: speech.SpeechClip,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ct_server.fail_next("stt", fake.Fault("hang"))
    ct_server.fail_next("stt", fake.Fault("malformed"))
    errors: list[STTError] = []
    ct_stt.on("error", errors.append)
    opts = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=HANG_TIMEOUT)

    async def pace(i: int, stream: Any) -> None:
        if i == 30:  # let the hung connection time out while audio is outstanding
            await asyncio.sleep(HANG_TIMEOUT + 0.5)

    with caplog.at_level(logging.WARNING, logger="voxlane.plugins.cartesia"):
        events = await run_stt_stream(ct_stt, clip.frames(), conn_options=opts, on_frame=pace)
    assert [type(e.error).__name__ for e in errors] == ["APITimeoutError"]
    assert final_texts(events) == clip.texts
    assert sum("malformed" in r.message or "without text" in r.message for r in caplog.records) == 2


async def test_flush_sends_finalize_without_repeating_words(
    ct_stt: cartesia.STT, ct_server: fake.FakeCartesia, clip: speech.SpeechClip
) -> None:
    cut = int((clip.spans[0][0] + 0.8) / 0.02)

    async def flush(i: int, stream: Any) -> None:
        if i == cut:
            stream.flush()

    events = await run_stt_stream(ct_stt, clip.frames(), on_frame=flush)
    texts = final_texts(events)
    assert len(texts) == 3
    assert " ".join(texts[:2]) == clip.texts[0] and texts[2] == clip.texts[1]
    assert "finalize" in ct_server.connections[0].messages


async def test_recognize_batch(
    ct_stt: cartesia.STT, ct_server: fake.FakeCartesia, clip: speech.SpeechClip
) -> None:
    ev = await ct_stt.recognize(clip.frames(), language="fr", conn_options=FAST)
    assert ev.alternatives[0].text == " ".join(clip.texts)
    assert ev.alternatives[0].language == "fr"
    assert ev.alternatives[0].start_time == pytest.approx(clip.spans[0][0], abs=0.1)
    form = ct_server.rest_requests[0].messages[0]
    assert form["model"] == "ink-whisper" and form["timestamp_granularities[]"] == "word"
    bad = cartesia.STT(api_key="bad", base_url=ct_server.base_url)
    with pytest.raises(APIStatusError) as info:
        await bad.recognize(clip.frames(), conn_options=FAST)
    assert info.value.status_code == 401 and not info.value.retryable
    await bad.aclose()


def test_missing_key_and_bad_rate() -> None:
    with pytest.raises(ValueError, match="CARTESIA_API_KEY"):
        cartesia.STT()
    with pytest.raises(ValueError, match="sample_rate"):
        cartesia.STT(api_key="k", sample_rate=12000)


async def test_drop_after_all_audio_was_sent_is_still_retried(
    ct_stt: cartesia.STT, ct_server: fake.FakeCartesia, clip: speech.SpeechClip
) -> None:
    # the whole input (and "close") is sent before the server drops the socket: the abnormal
    # close must still be retried, not taken for the end of the stream
    ct_server.fail_next("stt", fake.Fault("drop", seconds=clip.spans[0][0] + 0.5))
    stream = ct_stt.stream(conn_options=FAST)
    for frame in clip.frames():
        stream.push_frame(frame)
    stream.end_input()
    events = [ev async for ev in stream]
    assert final_texts(events) == clip.texts
    assert len(ct_server.connections) == 2
