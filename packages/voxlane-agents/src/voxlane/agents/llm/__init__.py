"""LLM interfaces: chat history, tools, the LLM/LLMStream base classes and realtime models."""

from typing import TYPE_CHECKING, Any

from .chat_context import (
    AgentConfigUpdate,
    AgentHandoff,
    AudioContent,
    ChatContent,
    ChatContext,
    ChatItem,
    ChatMessage,
    ChatRole,
    FunctionCall,
    FunctionCallOutput,
    ImageContent,
    MetricsReport,
    ReadOnlyChatContext,
    ReadOnlyError,
)
from .fallback_adapter import AvailabilityChangedEvent, FallbackAdapter, FallbackLLMStream
from .llm import (
    LLM,
    ChatChunk,
    ChoiceDelta,
    CollectedResponse,
    CompletionUsage,
    FunctionToolCall,
    LLMError,
    LLMStream,
)
from .realtime import (
    GenerationCreatedEvent,
    InputSpeechStartedEvent,
    InputSpeechStoppedEvent,
    InputTranscriptionCompleted,
    MessageGeneration,
    RealtimeCapabilities,
    RealtimeError,
    RealtimeModel,
    RealtimeModelError,
    RealtimeSession,
    RealtimeSessionReconnectedEvent,
)
from .tool_context import (
    DuplicateMode,
    FunctionTool,
    FunctionToolInfo,
    NamedToolChoice,
    ProviderTool,
    RawFunctionTool,
    RawFunctionToolInfo,
    StopResponse,
    Tool,
    ToolChoice,
    ToolContext,
    ToolError,
    ToolFlag,
    Toolset,
    find_function_tools,
    function_tool,
    is_function_tool,
    is_raw_function_tool,
)
from .tool_execution import (
    ToolArgumentsError,
    ToolExecutionOutput,
    execute_function_call,
    is_agent,
    make_tool_output,
    prepare_function_arguments,
)
from .tool_schema import is_context_type

# AsyncToolset/AsyncRunContext build on the voice runtime's RunContext, which imports this
# package: they are loaded on first access to avoid an import cycle.
_LAZY = {"AsyncRunContext": "async_toolset", "AsyncToolset": "async_toolset"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .async_toolset import AsyncRunContext, AsyncToolset

__all__ = [
    "LLM",
    "AgentConfigUpdate",
    "AgentHandoff",
    "AsyncRunContext",
    "AsyncToolset",
    "AudioContent",
    "AvailabilityChangedEvent",
    "ChatChunk",
    "ChatContent",
    "ChatContext",
    "ChatItem",
    "ChatMessage",
    "ChatRole",
    "ChoiceDelta",
    "CollectedResponse",
    "CompletionUsage",
    "DuplicateMode",
    "FallbackAdapter",
    "FallbackLLMStream",
    "FunctionCall",
    "FunctionCallOutput",
    "FunctionTool",
    "FunctionToolCall",
    "FunctionToolInfo",
    "GenerationCreatedEvent",
    "ImageContent",
    "InputSpeechStartedEvent",
    "InputSpeechStoppedEvent",
    "InputTranscriptionCompleted",
    "LLMError",
    "LLMStream",
    "MessageGeneration",
    "MetricsReport",
    "NamedToolChoice",
    "ProviderTool",
    "RawFunctionTool",
    "RawFunctionToolInfo",
    "ReadOnlyChatContext",
    "ReadOnlyError",
    "RealtimeCapabilities",
    "RealtimeError",
    "RealtimeModel",
    "RealtimeModelError",
    "RealtimeSession",
    "RealtimeSessionReconnectedEvent",
    "StopResponse",
    "Tool",
    "ToolArgumentsError",
    "ToolChoice",
    "ToolContext",
    "ToolError",
    "ToolExecutionOutput",
    "ToolFlag",
    "Toolset",
    "execute_function_call",
    "find_function_tools",
    "function_tool",
    "is_agent",
    "is_context_type",
    "is_function_tool",
    "is_raw_function_tool",
    "make_tool_output",
    "prepare_function_arguments",
]
