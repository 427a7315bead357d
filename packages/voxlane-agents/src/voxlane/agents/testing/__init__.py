"""Testing kit for Voxlane: a virtual clock, scripted fakes and a conformance kit.

Not imported by ``import voxlane.agents``; import it explicitly in tests::

    from voxlane.agents.testing import FakeSTT, FakeTTS, FakeVAD, run_with_virtual_clock

- :mod:`voxlane.agents.testing.clock`: :class:`VirtualClockEventLoop` (time advances only when
  every task is idle) and its pytest-asyncio integration
  (:mod:`voxlane.agents.testing.pytest_plugin`, marker ``@pytest.mark.virtual_clock``).
- :mod:`voxlane.agents.testing.fakes`: scripted models built on the real base classes.
- :mod:`voxlane.agents.testing.conformance`: reusable test suites for plugins (imports pytest).
"""

from .clock import (
    VirtualClockEventLoop,
    advance,
    current_virtual_loop,
    hold_clock,
    now,
    run_with_virtual_clock,
    wait_idle,
)
from .fakes import (
    FakeChunkedStream,
    FakeLLM,
    FakeLLMStream,
    FakeRealtimeModel,
    FakeRealtimeSession,
    FakeRecognizeStream,
    FakeResponse,
    FakeSTT,
    FakeSynthesizeStream,
    FakeToolCall,
    FakeTTS,
    FakeVAD,
    FakeVADStream,
    FaultPlan,
    GenerateReplyCall,
    InjectedFault,
    LLMCall,
    RecognizeCall,
    ScriptedTranscript,
    SpeechSegment,
    Truncation,
    audio_pattern,
    split_frame,
    tone,
    tone_pcm,
)

__all__ = [
    "FakeChunkedStream",
    "FakeLLM",
    "FakeLLMStream",
    "FakeRealtimeModel",
    "FakeRealtimeSession",
    "FakeRecognizeStream",
    "FakeResponse",
    "FakeSTT",
    "FakeSynthesizeStream",
    "FakeTTS",
    "FakeToolCall",
    "FakeVAD",
    "FakeVADStream",
    "FaultPlan",
    "GenerateReplyCall",
    "InjectedFault",
    "LLMCall",
    "RecognizeCall",
    "ScriptedTranscript",
    "SpeechSegment",
    "Truncation",
    "VirtualClockEventLoop",
    "advance",
    "audio_pattern",
    "current_virtual_loop",
    "hold_clock",
    "now",
    "run_with_virtual_clock",
    "split_frame",
    "tone",
    "tone_pcm",
    "wait_idle",
]

# text-only testing (session.run -> RunResult, mock_tools)
from .run_result import RunResult, mock_tools

__all__ += ["RunResult", "mock_tools"]
