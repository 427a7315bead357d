"""Conformance kit: reusable pytest suites that any STT, TTS, LLM or VAD implementation runs
against itself, with no API keys.

A plugin's test module subclasses a suite (the class name must start with ``Test`` so pytest
collects it) and provides fixtures that build the model under test::

    import pytest
    from voxlane.agents.testing.conformance import STTConformance, TTSConformance
    from voxlane.agents.testing import audio_pattern

    class TestMySTT(STTConformance):
        @pytest.fixture
        def stt(self, fake_server):               # e.g. a local server speaking the wire protocol
            return myplugin.STT(base_url=fake_server.url, api_key="test")

        @pytest.fixture
        def speech_audio(self):                   # frames that contain speech
            return load_wav_frames("hello.wav")

        @pytest.fixture
        def inject_error(self, fake_server):      # make the next `times` requests fail
            def inject(error, times):
                fake_server.fail_next(status=503 if error.retryable else 401, times=times)
            return inject

    class TestMyTTS(TTSConformance):
        @pytest.fixture
        def tts(self):
            return myplugin.TTS(...)

Fixtures per suite:

- :class:`STTConformance`: ``stt``, ``speech_audio``; optional ``inject_error``,
  ``conn_options``.
- :class:`TTSConformance`: ``tts``; optional ``text``, ``inject_error``, ``conn_options``;
  attribute ``max_seconds_per_char`` bounds the plausible audio length.
- :class:`LLMConformance`: ``llm``; optional ``chat_ctx``, ``tool_call_request`` (``(chat_ctx,
  tools, expected_tool_name)``), ``inject_error``, ``conn_options``.
- :class:`VADConformance`: ``vad``, ``speech_audio`` (speech with >= 0.5 s of silence around
  it); optional ``silence_audio``.

``inject_error(error, times)`` receives an :class:`~voxlane.agents.APIError` describing the
failure wanted (``error.retryable`` tells a 5xx-like from a 401-like failure); the default works
for the voxlane fakes, whose ``faults`` plan is used. The suites check: stream lifecycle (push,
flush, end_input, iterate to the end), ``aclose()`` and consumer cancellation mid-stream leaving
no task behind, input refused after ``end_input()``/``aclose()``, a retry on an injected
retryable error and giving up on a non-retryable one (with the matching ``"error"`` events),
``metrics_collected`` with sane values, audio format (sample rate and channels consistent,
frames non-empty, plausible durations), and non-empty text for speech input.

A test that does not apply to a model (e.g. tool calls for a model without tools) is turned off
by setting it to ``None`` in the subclass: ``test_tool_call = None  # type: ignore[assignment]``
(pytest does not collect it). Tasks the model keeps on
purpose (connection pools) can be excluded from the leftover check by name prefix with
``background_task_prefixes = ("my-pool",)``. Retries use ``conn_options`` with a 0.05 s
interval; run the class on the virtual clock (``pytestmark = pytest.mark.virtual_clock``, see
:mod:`voxlane.agents.testing.clock`) to make delays instant.

This package imports pytest: import it from tests only.
"""

from ._common import (
    FAST_CONN_OPTIONS,
    ErrorInjector,
    TaskTracker,
    default_error_injector,
    fatal_error,
    retryable_error,
)
from .llm import LLMConformance, ToolCallRequest
from .stt import STTConformance
from .tts import TTSConformance
from .vad import VADConformance

__all__ = [
    "FAST_CONN_OPTIONS",
    "ErrorInjector",
    "LLMConformance",
    "STTConformance",
    "TTSConformance",
    "TaskTracker",
    "ToolCallRequest",
    "VADConformance",
    "default_error_injector",
    "fatal_error",
    "retryable_error",
]
