"""Testing kit for Voxlane: a virtual clock, scripted fakes and a conformance kit.

Not imported by ``import voxlane.agents``; import it explicitly in tests::

    from voxlane.agents.testing import FakeSTT, FakeTTS, FakeVAD, run_with_virtual_clock

- :mod:`voxlane.agents.testing.clock`: :class:`VirtualClockEventLoop` (time advances only when
  every task is idle) and its pytest-asyncio integration
  (:mod:`voxlane.agents.testing.pytest_plugin`, marker ``@pytest.mark.virtual_clock``).
- :mod:`voxlane.agents.testing.fakes`: scripted models built on the real base classes.
- :mod:`voxlane.agents.testing.conformance`: reusable test suites for plugins (imports pytest).
- In-memory I/O for a session under test: :class:`QueueAudioInput` (push frames as the user's
  audio), :class:`MemoryAudioOutput` (records what the agent played, paced in loop time) and
  :class:`MemoryTextOutput` (records transcription segments).
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

# in-memory audio/text I/O for sessions under test (the voice runtime's implementations) and
# text-only testing (session.run -> RunResult, mock_tools)
from ..voice.io_impl.memory import (
    MemoryAudioOutput,
    MemoryTextOutput,
    PlayedSegment,
    QueueAudioInput,
)
from .run_result import RunResult, mock_tools

__all__ += ["MemoryAudioOutput", "MemoryTextOutput", "PlayedSegment", "QueueAudioInput"]
__all__ += ["RunResult", "mock_tools"]
