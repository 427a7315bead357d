"""Claude model names known to the plugin (any other name is passed through as-is)."""

from __future__ import annotations

from typing import Literal, get_args

ChatModels = Literal[
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "claude-opus-4-1",
    "claude-sonnet-4-0",
    "claude-3-5-haiku-latest",
]
CHAT_MODELS: tuple[str, ...] = get_args(ChatModels)
DEFAULT_CHAT_MODEL = "claude-haiku-4-5"

__all__ = ["CHAT_MODELS", "DEFAULT_CHAT_MODEL", "ChatModels"]
