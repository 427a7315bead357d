"""The conversation history given to an LLM: :class:`ChatContext` and its items.

Items are pydantic models discriminated by their ``type`` field, so a history round-trips through
``to_dict()`` / ``from_dict()``. Items are kept ordered by ``created_at``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from livekit import rtc
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from typing_extensions import TypedDict

from ..types import NOT_GIVEN, NotGivenOr, is_given
from ..utils.misc import shortuuid
from .chat_items import ItemList

if TYPE_CHECKING:
    from ._provider_format import ProviderFormat, ProviderFormatData

ChatRole = Literal["developer", "system", "user", "assistant"]
"""Who wrote a message. ``developer`` and ``system`` hold instructions."""

_INSTRUCTION_ROLES: tuple[str, ...] = ("developer", "system")


def _now() -> float:
    return time.time()


class ImageContent(BaseModel):
    """An image inside a message.

    ``image`` is a URL (``https://...`` or a ``data:`` URL), raw encoded image bytes (give
    ``mime_type``), or an ``rtc.VideoFrame``.
    """

    model_config = ConfigDict(
        arbitrary_types_allowed=True, ser_json_bytes="base64", val_json_bytes="base64"
    )

    id: str = Field(default_factory=lambda: shortuuid("img_"))
    type: Literal["image_content"] = "image_content"
    image: str | bytes | rtc.VideoFrame
    inference_width: int | None = None
    inference_height: int | None = None
    inference_detail: Literal["auto", "high", "low"] = "auto"
    mime_type: str | None = None


class AudioContent(BaseModel):
    """Audio inside a message (frames are not serialised), with an optional transcript."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    type: Literal["audio_content"] = "audio_content"
    frame: list[rtc.AudioFrame] = Field(default_factory=list, exclude=True)
    transcript: str | None = None


ChatContent = ImageContent | AudioContent | str
"""One part of a message's content."""


class MetricsReport(TypedDict, total=False):
    """Per-turn latency figures attached to a message (seconds / epoch timestamps)."""

    started_speaking_at: float
    stopped_speaking_at: float
    transcription_delay: float
    end_of_turn_delay: float
    on_user_turn_completed_delay: float
    llm_node_ttft: float
    tts_node_ttfb: float
    e2e_latency: float


class ChatMessage(BaseModel):
    """A message from the user, the assistant, or instructions (system/developer)."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    id: str = Field(default_factory=lambda: shortuuid("item_"))
    type: Literal["message"] = "message"
    role: ChatRole
    content: list[ChatContent]
    interrupted: bool = False
    transcript_confidence: float | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    metrics: MetricsReport = Field(default_factory=lambda: MetricsReport())
    hash: bytes | None = None
    created_at: float = Field(default_factory=_now)

    @field_validator("content", mode="before")
    @classmethod
    def _wrap_plain_content(cls, value: Any) -> Any:
        if isinstance(value, (str, ImageContent, AudioContent)):
            return [value]
        return value

    @property
    def text_content(self) -> str | None:
        """The text parts joined by newlines, or ``None`` when the message has no text."""
        texts = [c for c in self.content if isinstance(c, str)]
        if not texts:
            return None
        return "\n".join(texts)


class FunctionCall(BaseModel):
    """A tool call requested by the LLM. ``arguments`` is a JSON string."""

    id: str = Field(default_factory=lambda: shortuuid("item_"))
    type: Literal["function_call"] = "function_call"
    call_id: str
    arguments: str
    name: str
    group_id: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=_now)


class FunctionCallOutput(BaseModel):
    """The result of a tool call, given back to the LLM."""

    id: str = Field(default_factory=lambda: shortuuid("item_"))
    type: Literal["function_call_output"] = "function_call_output"
    name: str = ""
    call_id: str
    output: str
    is_error: bool
    reply_required: bool = True
    created_at: float = Field(default_factory=_now)


class AgentHandoff(BaseModel):
    """Marks the point where one agent handed the conversation to another."""

    id: str = Field(default_factory=lambda: shortuuid("item_"))
    type: Literal["agent_handoff"] = "agent_handoff"
    old_agent_id: str | None = None
    new_agent_id: str
    created_at: float = Field(default_factory=_now)


class AgentConfigUpdate(BaseModel):
    """Records a change of the agent's instructions or tools."""

    id: str = Field(default_factory=lambda: shortuuid("item_"))
    type: Literal["agent_config_update"] = "agent_config_update"
    instructions: str | None = None
    tools_added: list[str] | None = None
    tools_removed: list[str] | None = None
    created_at: float = Field(default_factory=_now)


ChatItem = Annotated[
    ChatMessage | FunctionCall | FunctionCallOutput | AgentHandoff | AgentConfigUpdate,
    Field(discriminator="type"),
]
"""Any item of a :class:`ChatContext` (discriminated by ``type``)."""

_ITEMS_ADAPTER: TypeAdapter[list[ChatItem]] = TypeAdapter(list[ChatItem])


class ReadOnlyError(RuntimeError):
    """Raised when mutating a read-only chat context."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"cannot {what}: this ChatContext is read-only. Call .copy() to get a mutable "
            "ChatContext, edit it, then apply it (e.g. `await agent.update_chat_ctx(ctx)`)."
        )


_T = TypeVar("_T")


class _ReadOnlyList(list[_T]):
    """A list whose mutating methods raise :class:`ReadOnlyError`."""

    def _deny(self, *_args: Any, **_kwargs: Any) -> Any:
        raise ReadOnlyError("modify the items")

    append = extend = insert = remove = pop = clear = sort = reverse = _deny
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _deny


def _is_empty_message(item: ChatMessage) -> bool:
    for part in item.content:
        if isinstance(part, str):
            if part.strip():
                return False
        else:
            return False
    return True


def _essential_fields(item: ChatItem) -> tuple[Any, ...]:
    if isinstance(item, ChatMessage):
        parts: list[Any] = []
        for c in item.content:
            if isinstance(c, str):
                parts.append(c)
            elif isinstance(c, ImageContent):
                parts.append(("image", c.id))
            else:
                parts.append(("audio", c.transcript))
        return (item.id, item.type, item.role, tuple(parts), item.interrupted)
    if isinstance(item, FunctionCall):
        return (item.id, item.type, item.call_id, item.name, item.arguments)
    if isinstance(item, FunctionCallOutput):
        return (item.id, item.type, item.call_id, item.name, item.output, item.is_error)
    if isinstance(item, AgentHandoff):
        return (item.id, item.type, item.old_agent_id, item.new_agent_id)
    return (item.id, item.type, item.instructions, item.tools_added, item.tools_removed)


class ChatContext:
    """An ordered list of chat items (messages, tool calls and outputs, handoffs, updates)."""

    def __init__(self, items: NotGivenOr[Iterable[ChatItem]] = NOT_GIVEN) -> None:
        self._items: list[ChatItem] = ItemList(items) if is_given(items) else ItemList()

    @classmethod
    def empty(cls) -> ChatContext:
        """A new empty context."""
        return cls([])

    # -- access -----------------------------------------------------------------------------

    @property
    def items(self) -> list[ChatItem]:
        """The items, ordered by ``created_at``. The list is live (mutations apply)."""
        return self._items

    @items.setter
    def items(self, items: list[ChatItem]) -> None:
        self._items = ItemList(items)

    @property
    def readonly(self) -> bool:
        """True for a read-only view (see :meth:`as_readonly`)."""
        return False

    def as_readonly(self) -> ReadOnlyChatContext:
        """A read-only view sharing these items (mutations raise :class:`ReadOnlyError`)."""
        return ReadOnlyChatContext(self._items)

    def messages(self) -> list[ChatMessage]:
        """Only the :class:`ChatMessage` items, in order."""
        return [item for item in self._items if isinstance(item, ChatMessage)]

    def get_by_id(self, item_id: str) -> ChatItem | None:
        """The item with this id, or ``None``."""
        if isinstance(self._items, ItemList):  # indexed by id (see chat_items.py)
            return self._items.find(item_id)
        for item in self._items:
            if item.id == item_id:
                return item
        return None

    def index_by_id(self, item_id: str) -> int | None:
        """The position of the item with this id, or ``None``."""
        for i, item in enumerate(self._items):
            if item.id == item_id:
                return i
        return None

    def find_insertion_index(self, *, created_at: float) -> int:
        """Where an item created at ``created_at`` belongs (after items of equal time)."""
        for i in range(len(self._items) - 1, -1, -1):
            if self._items[i].created_at <= created_at:
                return i + 1
        return 0

    # -- mutation ---------------------------------------------------------------------------

    def add_message(
        self,
        *,
        role: ChatRole,
        content: list[ChatContent] | str,
        id: NotGivenOr[str] = NOT_GIVEN,
        interrupted: NotGivenOr[bool] = NOT_GIVEN,
        created_at: NotGivenOr[float] = NOT_GIVEN,
        metrics: NotGivenOr[MetricsReport] = NOT_GIVEN,
        extra: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
        transcript_confidence: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> ChatMessage:
        """Create a message and add it (appended, or placed by ``created_at`` when given)."""
        kwargs: dict[str, Any] = {"role": role, "content": content}
        for key, value in (
            ("id", id),
            ("interrupted", interrupted),
            ("created_at", created_at),
            ("metrics", metrics),
            ("extra", extra),
            ("transcript_confidence", transcript_confidence),
        ):
            if is_given(value):
                kwargs[key] = value
        message = ChatMessage(**kwargs)
        if is_given(created_at):
            self._items.insert(self.find_insertion_index(created_at=message.created_at), message)
        else:
            self._items.append(message)
        return message

    def insert(self, item: ChatItem | Sequence[ChatItem]) -> None:
        """Insert one or several items, each at its place by ``created_at``."""
        items: Sequence[ChatItem] = [item] if isinstance(item, BaseModel) else item
        for it in items:
            self._items.insert(self.find_insertion_index(created_at=it.created_at), it)

    def remove(self, item: ChatItem | str) -> None:
        """Remove an item (or the item with this id). Raises ``KeyError`` if absent."""
        item_id = item if isinstance(item, str) else item.id
        idx = self.index_by_id(item_id)
        if idx is None:
            raise KeyError(f"no item with id {item_id!r} in this ChatContext")
        del self._items[idx]

    def truncate(self, *, max_items: int) -> ChatContext:
        """Keep only the last ``max_items`` items (in place) and return ``self``.

        The leading instructions message is kept, and the result never starts with a tool
        call output whose call was dropped.
        """
        if max_items < 0:
            raise ValueError(f"max_items must be >= 0, got {max_items}")
        if len(self._items) <= max_items:
            return self
        instructions = next(
            (
                it
                for it in self._items
                if isinstance(it, ChatMessage) and it.role in _INSTRUCTION_ROLES
            ),
            None,
        )
        kept = self._items[len(self._items) - max_items :] if max_items else []
        while kept and isinstance(kept[0], FunctionCallOutput):
            kept.pop(0)
        if instructions is not None and all(it is not instructions for it in kept):
            kept.insert(0, instructions)
        self._items[:] = kept
        return self

    def merge(
        self,
        other: ChatContext,
        *,
        exclude_function_call: bool = False,
        exclude_instructions: bool = False,
        exclude_config_update: bool = False,
    ) -> ChatContext:
        """Add the items of ``other`` whose id is not here yet, ordered by time; returns self."""
        existing = {item.id for item in self._items}
        for item in other.items:
            if item.id in existing:
                continue
            if exclude_function_call and isinstance(item, (FunctionCall, FunctionCallOutput)):
                continue
            if (
                exclude_instructions
                and isinstance(item, ChatMessage)
                and item.role in _INSTRUCTION_ROLES
            ):
                continue
            if exclude_config_update and isinstance(item, AgentConfigUpdate):
                continue
            self._items.insert(self.find_insertion_index(created_at=item.created_at), item)
            existing.add(item.id)
        return self

    # -- copies and comparisons -------------------------------------------------------------

    def copy(
        self,
        *,
        exclude_function_call: bool = False,
        exclude_instructions: bool = False,
        exclude_empty_message: bool = False,
        exclude_handoff: bool = False,
        exclude_config_update: bool = False,
        tools: NotGivenOr[Sequence[Any]] = NOT_GIVEN,
    ) -> ChatContext:
        """A mutable shallow copy, optionally filtered.

        ``tools``: keep only tool calls/outputs whose name is one of these tools, toolsets or
        names.
        """
        allowed_names: set[str] | None = None
        if is_given(tools):
            allowed_names = _tool_names(tools)
        elif not (
            exclude_function_call
            or exclude_instructions
            or exclude_empty_message
            or exclude_handoff
            or exclude_config_update
        ):
            # nothing to filter: the runtime copies the whole context on every user turn, so
            # skip the per-item type checks (measured in bench/turn_overhead.py)
            return ChatContext(self._items)

        items: list[ChatItem] = []
        for item in self._items:
            if isinstance(item, (FunctionCall, FunctionCallOutput)):
                if exclude_function_call:
                    continue
                if allowed_names is not None and item.name not in allowed_names:
                    continue
            elif isinstance(item, ChatMessage):
                if exclude_instructions and item.role in _INSTRUCTION_ROLES:
                    continue
                if exclude_empty_message and _is_empty_message(item):
                    continue
            elif isinstance(item, AgentHandoff):
                if exclude_handoff:
                    continue
            elif exclude_config_update:
                continue
            items.append(item)
        return ChatContext(items)

    def is_equivalent(self, other: ChatContext) -> bool:
        """True when both hold the same items (ids, types and payloads) in the same order."""
        if self is other:
            return True
        if len(self._items) != len(other.items):
            return False
        return all(
            _essential_fields(a) == _essential_fields(b)
            for a, b in zip(self._items, other.items, strict=True)
        )

    # -- serialisation ----------------------------------------------------------------------

    def to_dict(
        self,
        *,
        exclude_image: bool = True,
        exclude_audio: bool = True,
        exclude_timestamp: bool = True,
        exclude_function_call: bool = False,
        exclude_metrics: bool = False,
    ) -> dict[str, Any]:
        """A JSON-compatible dict ``{"items": [...]}``; images/audio/timestamps optional."""
        out: list[dict[str, Any]] = []
        for item in self._items:
            if exclude_function_call and isinstance(item, (FunctionCall, FunctionCallOutput)):
                continue
            if isinstance(item, ChatMessage):
                parts: list[ChatContent] = []
                for part in item.content:
                    if isinstance(part, ImageContent):
                        if exclude_image:
                            continue
                        if isinstance(part.image, rtc.VideoFrame):
                            raise ValueError(
                                "cannot serialise an ImageContent holding an rtc.VideoFrame; "
                                "use to_dict(exclude_image=True) or store the image as bytes/URL"
                            )
                        if isinstance(part.image, bytes):
                            # bytes become a data URL so that from_dict restores an image
                            mime = part.mime_type or "application/octet-stream"
                            data = base64.b64encode(part.image).decode("ascii")
                            part = part.model_copy(update={"image": f"data:{mime};base64,{data}"})
                    if isinstance(part, AudioContent) and exclude_audio:
                        continue
                    parts.append(part)
                item = item.model_copy(update={"content": parts})
            exclude: set[str] = set()
            if exclude_timestamp:
                exclude.add("created_at")
            if exclude_metrics and isinstance(item, ChatMessage):
                exclude.add("metrics")
            out.append(item.model_dump(mode="json", exclude=exclude, exclude_none=False))
        return {"items": out}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatContext:
        """Rebuild a context from :meth:`to_dict` output. Raises ``ValueError`` on bad data."""
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ValueError(
                "ChatContext.from_dict expects a dict like {'items': [...]} "
                "(the output of ChatContext.to_dict())"
            )
        return cls(_ITEMS_ADAPTER.validate_python(data["items"]))

    def to_provider_format(
        self, format: ProviderFormat | str, *, inject_dummy_user_message: bool = True
    ) -> tuple[list[dict[str, Any]], ProviderFormatData]:
        """Convert to the message list a provider API expects (``"openai"`` or ``"anthropic"``).

        Returns ``(messages, extra)``; for anthropic ``extra.system_messages`` holds the system
        prompt parts, which that API takes separately.
        """
        from ._provider_format import to_provider_format

        return to_provider_format(self, format, inject_dummy_user_message=inject_dummy_user_message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(items={len(self._items)})"


def _tool_names(tools: Iterable[Any]) -> set[str]:
    """Names of function tools in ``tools`` (strings, tools, or toolsets, recursively)."""
    names: set[str] = set()
    for tool in tools:
        if isinstance(tool, str):
            names.add(tool)
        elif (info := getattr(tool, "info", None)) is not None and hasattr(info, "name"):
            names.add(info.name)
        elif hasattr(tool, "tools"):
            names.update(_tool_names(tool.tools))
    return names


class ReadOnlyChatContext(ChatContext):
    """A view of a chat context that refuses mutation (raises :class:`ReadOnlyError`)."""

    def __init__(self, items: Iterable[ChatItem]) -> None:
        super().__init__()
        self._items = _ReadOnlyList(items)

    @property
    def items(self) -> list[ChatItem]:
        return self._items

    @items.setter
    def items(self, items: list[ChatItem]) -> None:
        raise ReadOnlyError("replace the items")

    @property
    def readonly(self) -> bool:
        return True

    def add_message(self, **kwargs: Any) -> ChatMessage:
        raise ReadOnlyError("add a message")

    def insert(self, item: ChatItem | Sequence[ChatItem]) -> None:
        raise ReadOnlyError("insert items")

    def remove(self, item: ChatItem | str) -> None:
        raise ReadOnlyError("remove items")

    def truncate(self, *, max_items: int) -> ChatContext:
        raise ReadOnlyError("truncate")

    def merge(
        self,
        other: ChatContext,
        *,
        exclude_function_call: bool = False,
        exclude_instructions: bool = False,
        exclude_config_update: bool = False,
    ) -> ChatContext:
        raise ReadOnlyError("merge")


_ReadOnlyChatContext = ReadOnlyChatContext

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
