"""Deepgram TTS against the fake server (audio spoken by espeak-ng): websocket and REST, faults."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import vx_deepgram_fake as fake

from voxlane.agents._exceptions import APIConnectionError, APIStatusError
from voxlane.agents.testing import speech
from voxlane.agents.testing.speech import FAST_RETRY as FAST
from voxlane.agents.testing.speech import (
    HANG_TIMEOUT,
    by_segment,
    espeak_seconds,
    stream_sentences,
)
from voxlane.agents.tts import SynthesizedAudio, TTSError
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import deepgram

SENTENCES = ["Hello there, friend.", "The weather is nice today."]


@pytest.fixture
async def dg_tts(dg_server: fake.FakeDeepgram) -> AsyncIterator[deepgram.TTS]:
    tts = deepgram.TTS(api_key=fake.API_KEY, base_url=dg_server.base_url)
    yield tts
    await tts.aclose()


async def test_stream_one_flush_per_segment(
    dg_tts: deepgram.TTS, dg_server: fake.FakeDeepgram
) -> None:
    events = await stream_sentences(dg_tts, SENTENCES)
    segments = by_segment(events)
    assert len(segments) == 2
    for seg, sentence in zip(segments, SENTENCES, strict=True):
        assert [ev.is_final for ev in seg].count(True) == 1 and seg[-1].is_final
        seconds = sum(ev.frame.duration for ev in seg)
        assert seconds == pytest.approx(espeak_seconds(sentence + " "), abs=0.02)
        assert all(ev.frame.sample_rate == 24000 for ev in seg)
    conn = dg_server.connections[0]
    assert conn.query["model"] == ["aura-2-andromeda-en"]
    assert conn.query["encoding"] == ["linear16"] and conn.query["sample_rate"] == ["24000"]
    assert [t["type"] for t in conn.texts].count("Flush") == 2
    spoken = "".join(t["text"] for t in conn.texts if t["type"] == "Speak")
    assert spoken == "".join(w + " " for s in SENTENCES for w in s.split(" "))


async def test_socket_is_reused_by_the_next_stream(
    dg_tts: deepgram.TTS, dg_server: fake.FakeDeepgram
) -> None:
    await stream_sentences(dg_tts, SENTENCES[:1])
    await stream_sentences(dg_tts, SENTENCES[1:])
    assert len(dg_server.connections) == 1
    assert dg_tts.pool.connections_opened == 1


async def test_unsupported_rate_is_resampled(dg_server: fake.FakeDeepgram) -> None:
    tts = deepgram.TTS(api_key=fake.API_KEY, base_url=dg_server.base_url, sample_rate=22050)
    events = await stream_sentences(tts, SENTENCES[:1])
    assert dg_server.connections[0].query["sample_rate"] == ["24000"]
    assert {ev.frame.sample_rate for ev in events} == {22050}
    seconds = sum(ev.frame.duration for ev in events)
    assert seconds == pytest.approx(espeak_seconds(SENTENCES[0] + " "), abs=0.03)
    frame = await tts.synthesize(SENTENCES[0]).collect()
    assert frame.sample_rate == 22050
    assert frame.duration == pytest.approx(espeak_seconds(SENTENCES[0]), abs=0.03)
    await tts.aclose()


@pytest.mark.parametrize("status", [429, 503])
async def test_stream_retries_a_refused_connection(
    dg_tts: deepgram.TTS, dg_server: fake.FakeDeepgram, status: int
) -> None:
    dg_server.fail_next("speak", fake.Fault("status", status=status))
    errors: list[TTSError] = []
    dg_tts.on("error", errors.append)
    events = await stream_sentences(dg_tts, SENTENCES)
    assert [e.recoverable for e in errors] == [True]
    assert len(by_segment(events)) == 2


async def test_drop_mid_audio_is_not_retried_and_nothing_is_duplicated(
    dg_tts: deepgram.TTS, dg_server: fake.FakeDeepgram
) -> None:
    dg_server.fail_next("speak", fake.Fault("drop", chunks=3))
    errors: list[TTSError] = []
    dg_tts.on("error", errors.append)
    got: list[SynthesizedAudio] = []
    with pytest.raises(APIConnectionError):
        async with dg_tts.stream(conn_options=FAST) as stream:
            stream.push_text(SENTENCES[0])
            stream.end_input()
            async for ev in stream:
                got.append(ev)
    # the 3 chunks (0.3 s) that arrived were delivered once; no retry replayed them
    assert sum(ev.frame.duration for ev in got) == pytest.approx(0.3, abs=0.01)
    assert [e.recoverable for e in errors] == [False]
    assert len(dg_server.connections) == 1
    # the broken socket was not put back: the next stream opens a fresh one
    await stream_sentences(dg_tts, SENTENCES[:1])
    assert len(dg_server.connections) == 2


async def test_stream_timeout_is_retried(
    dg_tts: deepgram.TTS, dg_server: fake.FakeDeepgram
) -> None:
    dg_server.fail_next("speak", fake.Fault("hang"))
    errors: list[TTSError] = []
    dg_tts.on("error", errors.append)
    opts = APIConnectOptions(max_retry=1, retry_interval=0.01, timeout=HANG_TIMEOUT)
    events = await stream_sentences(dg_tts, SENTENCES[:1], conn_options=opts)
    assert [type(e.error).__name__ for e in errors] == ["APITimeoutError"]
    assert len(by_segment(events)) == 1


async def test_malformed_message_is_skipped(
    dg_tts: deepgram.TTS, dg_server: fake.FakeDeepgram, caplog: pytest.LogCaptureFixture
) -> None:
    dg_server.fail_next("speak", fake.Fault("malformed"))
    with caplog.at_level(logging.WARNING, logger="voxlane.plugins.deepgram"):
        events = await stream_sentences(dg_tts, SENTENCES[:1])
    assert len(by_segment(events)) == 1
    assert any("malformed" in r.message for r in caplog.records)


async def test_synthesize_over_rest(dg_tts: deepgram.TTS, dg_server: fake.FakeDeepgram) -> None:
    frame = await dg_tts.synthesize(SENTENCES[1], conn_options=FAST).collect()
    assert frame.sample_rate == 24000
    assert frame.duration == pytest.approx(espeak_seconds(SENTENCES[1]), abs=0.02)
    req = dg_server.rest_requests[0]
    assert req.query["container"] == ["none"] and req.query["encoding"] == ["linear16"]


async def test_synthesize_errors(dg_tts: deepgram.TTS, dg_server: fake.FakeDeepgram) -> None:
    dg_server.fail_next("speak", fake.Fault("status", status=500))
    dg_server.fail_next("speak", fake.Fault("hang"))
    errors: list[TTSError] = []
    dg_tts.on("error", errors.append)
    opts = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=HANG_TIMEOUT)
    frame = await dg_tts.synthesize(SENTENCES[0], conn_options=opts).collect()
    assert frame.duration > 0.5
    assert [type(e.error).__name__ for e in errors] == ["APIStatusError", "APITimeoutError"]
    bad = deepgram.TTS(api_key="nope", base_url=dg_server.base_url)
    with pytest.raises(APIStatusError) as info:
        await bad.synthesize("hi", conn_options=opts).collect()
    assert info.value.status_code == 401 and "Invalid credentials" in info.value.message
    await bad.aclose()


def test_tts_options() -> None:
    with pytest.raises(ValueError, match="DEEPGRAM_API_KEY"):
        deepgram.TTS()
    assert deepgram.tts.provider_rate_for(16000) == 16000
    assert deepgram.tts.provider_rate_for(44100) == 48000
    assert deepgram.tts.provider_rate_for(96000) == 48000


async def test_text_slower_than_the_timeout_is_not_a_stall(
    dg_tts: deepgram.TTS, dg_server: fake.FakeDeepgram
) -> None:
    await speech.check_slow_text_is_not_a_stall(dg_tts)
    assert len(dg_server.connections) == 1


async def test_fallback_to_a_second_voice_when_the_first_rejects(
    dg_server: fake.FakeDeepgram,
) -> None:
    await speech.check_fallback_speaks_every_segment(
        deepgram.TTS(api_key="revoked-key", base_url=dg_server.base_url),
        deepgram.TTS(api_key=fake.API_KEY, base_url=dg_server.base_url),
        SENTENCES,
    )
