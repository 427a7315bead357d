"""Agent: instructions, tools, models and the overridable pipeline nodes of one persona.

An ``Agent`` runs inside an ``AgentSession``. Every model argument left unset falls back to the
session's. Subclasses may override the nodes (``stt_node``, ``llm_node``, ``tts_node``,
``transcription_node``, ``realtime_audio_output_node``) and call ``Agent.default.<node>`` to wrap
the default behaviour.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncGenerator, AsyncIterable, Coroutine, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, Union

from livekit import rtc

from ..llm import ChatContext, ChatMessage, ToolError, find_function_tools
from ..llm.llm import LLM, ChatChunk
from ..types import NOT_GIVEN, NotGivenOr, is_given
from ..utils import aio
from .turn_handling import (
    TurnHandlingOptions,
    merge_legacy,
    overrides_as_turn_handling,
    parse_turn_handling,
)

if TYPE_CHECKING:
    from .. import stt as stt_mod
    from .. import tts as tts_mod
    from .. import vad as vad_mod
    from .agent_activity import AgentActivity
    from .agent_session import AgentSession

TurnDetectionMode = Union[Literal["stt", "vad", "realtime_llm", "manual"], Any]  # noqa: UP007
"""How the end of the user's turn is detected: a mode name or a turn-detector object."""

TaskResult_T = TypeVar("TaskResult_T")

INSTRUCTIONS_MESSAGE_ID = "voxlane_agent_instructions"

# set by the runtime while it runs a function tool or an on_enter/on_exit hook
_task_scope: contextvars.ContextVar[AgentActivity | None] = contextvars.ContextVar(
    "voxlane_agent_task_scope", default=None
)


@dataclass
class ModelSettings:
    """Per-call settings passed to the pipeline nodes."""

    tool_choice: NotGivenOr[Any] = NOT_GIVEN
    """The tool choice to use when calling the LLM."""


class Agent:
    """A persona: instructions, tools and (optionally) its own models and turn-taking options.

    Turn-taking options come from ``turn_handling=`` (LiveKit's newer spelling, see
    ``turn_handling.py``) or the older ``turn_detection=`` / ``allow_interruptions=``; each
    value the agent sets overrides the session's while the agent runs.
    """

    # tool execution detects a handoff return value by this marker
    _voxlane_agent: ClassVar[bool] = True

    def __init__(
        self,
        *,
        instructions: str,
        chat_ctx: NotGivenOr[ChatContext | None] = NOT_GIVEN,
        tools: list[Any] | None = None,
        turn_detection: NotGivenOr[TurnDetectionMode | None] = NOT_GIVEN,
        stt: NotGivenOr[stt_mod.STT | str | None] = NOT_GIVEN,
        vad: NotGivenOr[vad_mod.VAD | str | None] = NOT_GIVEN,
        llm: NotGivenOr[LLM | Any | str | None] = NOT_GIVEN,
        tts: NotGivenOr[tts_mod.TTS | str | None] = NOT_GIVEN,
        mcp_servers: NotGivenOr[list[Any] | None] = NOT_GIVEN,
        allow_interruptions: NotGivenOr[bool] = NOT_GIVEN,
        min_consecutive_speech_delay: NotGivenOr[float] = NOT_GIVEN,
        id: str | None = None,
        turn_handling: NotGivenOr[TurnHandlingOptions] = NOT_GIVEN,
    ) -> None:
        if not isinstance(instructions, str):
            raise TypeError(
                f"Agent(instructions=...) must be a str, got {type(instructions).__name__}"
            )
        if is_given(min_consecutive_speech_delay) and min_consecutive_speech_delay < 0:
            raise ValueError(
                "min_consecutive_speech_delay must be >= 0 seconds, "
                f"got {min_consecutive_speech_delay}"
            )
        from ..plugin.manager import resolve_provider

        self._id = id or _default_agent_id(type(self))
        self._instructions = instructions
        self._tools: list[Any] = list(tools or []) + list(find_function_tools(self))
        self._chat_ctx = (
            chat_ctx.copy(tools=self._tools) if isinstance(chat_ctx, ChatContext) else ChatContext()
        )
        overrides = (
            parse_turn_handling(turn_handling, owner=type(self).__name__)
            if is_given(turn_handling)
            else {}
        )
        self._voice_overrides: dict[str, Any] = merge_legacy(
            overrides,
            {
                "turn_detection": (turn_detection, NOT_GIVEN),
                "allow_interruptions": (allow_interruptions, NOT_GIVEN),
            },
            owner=type(self).__name__,
        )
        """VoiceOptions fields this agent sets over the session's (turn_handling + old kwargs)."""
        self._stt: Any = resolve_provider("stt", stt) if isinstance(stt, str) else stt
        self._vad: Any = resolve_provider("vad", vad) if isinstance(vad, str) else vad
        self._llm: Any = resolve_provider("llm", llm) if isinstance(llm, str) else llm
        self._tts: Any = resolve_provider("tts", tts) if isinstance(tts, str) else tts
        if isinstance(mcp_servers, list) and not mcp_servers:
            mcp_servers = None
        self._mcp_servers = mcp_servers
        self._min_consecutive_speech_delay = min_consecutive_speech_delay
        self._activity: AgentActivity | None = None

    # -- properties --------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """A stable identifier of this agent (defaults to the snake_case class name)."""
        return self._id

    @property
    def label(self) -> str:
        return type(self).__name__

    @property
    def instructions(self) -> str:
        return self._instructions

    @property
    def tools(self) -> list[Any]:
        return list(self._tools)

    @property
    def chat_ctx(self) -> ChatContext:
        """A read-only view of the agent's chat context (use ``update_chat_ctx`` to change it)."""
        return self._chat_ctx.as_readonly()

    @property
    def turn_detection(self) -> NotGivenOr[TurnDetectionMode | None]:
        """The agent's turn detection (``turn_detection=`` or ``turn_handling``), if set."""
        return self._voice_overrides.get("turn_detection", NOT_GIVEN)

    @property
    def turn_handling(self) -> TurnHandlingOptions:
        """The turn options this agent sets over the session's (others: the session's)."""
        return overrides_as_turn_handling(self._voice_overrides)

    @property
    def stt(self) -> NotGivenOr[stt_mod.STT | None]:
        return self._stt  # type: ignore[no-any-return]

    @property
    def vad(self) -> NotGivenOr[vad_mod.VAD | None]:
        return self._vad  # type: ignore[no-any-return]

    @property
    def llm(self) -> NotGivenOr[LLM | Any | None]:
        return self._llm

    @property
    def tts(self) -> NotGivenOr[tts_mod.TTS | None]:
        return self._tts  # type: ignore[no-any-return]

    @property
    def mcp_servers(self) -> NotGivenOr[list[Any] | None]:
        return self._mcp_servers

    @property
    def allow_interruptions(self) -> NotGivenOr[bool]:
        return self._voice_overrides.get("allow_interruptions", NOT_GIVEN)  # type: ignore[no-any-return]

    @property
    def min_consecutive_speech_delay(self) -> NotGivenOr[float]:
        return self._min_consecutive_speech_delay

    @property
    def session(self) -> AgentSession[Any]:
        """The session running this agent (RuntimeError when the agent is not running)."""
        return self._get_activity_or_raise().session

    @property
    def realtime_llm_session(self) -> Any:
        """The realtime model session of this agent (RuntimeError when there is none)."""
        rt = self._get_activity_or_raise().realtime_llm_session
        if rt is None:
            raise RuntimeError(
                f"{self.label} has no realtime LLM session: its LLM is not a RealtimeModel"
            )
        return rt

    def _get_activity_or_raise(self) -> AgentActivity:
        if self._activity is None:
            raise RuntimeError(
                f"{self.label} is not running: start it with `await session.start(agent)` "
                "or hand off to it from a tool"
            )
        return self._activity

    # -- mutators ----------------------------------------------------------------------------

    async def update_instructions(self, instructions: str) -> None:
        """Replace the agent's instructions (applies to the next LLM call)."""
        if not isinstance(instructions, str):
            raise TypeError(f"instructions must be a str, got {type(instructions).__name__}")
        self._instructions = instructions
        if self._activity is not None:
            await self._activity.update_instructions(instructions)

    async def update_tools(self, tools: list[Any]) -> None:
        """Replace the agent's tools (applies to the next LLM call)."""
        unique: list[Any] = []
        for t in tools:
            if t not in unique:
                unique.append(t)
        self._tools = unique
        self._chat_ctx = self._chat_ctx.copy(tools=self._tools)
        if self._activity is not None:
            await self._activity.update_tools(unique)

    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        """Replace the agent's chat context (tool items of unknown tools are dropped)."""
        if not isinstance(chat_ctx, ChatContext):
            raise TypeError(f"chat_ctx must be a ChatContext, got {type(chat_ctx).__name__}")
        self._chat_ctx = chat_ctx.copy(tools=self._tools)
        if self._activity is not None:
            await self._activity.update_chat_ctx(self._chat_ctx)

    # -- hooks -------------------------------------------------------------------------------

    async def on_enter(self) -> None:
        """Called when this agent becomes the active agent of the session."""

    async def on_exit(self) -> None:
        """Called when this agent stops being the active agent."""

    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        """Called when the user finished speaking, before the LLM replies.

        ``turn_ctx`` is a temporary copy of the chat context and ``new_message`` the user
        message: both may be edited. Raise ``StopResponse`` to skip the reply.
        """

    # -- pipeline nodes ----------------------------------------------------------------------

    def stt_node(
        self, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
    ) -> (
        AsyncIterable[stt_mod.SpeechEvent | str]
        | Coroutine[Any, Any, AsyncIterable[stt_mod.SpeechEvent | str]]
        | Coroutine[Any, Any, None]
    ):
        """Turn the user's audio into speech events (default: the agent's STT)."""
        return Agent.default.stt_node(self, audio, model_settings)

    def llm_node(
        self,
        chat_ctx: ChatContext,
        tools: list[Any],
        model_settings: ModelSettings,
    ) -> (
        AsyncIterable[ChatChunk | str]
        | Coroutine[Any, Any, AsyncIterable[ChatChunk | str]]
        | Coroutine[Any, Any, str]
        | Coroutine[Any, Any, ChatChunk]
        | Coroutine[Any, Any, None]
    ):
        """Generate the reply: text and/or tool calls (default: the agent's LLM)."""
        return Agent.default.llm_node(self, chat_ctx, tools, model_settings)

    def transcription_node(
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> AsyncIterable[str] | Coroutine[Any, Any, AsyncIterable[str]] | Coroutine[Any, Any, None]:
        """Post-process the reply text sent to the transcription output (default: unchanged)."""
        return Agent.default.transcription_node(self, text, model_settings)

    def tts_node(
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> (
        AsyncIterable[rtc.AudioFrame]
        | Coroutine[Any, Any, AsyncIterable[rtc.AudioFrame]]
        | Coroutine[Any, Any, None]
    ):
        """Synthesize the reply text into audio (default: the agent's TTS)."""
        return Agent.default.tts_node(self, text, model_settings)

    def realtime_audio_output_node(
        self, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
    ) -> (
        AsyncIterable[rtc.AudioFrame]
        | Coroutine[Any, Any, AsyncIterable[rtc.AudioFrame]]
        | Coroutine[Any, Any, None]
    ):
        """Process audio from a realtime model before it is played (default: unchanged)."""
        return Agent.default.realtime_audio_output_node(self, audio, model_settings)

    class default:
        """The default node implementations, callable from overrides."""

        @staticmethod
        async def stt_node(
            agent: Agent, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
        ) -> AsyncGenerator[stt_mod.SpeechEvent, None]:
            from .. import stt as stt_mod

            activity = agent._get_activity_or_raise()
            stt = activity.stt
            if stt is None:
                raise RuntimeError(
                    f"stt_node called but {agent.label} has no STT: pass stt= to the Agent or "
                    "the AgentSession"
                )
            wrapped: stt_mod.STT = stt
            if not stt.capabilities.streaming:
                if activity.vad is None:
                    raise RuntimeError(
                        f"The STT ({stt.label}) does not support streaming, add a VAD to the "
                        "Agent/AgentSession to enable streaming, or wrap your STT in a "
                        "stt.StreamAdapter yourself"
                    )
                wrapped = stt_mod.StreamAdapter(stt=stt, vad=activity.vad)
            conn_options = activity.session.conn_options.stt_conn_options
            async with wrapped.stream(conn_options=conn_options) as stream:

                async def _forward() -> None:
                    async for frame in audio:
                        stream.push_frame(frame)
                    stream.end_input()

                forward_task = asyncio.create_task(_forward(), name="stt_node_forward")
                try:
                    async for ev in stream:
                        yield ev
                finally:
                    await aio.cancel_and_wait(forward_task)

        @staticmethod
        async def llm_node(
            agent: Agent,
            chat_ctx: ChatContext,
            tools: list[Any],
            model_settings: ModelSettings,
        ) -> AsyncGenerator[ChatChunk | str, None]:
            activity = agent._get_activity_or_raise()
            model = activity.llm
            if not isinstance(model, LLM):
                raise RuntimeError(
                    f"llm_node called but {agent.label} has no LLM (or it is a RealtimeModel): "
                    "pass llm= to the Agent or the AgentSession"
                )
            conn_options = activity.session.conn_options.llm_conn_options
            async with model.chat(
                chat_ctx=chat_ctx,
                tools=tools,
                tool_choice=model_settings.tool_choice,
                conn_options=conn_options,
            ) as stream:
                async for chunk in stream:
                    yield chunk

        @staticmethod
        async def tts_node(
            agent: Agent, text: AsyncIterable[str], model_settings: ModelSettings
        ) -> AsyncGenerator[rtc.AudioFrame, None]:
            from .. import tokenize
            from .. import tts as tts_mod

            activity = agent._get_activity_or_raise()
            tts = activity.tts
            if tts is None:
                raise RuntimeError(
                    f"tts_node called but {agent.label} has no TTS: pass tts= to the Agent or "
                    "the AgentSession, or disable audio output"
                )
            wrapped: tts_mod.TTS = tts
            if not tts.capabilities.streaming:
                wrapped = tts_mod.StreamAdapter(
                    tts=tts, sentence_tokenizer=tokenize.basic.SentenceTokenizer()
                )
            conn_options = activity.session.conn_options.tts_conn_options
            async with wrapped.stream(conn_options=conn_options) as stream:

                async def _forward() -> None:
                    async for chunk in text:
                        stream.push_text(chunk)
                    stream.end_input()

                forward_task = asyncio.create_task(_forward(), name="tts_node_forward")
                try:
                    async for ev in stream:
                        yield ev.frame
                finally:
                    await aio.cancel_and_wait(forward_task)

        @staticmethod
        async def transcription_node(
            agent: Agent, text: AsyncIterable[str], model_settings: ModelSettings
        ) -> AsyncGenerator[str, None]:
            async for delta in text:
                yield delta

        @staticmethod
        async def realtime_audio_output_node(
            agent: Agent, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
        ) -> AsyncGenerator[rtc.AudioFrame, None]:
            async for frame in audio:
                yield frame


def _default_agent_id(cls: type) -> str:
    name = cls.__name__
    out: list[str] = []
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0 and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class AgentTask(Agent, Generic[TaskResult_T]):
    """A sub-agent that takes over the conversation until it ``complete()``s with a result.

    ``result = await MyTask(...)`` is allowed only inside a function tool or inside
    ``on_enter``/``on_exit`` of the running agent: the caller's agent is paused, the task
    becomes the active agent, and the caller resumes with the task's result once the task calls
    ``self.complete(result)`` (or ``self.complete(ToolError(...))`` to fail).
    """

    def __init__(
        self,
        *,
        instructions: str,
        chat_ctx: NotGivenOr[ChatContext | None] = NOT_GIVEN,
        tools: list[Any] | None = None,
        turn_detection: NotGivenOr[TurnDetectionMode | None] = NOT_GIVEN,
        stt: NotGivenOr[stt_mod.STT | str | None] = NOT_GIVEN,
        vad: NotGivenOr[vad_mod.VAD | str | None] = NOT_GIVEN,
        llm: NotGivenOr[LLM | Any | str | None] = NOT_GIVEN,
        tts: NotGivenOr[tts_mod.TTS | str | None] = NOT_GIVEN,
        mcp_servers: NotGivenOr[list[Any] | None] = NOT_GIVEN,
        allow_interruptions: NotGivenOr[bool] = NOT_GIVEN,
        min_consecutive_speech_delay: NotGivenOr[float] = NOT_GIVEN,
        id: str | None = None,
        turn_handling: NotGivenOr[TurnHandlingOptions] = NOT_GIVEN,
    ) -> None:
        super().__init__(
            instructions=instructions,
            chat_ctx=chat_ctx,
            tools=tools,
            turn_detection=turn_detection,
            stt=stt,
            vad=vad,
            llm=llm,
            tts=tts,
            mcp_servers=mcp_servers,
            allow_interruptions=allow_interruptions,
            min_consecutive_speech_delay=min_consecutive_speech_delay,
            id=id,
            turn_handling=turn_handling,
        )
        self._result_fut: asyncio.Future[TaskResult_T] | None = None
        self._started = False

    @property
    def done(self) -> bool:
        return self._result_fut is not None and self._result_fut.done()

    def complete(self, result: TaskResult_T | ToolError) -> None:
        """Finish the task: the awaiting caller gets ``result`` (or the ToolError raised)."""
        if self._result_fut is None:
            raise RuntimeError(
                f"{self.label} is not running: await the task from a function tool or from "
                "on_enter/on_exit before calling complete()"
            )
        if self._result_fut.done():
            raise RuntimeError(f"{self.label} is already done: complete() was called twice")
        if isinstance(result, ToolError):
            self._result_fut.set_exception(result)
        else:
            self._result_fut.set_result(result)

    def __await__(self) -> Generator[Any, None, TaskResult_T]:
        return self._run_task().__await__()

    async def _run_task(self) -> TaskResult_T:
        caller = _task_scope.get()
        if caller is None:
            raise RuntimeError(
                f"{self.label} (an AgentTask) can only be awaited inside a function tool or "
                "inside on_enter/on_exit of the running agent"
            )
        if self._started:
            raise RuntimeError(f"{self.label} was already awaited once; create a new task")
        self._started = True
        self._result_fut = asyncio.get_running_loop().create_future()
        session = caller.session
        old_agent = caller.agent
        await session._run_agent_task(self, old_activity=caller)
        try:
            result = await asyncio.shield(self._result_fut)
        finally:
            await session._finish_agent_task(self, old_activity=caller)
            old_agent._chat_ctx.merge(
                self._chat_ctx, exclude_function_call=True, exclude_instructions=True
            )
        return result


InlineTask = AgentTask
"""Older name of :class:`AgentTask`, kept for compatibility."""

__all__ = ["Agent", "AgentTask", "InlineTask", "ModelSettings", "TurnDetectionMode"]
