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
    from . import cli, job, llm, mcp, metrics, plugin, stt, tokenize, tts, utils, vad, voice, worker
    from .job import (
        AutoSubscribe,
        JobContext,
        JobExecutorType,
        JobProcess,
        JobRequest,
        get_job_context,
    )
    from .llm import (
        AsyncRunContext,
        AsyncToolset,
        ChatContext,
        ChatItem,
        ChatMessage,
        ChatRole,
        FunctionCall,
        FunctionCallOutput,
        FunctionTool,
        ImageContent,
        RawFunctionTool,
        StopResponse,
        ToolError,
        ToolFlag,
        function_tool,
    )
    from .plugin import ModelNotFoundError, ProviderNotFoundError, resolve_provider
    from .voice import (
        Agent,
        AgentFalseInterruptionEvent,
        AgentSession,
        AgentStateChangedEvent,
        AgentTask,
        CloseEvent,
        CloseReason,
        ConversationItemAddedEvent,
        EndpointingOptions,
        ErrorEvent,
        FunctionToolsExecutedEvent,
        InlineTask,
        InterruptionOptions,
        MetricsCollectedEvent,
        ModelSettings,
        PreemptiveGenerationOptions,
        RunContext,
        SessionConnectOptions,
        SpeechCreatedEvent,
        SpeechHandle,
        TurnHandlingOptions,
        UserInputTranscribedEvent,
        UserStateChangedEvent,
        VoiceOptions,
        room_io,
    )
    from .voice.room_io import RoomInputOptions, RoomIO, RoomOptions, RoomOutputOptions
    from .voice.run_result import RunResult, mock_tools
    from .worker import (
        AgentServer,
        ServerOptions,
        ServerType,
        Worker,
        WorkerOptions,
        WorkerPermissions,
        WorkerType,
    )

_SUBMODULES = {
    "cli",
    "job",
    "llm",
    "mcp",
    "metrics",
    "plugin",
    "stt",
    "tokenize",
    "tts",
    "utils",
    "vad",
    "voice",
    "worker",
}

# LiveKit names for submodules that live deeper here (``from livekit.agents import room_io``)
_SUBMODULE_ALIASES = {"room_io": "voice.room_io"}

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
            "EndpointingOptions",
            "ErrorEvent",
            "FunctionToolsExecutedEvent",
            "InlineTask",
            "InterruptionOptions",
            "MetricsCollectedEvent",
            "ModelSettings",
            "PreemptiveGenerationOptions",
            "RunContext",
            "SessionConnectOptions",
            "SpeechCreatedEvent",
            "SpeechHandle",
            "TurnHandlingOptions",
            "UserInputTranscribedEvent",
            "UserStateChangedEvent",
            "VoiceOptions",
        ],
        "voice",
    ),
    **dict.fromkeys(
        ["RoomIO", "RoomInputOptions", "RoomOptions", "RoomOutputOptions"], "voice.room_io"
    ),
    **dict.fromkeys(["AsyncRunContext", "AsyncToolset"], "llm"),
    **dict.fromkeys(["RunResult", "mock_tools"], "voice.run_result"),
    **dict.fromkeys(["ModelNotFoundError", "ProviderNotFoundError", "resolve_provider"], "plugin"),
    # tools and chat context
    **dict.fromkeys(
        [
            "ChatContext",
            "ChatItem",
            "ChatMessage",
            "ChatRole",
            "FunctionCall",
            "FunctionCallOutput",
            "FunctionTool",
            "ImageContent",
            "RawFunctionTool",
            "StopResponse",
            "ToolError",
            "ToolFlag",
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
    **dict.fromkeys(
        [
            "AgentServer",
            "ServerOptions",
            "ServerType",
            "Worker",
            "WorkerOptions",
            "WorkerPermissions",
            "WorkerType",
        ],
        "worker",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _SUBMODULE_ALIASES:
        return importlib.import_module(f".{_SUBMODULE_ALIASES[name]}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'voxlane.agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_SUBMODULE_ALIASES) | set(_LAZY))


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
    "AgentServer",
    "AgentSession",
    "AgentStateChangedEvent",
    "AgentTask",
    "AgentsError",
    "AsyncRunContext",
    "AsyncToolset",
    "AutoSubscribe",
    "ChatContext",
    "ChatItem",
    "ChatMessage",
    "ChatRole",
    "CloseEvent",
    "CloseReason",
    "ConversationItemAddedEvent",
    "EndpointingOptions",
    "ErrorEvent",
    "FunctionCall",
    "FunctionCallOutput",
    "FunctionTool",
    "FunctionToolsExecutedEvent",
    "ImageContent",
    "InlineTask",
    "InterruptionOptions",
    "JobContext",
    "JobExecutorType",
    "JobProcess",
    "JobRequest",
    "MetricsCollectedEvent",
    "ModelNotFoundError",
    "ModelSettings",
    "NotGiven",
    "NotGivenOr",
    "PreemptiveGenerationOptions",
    "ProviderNotFoundError",
    "RawFunctionTool",
    "RoomIO",
    "RoomInputOptions",
    "RoomOptions",
    "RoomOutputOptions",
    "RunContext",
    "RunResult",
    "ServerOptions",
    "ServerType",
    "SessionConnectOptions",
    "SpeechCreatedEvent",
    "SpeechHandle",
    "StopResponse",
    "ToolError",
    "ToolFlag",
    "TurnHandlingOptions",
    "UserInputTranscribedEvent",
    "UserStateChangedEvent",
    "VoiceOptions",
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
    "mcp",
    "metrics",
    "mock_tools",
    "plugin",
    "resolve_provider",
    "room_io",
    "stt",
    "tokenize",
    "tts",
    "utils",
    "vad",
    "voice",
    "worker",
]
