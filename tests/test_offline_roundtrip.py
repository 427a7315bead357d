"""The offline plugins together: piper speaks, whisper hears, silero segments.

Cross-package checks that no single plugin's tests can make on their own: the speech piper
makes is intelligible to whisper (whole texts and sentence-streamed replies), and whisper behind
the silero VAD (stt.StreamAdapter, the way the voice runtime uses it) passes the STT suite.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents import stt as agents_stt
from voxlane.agents._exceptions import APIError
from voxlane.agents.testing.conformance import ErrorInjector, STTConformance
from voxlane.agents.utils.audio import merge_frames
from voxlane.plugins import piper, silero, whisper


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@pytest.fixture(scope="module")
def tts() -> piper.TTS:
    # without noise piper's output is exactly reproducible, so whisper hears the same each run
    model = piper.TTS(noise_scale=0.0, noise_w_scale=0.0)
    model.engine.load()
    return model


@pytest.fixture(scope="module")
def stt() -> whisper.STT:
    model = whisper.STT()
    model.engine.load()
    return model


def _frames(pcm: np.ndarray[Any, np.dtype[np.int16]], rate: int) -> list[rtc.AudioFrame]:
    step = rate // 50
    return [
        rtc.AudioFrame(pcm[i : i + step].tobytes(), rate, 1, pcm[i : i + step].size)
        for i in range(0, pcm.size, step)
    ]


async def test_whisper_hears_what_piper_says(tts: piper.TTS, stt: whisper.STT) -> None:
    frame = await tts.synthesize("Hello world. Please book a table for two.").collect()
    heard = (await stt.recognize(frame)).alternatives[0].text
    assert {"hello", "world", "book", "table", "two"} <= _words(heard), heard


async def test_a_sentence_streamed_reply_is_intelligible(tts: piper.TTS, stt: whisper.STT) -> None:
    stream = tts.stream()
    for token in ["The weather ", "is nice ", "today. ", "Let us go ", "to the park."]:
        stream.push_text(token)
    stream.end_input()
    frames = [ev.frame async for ev in stream]
    await stream.aclose()
    heard = (await stt.recognize(merge_frames(frames))).alternatives[0].text
    assert {"weather", "nice", "today", "park"} <= _words(heard), heard


async def test_silero_and_whisper_transcribe_one_utterance(
    tts: piper.TTS, stt: whisper.STT
) -> None:
    rate = tts.sample_rate
    speech = np.frombuffer(
        (await tts.synthesize("What is the capital of France?").collect()).data, dtype=np.int16
    )
    pad = np.zeros(rate, dtype=np.int16)
    adapter = agents_stt.StreamAdapter(stt=stt, vad=silero.VAD.load())
    async with adapter.stream() as stream:
        for frame in _frames(np.concatenate([pad, speech, pad]), rate):
            stream.push_frame(frame)
        stream.end_input()
        events = [ev async for ev in stream]
    kinds = [e.type for e in events if e.type != agents_stt.SpeechEventType.RECOGNITION_USAGE]
    assert kinds == [
        agents_stt.SpeechEventType.START_OF_SPEECH,
        agents_stt.SpeechEventType.END_OF_SPEECH,
        agents_stt.SpeechEventType.FINAL_TRANSCRIPT,
    ]
    final = next(e for e in events if e.type == agents_stt.SpeechEventType.FINAL_TRANSCRIPT)
    assert {"capital", "france"} <= _words(final.alternatives[0].text)


@pytest.fixture(scope="module")
def spoken_request(tts: piper.TTS) -> list[rtc.AudioFrame]:
    rate = tts.sample_rate
    opts = piper.SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    spoken = tts.engine.synthesize("Please book a table for two.", opts)
    pcm = np.frombuffer(b"".join(spoken), np.int16)
    pad = np.zeros(rate // 2, dtype=np.int16)
    return _frames(np.concatenate([pad, pcm, pad, pad]), rate)


class TestWhisperBehindSileroConformance(STTConformance):
    """The streaming path the voice runtime uses: stt.StreamAdapter(whisper, silero).

    Two checks are about the core adapter's own policy, not about the plugins, and the adapter
    deliberately differs: it forwards the wrapped STT's (non-streamed) recognize metrics, and it
    reports a failed segment and goes on with the next one instead of ending the stream.
    """

    test_stream_usage_metrics = None  # type: ignore[assignment]
    test_stream_gives_up_on_a_non_retryable_error = None  # type: ignore[assignment]

    @pytest.fixture
    def stt(self, stt: whisper.STT) -> agents_stt.STT:
        return agents_stt.StreamAdapter(stt=stt, vad=silero.VAD.load())

    @pytest.fixture
    def speech_audio(self, spoken_request: list[rtc.AudioFrame]) -> list[rtc.AudioFrame]:
        return spoken_request

    @pytest.fixture
    def inject_error(self, stt: Any, monkeypatch: pytest.MonkeyPatch) -> ErrorInjector:
        engine = stt.wrapped_stt.engine

        def inject(error: APIError, times: int) -> None:
            original: Callable[..., Any] = engine.transcribe
            remaining = [times]

            def failing(*args: Any, **kwargs: Any) -> Any:
                if remaining[0] > 0:
                    remaining[0] -= 1
                    raise error
                return original(*args, **kwargs)

            monkeypatch.setattr(engine, "transcribe", failing)

        return inject
