"""The conformance suites fail on broken implementations (so passing them means something)."""

from __future__ import annotations

import asyncio

import pytest

from voxlane.agents import APIError
from voxlane.agents.llm import ChatContext
from voxlane.agents.testing.conformance import (
    FAST_CONN_OPTIONS,
    LLMConformance,
    STTConformance,
    TTSConformance,
    VADConformance,
    default_error_injector,
)
from voxlane.agents.testing.fakes import (
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeVAD,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.testing.fakes.stt import FakeRecognizeStream
from voxlane.agents.testing.fakes.tts import FakeChunkedStream
from voxlane.agents.tts import AudioEmitter
from voxlane.agents.types import APIConnectOptions

pytestmark = pytest.mark.virtual_clock

SPEECH = audio_pattern([(0.6, False), (1.2, True), (0.8, False)])


class _LeakyStream(FakeRecognizeStream):
    async def _run(self) -> None:
        # a background task nobody cancels: exactly what the kit must catch
        self.leak = asyncio.create_task(asyncio.sleep(3600), name="leaky-keepalive")
        await super()._run()


class _LeakySTT(FakeSTT):
    def stream(
        self, *, language: object = None, conn_options: APIConnectOptions = FAST_CONN_OPTIONS
    ) -> FakeRecognizeStream:
        return _LeakyStream(stt=self, conn_options=conn_options, language="en")


async def test_stt_suite_catches_a_leaked_task() -> None:
    suite = STTConformance()
    stt = _LeakySTT([ScriptedTranscript("hi", start=0.6, end=1.0)])
    with pytest.raises(AssertionError, match="leaky-keepalive"):
        await suite.test_stream_aclose_mid_stream_leaves_no_task(stt, SPEECH, FAST_CONN_OPTIONS)
    for task in asyncio.all_tasks():
        if task.get_name() == "leaky-keepalive":
            task.cancel()

    # with the leak excluded by name, the same check passes
    class Tolerant(STTConformance):
        background_task_prefixes = ("leaky-",)

    await Tolerant().test_stream_aclose_mid_stream_leaves_no_task(
        _LeakySTT([]), SPEECH, FAST_CONN_OPTIONS
    )
    for task in asyncio.all_tasks():
        if task.get_name() == "leaky-keepalive":
            task.cancel()


async def test_stt_suite_requires_text_for_speech() -> None:
    suite = STTConformance()
    with pytest.raises(AssertionError, match="no final transcript"):
        await suite.test_stream_lifecycle(FakeSTT([]), SPEECH, FAST_CONN_OPTIONS)
    with pytest.raises(AssertionError, match="no text"):
        await suite.test_recognize_returns_text_and_metrics(
            FakeSTT([], streaming=False), SPEECH, FAST_CONN_OPTIONS
        )


async def test_stt_suite_requires_the_error_events_of_a_retry() -> None:
    suite = STTConformance()
    stt = FakeSTT(["ok"], streaming=False)

    def no_op(error: APIError, times: int) -> None:
        return None  # pretends to inject but does not

    with pytest.raises(AssertionError):
        await suite.test_recognize_retries_a_retryable_error(stt, SPEECH, FAST_CONN_OPTIONS, no_op)


class _WrongRateStream(FakeChunkedStream):
    async def _run(self, output_emitter: AudioEmitter) -> None:
        output_emitter.initialize(
            request_id="bad", sample_rate=8000, num_channels=1, mime_type="audio/pcm"
        )
        output_emitter.push(b"\x01\x00" * 8000)
        output_emitter.flush()


class _WrongRateTTS(FakeTTS):
    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = FAST_CONN_OPTIONS
    ) -> FakeChunkedStream:
        return _WrongRateStream(tts=self, input_text=text, conn_options=conn_options)


async def test_tts_suite_catches_a_wrong_sample_rate() -> None:
    suite = TTSConformance()
    with pytest.raises(AssertionError, match="8000 Hz"):
        await suite.test_synthesize_audio_format_and_metrics(
            _WrongRateTTS(sample_rate=24000), "Hello there.", FAST_CONN_OPTIONS
        )


async def test_tts_suite_catches_implausible_durations() -> None:
    suite = TTSConformance()
    slow = FakeTTS(seconds_per_char=2.0)
    with pytest.raises(AssertionError, match="not plausible"):
        await suite.test_synthesize_audio_format_and_metrics(
            slow, "Hello there.", FAST_CONN_OPTIONS
        )


async def test_llm_suite_requires_text_and_working_retries() -> None:
    suite = LLMConformance()
    ctx = ChatContext.empty()
    ctx.add_message(role="user", content="hi")
    with pytest.raises(AssertionError, match="no text"):
        await suite.test_chat_streams_text_and_reports_metrics(
            FakeLLM(default=""), ctx, FAST_CONN_OPTIONS
        )
    # an injector that makes the model fail for good is caught by the retry test
    llm = FakeLLM(default="hello")
    always = default_error_injector(llm)

    def too_many(error: APIError, times: int) -> None:
        always(error, times + 5)

    with pytest.raises(APIError):
        await suite.test_retries_a_retryable_error(llm, ctx, FAST_CONN_OPTIONS, too_many)


async def test_vad_suite_requires_detection() -> None:
    suite = VADConformance()
    deaf = FakeVAD(threshold=1.0)
    with pytest.raises(AssertionError, match="no speech detected"):
        await suite.test_detects_speech_with_a_consistent_event_sequence(deaf, SPEECH)
    always_on = FakeVAD(segments=[(0.0, 10.0)])
    silence = audio_pattern([(2.0, False)])
    with pytest.raises(AssertionError):
        await suite.test_silence_has_no_speech(always_on, silence)


async def test_default_injector_explains_unsupported_models() -> None:
    inject = default_error_injector(object())
    with pytest.raises(NotImplementedError, match="inject_error"):
        inject(APIError("x"), 1)
