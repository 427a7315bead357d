"""Events emitted by ``AgentSession`` (``session.on("<type>", callback)``)."""

from __future__ import annotations

from enum import Enum, unique
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import Self

from ..llm import AgentHandoff, ChatMessage, FunctionCall, FunctionCallOutput
from ..metrics import AgentMetrics

AgentState = Literal["initializing", "idle", "listening", "thinking", "speaking"]
UserState = Literal["speaking", "listening", "away"]

EventTypes = Literal[
    "user_state_changed",
    "agent_state_changed",
    "user_input_transcribed",
    "conversation_item_added",
    "agent_false_interruption",
    "function_tools_executed",
    "metrics_collected",
    "speech_created",
    "error",
    "close",
]


@unique
class CloseReason(str, Enum):
    """Why a session closed."""

    ERROR = "error"
    JOB_SHUTDOWN = "job_shutdown"
    PARTICIPANT_DISCONNECTED = "participant_disconnected"
    USER_INITIATED = "user_initiated"
    TASK_COMPLETED = "task_completed"


class UserStateChangedEvent(BaseModel):
    type: Literal["user_state_changed"] = "user_state_changed"
    old_state: UserState
    new_state: UserState
    created_at: float = 0.0


class AgentStateChangedEvent(BaseModel):
    type: Literal["agent_state_changed"] = "agent_state_changed"
    old_state: AgentState
    new_state: AgentState
    created_at: float = 0.0


class UserInputTranscribedEvent(BaseModel):
    type: Literal["user_input_transcribed"] = "user_input_transcribed"
    transcript: str
    is_final: bool
    speaker_id: str | None = None
    language: str | None = None
    created_at: float = 0.0


class AgentFalseInterruptionEvent(BaseModel):
    """The user spoke over the agent without saying words; ``resumed`` tells if speech resumed."""

    type: Literal["agent_false_interruption"] = "agent_false_interruption"
    resumed: bool
    created_at: float = 0.0


class MetricsCollectedEvent(BaseModel):
    type: Literal["metrics_collected"] = "metrics_collected"
    metrics: AgentMetrics
    created_at: float = 0.0


class ConversationItemAddedEvent(BaseModel):
    type: Literal["conversation_item_added"] = "conversation_item_added"
    item: ChatMessage | AgentHandoff = Field(..., discriminator="type")
    created_at: float = 0.0


class FunctionToolsExecutedEvent(BaseModel):
    """Tools called in one LLM step, with their outputs (None when a tool produced none)."""

    type: Literal["function_tools_executed"] = "function_tools_executed"
    function_calls: list[FunctionCall]
    function_call_outputs: list[FunctionCallOutput | None]
    created_at: float = 0.0
    _reply_cancelled: bool = False
    _handoff_cancelled: bool = False

    @model_validator(mode="after")
    def _check_lengths(self) -> Self:
        if len(self.function_calls) != len(self.function_call_outputs):
            raise ValueError(
                "function_calls and function_call_outputs must have the same length "
                f"({len(self.function_calls)} != {len(self.function_call_outputs)})"
            )
        return self

    def zipped(self) -> list[tuple[FunctionCall, FunctionCallOutput | None]]:
        """Pairs of (call, output)."""
        return list(zip(self.function_calls, self.function_call_outputs, strict=True))

    def cancel_tool_reply(self) -> None:
        """Do not let the LLM reply to these tool outputs."""
        self._reply_cancelled = True

    def cancel_agent_handoff(self) -> None:
        """Do not perform the handoff a tool asked for."""
        self._handoff_cancelled = True

    @property
    def has_tool_reply(self) -> bool:
        return any(o is not None and o.reply_required for o in self.function_call_outputs)


class SpeechCreatedEvent(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    type: Literal["speech_created"] = "speech_created"
    user_initiated: bool
    """True when created by a public method (``say``/``generate_reply``)."""
    source: Literal["say", "generate_reply", "tool_response"]
    """How the speech was created."""
    speech_handle: Any = Field(..., exclude=True)
    """The :class:`SpeechHandle` that was created."""
    created_at: float = 0.0


class ErrorEvent(BaseModel):
    """A model reported an error; ``error.recoverable`` says whether the session keeps going."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    type: Literal["error"] = "error"
    error: Any
    source: Any
    created_at: float = 0.0


class CloseEvent(BaseModel):
    """The session closed; ``error`` is set when it closed because of an unrecoverable error."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    type: Literal["close"] = "close"
    error: Any = None
    reason: CloseReason
    created_at: float = 0.0


AgentEvent = Union[  # noqa: UP007 (runtime alias, py3.10)
    UserInputTranscribedEvent,
    UserStateChangedEvent,
    AgentStateChangedEvent,
    AgentFalseInterruptionEvent,
    MetricsCollectedEvent,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
    SpeechCreatedEvent,
    ErrorEvent,
    CloseEvent,
]

__all__ = [
    "AgentEvent",
    "AgentFalseInterruptionEvent",
    "AgentMetrics",
    "AgentState",
    "AgentStateChangedEvent",
    "CloseEvent",
    "CloseReason",
    "ConversationItemAddedEvent",
    "ErrorEvent",
    "EventTypes",
    "FunctionToolsExecutedEvent",
    "MetricsCollectedEvent",
    "SpeechCreatedEvent",
    "UserInputTranscribedEvent",
    "UserState",
    "UserStateChangedEvent",
]
