"""ElevenLabs Scribe STT (REST) against the fake server with real espeak speech and faults."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import vx_elevenlabs_fake as fake

from voxlane.agents._exceptions import APIStatusError
from voxlane.agents.stt import SpeechEventType, StreamAdapter, STTError
from voxlane.agents.testing import FakeVAD, speech
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins import elevenlabs

FAST = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=5.0)
# a hung server costs this once; healthy answers must come within it on a loaded machine
HANG_TIMEOUT = 1.5


@pytest.fixture
async def el_stt(el_server: fake.FakeElevenLabs) -> AsyncIterator[elevenlabs.STT]:
    stt = elevenlabs.STT(api_key=fake.API_KEY, base_url=el_server.base_url)
    yield stt
    await stt.aclose()


async def test_recognize_returns_text_and_word_times(
    el_stt: elevenlabs.STT, el_server: fake.FakeElevenLabs, clip: speech.SpeechClip
) -> None:
    ev = await el_stt.recognize(clip.frames(), conn_options=FAST)
    alt = ev.alternatives[0]
    assert ev.type == SpeechEventType.FINAL_TRANSCRIPT and ev.request_id == ""
    assert alt.text == " ".join(clip.texts)
    assert [str(w) for w in alt.words or []] == " ".join(clip.texts).split()
    assert alt.start_time == pytest.approx(clip.spans[0][0], abs=0.1)
    assert alt.end_time == pytest.approx(clip.spans[1][1], abs=0.1)
    form = el_server.rest_requests[0].messages[0]
    assert form["model_id"] == "scribe_v1" and "language_code" not in form
    assert el_server.rest_requests[0].headers["xi-api-key"] == fake.API_KEY


async def test_language_and_retries(
    el_stt: elevenlabs.STT, el_server: fake.FakeElevenLabs, clip: speech.SpeechClip
) -> None:
    el_server.fail_next("stt", fake.Fault("status", status=429))
    el_server.fail_next("stt", fake.Fault("malformed"))
    el_server.fail_next("stt", fake.Fault("hang"))
    errors: list[STTError] = []
    el_stt.on("error", errors.append)
    opts = APIConnectOptions(max_retry=3, retry_interval=0.01, timeout=HANG_TIMEOUT)
    ev = await el_stt.recognize(clip.frames(), language="en", conn_options=opts)
    assert ev.alternatives[0].text == " ".join(clip.texts)
    assert ev.alternatives[0].language == "en"
    assert [type(e.error).__name__ for e in errors] == [
        "APIStatusError",
        "APIConnectionError",
        "APITimeoutError",
    ]
    assert el_server.rest_requests[-1].messages[0]["language_code"] == "en"


async def test_bad_key_is_not_retried(
    el_server: fake.FakeElevenLabs, clip: speech.SpeechClip
) -> None:
    stt = elevenlabs.STT(api_key="nope", base_url=el_server.base_url)
    with pytest.raises(APIStatusError) as info:
        await stt.recognize(clip.frames(), conn_options=FAST)
    assert info.value.status_code == 401 and "Invalid API key" in info.value.message
    assert len(el_server.rest_requests) == 1
    await stt.aclose()


async def test_streaming_through_a_vad_adapter(
    el_stt: elevenlabs.STT, el_server: fake.FakeElevenLabs, clip: speech.SpeechClip
) -> None:
    with pytest.raises(NotImplementedError, match="StreamAdapter"):
        el_stt.stream()
    adapter = StreamAdapter(stt=el_stt, vad=FakeVAD())
    stream = adapter.stream(conn_options=FAST)
    for frame in clip.frames():
        stream.push_frame(frame)
    stream.end_input()
    finals = [
        ev.alternatives[0].text
        async for ev in stream
        if ev.type == SpeechEventType.FINAL_TRANSCRIPT
    ]
    # one request per utterance found by the VAD; the fake answers script[0] for each buffer
    assert len(finals) == 2 and len(el_server.rest_requests) == 2
    assert all(f == clip.texts[0] for f in finals)
    await stream.aclose()
