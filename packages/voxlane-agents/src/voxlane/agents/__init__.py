"""Voxlane agents: realtime voice AI agents with a LiveKit Agents 1.x compatible API.

Public names are imported lazily on first use, so ``import voxlane.agents`` stays cheap: a program
that only builds a worker never pays for the voice runtime, and the other way round.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._exceptions import (
    AgentsError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
)
from .types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGiven,
    NotGivenOr,
)
from .version import __version__

if TYPE_CHECKING:
    from . import cli, llm, metrics, stt, tokenize, tts, utils, vad, voice
    from .job import (
        AutoSubscribe,
        JobContext,
        JobExecutorType,
        JobProcess,
        JobRequest,
        get_job_context,
    )
    from .llm import (
        ChatContext,
        ChatMessage,
        FunctionTool,
        StopResponse,
        ToolError,
        function_tool,
    )
    from .voice import (
        Agent,
        AgentFalseInterruptionEvent,
        AgentSession,
        AgentStateChangedEvent,
        AgentTask,
        CloseEvent,
        CloseReason,
        ConversationItemAddedEvent,
        ErrorEvent,
        FunctionToolsExecutedEvent,
        InlineTask,
        MetricsCollectedEvent,
        ModelSettings,
        RunContext,
        SpeechCreatedEvent,
        SpeechHandle,
        UserInputTranscribedEvent,
        UserStateChangedEvent,
    )
    from .worker import Worker, WorkerOptions, WorkerPermissions, WorkerType

_SUBMODULES = {"cli", "llm", "metrics", "stt", "tokenize", "tts", "utils", "vad", "voice", "job"}

_LAZY: dict[str, str] = {
    # voice runtime
    **dict.fromkeys(
        [
            "Agent",
            "AgentFalseInterruptionEvent",
            "AgentSession",
            "AgentStateChangedEvent",
            "AgentTask",
            "CloseEvent",
            "CloseReason",
            "ConversationItemAddedEvent",
            "ErrorEvent",
            "FunctionToolsExecutedEvent",
            "InlineTask",
            "MetricsCollectedEvent",
            "ModelSettings",
            "RunContext",
            "SpeechCreatedEvent",
            "SpeechHandle",
            "UserInputTranscribedEvent",
            "UserStateChangedEvent",
        ],
        "voice",
    ),
    # tools and chat context
    **dict.fromkeys(
        [
            "ChatContext",
            "ChatMessage",
            "FunctionTool",
            "StopResponse",
            "ToolError",
            "function_tool",
        ],
        "llm",
    ),
    # jobs and workers
    **dict.fromkeys(
        [
            "AutoSubscribe",
            "JobContext",
            "JobExecutorType",
            "JobProcess",
            "JobRequest",
            "get_job_context",
        ],
        "job",
    ),
    **dict.fromkeys(["Worker", "WorkerOptions", "WorkerPermissions", "WorkerType"], "worker"),
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'voxlane.agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_LAZY))


__all__ = [
    "DEFAULT_API_CONNECT_OPTIONS",
    "NOT_GIVEN",
    "APIConnectOptions",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Agent",
    "AgentFalseInterruptionEvent",
    "AgentSession",
    "AgentStateChangedEvent",
    "AgentTask",
    "AgentsError",
    "AutoSubscribe",
    "ChatContext",
    "ChatMessage",
    "CloseEvent",
    "CloseReason",
    "ConversationItemAddedEvent",
    "ErrorEvent",
    "FunctionTool",
    "FunctionToolsExecutedEvent",
    "InlineTask",
    "JobContext",
    "JobExecutorType",
    "JobProcess",
    "JobRequest",
    "MetricsCollectedEvent",
    "ModelSettings",
    "NotGiven",
    "NotGivenOr",
    "RunContext",
    "SpeechCreatedEvent",
    "SpeechHandle",
    "StopResponse",
    "ToolError",
    "UserInputTranscribedEvent",
    "UserStateChangedEvent",
    "Worker",
    "WorkerOptions",
    "WorkerPermissions",
    "WorkerType",
    "__version__",
    "cli",
    "function_tool",
    "get_job_context",
    "job",
    "llm",
    "metrics",
    "stt",
    "tokenize",
    "tts",
    "utils",
    "vad",
    "voice",
]
