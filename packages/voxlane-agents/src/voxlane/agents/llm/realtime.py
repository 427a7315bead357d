"""Speech-to-speech ("realtime") models: the interface plugins implement.

A :class:`RealtimeModel` opens :class:`RealtimeSession` objects. A session takes user audio
(:meth:`RealtimeSession.push_audio`) and emits events: ``"input_speech_started"``,
``"input_speech_stopped"``, ``"input_audio_transcription_completed"``, ``"generation_created"``,
``"session_reconnected"``, ``"metrics_collected"`` and ``"error"``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Awaitable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from livekit import rtc
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import Self

from ..types import NOT_GIVEN, NotGivenOr
from ..utils.events import EventEmitter
from .chat_context import ChatContext, FunctionCall
from .tool_context import Tool, ToolChoice, ToolContext

Modality = Literal["text", "audio"]


@dataclass(frozen=True)
class RealtimeCapabilities:
    """What a realtime model supports; the runtime adapts its behaviour to it."""

    message_truncation: bool
    turn_detection: bool
    user_transcription: bool
    auto_tool_reply_generation: bool
    audio_output: bool
    manual_function_calls: bool = False
    can_disable_turn_detection: bool = False
    mutable_chat_context: bool = False
    mutable_instructions: bool = False
    mutable_tools: bool = False
    per_response_tool_choice: bool = False
    supports_say: bool = False


class RealtimeError(Exception):
    """A realtime session operation failed (e.g. updating the context was rejected)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RealtimeModelError(BaseModel):
    """Payload of a session's ``"error"`` event."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    type: Literal["realtime_model_error"] = "realtime_model_error"
    timestamp: float
    label: str
    error: Exception = Field(..., exclude=True)
    recoverable: bool


@dataclass
class InputSpeechStartedEvent:
    """The model's own VAD detected the user starting to speak."""


@dataclass
class InputSpeechStoppedEvent:
    """The model's own VAD detected the user stopping."""

    user_transcription_enabled: bool


@dataclass
class InputTranscriptionCompleted:
    """A (partial or final) transcript of user audio."""

    item_id: str
    transcript: str
    is_final: bool
    confidence: float | None = None
    turn_started_at: float | None = None


@dataclass
class MessageGeneration:
    """One assistant message being generated: its text and audio streams."""

    message_id: str
    text_stream: AsyncIterable[str]
    audio_stream: AsyncIterable[rtc.AudioFrame]
    modalities: Awaitable[list[Modality]]


@dataclass
class GenerationCreatedEvent:
    """A response started: assistant messages and tool calls arrive on the two streams."""

    message_stream: AsyncIterable[MessageGeneration]
    function_stream: AsyncIterable[FunctionCall]
    user_initiated: bool
    response_id: str | None = None


@dataclass
class RealtimeSessionReconnectedEvent:
    """The session's connection was re-established (context re-sent by the plugin)."""


class RealtimeModel(ABC):
    """A speech-to-speech model; :meth:`session` opens a conversation."""

    def __init__(self, *, capabilities: RealtimeCapabilities) -> None:
        if not isinstance(capabilities, RealtimeCapabilities):
            raise TypeError(
                "capabilities must be an llm.RealtimeCapabilities, "
                f"got {type(capabilities).__name__}"
            )
        self._capabilities = capabilities
        self._label = f"{type(self).__module__}.{type(self).__name__}"

    @property
    def capabilities(self) -> RealtimeCapabilities:
        return self._capabilities

    @property
    def label(self) -> str:
        return self._label

    @property
    def model(self) -> str:
        return "unknown"

    @property
    def provider(self) -> str:
        return "unknown"

    @abstractmethod
    def session(self) -> RealtimeSession:
        """Open a new session (a connection to the model)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the model's resources."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class RealtimeSession(ABC, EventEmitter[str]):
    """One live conversation with a realtime model."""

    def __init__(self, realtime_model: RealtimeModel) -> None:
        super().__init__()
        self._realtime_model = realtime_model

    @property
    def realtime_model(self) -> RealtimeModel:
        return self._realtime_model

    @property
    @abstractmethod
    def chat_ctx(self) -> ChatContext:
        """The conversation as the model currently knows it."""

    @property
    @abstractmethod
    def tools(self) -> ToolContext:
        """The tools the model can call."""

    @abstractmethod
    async def update_instructions(self, instructions: str) -> None:
        """Replace the system instructions."""

    @abstractmethod
    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        """Make the model's conversation match ``chat_ctx``."""

    @abstractmethod
    async def update_tools(self, tools: list[Tool]) -> None:
        """Replace the tools."""

    @abstractmethod
    def update_options(self, *, tool_choice: NotGivenOr[ToolChoice | None] = NOT_GIVEN) -> None:
        """Change session options."""

    @abstractmethod
    def push_audio(self, frame: rtc.AudioFrame) -> None:
        """Send user audio."""

    def push_video(self, frame: rtc.VideoFrame) -> None:
        """Send a video frame (models without vision ignore it)."""

    @abstractmethod
    def generate_reply(
        self,
        *,
        instructions: NotGivenOr[str] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        tools: NotGivenOr[list[Tool]] = NOT_GIVEN,
    ) -> asyncio.Future[GenerationCreatedEvent]:
        """Ask for a response; the future resolves when the generation starts."""

    @abstractmethod
    def commit_audio(self) -> None:
        """End the user's turn: the pushed audio is a complete input."""

    @abstractmethod
    def clear_audio(self) -> None:
        """Drop the audio pushed since the last commit."""

    @abstractmethod
    def interrupt(self) -> None:
        """Stop the current generation."""

    @abstractmethod
    def truncate(
        self,
        *,
        message_id: str,
        modalities: list[Modality],
        audio_end_ms: int,
        audio_transcript: NotGivenOr[str] = NOT_GIVEN,
    ) -> None:
        """Cut an assistant message at what the user actually heard."""

    def start_user_activity(self) -> None:
        """Tell the model the user started talking (models that need it override this)."""

    def update_turn_detection(self, *, enabled: bool) -> bool:
        """Switch the model's own turn detection (server-side VAD) on or off.

        The voice runtime calls ``update_turn_detection(enabled=False)`` when the session
        detects the user's turns itself (a VAD, an STT or manual turns), so that the model
        only answers when asked. Returns True when the model applied the change. Models whose
        ``capabilities.can_disable_turn_detection`` is True override this; the default returns
        False, and the runtime then drops the responses the model starts on its own.
        """
        return False

    async def say(self, text: str, **kwargs: Any) -> GenerationCreatedEvent:
        """Speak ``text`` verbatim. Only models with ``capabilities.supports_say``."""
        raise NotImplementedError(
            f"{self._realtime_model.label} cannot speak fixed text (supports_say=False); "
            "add a TTS to the session to use say()"
        )

    @abstractmethod
    async def aclose(self) -> None:
        """Close the session."""


__all__ = [
    "GenerationCreatedEvent",
    "InputSpeechStartedEvent",
    "InputSpeechStoppedEvent",
    "InputTranscriptionCompleted",
    "MessageGeneration",
    "Modality",
    "RealtimeCapabilities",
    "RealtimeError",
    "RealtimeModel",
    "RealtimeModelError",
    "RealtimeSession",
    "RealtimeSessionReconnectedEvent",
]
