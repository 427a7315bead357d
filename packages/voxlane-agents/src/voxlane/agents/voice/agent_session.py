"""AgentSession: runs agents against the user's audio/text I/O.

The session holds the models shared by its agents (each agent may override them), the
conversation history, the turn-taking and interruption options, the user's and agent's states,
and the I/O (``session.input`` / ``session.output``). ``start(agent)`` runs the first agent;
``update_agent`` (or a tool returning an Agent) hands the conversation to another one.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, overload

from livekit import rtc

from ..llm import AgentHandoff, ChatContext, ChatMessage
from ..llm.llm import LLM
from ..metrics import UsageCollector, UsageSummary
from ..types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr, is_given
from ..utils import aio
from ..utils.events import EventEmitter
from .agent import Agent, AgentTask, TurnDetectionMode
from .agent_activity import AgentActivity
from .events import (
    AgentState,
    AgentStateChangedEvent,
    CloseEvent,
    CloseReason,
    ConversationItemAddedEvent,
    ErrorEvent,
    EventTypes,
    UserState,
    UserStateChangedEvent,
)
from .io import AgentInput, AgentOutput
from .run_context import Userdata_T
from .run_control import DEFAULT_RUN_TIMEOUT, wait_inactive
from .session_tools import SessionTools
from .speech_handle import SpeechHandle, _running_tool_speech
from .turn_handling import (
    TurnHandlingOptions,
    VoiceOptions,
    build_session_options,
    check_non_negative,
    with_overrides,
)

if TYPE_CHECKING:
    from .. import stt as stt_mod
    from .. import tts as tts_mod
    from .. import vad as vad_mod
    from .run_result import Run_T, RunResult

logger = logging.getLogger("voxlane.agents.voice")


@dataclass(frozen=True)
class SessionConnectOptions:
    """Connection options for the session's models, and its error tolerance."""

    stt_conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    llm_conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    tts_conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    max_unrecoverable_errors: int = 3
    """Unrecoverable model errors in a row after which the session closes."""

    def __post_init__(self) -> None:
        if self.max_unrecoverable_errors < 1:
            raise ValueError(
                f"max_unrecoverable_errors must be >= 1, got {self.max_unrecoverable_errors}"
            )


class AgentSession(EventEmitter[EventTypes], Generic[Userdata_T]):
    """Runs a voice (or text) conversation with one active :class:`Agent` at a time.

    Args (all optional, keyword-only):
        turn_detection: "stt", "vad", "realtime_llm", "manual" or a turn-detector object;
            chosen automatically (realtime_llm -> vad -> stt -> manual) when not given.
        stt, vad, llm, tts: models (or provider strings such as ``"deepgram/nova-3"``).
        mcp_servers: MCP servers providing tools.
        userdata: arbitrary per-session data, available to tools as ``context.userdata``.
        allow_interruptions: whether the user can interrupt the agent (default True).
        discard_audio_if_uninterruptible: while uninterruptible speech plays, the STT hears
            silence instead of the user (default True).
        min_interruption_duration: seconds of user speech that interrupt the agent (0.5).
        min_interruption_words: words needed to interrupt (0: any speech; needs an STT).
        min_endpointing_delay / max_endpointing_delay: seconds to wait after the user stops
            before ending the turn (0.5 / 6.0; max applies when a turn detector is unsure).
        max_tool_steps: consecutive LLM steps that may call tools (3).
        user_away_timeout: seconds of mutual silence before the user is "away" (15; None
            disables).
        min_consecutive_speech_delay: minimum pause between two speeches (0).
        false_interruption_timeout: seconds after a wordless interruption before the paused
            speech resumes (2.0; None disables resuming).
        preemptive_generation: start the LLM (not the TTS) on the user's preflight/final
            transcript before the end of the turn is confirmed; the request is dropped if the
            turn ends with a different text or context (default False).
        sync_transcription: when both an audio and a transcription output are set, release
            the text word by word as the audio plays (default True; see ``AgentOutput``).
        conn_options: :class:`SessionConnectOptions`.
        turn_handling: LiveKit's newer spelling of the turn options above, as one
            :class:`~voxlane.agents.voice.turn_handling.TurnHandlingOptions` mapping
            (``turn_detection``, ``endpointing``, ``interruption``, ``preemptive_generation``).
            Setting an option both ways is an error (see ``turn_handling.py`` for the rules).
    """

    def __init__(
        self,
        *,
        turn_detection: NotGivenOr[TurnDetectionMode] = NOT_GIVEN,
        stt: NotGivenOr[stt_mod.STT | str] = NOT_GIVEN,
        vad: NotGivenOr[vad_mod.VAD | str] = NOT_GIVEN,
        llm: NotGivenOr[LLM | Any | str] = NOT_GIVEN,
        tts: NotGivenOr[tts_mod.TTS | str] = NOT_GIVEN,
        mcp_servers: NotGivenOr[list[Any]] = NOT_GIVEN,
        userdata: NotGivenOr[Userdata_T] = NOT_GIVEN,
        allow_interruptions: bool = True,
        discard_audio_if_uninterruptible: bool = True,
        min_interruption_duration: float = 0.5,
        min_interruption_words: int = 0,
        min_endpointing_delay: float = 0.5,
        max_endpointing_delay: float = 6.0,
        max_tool_steps: int = 3,
        video_sampler: NotGivenOr[Any] = NOT_GIVEN,
        user_away_timeout: float | None = 15.0,
        min_consecutive_speech_delay: float = 0.0,
        false_interruption_timeout: float | None = 2.0,
        resume_false_interruption: bool = True,
        sync_transcription: bool = True,
        preemptive_generation: bool = False,
        conn_options: NotGivenOr[SessionConnectOptions] = NOT_GIVEN,
        loop: asyncio.AbstractEventLoop | None = None,
        turn_handling: NotGivenOr[TurnHandlingOptions] = NOT_GIVEN,
    ) -> None:
        super().__init__()
        self._opts = build_session_options(
            turn_handling,
            turn_detection=turn_detection,
            allow_interruptions=allow_interruptions,
            discard_audio_if_uninterruptible=discard_audio_if_uninterruptible,
            min_interruption_duration=min_interruption_duration,
            min_interruption_words=min_interruption_words,
            min_endpointing_delay=min_endpointing_delay,
            max_endpointing_delay=max_endpointing_delay,
            false_interruption_timeout=false_interruption_timeout,
            resume_false_interruption=resume_false_interruption,
            preemptive_generation=preemptive_generation,
        )
        for name, value in (
            ("user_away_timeout", user_away_timeout),
            ("min_consecutive_speech_delay", min_consecutive_speech_delay),
        ):
            check_non_negative(name, value)
        if max_tool_steps < 1:
            raise ValueError(f"max_tool_steps must be >= 1, got {max_tool_steps}")
        self._opts.max_tool_steps = max_tool_steps
        self._opts.user_away_timeout = user_away_timeout
        self._opts.min_consecutive_speech_delay = min_consecutive_speech_delay
        from ..plugin.manager import resolve_provider

        self._stt: Any = resolve_provider("stt", stt) if is_given(stt) else None
        self._vad: Any = resolve_provider("vad", vad) if is_given(vad) else None
        self._llm: Any = resolve_provider("llm", llm) if is_given(llm) else None
        self._tts: Any = resolve_provider("tts", tts) if is_given(tts) else None
        self._mcp_servers = mcp_servers if is_given(mcp_servers) and mcp_servers else None
        self._userdata: Userdata_T | None = userdata if is_given(userdata) else None
        self._video_sampler = video_sampler
        self._conn_options = conn_options if is_given(conn_options) else SessionConnectOptions()
        self._loop = loop
        self._input = AgentInput(on_audio_changed=self._on_audio_input_changed)
        self._output = AgentOutput(sync_transcription=sync_transcription)
        self._chat_ctx = ChatContext()
        self._agent: Agent | None = None
        self._activity: AgentActivity | None = None
        self._agent_state: AgentState = "initializing"
        self._user_state: UserState = "listening"
        self._started = False
        self._closing = False
        self._closing_event = asyncio.Event()
        self._closed = False
        self._update_lock = asyncio.Lock()
        self._pending_updates: set[asyncio.Task[None]] = set()
        self._audio_task: asyncio.Task[None] | None = None
        self._away_timer: asyncio.TimerHandle | None = None
        self._unrecoverable_errors = 0
        self._close_task: asyncio.Task[None] | None = None
        self._tool_mocks: dict[str, Any] = {}
        self._room_io: Any = None
        self._paused_activities: list[AgentActivity] = []
        # say/generate_reply called while a handoff drains the old agent: run on the new one
        self._deferred_speeches: list[tuple[SpeechHandle, Callable[..., SpeechHandle]]] = []
        self._session_tools = SessionTools(self)
        self._usage = UsageCollector()
        self.on("metrics_collected", lambda ev: self._usage.collect(ev.metrics))
        self._shutdown_task: asyncio.Task[None] | None = None

    # -- properties --------------------------------------------------------------------------

    @property
    def options(self) -> VoiceOptions:
        return self._opts

    @property
    def conn_options(self) -> SessionConnectOptions:
        return self._conn_options

    @property
    def stt(self) -> stt_mod.STT | None:
        return self._stt  # type: ignore[no-any-return]

    @property
    def vad(self) -> vad_mod.VAD | None:
        return self._vad  # type: ignore[no-any-return]

    @property
    def llm(self) -> LLM | Any | None:
        return self._llm

    @property
    def tts(self) -> tts_mod.TTS | None:
        return self._tts  # type: ignore[no-any-return]

    @property
    def turn_detection(self) -> TurnDetectionMode | None:
        return self._opts.turn_detection

    @property
    def mcp_servers(self) -> list[Any] | None:
        return self._mcp_servers

    @property
    def userdata(self) -> Userdata_T:
        if self._userdata is None:
            raise ValueError(
                "this AgentSession has no userdata: pass userdata=... to AgentSession() "
                "or set session.userdata"
            )
        return self._userdata

    @userdata.setter
    def userdata(self, value: Userdata_T) -> None:
        self._userdata = value

    @property
    def history(self) -> ChatContext:
        """Everything said and done in the session (all agents)."""
        return self._chat_ctx

    @property
    def current_agent(self) -> Agent:
        if self._agent is None:
            raise RuntimeError("the AgentSession is not running: call `await session.start()`")
        return self._agent

    @property
    def current_speech(self) -> SpeechHandle | None:
        return self._activity.current_speech if self._activity is not None else None

    @property
    def agent_state(self) -> AgentState:
        return self._agent_state

    @property
    def user_state(self) -> UserState:
        return self._user_state

    @property
    def usage(self) -> UsageSummary:
        """Tokens, characters and audio seconds used so far (from ``metrics_collected``)."""
        return self._usage.get_summary()

    @property
    def input(self) -> AgentInput:
        return self._input

    @property
    def output(self) -> AgentOutput:
        return self._output

    # -- lifecycle ---------------------------------------------------------------------------

    @overload
    async def start(
        self,
        agent: Agent,
        *,
        room: NotGivenOr[Any] = ...,
        room_input_options: NotGivenOr[Any] = ...,
        room_output_options: NotGivenOr[Any] = ...,
        capture_run: Literal[False] = False,
        room_options: NotGivenOr[Any] = ...,
    ) -> None: ...

    @overload
    async def start(
        self,
        agent: Agent,
        *,
        room: NotGivenOr[Any] = ...,
        room_input_options: NotGivenOr[Any] = ...,
        room_output_options: NotGivenOr[Any] = ...,
        capture_run: Literal[True],
        room_options: NotGivenOr[Any] = ...,
    ) -> RunResult[str]: ...

    async def start(
        self,
        agent: Agent,
        *,
        room: NotGivenOr[Any] = NOT_GIVEN,
        room_input_options: NotGivenOr[Any] = NOT_GIVEN,
        room_output_options: NotGivenOr[Any] = NOT_GIVEN,
        capture_run: bool = False,
        room_options: NotGivenOr[Any] = NOT_GIVEN,
    ) -> RunResult[str] | None:
        """Start the session with ``agent`` (and connect it to ``room`` when given).

        The room binding takes ``room_options=RoomOptions(...)`` or the older
        ``room_input_options=`` / ``room_output_options=`` (not both).
        With ``capture_run=True``, wait until what the agent's ``on_enter`` started is over
        and return it as a :class:`~voxlane.agents.voice.run_result.RunResult`.
        """
        if capture_run:
            from .run_control import capture_start

            return await capture_start(
                self,
                lambda: self.start(
                    agent,
                    room=room,
                    room_input_options=room_input_options,
                    room_output_options=room_output_options,
                    room_options=room_options,
                ),
            )
        if not isinstance(agent, Agent):
            raise TypeError(f"start() needs an Agent, got {type(agent).__name__}")
        if self._started:
            raise RuntimeError("this AgentSession is already started")
        if self._closed:
            raise RuntimeError("this AgentSession is closed; create a new one")
        with_overrides(self._opts, agent._voice_overrides, owner=agent.label)  # fits?
        legacy_room_options = [
            o for o in (room_input_options, room_output_options) if is_given(o) and o is not None
        ]
        if is_given(room_options) and room_options is not None and legacy_room_options:
            raise ValueError(
                "start(): pass either room_options=RoomOptions(...) or the older "
                "room_input_options= / room_output_options=, not both"
            )
        if is_given(room):
            try:
                room_io_mod = importlib.import_module(f"{__package__}.room_io")
                room_io_cls = room_io_mod.RoomIO
            except (ImportError, AttributeError) as e:
                raise RuntimeError(
                    "start(room=...) needs voxlane.agents.voice.room_io.RoomIO, which is not "
                    "available in this installation; set session.input.audio / "
                    "session.output.audio yourself or start without a room"
                ) from e
            self._room_io = room_io_cls(
                self,
                room,
                input_options=room_input_options,
                output_options=room_output_options,
                options=room_options,
            )
            await self._room_io.start()
        self._started = True
        self._agent = agent
        async with self._update_lock:
            self._activity = AgentActivity(agent, self)
            await self._activity.start()
        self._update_agent_state("listening")
        self._start_audio_forwarding()
        return None

    async def wait_for_idle(self) -> None:
        """Wait until the agent is idle (LiveKit's name for :meth:`wait_for_inactive`, with
        the same rules). Raises RuntimeError when the session is not running; returns when it
        closes meanwhile."""
        if self._activity is None:
            raise RuntimeError("the AgentSession is not running: call `await session.start()`")
        await self.wait_for_inactive()

    def shutdown(self, *, drain: bool = True) -> None:
        """Close the session in the background; with ``drain``, let the queued speeches play
        first. Listen to the ``close`` event (or await ``aclose()``) to know when it is done."""
        if self._closing or self._shutdown_task is not None:
            return

        async def _shutdown() -> None:
            if drain and self._activity is not None:
                try:
                    await self.wait_for_idle()
                except Exception:
                    logger.exception("draining before shutdown failed; closing anyway")
            await self._aclose_impl(reason=CloseReason.USER_INITIATED)

        self._shutdown_task = asyncio.create_task(_shutdown(), name="session_shutdown")

    async def drain(self) -> None:
        """Wait until every queued speech has been played (and pending handoffs are done)."""
        if self._activity is None:
            raise RuntimeError("the AgentSession is not running: call `await session.start()`")
        while True:
            if self._pending_updates:
                await asyncio.gather(*self._pending_updates, return_exceptions=True)
            activity = self._activity
            if activity is None:
                return
            await activity.wait_idle()
            if not self._pending_updates and activity is self._activity:
                return

    async def wait_for_inactive(self) -> bool:
        """Wait until the conversation is idle: no handoff under way, the agent's ``on_enter``
        and user-turn hooks done, no speech queued, being generated, playing or running tools,
        no end of turn pending, and the user not speaking.

        Returns True once idle, False when the session is not running or closes meanwhile.
        ``wait_for_idle()`` is the same wait.
        """
        return await wait_inactive(self)

    async def _unless_closing(self, aw: Awaitable[Any]) -> None:
        """Wait for ``aw``, or until the session starts closing."""
        task = asyncio.ensure_future(aw)
        closing = asyncio.ensure_future(self._closing_event.wait())
        try:
            await asyncio.wait([task, closing], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await aio.cancel_and_wait(task, closing)

    async def _wait_event(self, *events: EventTypes) -> None:
        """Wait for the next of ``events``."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def _set(*_: Any) -> None:
            if not fut.done():
                fut.set_result(None)

        for ev in events:
            self.on(ev, _set)
        try:
            await fut
        finally:
            for ev in events:
                self.off(ev, _set)

    async def aclose(self) -> None:
        """Close the session: stop speaking, stop listening, run on_exit, emit ``close``."""
        await self._aclose_impl(reason=CloseReason.USER_INITIATED)

    async def __aenter__(self) -> AgentSession[Userdata_T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _aclose_impl(self, *, reason: CloseReason, error: Any = None) -> None:
        if self._closing:
            if self._close_task is not None and self._close_task is not asyncio.current_task():
                await asyncio.shield(self._close_task)
            return
        self._closing = True
        self._closing_event.set()
        self._cancel_away_timer()
        self._run_deferred_speeches()  # closing: they end without playing
        await aio.cancel_and_wait(*self._pending_updates)
        await aio.cancel_and_wait(self._audio_task)
        if self._activity is not None:
            await self._activity.aclose()
            self._activity = None
        # agents waiting for an AgentTask to finish
        while self._paused_activities:
            await self._paused_activities.pop().aclose()
        await self._session_tools.aclose()
        await self._output._aclose()
        if self._room_io is not None:
            aclose = getattr(self._room_io, "aclose", None)
            if aclose is not None:
                await aclose()
        self._closed = True
        self._started = False
        self.emit("close", CloseEvent(reason=reason, error=error))

    # -- speech ------------------------------------------------------------------------------

    def _running_activity(self) -> AgentActivity:
        if self._activity is None:
            raise RuntimeError("the AgentSession is not running: call `await session.start()`")
        return self._activity

    def say(
        self,
        text: str | AsyncIterable[str],
        *,
        audio: NotGivenOr[AsyncIterable[rtc.AudioFrame]] = NOT_GIVEN,
        allow_interruptions: NotGivenOr[bool] = NOT_GIVEN,
        add_to_chat_ctx: bool = True,
    ) -> SpeechHandle:
        """Speak ``text`` (queued after the current speech).

        During a handoff, the speech is played by the new agent once it has started.
        """

        def make(activity: AgentActivity, handle: SpeechHandle | None = None) -> SpeechHandle:
            return activity.say(
                text,
                audio=audio,
                allow_interruptions=allow_interruptions,
                add_to_chat_ctx=add_to_chat_ctx,
                speech_handle=handle,
            )

        return self._defer_during_handoff(make) or make(self._running_activity())

    def generate_reply(
        self,
        *,
        user_input: NotGivenOr[str] = NOT_GIVEN,
        instructions: NotGivenOr[str] = NOT_GIVEN,
        tool_choice: NotGivenOr[Any] = NOT_GIVEN,
        allow_interruptions: NotGivenOr[bool] = NOT_GIVEN,
    ) -> SpeechHandle:
        """Ask the LLM for a reply (optionally to ``user_input``, with extra instructions).

        Inside a function tool, ``tool_choice`` defaults to "none".
        """
        message = ChatMessage(role="user", content=[user_input]) if is_given(user_input) else None
        if not is_given(tool_choice) and _running_tool_speech.get() is not None:
            tool_choice = "none"  # decided now: a deferred reply runs outside the tool

        def make(activity: AgentActivity, handle: SpeechHandle | None = None) -> SpeechHandle:
            return activity.generate_reply(
                user_message=message,
                instructions=instructions,
                tool_choice=tool_choice,
                allow_interruptions=allow_interruptions,
                speech_handle=handle,
            )

        return self._defer_during_handoff(make) or make(self._running_activity())

    def _defer_during_handoff(self, make: Callable[..., SpeechHandle]) -> SpeechHandle | None:
        """A handle for a speech to create on the next agent, when a handoff is draining."""
        activity = self._running_activity()
        if not activity.draining or self._closing or not self._pending_updates:
            return None
        handle = SpeechHandle.create()
        self._deferred_speeches.append((handle, make))
        return handle

    def _run_deferred_speeches(self) -> None:
        deferred, self._deferred_speeches = self._deferred_speeches, []
        for handle, make in deferred:
            if handle.done() or handle.interrupted or self._activity is None or self._closing:
                handle._mark_done()
                continue
            try:
                make(self._activity, handle)
            except Exception as e:
                logger.exception("a speech deferred during the handoff could not start")
                handle._mark_done(e)

    def interrupt(self, *, force: bool = False) -> asyncio.Future[None]:
        """Interrupt the current and queued speeches; the future resolves once they ended.

        Speeches that do not allow interruptions keep playing, unless ``force``.
        """
        return self._running_activity().interrupt(force=force)

    def commit_user_turn(
        self,
        *,
        transcript_timeout: float = 2.0,
        stt_flush_duration: float = 2.0,
        skip_reply: bool = False,
    ) -> asyncio.Future[str]:
        """End the user's turn now and reply (manual turn detection, push-to-talk).

        Feeds the STT ``stt_flush_duration`` seconds of silence so it finalizes what it heard,
        waits up to ``transcript_timeout`` seconds for that final transcript (else uses the
        interim text), then ends the turn. With ``skip_reply``, the user's message is added to
        the history without a reply (and without interrupting the agent). The future gets the
        committed transcript (``""`` when the user said nothing: then there is no reply).
        """
        for name, value in (
            ("transcript_timeout", transcript_timeout),
            ("stt_flush_duration", stt_flush_duration),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(
                    f"commit_user_turn({name}=...) must be seconds >= 0, got {value!r}"
                )
        return self._running_activity().commit_user_turn(
            transcript_timeout=transcript_timeout,
            stt_flush_duration=stt_flush_duration,
            skip_reply=skip_reply,
        )

    def clear_user_turn(self) -> None:
        """Drop what the user said so far in this turn."""
        self._running_activity().clear_user_turn()

    def update_options(self) -> None:
        """Kept for API compatibility; options are fixed at construction."""

    @overload
    async def run(
        self, *, user_input: str, timeout: float | None = DEFAULT_RUN_TIMEOUT
    ) -> RunResult[str]: ...

    @overload
    async def run(
        self,
        *,
        user_input: str,
        output_type: type[Run_T],
        timeout: float | None = DEFAULT_RUN_TIMEOUT,
    ) -> RunResult[Run_T]: ...

    async def run(
        self,
        *,
        user_input: str,
        output_type: type[Any] | None = None,
        timeout: float | None = DEFAULT_RUN_TIMEOUT,
    ) -> RunResult[Any]:
        """Feed ``user_input`` as a text user turn and wait for everything it causes.

        Speech already under way (such as the ``on_enter`` greeting) finishes first and is not
        part of the run. Returns a :class:`~voxlane.agents.voice.run_result.RunResult` whose
        ``events`` and ``expect`` describe what the agents did (text-only testing).
        ``output_type`` parses the last assistant message into ``final_output``. Raises
        ``RunTimeoutError`` (a ``TimeoutError``) after ``timeout`` seconds (None: no limit).
        """
        from .run_control import run_with_timeout

        return await run_with_timeout(
            self, user_input=user_input, output_type=output_type, timeout=timeout
        )

    # -- agents ------------------------------------------------------------------------------

    def update_agent(self, agent: Agent) -> None:
        """Hand the conversation to ``agent`` (the current one drains and exits first)."""
        if not isinstance(agent, Agent):
            raise TypeError(f"update_agent() needs an Agent, got {type(agent).__name__}")
        with_overrides(self._opts, agent._voice_overrides, owner=agent.label)  # fits?
        self._agent = agent
        if not self._started:
            return
        task = asyncio.create_task(self._handoff(agent), name="agent_handoff")
        self._pending_updates.add(task)
        task.add_done_callback(self._pending_updates.discard)

    async def _handoff(self, agent: Agent) -> None:
        async with self._update_lock:
            old = self._activity
            if old is not None:
                await old.drain()
                await old.aclose()
            if self._closing:
                return
            self._conversation_item_added(
                AgentHandoff(old_agent_id=old.agent.id if old else None, new_agent_id=agent.id)
            )
            self._activity = AgentActivity(agent, self)
            await self._activity.start()
            self._run_deferred_speeches()

    async def _run_agent_task(self, task: AgentTask[Any], *, old_activity: AgentActivity) -> None:
        old_activity.pause()
        self._paused_activities.append(old_activity)
        self._activity = AgentActivity(task, self)
        self._agent = task
        await self._activity.start()

    async def _finish_agent_task(
        self, task: AgentTask[Any], *, old_activity: AgentActivity
    ) -> None:
        activity = task._activity
        if activity is not None:
            await activity.drain()
            await activity.aclose()
        if old_activity in self._paused_activities:
            self._paused_activities.remove(old_activity)
        if self._closing:
            return
        self._activity = old_activity
        self._agent = old_activity.agent
        old_activity.resume()

    def _mocked_tool(self, agent: Agent, name: str) -> Any | None:
        """A replacement tool registered for tests (see ``run_result.mock_tools``), or None."""
        from .run_result import find_tool_mock

        return find_tool_mock(self, agent, name)

    # -- audio input -------------------------------------------------------------------------

    def _on_audio_input_changed(self) -> None:
        if self._started and not self._closing:
            self._start_audio_forwarding()

    def _start_audio_forwarding(self) -> None:
        if self._audio_task is not None:
            self._audio_task.cancel()
            self._audio_task = None
        source = self._input.audio
        if source is None or not self._input.audio_enabled:
            return
        self._audio_task = asyncio.create_task(self._forward_audio(source), name="audio_input")

    async def _forward_audio(self, source: AsyncIterable[rtc.AudioFrame]) -> None:
        async for frame in source:
            if self._activity is not None:
                self._activity.push_audio(frame)

    # -- state and history -------------------------------------------------------------------

    def _conversation_item_added(self, item: Any) -> None:
        if self._chat_ctx.get_by_id(item.id) is None:
            self._chat_ctx.insert(item)
        if isinstance(item, (ChatMessage, AgentHandoff)):
            self.emit("conversation_item_added", ConversationItemAddedEvent(item=item))

    def _update_agent_state(self, state: AgentState) -> None:
        if state == self._agent_state:
            return
        old = self._agent_state
        self._agent_state = state
        if state == "speaking":
            self._unrecoverable_errors = 0
        self.emit("agent_state_changed", AgentStateChangedEvent(old_state=old, new_state=state))
        self._refresh_away_timer()

    def _update_user_state(self, state: UserState) -> None:
        if state == self._user_state:
            return
        old = self._user_state
        self._user_state = state
        self.emit("user_state_changed", UserStateChangedEvent(old_state=old, new_state=state))
        self._refresh_away_timer()

    def _cancel_away_timer(self) -> None:
        if self._away_timer is not None:
            self._away_timer.cancel()
            self._away_timer = None

    def _refresh_away_timer(self) -> None:
        self._cancel_away_timer()
        timeout = self._opts.user_away_timeout
        if timeout is None or self._closing or not self._started:
            return
        if self._user_state == "listening" and self._agent_state in ("listening", "idle"):
            self._away_timer = asyncio.get_running_loop().call_later(timeout, self._on_user_away)

    def _on_user_away(self) -> None:
        self._away_timer = None
        self._update_user_state("away")

    # -- errors ------------------------------------------------------------------------------

    def _on_model_error(self, ev: ErrorEvent) -> None:
        self.emit("error", ev)
        if getattr(ev.error, "recoverable", False):
            return
        self._unrecoverable_errors += 1
        if self._unrecoverable_errors >= self._conn_options.max_unrecoverable_errors:
            if self._closing:
                return
            logger.error(
                "closing the session after %d unrecoverable errors", self._unrecoverable_errors
            )
            self._close_task = asyncio.create_task(
                self._aclose_impl(reason=CloseReason.ERROR, error=ev.error),
                name="session_close_on_error",
            )


SessionState = Literal["initializing", "running", "closing", "closed"]

__all__ = ["AgentSession", "SessionConnectOptions", "VoiceOptions"]
