"""LLM interfaces: chat history, tools, the LLM/LLMStream base classes and realtime models."""

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

__all__ = [
    "AgentConfigUpdate",
    "AgentHandoff",
    "AudioContent",
    "ChatContent",
    "ChatContext",
    "ChatItem",
    "ChatMessage",
    "ChatRole",
    "FunctionCall",
    "FunctionCallOutput",
    "ImageContent",
    "MetricsReport",
    "ReadOnlyChatContext",
    "ReadOnlyError",
]
