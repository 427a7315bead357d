"""STT.recognize(): retries, errors, metrics and argument checks of the base class."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents import (
    APIConnectionError,
    APIConnectOptions,
    APIError,
    APIStatusError,
    APITimeoutError,
    NotGivenOr,
)
from voxlane.agents.metrics import STTMetrics
from voxlane.agents.stt import (
    STT,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTError,
)
from voxlane.agents.tts import TimedString
from voxlane.agents.types import NOT_GIVEN, is_given
from voxlane.agents.utils.audio import AudioBuffer, merge_frames

FAST = APIConnectOptions(max_retry=3, retry_interval=0.0, timeout=5.0)


def sine_frame(duration: float, sample_rate: int = 16000, freq: float = 440.0) -> rtc.AudioFrame:
    n = int(duration * sample_rate)
    t = np.arange(n) / sample_rate
    pcm = (np.sin(2 * np.pi * freq * t) * 12000).astype(np.int16)
    return rtc.AudioFrame(
        data=pcm.tobytes(), sample_rate=sample_rate, num_channels=1, samples_per_channel=n
    )


class ScriptedSTT(STT):
    """Fails with the scripted errors first, then transcribes the number of samples."""

    def __init__(self, failures: list[Exception] | None = None) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=False, interim_results=False))
        self.failures = list(failures or [])
        self.calls = 0
        self.languages: list[NotGivenOr[str]] = []

    @property
    def model(self) -> str:
        return "scripted-1"

    @property
    def provider(self) -> str:
        return "tests"

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> SpeechEvent:
        self.calls += 1
        self.languages.append(language)
        if self.failures:
            raise self.failures.pop(0)
        frame = merge_frames(buffer)
        return SpeechEvent(
            type=SpeechEventType.FINAL_TRANSCRIPT,
            request_id=f"req{self.calls}",
            alternatives=[
                SpeechData(
                    language=language if is_given(language) else "en",
                    text=f"{frame.samples_per_channel} samples",
                )
            ],
        )


def collect(stt: STT) -> tuple[list[STTError], list[STTMetrics]]:
    errors: list[STTError] = []
    metrics: list[STTMetrics] = []
    stt.on("error", errors.append)
    stt.on("metrics_collected", metrics.append)
    return errors, metrics


async def test_recognize_success_emits_metrics() -> None:
    stt = ScriptedSTT()
    errors, metrics = collect(stt)
    ev = await stt.recognize([sine_frame(0.5), sine_frame(0.25)], language="fr", conn_options=FAST)
    assert ev.type == SpeechEventType.FINAL_TRANSCRIPT
    assert ev.alternatives[0].text == "12000 samples"
    assert ev.alternatives[0].language == "fr"
    assert errors == []
    assert len(metrics) == 1
    m = metrics[0]
    assert m.streamed is False
    assert m.request_id == "req1"
    assert m.audio_duration == pytest.approx(0.75)
    assert m.duration >= 0
    assert m.metadata is not None
    assert (m.metadata.model_name, m.metadata.model_provider) == ("scripted-1", "tests")
    assert m.label.endswith("ScriptedSTT")


async def test_recognize_retries_then_succeeds() -> None:
    stt = ScriptedSTT([APIConnectionError("down"), APIStatusError("busy", status_code=503)])
    errors, metrics = collect(stt)
    ev = await stt.recognize(sine_frame(0.1), conn_options=FAST)
    assert ev.alternatives[0].text == "1600 samples"
    assert stt.calls == 3
    assert [e.recoverable for e in errors] == [True, True]
    assert all(e.type == "stt_error" for e in errors)
    assert len(metrics) == 1


async def test_recognize_retry_exhausted() -> None:
    stt = ScriptedSTT([APIConnectionError(f"down {i}") for i in range(10)])
    errors, metrics = collect(stt)
    opts = APIConnectOptions(max_retry=2, retry_interval=0.0)
    with pytest.raises(APIConnectionError, match="after 3 attempts") as info:
        await stt.recognize(sine_frame(0.1), conn_options=opts)
    assert isinstance(info.value.__cause__, APIConnectionError)
    assert stt.calls == 3
    assert [e.recoverable for e in errors] == [True, True, False]
    assert metrics == []


async def test_recognize_non_retryable_status_is_not_retried() -> None:
    stt = ScriptedSTT([APIStatusError("bad key", status_code=401)])
    errors, _ = collect(stt)
    with pytest.raises(APIStatusError) as info:
        await stt.recognize(sine_frame(0.1), conn_options=FAST)
    assert info.value.status_code == 401
    assert stt.calls == 1
    assert [e.recoverable for e in errors] == [False]
    assert isinstance(errors[0].error, APIStatusError)
    assert "error" not in errors[0].model_dump()


async def test_recognize_rate_limit_is_retried() -> None:
    stt = ScriptedSTT([APIStatusError("slow down", status_code=429)])
    await stt.recognize(sine_frame(0.1), conn_options=FAST)
    assert stt.calls == 2


async def test_recognize_without_retries_raises_original_error() -> None:
    stt = ScriptedSTT([APIConnectionError("down")])
    errors, _ = collect(stt)
    with pytest.raises(APIConnectionError, match="down"):
        await stt.recognize(sine_frame(0.1), conn_options=APIConnectOptions(max_retry=0))
    assert stt.calls == 1
    assert [e.recoverable for e in errors] == [False]


async def test_recognize_unexpected_exception_is_not_retried() -> None:
    stt = ScriptedSTT([ZeroDivisionError("bug")])
    errors, _ = collect(stt)
    with pytest.raises(ZeroDivisionError):
        await stt.recognize(sine_frame(0.1), conn_options=FAST)
    assert stt.calls == 1
    assert [e.recoverable for e in errors] == [False]


async def test_recognize_rejects_bad_buffers() -> None:
    stt = ScriptedSTT()
    with pytest.raises(ValueError, match="empty list"):
        await stt.recognize([])
    with pytest.raises(TypeError, match=r"rtc\.AudioFrame"):
        await stt.recognize(b"\x00\x00")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"rtc\.AudioFrame"):
        await stt.recognize([sine_frame(0.1), "x"])  # type: ignore[list-item]
    assert stt.calls == 0


async def test_stream_on_non_streaming_stt_points_to_stream_adapter() -> None:
    stt = ScriptedSTT()
    with pytest.raises(NotImplementedError, match=r"stt\.StreamAdapter"):
        stt.stream()


async def test_streaming_stt_without_stream_override_is_reported() -> None:
    class Half(ScriptedSTT):
        def __init__(self) -> None:
            STT.__init__(self, capabilities=STTCapabilities(streaming=True, interim_results=False))

    with pytest.raises(NotImplementedError, match=r"override STT\.stream"):
        Half().stream()


def test_capabilities_must_be_stt_capabilities() -> None:
    class Bad(ScriptedSTT):
        def __init__(self) -> None:
            STT.__init__(self, capabilities={"streaming": True})  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="STTCapabilities"):
        Bad()


def test_capabilities_defaults() -> None:
    caps = STTCapabilities(streaming=True, interim_results=True)
    assert caps.diarization is False
    assert caps.aligned_transcript is False
    assert caps.offline_recognize is True


async def test_async_context_manager_closes() -> None:
    closed: list[bool] = []

    class Closing(ScriptedSTT):
        async def aclose(self) -> None:
            closed.append(True)

    async with Closing() as stt:
        assert isinstance(stt, Closing)
        assert stt.model == "scripted-1"
    assert closed == [True]


def test_error_event_is_an_exception_free_dump() -> None:
    err = STTError(timestamp=1.0, label="x", error=APIError("boom"), recoverable=True)
    assert err.model_dump() == {
        "type": "stt_error",
        "timestamp": 1.0,
        "label": "x",
        "recoverable": True,
    }


async def test_recognize_attempt_timeout_is_retried() -> None:
    class Slow(ScriptedSTT):
        async def _recognize_impl(
            self,
            buffer: AudioBuffer,
            *,
            language: NotGivenOr[str] = NOT_GIVEN,
            conn_options: APIConnectOptions,
        ) -> SpeechEvent:
            if self.calls == 0:
                self.calls += 1
                await asyncio.Event().wait()  # hangs until the base class gives up
            return await super()._recognize_impl(
                buffer, language=language, conn_options=conn_options
            )

    stt = Slow()
    errors, _ = collect(stt)
    opts = APIConnectOptions(max_retry=1, retry_interval=0.0, timeout=0.05)
    ev = await stt.recognize(sine_frame(0.1), conn_options=opts)
    assert ev.alternatives[0].text == "1600 samples"
    assert len(errors) == 1
    assert isinstance(errors[0].error, APITimeoutError)
    assert errors[0].recoverable is True


def test_speech_data_carries_timed_words() -> None:
    words = [TimedString("hello", start_time=0.1, end_time=0.4)]
    data = SpeechData(language="en", text="hello", words=words)
    assert data.words is not None and data.words[0].start_time == 0.1
    assert data.speaker_id is None and data.confidence == 0.0
