"""Converting a ChatContext to the message format of a provider API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._images import SerializedImage, encode_png_rgba, serialize_image

if TYPE_CHECKING:
    from ..chat_context import ChatContext

ProviderFormat = Literal["openai", "anthropic"]


@dataclass
class ProviderFormatData:
    """Format-specific extras: Anthropic takes the system prompt apart from the messages."""

    system_messages: list[str] = field(default_factory=list)


def to_provider_format(
    chat_ctx: ChatContext, format: ProviderFormat | str, *, inject_dummy_user_message: bool = True
) -> tuple[list[dict[str, Any]], ProviderFormatData]:
    """``(messages, extra)`` for ``format`` (``"openai"`` or ``"anthropic"``)."""
    if format == "openai":
        from .openai import to_openai

        return to_openai(chat_ctx), ProviderFormatData()
    if format == "anthropic":
        from .anthropic import to_anthropic

        messages, system = to_anthropic(
            chat_ctx, inject_dummy_user_message=inject_dummy_user_message
        )
        return messages, ProviderFormatData(system_messages=system)
    raise ValueError(f"unknown provider format {format!r}; expected 'openai' or 'anthropic'")


__all__ = [
    "ProviderFormat",
    "ProviderFormatData",
    "SerializedImage",
    "encode_png_rgba",
    "serialize_image",
    "to_provider_format",
]
