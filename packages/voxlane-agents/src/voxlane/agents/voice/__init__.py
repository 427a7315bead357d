"""The voice runtime: Agent, AgentSession, RunContext, SpeechHandle, events and I/O contracts.

``ChatCLI`` is imported on first use: the console pulls in the worker (aiohttp, livekit.api),
about 0.3 s and 25 MB that a session which never opens a console should not pay for (see
bench/import_cost.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import io
from .agent import Agent, AgentTask, InlineTask, ModelSettings, TurnDetectionMode
from .agent_session import AgentSession, SessionConnectOptions, VoiceOptions
from .events import (
    AgentEvent,
    AgentFalseInterruptionEvent,
    AgentState,
    AgentStateChangedEvent,
    CloseEvent,
    CloseReason,
    ConversationItemAddedEvent,
    ErrorEvent,
    FunctionToolsExecutedEvent,
    MetricsCollectedEvent,
    SpeechCreatedEvent,
    UserInputTranscribedEvent,
    UserState,
    UserStateChangedEvent,
)
from .run_context import RunContext
from .run_result import RunResult
from .speech_handle import SpeechHandle
from .turn_handling import (
    EndpointingOptions,
    InterruptionOptions,
    PreemptiveGenerationOptions,
    TurnHandlingOptions,
)

if TYPE_CHECKING:
    from .console.chat_cli import ChatCLI

__all__ = [
    "Agent",
    "AgentEvent",
    "AgentFalseInterruptionEvent",
    "AgentSession",
    "AgentState",
    "AgentStateChangedEvent",
    "AgentTask",
    "ChatCLI",
    "CloseEvent",
    "CloseReason",
    "ConversationItemAddedEvent",
    "EndpointingOptions",
    "ErrorEvent",
    "FunctionToolsExecutedEvent",
    "InlineTask",
    "InterruptionOptions",
    "MetricsCollectedEvent",
    "ModelSettings",
    "PreemptiveGenerationOptions",
    "RunContext",
    "RunResult",
    "SessionConnectOptions",
    "SpeechCreatedEvent",
    "SpeechHandle",
    "TurnDetectionMode",
    "TurnHandlingOptions",
    "UserInputTranscribedEvent",
    "UserState",
    "UserStateChangedEvent",
    "VoiceOptions",
    "io",
]


def __getattr__(name: str) -> Any:
    if name == "ChatCLI":
        return importlib.import_module(f"{__name__}.console.chat_cli").ChatCLI
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
