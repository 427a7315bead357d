"""ElevenLabs TTS against the fake server (audio spoken by espeak-ng): multi-context websocket,
alignment -> timed transcripts, REST, faults."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import vx_elevenlabs_fake as fake

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
from voxlane.plugins import elevenlabs

SENTENCES = ["Hello there, friend.", "The weather is nice today."]
VOICE = "voice-abc"


@pytest.fixture
async def el_tts(el_server: fake.FakeElevenLabs) -> AsyncIterator[elevenlabs.TTS]:
    tts = elevenlabs.TTS(
        api_key=fake.API_KEY,
        base_url=el_server.base_url,
        voice=VOICE,
        voice_settings=elevenlabs.VoiceSettings(stability=0.3, speed=1.1),
    )
    yield tts
    await tts.aclose()


async def test_context_per_segment_and_alignment_to_words(
    el_tts: elevenlabs.TTS, el_server: fake.FakeElevenLabs
) -> None:
    events = await stream_sentences(el_tts, SENTENCES)
    segments = by_segment(events)
    assert len(segments) == 2
    for seg, sentence in zip(segments, SENTENCES, strict=True):
        assert [ev.is_final for ev in seg].count(True) == 1 and seg[-1].is_final
        seconds = sum(ev.frame.duration for ev in seg)
        assert seconds == pytest.approx(espeak_seconds(sentence), abs=0.02)
        timed = [t for ev in seg for t in ev.frame.userdata.get(TIMED_TRANSCRIPTS_KEY, [])]
        assert "".join(timed).split() == sentence.split()
        # chunk-relative alignment was turned into times from the segment's start
        starts = [t.start_time for t in timed]
        assert starts == sorted(starts) and starts[0] == 0.0
        assert timed[-1].end_time == pytest.approx(seconds, abs=0.05)
    conn = el_server.connections[0]
    assert conn.path == f"/v1/text-to-speech/{VOICE}/multi-stream-input"
    assert conn.query["model_id"] == "eleven_flash_v2_5"
    assert conn.query["output_format"] == "pcm_24000"
    assert conn.headers["xi-api-key"] == fake.API_KEY
    msgs = conn.messages
    first = msgs[0]
    assert first["text"] == " " and first["voice_settings"]["stability"] == 0.3
    assert first["voice_settings"]["speed"] == 1.1
    contexts = list(dict.fromkeys(m["context_id"] for m in msgs))
    assert len(contexts) == 2
    for ctx, sentence in zip(contexts, SENTENCES, strict=True):
        mine = [m for m in msgs if m.get("context_id") == ctx]
        assert "".join(m.get("text", "") for m in mine).strip() == sentence
        assert mine[-2] == {"text": "", "context_id": ctx, "flush": True}
        assert mine[-1] == {"context_id": ctx, "close_context": True}


async def test_socket_reused_and_rate_resampled(el_server: fake.FakeElevenLabs) -> None:
    tts = elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url, sample_rate=32000)
    first = await stream_sentences(tts, SENTENCES[:1])
    await stream_sentences(tts, SENTENCES[1:])
    assert len(el_server.connections) == 1 and tts.pool.connections_opened == 1
    assert el_server.connections[0].query["output_format"] == "pcm_44100"
    assert {ev.frame.sample_rate for ev in first} == {32000}
    assert sum(ev.frame.duration for ev in first) == pytest.approx(
        espeak_seconds(SENTENCES[0]), abs=0.03
    )
    await tts.aclose()


async def test_faults(
    el_tts: elevenlabs.TTS, el_server: fake.FakeElevenLabs, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[TTSError] = []
    el_tts.on("error", errors.append)
    # refused handshake: retried
    el_server.fail_next("tts", fake.Fault("status", status=503))
    assert len(by_segment(await stream_sentences(el_tts, SENTENCES))) == 2
    assert [e.recoverable for e in errors] == [True]
    # silence from the server: timeout, retried on a new socket
    errors.clear()
    el_server.fail_next("tts", fake.Fault("hang"))
    fresh = elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url)
    fresh.on("error", errors.append)
    opts = APIConnectOptions(max_retry=1, retry_interval=0.01, timeout=HANG_TIMEOUT)
    assert len(by_segment(await stream_sentences(fresh, SENTENCES[:1], opts))) == 1
    assert [type(e.error).__name__ for e in errors] == ["APITimeoutError"]
    await fresh.aclose()
    # an error message (quota) fails the stream with its code
    el_server.fail_next("tts", fake.Fault("error"))
    fresh = elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url)
    with pytest.raises(APIStatusError) as info:
        await stream_sentences(fresh, SENTENCES[:1], APIConnectOptions(max_retry=0))
    assert info.value.status_code == 429 and "injected failure" in info.value.message
    await fresh.aclose()
    # malformed frames are skipped
    el_server.fail_next("tts", fake.Fault("malformed"))
    fresh = elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url)
    with caplog.at_level(logging.WARNING, logger="voxlane.plugins.elevenlabs"):
        assert len(by_segment(await stream_sentences(fresh, SENTENCES[:1]))) == 1
    assert any("malformed" in r.message for r in caplog.records)
    await fresh.aclose()


async def test_drop_mid_audio_is_not_retried_and_nothing_is_duplicated(
    el_server: fake.FakeElevenLabs,
) -> None:
    tts = elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url)
    el_server.fail_next("tts", fake.Fault("drop", chunks=4))
    got: list[SynthesizedAudio] = []
    with pytest.raises(APIConnectionError):
        async with tts.stream(conn_options=FAST) as stream:
            stream.push_text(SENTENCES[1])
            stream.end_input()
            async for ev in stream:
                got.append(ev)
    assert sum(ev.frame.duration for ev in got) == pytest.approx(0.4, abs=0.01)
    await stream_sentences(tts, SENTENCES[:1])
    assert len(el_server.connections) == 2
    await tts.aclose()


async def test_synthesize_over_rest(el_tts: elevenlabs.TTS, el_server: fake.FakeElevenLabs) -> None:
    frame = await el_tts.synthesize(SENTENCES[1], conn_options=FAST).collect()
    assert frame.duration == pytest.approx(espeak_seconds(SENTENCES[1]), abs=0.02)
    req = el_server.rest_requests[0]
    assert req.path == f"/v1/text-to-speech/{VOICE}/stream"
    assert req.query["output_format"] == "pcm_24000"
    assert req.messages[0]["model_id"] == "eleven_flash_v2_5"
    assert req.messages[0]["voice_settings"]["similarity_boost"] == 0.75
    bad = elevenlabs.TTS(api_key="nope", base_url=el_server.base_url)
    with pytest.raises(APIStatusError) as info:
        await bad.synthesize("hi", conn_options=FAST).collect()
    assert info.value.status_code == 401 and "Invalid API key" in info.value.message
    await bad.aclose()


def test_keys_and_options(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="ELEVEN_API_KEY"):
        elevenlabs.TTS()
    monkeypatch.setenv("ELEVENLABS_API_KEY", "second-name")
    assert elevenlabs.TTS()._client.api_key == "second-name"
    monkeypatch.setenv("ELEVEN_API_KEY", "first-name")
    assert elevenlabs.STT()._client.api_key == "first-name"
    with pytest.raises(ValueError, match="stability"):
        elevenlabs.VoiceSettings(stability=2.0)
    with pytest.raises(ValueError, match="speed"):
        elevenlabs.VoiceSettings(speed=3.0)


async def test_text_slower_than_the_timeout_is_not_a_stall(
    el_tts: elevenlabs.TTS, el_server: fake.FakeElevenLabs
) -> None:
    await speech.check_slow_text_is_not_a_stall(el_tts)
    assert len(el_server.connections) == 1


async def test_fallback_to_a_second_voice_when_the_first_rejects(
    el_server: fake.FakeElevenLabs,
) -> None:
    await speech.check_fallback_speaks_every_segment(
        elevenlabs.TTS(api_key="revoked-key", base_url=el_server.base_url),
        elevenlabs.TTS(api_key=fake.API_KEY, base_url=el_server.base_url),
        SENTENCES,
    )
