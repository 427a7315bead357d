"""The LLM, STT and TTS base classes apply the one retry policy of voxlane.agents.utils.retry.

Each base class gives up with its own failure phrase, and none retries once output went out,
even when it already retried before.
"""

from __future__ import annotations

from typing import Any

import pytest
from livekit import rtc

from voxlane.agents._exceptions import APIConnectionError
from voxlane.agents.llm import ChatContext
from voxlane.agents.testing import FakeLLM, FakeSTT, FakeTTS
from voxlane.agents.types import APIConnectOptions

pytestmark = pytest.mark.virtual_clock

ONE_RETRY = APIConnectOptions(max_retry=1, retry_interval=0.5)


def recorder(emitter: Any) -> list[Any]:
    events: list[Any] = []
    emitter.on("error", events.append)
    return events


def chat() -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="user", content="hi")
    return ctx


def silence(seconds: float) -> rtc.AudioFrame:
    samples = int(16000 * seconds)
    return rtc.AudioFrame(
        data=b"\0\0" * samples, sample_rate=16000, num_channels=1, samples_per_channel=samples
    )


async def test_llm_gives_up_with_its_failure_phrase() -> None:
    llm = FakeLLM(default="hello there")
    llm.fail_next(APIConnectionError("down"), times=5)
    errors = recorder(llm)
    with pytest.raises(APIConnectionError) as ei:
        await llm.chat(chat_ctx=chat(), conn_options=ONE_RETRY).collect()
    assert ei.value.message == (
        f"{llm.label}: failed to generate a completion after 2 attempts, last error: down"
    )
    assert [e.recoverable for e in errors] == [True, False]


async def test_llm_does_not_retry_output_after_a_retry() -> None:
    llm = FakeLLM(default="one two three")
    llm.fail_next(APIConnectionError("before output"))
    llm.fail_next(APIConnectionError("mid-reply"), after=1)
    errors = recorder(llm)
    with pytest.raises(APIConnectionError, match=r"^mid-reply"):
        await llm.chat(chat_ctx=chat(), conn_options=APIConnectOptions(max_retry=3)).collect()
    assert llm.faults.attempts == 2
    assert [e.recoverable for e in errors] == [True, False]


async def test_stt_recognize_gives_up_with_its_failure_phrase() -> None:
    stt = FakeSTT(["hello"], streaming=False)
    stt.fail_next(APIConnectionError("down"), times=5)
    errors = recorder(stt)
    with pytest.raises(APIConnectionError) as ei:
        await stt.recognize(silence(0.1), conn_options=ONE_RETRY)
    assert ei.value.message == (
        f"{stt.label}: failed to recognize speech after 2 attempts, last error: down"
    )
    assert [e.recoverable for e in errors] == [True, False]


async def test_stt_stream_gives_up_with_its_failure_phrase() -> None:
    stt = FakeSTT(["hello"])
    stt.fail_next(APIConnectionError("down"), times=5)
    errors = recorder(stt)
    stream = stt.stream(conn_options=ONE_RETRY)
    stream.push_frame(silence(0.1))
    stream.end_input()
    with pytest.raises(APIConnectionError) as ei:
        async for _ in stream:
            pass
    assert ei.value.message == (
        f"{stt.label}: recognition stream failed after 2 attempts, last error: down"
    )
    assert [e.recoverable for e in errors] == [True, False]
    await stream.aclose()


async def test_tts_gives_up_with_its_failure_phrase() -> None:
    tts = FakeTTS()
    tts.fail_next(APIConnectionError("down"), times=5)
    errors = recorder(tts)
    with pytest.raises(APIConnectionError) as ei:
        await tts.synthesize("hello", conn_options=ONE_RETRY).collect()
    assert ei.value.message == (
        f"{tts.label}: failed to synthesize speech after 2 attempts, last error: down"
    )
    assert [e.recoverable for e in errors] == [True, False]


async def test_tts_does_not_retry_audio_after_a_retry() -> None:
    tts = FakeTTS()
    tts.fail_next(APIConnectionError("before audio"))
    tts.fail_next(APIConnectionError("mid-audio"), after=0.1)
    errors = recorder(tts)
    frames: list[rtc.AudioFrame] = []
    # even with the retry budget spent, the error of the attempt that sent audio is raised
    with pytest.raises(APIConnectionError, match=r"^mid-audio"):
        async for ev in tts.synthesize("some words to say", conn_options=ONE_RETRY):
            frames.append(ev.frame)
    assert frames, "the audio sent before the failure is delivered"
    assert tts.faults.attempts == 2
    assert [e.recoverable for e in errors] == [True, False]


async def test_tts_stream_does_not_retry_audio_after_a_retry() -> None:
    tts = FakeTTS()
    tts.fail_next(APIConnectionError("before audio"))
    tts.fail_next(APIConnectionError("mid-audio"), after=0.1)
    errors = recorder(tts)
    stream = tts.stream(conn_options=ONE_RETRY)
    stream.push_text("some words to say")
    stream.end_input()
    with pytest.raises(APIConnectionError, match=r"^mid-audio"):
        async for _ in stream:
            pass
    assert tts.faults.attempts == 2
    assert [e.recoverable for e in errors] == [True, False]
    await stream.aclose()
