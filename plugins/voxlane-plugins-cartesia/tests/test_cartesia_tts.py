"""Cartesia TTS against the fake server (audio spoken by espeak-ng): contexts, REST, faults."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import vx_cartesia_fake as fake

from voxlane.agents._exceptions import APIConnectionError, APIStatusError
from voxlane.agents.testing import speech
from voxlane.agents.testing.speech import FAST_RETRY as FAST
from voxlane.agents.testing.speech import (
    HANG_TIMEOUT,
    by_segment,
    espeak_seconds,
    stream_sentences,
)
from voxlane.agents.tts import TIMED_TRANSCRIPTS_KEY, SynthesizedAudio, TTSError
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import cartesia

SENTENCES = ["Hello there, friend.", "The weather is nice today."]
VOICE = "voice-1234"


@pytest.fixture
async def ct_tts(ct_server: fake.FakeCartesia) -> AsyncIterator[cartesia.TTS]:
    tts = cartesia.TTS(api_key=fake.API_KEY, base_url=ct_server.base_url, voice=VOICE)
    yield tts
    await tts.aclose()


async def test_one_context_per_segment_with_word_timings(
    ct_tts: cartesia.TTS, ct_server: fake.FakeCartesia
) -> None:
    events = await stream_sentences(ct_tts, SENTENCES)
    segments = by_segment(events)
    assert len(segments) == 2
    for seg, sentence in zip(segments, SENTENCES, strict=True):
        assert [ev.is_final for ev in seg].count(True) == 1 and seg[-1].is_final
        seconds = sum(ev.frame.duration for ev in seg)
        assert seconds == pytest.approx(espeak_seconds(sentence + " "), abs=0.02)
        timed = [t for ev in seg for t in ev.frame.userdata.get(TIMED_TRANSCRIPTS_KEY, [])]
        assert "".join(timed).split() == sentence.split()
        assert timed[0].start_time == 0.0
        assert timed[-1].end_time == pytest.approx(seconds, abs=0.02)
    msgs = ct_server.connections[0].messages
    contexts = list(dict.fromkeys(m["context_id"] for m in msgs))
    assert (
        len(contexts) == 2 and [s.segment_id for s in (segments[0][0], segments[1][0])] == contexts
    )
    for ctx, sentence in zip(contexts, SENTENCES, strict=True):
        mine = [m for m in msgs if m["context_id"] == ctx]
        assert [m["continue"] for m in mine] == [True] * (len(mine) - 1) + [False]
        assert "".join(m["transcript"] for m in mine) == "".join(w + " " for w in sentence.split())
        assert mine[0]["voice"] == {"mode": "id", "id": VOICE} and mine[0]["model_id"] == "sonic-2"
        assert mine[0]["output_format"] == {
            "container": "raw",
            "encoding": "pcm_s16le",
            "sample_rate": 24000,
        }
    assert ct_server.connections[0].headers["X-API-Key"] == fake.API_KEY


async def test_socket_reused_and_rate_resampled(ct_server: fake.FakeCartesia) -> None:
    tts = cartesia.TTS(api_key=fake.API_KEY, base_url=ct_server.base_url, sample_rate=32000)
    first = await stream_sentences(tts, SENTENCES[:1])
    await stream_sentences(tts, SENTENCES[1:])
    assert len(ct_server.connections) == 1 and tts.pool.connections_opened == 1
    assert ct_server.connections[0].messages[0]["output_format"]["sample_rate"] == 44100
    assert {ev.frame.sample_rate for ev in first} == {32000}
    seconds = sum(ev.frame.duration for ev in first)
    assert seconds == pytest.approx(espeak_seconds(SENTENCES[0] + " "), abs=0.03)
    await tts.aclose()


async def test_refused_connection_is_retried(
    ct_tts: cartesia.TTS, ct_server: fake.FakeCartesia
) -> None:
    ct_server.fail_next("tts", fake.Fault("status", status=429))
    errors: list[TTSError] = []
    ct_tts.on("error", errors.append)
    events = await stream_sentences(ct_tts, SENTENCES)
    assert [e.recoverable for e in errors] == [True]
    assert len(by_segment(events)) == 2


async def test_error_message_for_a_context_fails_the_stream(
    ct_tts: cartesia.TTS, ct_server: fake.FakeCartesia
) -> None:
    ct_server.fail_next("tts", fake.Fault("error", status=400))
    with pytest.raises(APIStatusError) as info:
        await stream_sentences(ct_tts, SENTENCES[:1])
    assert info.value.status_code == 400 and not info.value.retryable


async def test_drop_mid_audio_is_not_retried_and_nothing_is_duplicated(
    ct_tts: cartesia.TTS, ct_server: fake.FakeCartesia
) -> None:
    ct_server.fail_next("tts", fake.Fault("drop", chunks=2))
    got: list[SynthesizedAudio] = []
    with pytest.raises(APIConnectionError):
        async with ct_tts.stream(conn_options=FAST) as stream:
            stream.push_text(SENTENCES[0])
            stream.end_input()
            async for ev in stream:
                got.append(ev)
    assert sum(ev.frame.duration for ev in got) == pytest.approx(0.2, abs=0.01)
    await stream_sentences(ct_tts, SENTENCES[:1])
    assert len(ct_server.connections) == 2  # the broken socket was not reused


async def test_timeout_and_malformed_frames(
    ct_tts: cartesia.TTS, ct_server: fake.FakeCartesia, caplog: pytest.LogCaptureFixture
) -> None:
    ct_server.fail_next("tts", fake.Fault("hang"))
    errors: list[TTSError] = []
    ct_tts.on("error", errors.append)
    opts = APIConnectOptions(max_retry=1, retry_interval=0.01, timeout=HANG_TIMEOUT)
    events = await stream_sentences(ct_tts, SENTENCES[:1], conn_options=opts)
    assert [type(e.error).__name__ for e in errors] == ["APITimeoutError"]
    assert len(by_segment(events)) == 1
    ct_server.fail_next("tts", fake.Fault("malformed"))
    tts2 = cartesia.TTS(api_key=fake.API_KEY, base_url=ct_server.base_url)
    with caplog.at_level(logging.WARNING, logger="voxlane.plugins.cartesia"):
        events = await stream_sentences(tts2, SENTENCES[:1])
    assert len(by_segment(events)) == 1
    assert any("malformed" in r.message for r in caplog.records)
    assert any("base64" in r.message for r in caplog.records)
    await tts2.aclose()


async def test_synthesize_over_rest(ct_tts: cartesia.TTS, ct_server: fake.FakeCartesia) -> None:
    frame = await ct_tts.synthesize(SENTENCES[1], conn_options=FAST).collect()
    assert frame.duration == pytest.approx(espeak_seconds(SENTENCES[1]), abs=0.02)
    body = ct_server.rest_requests[0].messages[0]
    assert body["transcript"] == SENTENCES[1] and body["voice"]["id"] == VOICE
    bad = cartesia.TTS(api_key="nope", base_url=ct_server.base_url)
    with pytest.raises(APIStatusError) as info:
        await bad.synthesize("hi", conn_options=FAST).collect()
    assert info.value.status_code == 401 and "Invalid API key" in info.value.message
    await bad.aclose()


def test_options_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="CARTESIA_API_KEY"):
        cartesia.TTS()
    monkeypatch.setenv("CARTESIA_API_KEY", "env-key")
    assert cartesia.TTS()._client.api_key == "env-key"
    with pytest.raises(ValueError, match="speed"):
        cartesia.TTS(speed=9.0)
    assert cartesia.tts.provider_rate_for(22050) == 22050
    assert cartesia.tts.provider_rate_for(32000) == 44100


async def test_text_slower_than_the_timeout_is_not_a_stall(
    ct_tts: cartesia.TTS, ct_server: fake.FakeCartesia
) -> None:
    await speech.check_slow_text_is_not_a_stall(ct_tts)
    assert len(ct_server.connections) == 1


async def test_fallback_to_a_second_voice_when_the_first_rejects(
    ct_server: fake.FakeCartesia,
) -> None:
    await speech.check_fallback_speaks_every_segment(
        cartesia.TTS(api_key="revoked-key", base_url=ct_server.base_url),
        cartesia.TTS(api_key=fake.API_KEY, base_url=ct_server.base_url),
        SENTENCES,
    )
