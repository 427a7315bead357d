"""The voice runtime: Agent, AgentSession, RunContext, SpeechHandle, events and I/O contracts."""

from . import io
from .agent import Agent, AgentTask, InlineTask, ModelSettings, TurnDetectionMode
from .agent_session import AgentSession, SessionConnectOptions, VoiceOptions
from .console.chat_cli import ChatCLI
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
    "ErrorEvent",
    "FunctionToolsExecutedEvent",
    "InlineTask",
    "MetricsCollectedEvent",
    "ModelSettings",
    "RunContext",
    "RunResult",
    "SessionConnectOptions",
    "SpeechCreatedEvent",
    "SpeechHandle",
    "TurnDetectionMode",
    "UserInputTranscribedEvent",
    "UserState",
    "UserStateChangedEvent",
    "VoiceOptions",
    "io",
]
