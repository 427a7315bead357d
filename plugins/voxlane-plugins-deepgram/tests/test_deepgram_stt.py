"""Deepgram STT against the fake server: real espeak speech, streaming and REST, faults."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import vx_deepgram_fake as fake

from voxlane.agents._exceptions import APIStatusError
from voxlane.agents.stt import FallbackAdapter, SpeechEventType, STTError
from voxlane.agents.testing import speech
from voxlane.agents.testing.speech import FAST_RETRY as FAST
from voxlane.agents.testing.speech import (
    HANG_TIMEOUT,
    event_kinds,
    final_texts,
    run_stt_stream,
)
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import deepgram

ET = SpeechEventType


@pytest.fixture
async def dg_stt(dg_server: fake.FakeDeepgram) -> AsyncIterator[deepgram.STT]:
    stt = deepgram.STT(api_key=fake.API_KEY, base_url=dg_server.base_url, keyterms=["Voxlane"])
    yield stt
    await stt.aclose()


async def test_stream_transcribes_speech_with_events_and_timestamps(
    dg_stt: deepgram.STT, dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    events = await run_stt_stream(dg_stt, clip.frames())
    assert final_texts(events) == clip.texts
    assert event_kinds(events) == [
        ET.START_OF_SPEECH,
        ET.FINAL_TRANSCRIPT,
        ET.END_OF_SPEECH,
        ET.START_OF_SPEECH,
        ET.FINAL_TRANSCRIPT,
        ET.END_OF_SPEECH,
    ]
    assert any(e.type == ET.INTERIM_TRANSCRIPT for e in events)
    # timestamps follow the real speech (the 22.05 kHz clip was resampled to 16 kHz)
    final_events = [e for e in events if e.type == ET.FINAL_TRANSCRIPT]
    for ev, (start, end) in zip(final_events, clip.spans, strict=True):
        alt = ev.alternatives[0]
        assert alt.start_time == pytest.approx(start, abs=0.1)
        assert alt.end_time == pytest.approx(end, abs=0.1)
        assert alt.words and [str(w) for w in alt.words] == alt.text.split()
    usage = sum(
        e.recognition_usage.audio_duration
        for e in events
        if e.type == ET.RECOGNITION_USAGE and e.recognition_usage
    )
    assert usage == pytest.approx(clip.duration, abs=0.05)
    conn = dg_server.connections[0]
    assert conn.headers["Authorization"] == f"Token {fake.API_KEY}"
    assert conn.query["model"] == ["nova-3"]
    assert conn.query["encoding"] == ["linear16"]
    assert conn.query["sample_rate"] == ["16000"]
    assert conn.query["keyterm"] == ["Voxlane"]
    assert conn.query["language"] == ["en-US"]
    assert conn.texts[-1] == {"type": "CloseStream"}
    # 16 kHz linear16 on the wire, every pushed sample exactly once
    assert conn.audio_bytes / 32000 == pytest.approx(clip.duration, abs=0.02)


async def test_socket_dropped_mid_utterance_reconnects_without_losing_or_repeating(
    dg_stt: deepgram.STT, dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    drop_at = clip.spans[0][0] + 0.5  # inside the first utterance
    dg_server.fail_next("listen", fake.Fault("drop", seconds=drop_at))
    errors: list[STTError] = []
    dg_stt.on("error", errors.append)
    events = await run_stt_stream(dg_stt, clip.frames())
    assert [e.recoverable for e in errors] == [True]
    assert len(dg_server.connections) == 2
    assert dg_server.connections[0].closed_by_server
    assert final_texts(events) == clip.texts
    # the second connection replays the unacknowledged audio: times stay on the stream's clock
    final_events = [e for e in events if e.type == ET.FINAL_TRANSCRIPT]
    for ev, (start, end) in zip(final_events, clip.spans, strict=True):
        assert ev.alternatives[0].start_time == pytest.approx(start, abs=0.1)
        assert ev.alternatives[0].end_time == pytest.approx(end, abs=0.1)
    times = [e.alternatives[0].start_time for e in events if e.alternatives]
    finals_times = [e.alternatives[0].start_time for e in final_events]
    assert finals_times == sorted(finals_times) and times
    # one START/END pair per utterance even across the reconnect
    assert event_kinds(events).count(ET.START_OF_SPEECH) == 2
    assert event_kinds(events).count(ET.END_OF_SPEECH) == 2


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_handshake_errors_are_retried(
    dg_stt: deepgram.STT, dg_server: fake.FakeDeepgram, clip: speech.SpeechClip, status: int
) -> None:
    dg_server.fail_next("listen", fake.Fault("status", status=status), times=2)
    errors: list[STTError] = []
    dg_stt.on("error", errors.append)
    events = await run_stt_stream(dg_stt, clip.frames())
    assert final_texts(events) == clip.texts
    assert [e.recoverable for e in errors] == [True, True]
    assert all(isinstance(e.error, APIStatusError) for e in errors)
    assert [getattr(e.error, "status_code", None) for e in errors] == [status, status]


async def test_bad_key_fails_without_retry(
    dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    stt = deepgram.STT(api_key="wrong-key", base_url=dg_server.base_url)
    errors: list[STTError] = []
    stt.on("error", errors.append)
    with pytest.raises(APIStatusError) as info:
        await run_stt_stream(stt, clip.frames()[:20])
    assert info.value.status_code == 401 and not info.value.retryable
    assert "Invalid credentials" in info.value.message or "401" in info.value.message
    assert "wrong-key" not in str(info.value)
    assert [e.recoverable for e in errors] == [False]
    await stt.aclose()


async def test_silent_server_times_out_then_reconnects(
    dg_stt: deepgram.STT, dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    dg_server.fail_next("listen", fake.Fault("hang"))
    errors: list[STTError] = []
    dg_stt.on("error", errors.append)
    opts = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=HANG_TIMEOUT)

    async def pace(i: int, stream: Any) -> None:
        if i == 40:  # let the hung connection time out while audio is outstanding
            await asyncio.sleep(HANG_TIMEOUT + 0.5)

    events = await run_stt_stream(dg_stt, clip.frames(), conn_options=opts, on_frame=pace)
    assert [type(e.error).__name__ for e in errors] == ["APITimeoutError"]
    assert final_texts(events) == clip.texts


async def test_malformed_messages_are_skipped(
    dg_stt: deepgram.STT,
    dg_server: fake.FakeDeepgram,
    clip: speech.SpeechClip,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dg_server.fail_next("listen", fake.Fault("malformed"))
    with caplog.at_level(logging.WARNING, logger="voxlane.plugins.deepgram"):
        events = await run_stt_stream(dg_stt, clip.frames())
    assert final_texts(events) == clip.texts
    assert len(dg_server.connections) == 1
    assert (
        sum("malformed" in r.message or "without a channel" in r.message for r in caplog.records)
        >= 2
    )


async def test_keepalive_holds_an_idle_stream_open(
    dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    dg_server.idle_timeout = 1.0  # 10 keepalive intervals: a slow loop still keeps it open
    stt = deepgram.STT(api_key=fake.API_KEY, base_url=dg_server.base_url, keepalive_interval=0.1)
    frames = clip.frames()

    async def pause(i: int, stream: Any) -> None:
        if i == len(frames) // 2:
            await asyncio.sleep(1.5)  # no audio for longer than the server's idle timeout

    events = await run_stt_stream(stt, frames, on_frame=pause)
    assert final_texts(events) == clip.texts
    assert len(dg_server.connections) == 1 and not dg_server.connections[0].closed_by_server
    keepalives = [t for t in dg_server.connections[0].texts if t == {"type": "KeepAlive"}]
    assert len(keepalives) >= 5
    await stt.aclose()


async def test_utterance_end_ends_speech_when_endpointing_is_off(
    dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    stt = deepgram.STT(
        api_key=fake.API_KEY,
        base_url=dg_server.base_url,
        endpointing_ms=0,
        utterance_end_ms=1000,
    )
    events = await run_stt_stream(stt, clip.frames())
    conn = dg_server.connections[0]
    assert conn.query["endpointing"] == ["false"] and conn.query["utterance_end_ms"] == ["1000"]
    assert final_texts(events) == clip.texts
    assert event_kinds(events) == [
        ET.START_OF_SPEECH,
        ET.FINAL_TRANSCRIPT,
        ET.END_OF_SPEECH,
        ET.START_OF_SPEECH,
        ET.FINAL_TRANSCRIPT,
        ET.END_OF_SPEECH,
    ]
    await stt.aclose()


async def test_flush_sends_finalize_and_words_are_not_repeated(
    dg_stt: deepgram.STT, dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    frames = clip.frames()
    cut = int((clip.spans[0][0] + 0.8) / 0.02)

    async def flush(i: int, stream: Any) -> None:
        if i == cut:
            stream.flush()

    events = await run_stt_stream(dg_stt, frames, on_frame=flush)
    texts = final_texts(events)
    assert len(texts) == 3  # the first utterance was split by Finalize
    assert " ".join(texts[:2]) == clip.texts[0] and texts[2] == clip.texts[1]
    assert {"type": "Finalize"} in dg_server.connections[0].texts


async def test_update_options_reconnects_and_keeps_the_audio(
    dg_stt: deepgram.STT, dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    cut = int((clip.spans[0][0] + 0.5) / 0.02)

    async def switch(i: int, stream: Any) -> None:
        if i == cut:
            await asyncio.sleep(0.05)
            dg_stt.update_options(language="en-GB", keyterms=["weather"])
            await asyncio.sleep(0.05)

    events = await run_stt_stream(dg_stt, clip.frames(), on_frame=switch)
    assert final_texts(events) == clip.texts
    assert len(dg_server.connections) == 2
    assert dg_server.connections[1].query["language"] == ["en-GB"]
    assert dg_server.connections[1].query["keyterm"] == ["weather"]


async def test_recognize_over_rest(
    dg_stt: deepgram.STT, dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    ev = await dg_stt.recognize(clip.frames(), conn_options=FAST)
    assert ev.type == ET.FINAL_TRANSCRIPT
    assert ev.alternatives[0].text == " ".join(clip.texts)
    assert ev.alternatives[0].start_time == pytest.approx(clip.spans[0][0], abs=0.1)
    assert ev.request_id == "req-rest"
    req = dg_server.rest_requests[0]
    assert req.query["language"] == ["en-US"] and req.headers["Content-Type"] == "audio/wav"


async def test_recognize_detects_language_and_retries_429(
    dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    stt = deepgram.STT(api_key=fake.API_KEY, base_url=dg_server.base_url, language=None)
    dg_server.fail_next("listen", fake.Fault("status", status=429))
    ev = await stt.recognize(clip.frames(), conn_options=FAST)
    assert ev.alternatives[0].language == "en"
    assert [r.query.get("detect_language") for r in dg_server.rest_requests] == [
        ["true"],
        ["true"],
    ]
    await stt.aclose()


async def test_recognize_malformed_answer_and_timeout(
    dg_stt: deepgram.STT, dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    dg_server.fail_next("listen", fake.Fault("malformed"))
    dg_server.fail_next("listen", fake.Fault("hang"))
    errors: list[STTError] = []
    dg_stt.on("error", errors.append)
    ev = await dg_stt.recognize(
        clip.frames(),
        conn_options=APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=HANG_TIMEOUT),
    )
    assert ev.alternatives[0].text == " ".join(clip.texts)
    assert [type(e.error).__name__ for e in errors] == ["APIConnectionError", "APITimeoutError"]


async def test_fallback_to_a_second_deepgram_when_the_first_rejects(
    dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    broken = deepgram.STT(api_key="revoked", base_url=dg_server.base_url)
    good = deepgram.STT(api_key=fake.API_KEY, base_url=dg_server.base_url)
    adapter = FallbackAdapter([broken, good])
    events = await run_stt_stream(adapter, clip.frames())  # type: ignore[arg-type]
    assert final_texts(events) == clip.texts
    await adapter.aclose()
    await broken.aclose()
    await good.aclose()


def test_missing_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="DEEPGRAM_API_KEY"):
        deepgram.STT()


def test_key_from_environment_and_bad_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", "from-env")
    stt = deepgram.STT()
    assert stt._client.api_key == "from-env"
    assert stt.model == "nova-3" and stt.provider == "deepgram"
    with pytest.raises(ValueError, match="sample_rate"):
        deepgram.STT(sample_rate=11025)
    with pytest.raises(ValueError, match="utterance_end_ms"):
        deepgram.STT(utterance_end_ms=500)
    with pytest.raises(ValueError, match="base_url"):
        deepgram.STT(base_url="api.deepgram.com")


async def test_errors_do_not_leak_the_key(
    dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    stt = deepgram.STT(api_key="sekrit-123", base_url=dg_server.base_url)
    with pytest.raises(APIStatusError) as info:
        await stt.recognize(clip.frames(), conn_options=APIConnectOptions(max_retry=0))
    assert "sekrit-123" not in repr(info.value) and "sekrit-123" not in str(info.value.body)
    await stt.aclose()


async def test_keyterms_on_older_models_become_boosted_keywords(
    dg_server: fake.FakeDeepgram, clip: speech.SpeechClip
) -> None:
    # `keyterm` exists only on nova-3; older models take `keywords` with an intensifier
    stt = deepgram.STT(
        api_key=fake.API_KEY, base_url=dg_server.base_url, model="nova-2", keyterms=["Voxlane"]
    )
    events = await run_stt_stream(stt, clip.frames())
    assert final_texts(events) == clip.texts
    query = dg_server.connections[0].query
    assert query["model"] == ["nova-2"] and query["keywords"] == ["Voxlane:1.5"]
    assert "keyterm" not in query
    await stt.recognize(clip.frames(), conn_options=FAST)
    rest = dg_server.rest_requests[0].query
    assert rest["keywords"] == ["Voxlane:1.5"] and "keyterm" not in rest
    with pytest.raises(ValueError, match="keyterms"):
        deepgram.STT(api_key=fake.API_KEY, keyterms=["  "])
    await stt.aclose()
