"""AgentActivity: the running state of one agent inside a session.

It owns the speech queue (one utterance at a time, by priority), the audio recognition
pipeline, the turn-taking and interruption decisions, and the reply/tool loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import AsyncIterable, Coroutine
from typing import TYPE_CHECKING, Any

from livekit import rtc

from .. import stt as stt_mod
from .. import vad as vad_mod
from .._exceptions import APIError
from ..llm import ChatContext, ChatMessage, StopResponse
from ..metrics import EOUMetrics
from ..types import NOT_GIVEN, NotGivenOr, is_given
from ..utils import aio
from ..utils.audio import silence
from .agent import INSTRUCTIONS_MESSAGE_ID, Agent, ModelSettings, _task_scope
from .audio_recognition import AudioRecognition, EndOfTurnInfo
from .events import (
    AgentFalseInterruptionEvent,
    ErrorEvent,
    FunctionToolsExecutedEvent,
    MetricsCollectedEvent,
    SpeechCreatedEvent,
    UserInputTranscribedEvent,
)
from .preemptive import PreemptiveGeneration, PreemptiveSlot
from .realtime_activity import RealtimeBridge
from .session_scope import belongs_to_other_session, session_scope
from .speech_handle import SpeechHandle, _running_tool_speech
from .tool_loop import run_reply_step
from .turn_handling import VoiceOptions, with_overrides
from .turn_mode import is_realtime_model, resolve_turn_detection

if TYPE_CHECKING:
    from .agent_session import AgentSession

logger = logging.getLogger("voxlane.agents.voice")


class AgentActivity:
    """Runs one :class:`Agent` for an :class:`AgentSession` (created by the session)."""

    def __init__(self, agent: Agent, session: AgentSession[Any]) -> None:
        self._agent = agent
        self._session = session
        self._queue: list[tuple[int, int, SpeechHandle]] = []
        self._seq = itertools.count()
        self._queue_changed = asyncio.Event()
        self._current_speech: SpeechHandle | None = None
        self._started = False
        self._closed = False
        self._draining = False
        self._paused = False
        self._scheduling_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recognition: AudioRecognition | None = None
        self._paused_speech: SpeechHandle | None = None
        self._false_interruption_timer: asyncio.TimerHandle | None = None
        # interrupted by user audio on an output that cannot pause: a wordless interruption
        # is reported with agent_false_interruption(resumed=False)
        self._interrupted_by_audio = False
        self._last_speech_end: float | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._subscribed: list[tuple[Any, str, Any]] = []
        # the session's options and the agent's overrides are fixed once built, so the merged
        # options are computed (and checked to fit) once, not on every frame that reads them
        self._options = with_overrides(session.options, agent._voice_overrides, owner=agent.label)
        self._turn_detection = self._resolve_turn_detection()
        self._extra_tools: list[Any] = []
        self._realtime: RealtimeBridge | None = None
        self._preemptive = PreemptiveSlot()

    # -- models and options (agent's value, else the session's) -----------------------------

    @property
    def agent(self) -> Agent:
        return self._agent

    @property
    def session(self) -> AgentSession[Any]:
        return self._session

    @property
    def stt(self) -> stt_mod.STT | None:
        return self._agent.stt if is_given(self._agent.stt) else self._session.stt

    @property
    def llm(self) -> Any:
        return self._agent.llm if is_given(self._agent.llm) else self._session.llm

    @property
    def tts(self) -> Any:
        return self._agent.tts if is_given(self._agent.tts) else self._session.tts

    @property
    def vad(self) -> vad_mod.VAD | None:
        return self._agent.vad if is_given(self._agent.vad) else self._session.vad

    @property
    def realtime_llm_session(self) -> Any:
        return self._realtime.session if self._realtime is not None else None

    @property
    def tools(self) -> list[Any]:
        """The agent's tools plus the toolsets of its MCP servers."""
        return [*self._agent.tools, *self._extra_tools]

    @property
    def options(self) -> VoiceOptions:
        """The session's turn options with the agent's ``turn_handling`` values over them."""
        return self._options

    @property
    def allow_interruptions(self) -> bool:
        return self.options.allow_interruptions

    @property
    def min_consecutive_speech_delay(self) -> float:
        v = self._agent.min_consecutive_speech_delay
        return v if is_given(v) else self._session.options.min_consecutive_speech_delay

    @property
    def turn_detection(self) -> str:
        """The resolved mode: "vad", "stt", "realtime_llm" or "manual"."""
        return self._turn_detection[0]

    @property
    def current_speech(self) -> SpeechHandle | None:
        return self._current_speech

    @property
    def draining(self) -> bool:
        return self._draining

    def _resolve_turn_detection(self) -> tuple[str, Any]:
        requested: Any = self._agent.turn_detection
        if not is_given(requested):
            requested = self._session.turn_detection
        return resolve_turn_detection(
            requested,
            has_vad=self.vad is not None,
            has_stt=self.stt is not None,
            is_realtime=is_realtime_model(self.llm),
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, *, run_on_enter: bool = True) -> None:
        # streams and tasks created while starting belong to this session (see session_scope)
        with session_scope(self._session):
            await self._start(run_on_enter=run_on_enter)

    async def _start(self, *, run_on_enter: bool) -> None:
        self._agent._activity = self
        self._started = True
        self._ensure_instructions(self._agent.instructions)
        self._extra_tools = await self._session._session_tools.prepare(self._agent)
        for model in (self.llm, self.stt, self.tts, self.vad):
            if model is None or is_realtime_model(model):
                continue  # a realtime model reports through its session (RealtimeBridge)
            self._subscribe(model, "metrics_collected", self._on_metrics)
            if not isinstance(model, vad_mod.VAD):
                self._subscribe(model, "error", self._make_error_handler(model))
        if is_realtime_model(self.llm):
            self._realtime = RealtimeBridge(self, self.llm)
            await self._realtime.start()
        self._start_recognition()
        self._scheduling_task = asyncio.create_task(self._scheduling_loop(), name="speech_queue")
        if run_on_enter:
            self._spawn(self._run_hook(self._agent.on_enter), name="on_enter")

    def _start_recognition(self) -> None:
        if self.stt is None and self.vad is None:
            return
        mode, detector = self._turn_detection
        stt_node = None
        if self.stt is not None:
            settings = ModelSettings()

            def stt_node(audio: AsyncIterable[rtc.AudioFrame]) -> Any:
                return self._agent.stt_node(audio, settings)

            if not self.stt.capabilities.streaming and self.vad is None:
                raise RuntimeError(
                    f"The STT ({self.stt.label}) does not support streaming, add a VAD to the "
                    "Agent/AgentSession to enable streaming, or wrap your STT in a "
                    "stt.StreamAdapter yourself"
                )
        opts = self.options
        self._recognition = AudioRecognition(
            hooks=self,
            stt_node=stt_node,
            vad=self.vad,
            turn_detection=mode,
            turn_detector=detector,
            min_endpointing_delay=opts.min_endpointing_delay,
            max_endpointing_delay=opts.max_endpointing_delay,
        )
        self._recognition.start()

    async def _run_hook(self, hook: Any) -> None:
        token = _task_scope.set(self)
        try:
            await hook()
        except Exception:
            logger.exception("%s.%s raised", self._agent.label, getattr(hook, "__name__", "hook"))
        finally:
            _task_scope.reset(token)

    def pause(self) -> None:
        """Stop starting queued speeches (an AgentTask took over)."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._queue_changed.set()

    async def drain(self) -> None:
        """Refuse new speeches and wait for the queued ones to be played."""
        self._draining = True
        self._queue_changed.set()
        await self.wait_idle()

    async def wait_idle(self) -> None:
        """Wait until no speech is queued, playing or running tools."""
        while not self.idle:
            self._idle.clear()
            await self._idle.wait()

    def _has_running_speech(self) -> bool:
        """A speech task (or a user turn about to become a reply) is still running."""
        return any(
            (t.get_name().startswith("speech_") or t.get_name() == "user_turn_completed")
            and not t.done()
            for t in self._tasks
        )

    @property
    def idle(self) -> bool:
        """No speech queued, playing or running tools, and no reply being prepared."""
        return not self._queue and self._current_speech is None and not self._has_running_speech()

    def pending_end_of_turn(self) -> asyncio.Task[None] | None:
        """The endpointing delay running after the user stopped talking, if any."""
        if self._recognition is None:
            return None
        return self._recognition.pending_end_of_turn

    async def aclose(self, *, run_on_exit: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        if run_on_exit:
            await self._run_hook(self._agent.on_exit)
        self._cancel_false_interruption_timer()
        self._preemptive.discard()
        for _, _, speech in self._queue:
            speech._mark_done()
        self._queue.clear()
        if self._current_speech is not None and not self._current_speech.done():
            self._current_speech._cancel()
        await aio.cancel_and_wait(self._scheduling_task, *self._tasks)
        if self._recognition is not None:
            await self._recognition.aclose()
        if self._realtime is not None:
            await self._realtime.aclose()
        for model, event, cb in self._subscribed:
            model.off(event, cb)
        self._subscribed.clear()
        if self._agent._activity is self:
            self._agent._activity = None

    def _spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        with session_scope(self._session):
            task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)

        def _done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            self._check_idle()
            if not t.cancelled() and t.exception() is not None:
                logger.error("task %s failed", t.get_name(), exc_info=t.exception())

        task.add_done_callback(_done)
        return task

    def _subscribe(self, model: Any, event: str, cb: Any) -> None:
        model.on(event, cb)
        self._subscribed.append((model, event, cb))

    def _on_metrics(self, metrics: Any) -> None:
        if belongs_to_other_session(self._session):
            return  # a shared model's metrics from another session's stream
        self._session.emit("metrics_collected", MetricsCollectedEvent(metrics=metrics))

    def _make_error_handler(self, model: Any) -> Any:
        def _on_error(error: Any) -> None:
            if belongs_to_other_session(self._session):
                return  # another session's failure on a shared model is not ours
            self._session._on_model_error(ErrorEvent(error=error, source=model))

        return _on_error

    # -- chat context ------------------------------------------------------------------------

    def _ensure_instructions(self, instructions: str) -> None:
        ctx = self._agent._chat_ctx
        existing = ctx.get_by_id(INSTRUCTIONS_MESSAGE_ID)
        if existing is not None:
            ctx.remove(existing)
        msg = ChatMessage(
            id=INSTRUCTIONS_MESSAGE_ID, role="system", content=[instructions], created_at=0.0
        )
        ctx.items.insert(0, msg)

    async def update_instructions(self, instructions: str) -> None:
        self._ensure_instructions(instructions)
        if self._realtime is not None:
            await self._realtime.update_instructions(instructions)

    async def update_tools(self, tools: list[Any]) -> None:
        await self._session._session_tools.setup_tools(tools, agent=self._agent)
        if self._realtime is not None:
            await self._realtime.update_tools(self.tools)

    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        self._ensure_instructions(self._agent.instructions)
        if self._realtime is not None:
            await self._realtime.update_chat_ctx(self._agent._chat_ctx.copy())

    def retrieve_chat_ctx(self) -> ChatContext:
        return self._agent._chat_ctx

    def _add_item(self, item: Any, *, speech: SpeechHandle | None = None) -> None:
        """Record a chat item in the agent's context and in the session history."""
        if self._agent._chat_ctx.get_by_id(item.id) is None:
            self._agent._chat_ctx.insert(item)
        if speech is not None:
            speech._add_item(item)
        self._session._conversation_item_added(item)

    # -- speech creation ---------------------------------------------------------------------

    def _check_can_schedule(self) -> None:
        if self._closed:
            raise RuntimeError("the agent is closed; cannot schedule a new speech")
        if self._draining:
            raise RuntimeError(
                "the agent is draining (closing or handing off); cannot schedule a new speech"
            )

    def say(
        self,
        text: str | AsyncIterable[str],
        *,
        audio: NotGivenOr[AsyncIterable[rtc.AudioFrame]] = NOT_GIVEN,
        allow_interruptions: NotGivenOr[bool] = NOT_GIVEN,
        add_to_chat_ctx: bool = True,
        speech_handle: SpeechHandle | None = None,
    ) -> SpeechHandle:
        """``speech_handle``: fill this handle (created earlier, e.g. during a handoff)."""
        self._check_can_schedule()
        if not isinstance(text, (str, AsyncIterable)):
            raise TypeError(f"say() text must be a str or AsyncIterable[str], got {type(text)}")
        handle = _reuse_or_create(
            speech_handle, given_or_default(allow_interruptions, self.allow_interruptions)
        )
        self._session.emit(
            "speech_created",
            SpeechCreatedEvent(speech_handle=handle, user_initiated=True, source="say"),
        )
        self._spawn(
            self._say_task(
                handle, text, audio if is_given(audio) else None, add_to_chat_ctx=add_to_chat_ctx
            ),
            name=f"speech_say_{handle.id}",
        )
        self._schedule(handle, SpeechHandle.SPEECH_PRIORITY_NORMAL)
        return handle

    def generate_reply(
        self,
        *,
        user_message: ChatMessage | None = None,
        chat_ctx: ChatContext | None = None,
        instructions: NotGivenOr[str] = NOT_GIVEN,
        tool_choice: NotGivenOr[Any] = NOT_GIVEN,
        allow_interruptions: NotGivenOr[bool] = NOT_GIVEN,
        user_initiated: bool = True,
        speech_handle: SpeechHandle | None = None,
        preemptive: PreemptiveGeneration | None = None,
    ) -> SpeechHandle:
        self._check_can_schedule()
        if self.llm is None:
            raise RuntimeError(
                "generate_reply() needs an LLM: pass llm= to the AgentSession or the Agent"
            )
        if not is_given(tool_choice) and _running_tool_speech.get() is not None:
            tool_choice = "none"
        if self._realtime is not None:
            return self._realtime.generate_reply(
                user_message=user_message,
                instructions=instructions,
                tool_choice=tool_choice,
                allow_interruptions=given_or_default(allow_interruptions, self.allow_interruptions),
                user_initiated=user_initiated,
                speech_handle=speech_handle,
            )
        handle = _reuse_or_create(
            speech_handle, given_or_default(allow_interruptions, self.allow_interruptions)
        )
        self._session.emit(
            "speech_created",
            SpeechCreatedEvent(
                speech_handle=handle, user_initiated=user_initiated, source="generate_reply"
            ),
        )
        ctx = chat_ctx if chat_ctx is not None else self._agent._chat_ctx.copy()
        if is_given(instructions):
            ctx.add_message(role="system", content=instructions)
        self._spawn(
            run_reply_step(
                self,
                handle,
                chat_ctx=ctx,
                user_message=user_message,
                tool_choice=tool_choice,
                preemptive=preemptive,
            ),
            name=f"speech_reply_{handle.id}",
        )
        self._schedule(handle, SpeechHandle.SPEECH_PRIORITY_NORMAL)
        return handle

    def _schedule(self, handle: SpeechHandle, priority: int, *, force: bool = False) -> None:
        if not force:
            self._check_can_schedule()
        handle._priority = priority
        heapq.heappush(self._queue, (-priority, next(self._seq), handle))
        self._idle.clear()
        self._queue_changed.set()

    async def _say_task(
        self,
        handle: SpeechHandle,
        text: str | AsyncIterable[str],
        audio: AsyncIterable[rtc.AudioFrame] | None,
        *,
        add_to_chat_ctx: bool,
    ) -> None:
        from .tool_loop import speak

        await speak(self, handle, text=text, audio=audio, add_to_chat_ctx=add_to_chat_ctx)

    # -- scheduling --------------------------------------------------------------------------

    async def _scheduling_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._queue_changed.wait()
            self._queue_changed.clear()
            while self._queue and not self._paused:
                _, _, speech = heapq.heappop(self._queue)
                if speech.done():
                    continue
                delay = self.min_consecutive_speech_delay
                if delay > 0 and self._last_speech_end is not None:
                    remaining = delay - (loop.time() - self._last_speech_end)
                    if remaining > 0:
                        await asyncio.sleep(remaining)
                self._current_speech = speech
                speech._authorize_generation()
                await speech._wait_for_generation()
                self._current_speech = None
                self._last_speech_end = loop.time()
                if self._paused_speech is speech:
                    self._paused_speech = None
                    self._cancel_false_interruption_timer()
            self._check_idle()

    def _check_idle(self) -> None:
        if not self.idle:
            return
        self._idle.set()
        if self._session._activity is self and not self._closed:
            self._session._update_agent_state("listening")

    # -- interruptions -----------------------------------------------------------------------

    def interrupt(self, *, force: bool = False) -> asyncio.Future[None]:
        """Interrupt the current speech and every queued one (with ``force``, also those that
        do not allow interruptions)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        speeches = [s for _, _, s in self._queue]
        if self._current_speech is not None:
            speeches.append(self._current_speech)
        for s in speeches:
            if force or s.allow_interruptions:
                s.interrupt(force=force)
        pending = [asyncio.ensure_future(s.wait_for_playout()) for s in speeches]
        if not pending:
            fut.set_result(None)
            return fut

        def _done(_: Any) -> None:
            if not fut.done():
                fut.set_result(None)

        asyncio.gather(*pending, return_exceptions=True).add_done_callback(_done)
        return fut

    def _interrupt_by_audio_activity(self) -> None:
        speech = self._current_speech
        if speech is None or speech.done() or speech.interrupted or not speech.allow_interruptions:
            return
        opts = self.options
        if opts.min_interruption_words > 0 and self._recognition is not None:
            words = len(self._recognition.current_transcript.split())
            if words < opts.min_interruption_words:
                return
        if self._paused_speech is speech:
            return
        audio_output = self._session.output._playout_audio()
        if (
            opts.resume_false_interruption
            and opts.false_interruption_timeout is not None
            and audio_output is not None
            and audio_output.can_pause
        ):
            audio_output.pause()
            self._paused_speech = speech
            self._session._update_agent_state("listening")
            return
        speech.interrupt()
        if opts.resume_false_interruption and opts.false_interruption_timeout is not None:
            self._interrupted_by_audio = True

    def _cancel_false_interruption_timer(self) -> None:
        if self._false_interruption_timer is not None:
            self._false_interruption_timer.cancel()
            self._false_interruption_timer = None

    def _on_false_interruption(self) -> None:
        self._false_interruption_timer = None
        if self._interrupted_by_audio and self._paused_speech is None:
            # the speech could not pause, so it was cut; the user said nothing after all
            self._interrupted_by_audio = False
            self._session.emit(
                "agent_false_interruption", AgentFalseInterruptionEvent(resumed=False)
            )
            return
        speech = self._paused_speech
        self._paused_speech = None
        if speech is None or speech.done() or speech.interrupted:
            return
        audio_output = self._session.output._playout_audio()
        if audio_output is not None:
            audio_output.resume()
        self._session._update_agent_state("speaking")
        self._session.emit("agent_false_interruption", AgentFalseInterruptionEvent(resumed=True))

    # -- audio input and recognition hooks ---------------------------------------------------

    def push_audio(self, frame: rtc.AudioFrame) -> None:
        if self._recognition is None and self._realtime is None:
            return
        stt_frame = None
        speech = self._current_speech
        if (
            self.options.discard_audio_if_uninterruptible
            and speech is not None
            and not speech.done()
            and not speech.allow_interruptions
        ):
            # keep the STT stream continuous, but do not let it hear the user
            stt_frame = silence(
                frame.samples_per_channel / frame.sample_rate,
                sample_rate=frame.sample_rate,
                num_channels=frame.num_channels,
            )
        if self._realtime is not None:
            self._realtime.push_audio(stt_frame or frame)
        if self._recognition is not None:
            self._recognition.push_audio(frame, stt_frame=stt_frame)

    def commit_user_turn(
        self,
        *,
        transcript_timeout: float = 0.0,
        stt_flush_duration: float = 0.0,
        skip_reply: bool = False,
    ) -> asyncio.Future[str]:
        """End the user's turn (see ``AudioRecognition.commit_user_turn``)."""
        if self._recognition is None:
            raise RuntimeError(
                "commit_user_turn() needs an STT reading the user's audio; none is running"
            )
        return self._recognition.commit_user_turn(
            transcript_timeout=transcript_timeout,
            stt_flush_duration=stt_flush_duration,
            skip_reply=skip_reply,
        )

    def clear_user_turn(self) -> None:
        self._preemptive.discard()
        if self._recognition is not None:
            self._recognition.clear_user_turn()

    # -- preemptive generation ---------------------------------------------------------------

    def on_preemptive_generation(self, transcript: str) -> None:
        """A preflight/final transcript arrived before the end of the turn (see preemptive.py)."""
        transcript = transcript.strip()
        if (
            not self.options.preemptive_generation
            or not transcript
            or self._closed
            or self._draining
            or self._realtime is not None
            or self.llm is None
        ):
            return
        speech = self._current_speech
        if speech is not None and not speech.done():
            return  # the agent is speaking: this is probably an interruption
        started = self._recognition.speech_started_at if self._recognition is not None else None
        self._preemptive.offer(self, transcript, speech_started_at=started)

    def on_start_of_speech(self, ev: vad_mod.VADEvent | None) -> None:
        self._session._update_user_state("speaking")
        self._cancel_false_interruption_timer()
        if self._realtime is not None:
            self._realtime.on_vad_start_of_speech()

    def on_vad_inference_done(self, ev: vad_mod.VADEvent) -> None:
        if ev.speech_duration >= self.options.min_interruption_duration:
            self._interrupt_by_audio_activity()

    def on_end_of_speech(self, ev: vad_mod.VADEvent | None) -> None:
        self._session._update_user_state("listening")
        if self._realtime is not None:
            self._realtime.on_vad_end_of_speech()
        timeout = self.options.false_interruption_timeout
        waiting = self._paused_speech is not None or self._interrupted_by_audio
        if waiting and timeout is not None:
            self._cancel_false_interruption_timer()
            self._false_interruption_timer = asyncio.get_running_loop().call_later(
                timeout, self._on_false_interruption
            )

    def _emit_transcript(self, ev: stt_mod.SpeechEvent, *, is_final: bool) -> None:
        alt = ev.alternatives[0]
        self._session.emit(
            "user_input_transcribed",
            UserInputTranscribedEvent(
                transcript=alt.text,
                is_final=is_final,
                speaker_id=alt.speaker_id,
                language=alt.language or None,
            ),
        )

    def on_interim_transcript(self, ev: stt_mod.SpeechEvent) -> None:
        self._emit_transcript(ev, is_final=False)
        if self.vad is None:
            self._interrupt_by_audio_activity()

    def on_final_transcript(self, ev: stt_mod.SpeechEvent) -> None:
        self._emit_transcript(ev, is_final=True)
        if self.vad is None:
            self._interrupt_by_audio_activity()

    def on_end_of_turn(self, info: EndOfTurnInfo) -> bool:
        if self._closed or self._draining:
            self._preemptive.discard()
            return True
        if info.skip_reply:
            # committed without a reply: the agent's speech goes on
            self._preemptive.discard()
            self._add_item(self._user_message(info))
            return True
        opts = self.options
        speech = self._current_speech
        if (
            not info.manual
            and opts.min_interruption_words > 0
            and speech is not None
            and not speech.done()
            and len(info.new_transcript.split()) < opts.min_interruption_words
        ):
            return False
        if speech is not None and not speech.done() and not speech.allow_interruptions:
            logger.info("user turn ignored: the current speech cannot be interrupted")
            self._preemptive.discard()
            return True
        self._cancel_false_interruption_timer()
        self._interrupted_by_audio = False
        paused = self._paused_speech
        self._paused_speech = None
        paused_output = self._session.output._playout_audio()
        if paused is not None and paused_output is not None:
            paused_output.resume()
        for _, _, queued in list(self._queue):
            if queued.allow_interruptions:
                queued.interrupt()
        if speech is not None and not speech.done() and not speech.interrupted:
            speech.interrupt()
        self._spawn(self._user_turn_completed(info), name="user_turn_completed")
        return True

    @staticmethod
    def _user_message(info: EndOfTurnInfo) -> ChatMessage:
        return ChatMessage(
            role="user",
            content=[info.new_transcript],
            transcript_confidence=info.transcript_confidence,
        )

    async def _user_turn_completed(self, info: EndOfTurnInfo) -> None:
        loop = asyncio.get_running_loop()
        message = self._user_message(info)
        turn_ctx = self._agent._chat_ctx.copy()
        started = loop.time()
        token = _task_scope.set(self)
        try:
            await self._agent.on_user_turn_completed(turn_ctx, message)
        except StopResponse:
            self._preemptive.discard()
            self._add_item(message)
            return
        except Exception:
            logger.exception("%s.on_user_turn_completed raised", self._agent.label)
        finally:
            _task_scope.reset(token)
        callback_delay = loop.time() - started
        pre = self._preemptive.take()
        if self._closed or self._draining:
            if pre is not None:
                pre.cancel()
            self._add_item(message)
            return
        if pre is not None and not pre.matches(turn_ctx, message, self.tools):
            logger.debug("preemptive generation discarded: the turn ended differently")
            pre.cancel()
            pre = None
        self.generate_reply(
            user_message=message, chat_ctx=turn_ctx, user_initiated=False, preemptive=pre
        )
        self._session.emit(
            "metrics_collected",
            MetricsCollectedEvent(
                metrics=EOUMetrics(
                    timestamp=loop.time(),
                    end_of_utterance_delay=info.end_of_utterance_delay,
                    transcription_delay=info.transcription_delay,
                    on_user_turn_completed_delay=callback_delay,
                )
            ),
        )

    # -- tool follow-ups (see tool_loop.schedule_tool_reply) -------------------------------

    def _emit_tools_executed(self, ev: FunctionToolsExecutedEvent) -> None:
        self._session.emit("function_tools_executed", ev)

    def _on_reply_error(self, error: BaseException) -> None:
        if isinstance(error, APIError):
            # model base classes already emitted their "error" event
            return
        self._session._on_model_error(ErrorEvent(error=error, source=self._agent))


def _reuse_or_create(handle: SpeechHandle | None, allow_interruptions: bool) -> SpeechHandle:
    if handle is None:
        return SpeechHandle.create(allow_interruptions=allow_interruptions)
    if not handle.interrupted:
        handle.allow_interruptions = allow_interruptions
    return handle


def given_or_default(value: NotGivenOr[bool], default: bool) -> bool:
    return value if is_given(value) else default


__all__ = ["AgentActivity"]
