"""The realtime-model path of an AgentActivity: a speech-to-speech model instead of STT/LLM/TTS.

:class:`RealtimeBridge` opens ``llm.RealtimeModel.session()`` for the agent and keeps it in step
with the runtime:

- user audio is pushed to the model (silence while an uninterruptible speech plays, when
  ``discard_audio_if_uninterruptible``);
- with ``turn_detection="realtime_llm"`` the model's own VAD drives the user state
  (``input_speech_started``/``stopped``), interrupts the agent, and its responses
  (``generation_created``) become speeches; with a client-side VAD the runtime ends the turn
  and calls ``commit_audio()`` + ``generate_reply()``, after switching the model's own turn
  detection off (``RealtimeSession.update_turn_detection``), or, when the model cannot, dropping
  the responses it starts by itself;
- user transcripts (``input_audio_transcription_completed``) become ``user_input_transcribed``
  events and user messages in the history;
- each generated message is played: audio through ``Agent.realtime_audio_output_node`` to the
  audio output, text through ``transcription_node`` to the text output;
- function calls run through the same tool execution as the LLM path; their outputs are sent
  back with ``update_chat_ctx`` and, unless the model replies to tool outputs by itself
  (``auto_tool_reply_generation``), a ``generate_reply`` follows on the same speech;
- an interruption calls ``interrupt()`` and ``truncate(audio_end_ms=<played ms>)`` so the
  model's context holds what the user heard, and the history gets the played text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from livekit import rtc

from .. import llm as llm_mod
from ..llm import ChatContext, ChatMessage
from ..llm.realtime import (
    GenerationCreatedEvent,
    InputSpeechStoppedEvent,
    InputTranscriptionCompleted,
    MessageGeneration,
    RealtimeError,
    RealtimeModel,
    RealtimeSession,
)
from ..types import NOT_GIVEN, NotGivenOr
from ..utils import aio
from .agent import ModelSettings
from .events import (
    ErrorEvent,
    MetricsCollectedEvent,
    SpeechCreatedEvent,
    UserInputTranscribedEvent,
)
from .generation import node_output
from .playback import play_speech
from .speech_handle import SpeechHandle
from .tool_loop import (
    _execute_tools,
    _wait_authorized,
    create_tool_reply_handle,
    record_tool_outputs,
    reply_required,
    tool_steps_exhausted,
)

if TYPE_CHECKING:
    from .agent_activity import AgentActivity

logger = logging.getLogger("voxlane.agents.voice")

_EVENTS = (
    "input_speech_started",
    "input_speech_stopped",
    "input_audio_transcription_completed",
    "generation_created",
    "metrics_collected",
    "error",
)


async def _drain(stream: AsyncIterable[Any]) -> None:
    async for _ in stream:
        pass


class RealtimeBridge:
    """Connects one :class:`AgentActivity` to a realtime model session (module docstring)."""

    def __init__(self, activity: AgentActivity, model: RealtimeModel) -> None:
        self._activity = activity
        self._model = model
        self._rt: RealtimeSession | None = None
        self._handlers: list[tuple[str, Callable[[Any], None]]] = []
        self._commit_timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._ignore_model_turns = False

    @property
    def session(self) -> RealtimeSession | None:
        return self._rt

    @property
    def model(self) -> RealtimeModel:
        return self._model

    @property
    def server_turn_detection(self) -> bool:
        return self._activity.turn_detection == "realtime_llm"

    def _require(self) -> RealtimeSession:
        if self._rt is None:
            raise RuntimeError("the realtime session is not open")
        return self._rt

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        rt = self._model.session()
        self._rt = rt
        handlers: dict[str, Callable[[Any], None]] = {
            "input_speech_started": self._on_input_speech_started,
            "input_speech_stopped": self._on_input_speech_stopped,
            "input_audio_transcription_completed": self._on_transcription,
            "generation_created": self._on_generation_created,
            "metrics_collected": self._on_metrics,
            "error": self._on_error,
        }
        for name in _EVENTS:
            rt.on(name, handlers[name])
            self._handlers.append((name, handlers[name]))
        self._configure_turn_detection(rt)
        agent = self._activity.agent
        await self._safely(rt.update_instructions(agent.instructions), "instructions")
        await self._safely(rt.update_chat_ctx(agent._chat_ctx.copy()), "chat context")
        await self._safely(rt.update_tools(list(self._activity.tools)), "tools")

    def _configure_turn_detection(self, rt: RealtimeSession) -> None:
        """With client-side turns, switch the model's own turn detection off (or ignore it)."""
        self._ignore_model_turns = False
        caps = self._model.capabilities
        if self.server_turn_detection or not caps.turn_detection:
            return
        applied = False
        if caps.can_disable_turn_detection:
            try:
                applied = rt.update_turn_detection(enabled=False)
            except Exception:
                logger.exception("switching off the realtime model's turn detection failed")
        if not applied:
            logger.info(
                "%s keeps its own turn detection while the session detects turns with %r: the "
                "responses it starts by itself are dropped",
                self._model.label,
                self._activity.turn_detection,
            )
            self._ignore_model_turns = True

    @property
    def ignores_model_turns(self) -> bool:
        """True when the model detects turns itself but the session decides them."""
        return self._ignore_model_turns

    async def _safely(self, aw: Awaitable[None], what: str) -> None:
        try:
            await aw
        except RealtimeError as e:
            logger.warning("the realtime model rejected the %s update: %s", what, e.message)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cancel_commit()
        rt = self._rt
        if rt is None:
            return
        for name, cb in self._handlers:
            rt.off(name, cb)
        self._handlers.clear()
        await rt.aclose()

    # -- updates from the agent --------------------------------------------------------------

    async def update_instructions(self, instructions: str) -> None:
        await self._require().update_instructions(instructions)

    async def update_tools(self, tools: list[Any]) -> None:
        await self._require().update_tools(tools)

    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        await self._require().update_chat_ctx(chat_ctx)

    # -- user audio and turns ----------------------------------------------------------------

    def push_audio(self, frame: rtc.AudioFrame) -> None:
        if self._rt is not None and not self._closed:
            self._rt.push_audio(frame)

    def on_vad_start_of_speech(self) -> None:
        self._cancel_commit()

    def on_vad_end_of_speech(self) -> None:
        """Client-side turns without an STT: end the turn after the endpointing delay."""
        activity = self._activity
        if self.server_turn_detection or activity.stt is not None:
            return
        self._cancel_commit()
        delay = activity.options.min_endpointing_delay
        self._commit_timer = asyncio.get_running_loop().call_later(delay, self._commit_turn)

    def _cancel_commit(self) -> None:
        if self._commit_timer is not None:
            self._commit_timer.cancel()
            self._commit_timer = None

    def _commit_turn(self) -> None:
        self._commit_timer = None
        recognition = self._activity._recognition
        if recognition is not None and not self._closed:
            recognition.commit_user_turn()

    def _on_input_speech_started(self, _ev: Any) -> None:
        activity = self._activity
        if self._ignore_model_turns:
            return  # the session's VAD/STT reports the user's speech
        activity.session._update_user_state("speaking")
        if not self.server_turn_detection:
            return
        speech = activity.current_speech
        if speech is not None and not speech.done() and speech.allow_interruptions:
            speech.interrupt()

    def _on_input_speech_stopped(self, _ev: InputSpeechStoppedEvent) -> None:
        if not self._ignore_model_turns:
            self._activity.session._update_user_state("listening")

    def _on_transcription(self, ev: InputTranscriptionCompleted) -> None:
        session = self._activity.session
        session.emit(
            "user_input_transcribed",
            UserInputTranscribedEvent(transcript=ev.transcript, is_final=ev.is_final),
        )
        if ev.is_final and ev.transcript.strip():
            msg = ChatMessage(id=ev.item_id, role="user", content=[ev.transcript])
            self._activity._add_item(msg)

    def _on_metrics(self, metrics: Any) -> None:
        self._activity.session.emit("metrics_collected", MetricsCollectedEvent(metrics=metrics))

    def _on_error(self, error: Any) -> None:
        self._activity.session._on_model_error(ErrorEvent(error=error, source=self._model))

    # -- speeches ----------------------------------------------------------------------------

    def _new_speech(
        self,
        *,
        allow_interruptions: bool,
        user_initiated: bool,
        handle: SpeechHandle | None = None,
    ) -> SpeechHandle:
        if handle is None:
            handle = SpeechHandle.create(allow_interruptions=allow_interruptions)
        elif not handle.interrupted:
            handle.allow_interruptions = allow_interruptions
        self._activity.session.emit(
            "speech_created",
            SpeechCreatedEvent(
                speech_handle=handle, user_initiated=user_initiated, source="generate_reply"
            ),
        )
        self._watch_interrupt(handle)
        return handle

    def _watch_interrupt(self, handle: SpeechHandle) -> None:
        """Interrupting ``handle`` also interrupts the realtime model's response."""
        rt = self._rt

        def _interrupt_model(_: SpeechHandle) -> None:
            if rt is not None and not self._closed:
                rt.interrupt()

        handle._on_interrupt(_interrupt_model)

    def _on_generation_created(self, ev: GenerationCreatedEvent) -> None:
        if ev.user_initiated:
            return  # answered through the future returned by generate_reply
        activity = self._activity
        if self._ignore_model_turns:
            logger.debug("dropping a response the realtime model started on its own")
            if self._rt is not None:
                self._rt.interrupt()
            return
        if activity._closed or activity.draining:
            logger.info("ignoring a realtime response: the agent is closing or handing off")
            if self._rt is not None:
                self._rt.interrupt()
            return
        handle = self._new_speech(
            allow_interruptions=activity.allow_interruptions, user_initiated=False
        )
        activity._spawn(
            self._generation_step(handle, lambda: _resolved(ev)),
            name=f"speech_realtime_{handle.id}",
        )
        activity._schedule(handle, SpeechHandle.SPEECH_PRIORITY_NORMAL)

    def generate_reply(
        self,
        *,
        user_message: ChatMessage | None,
        instructions: NotGivenOr[str],
        tool_choice: NotGivenOr[Any],
        allow_interruptions: bool,
        user_initiated: bool,
        speech_handle: SpeechHandle | None = None,
    ) -> SpeechHandle:
        """A reply from the model; ``user_initiated=False`` means a client-side end of turn."""
        rt = self._require()
        activity = self._activity
        handle = self._new_speech(
            allow_interruptions=allow_interruptions,
            user_initiated=user_initiated,
            handle=speech_handle,
        )
        audio_turn = not user_initiated
        text = user_message.text_content if user_message is not None else None
        if audio_turn:
            rt.commit_audio()
        if user_message is not None and text:
            activity._add_item(user_message)
        push_text = user_message if (user_message is not None and text and not audio_turn) else None

        async def _create() -> GenerationCreatedEvent:
            if push_text is not None:
                ctx = rt.chat_ctx.copy()
                if ctx.get_by_id(push_text.id) is None:
                    ctx.insert(push_text)
                await rt.update_chat_ctx(ctx)
            return await rt.generate_reply(instructions=instructions, tool_choice=tool_choice)

        activity._spawn(
            self._generation_step(handle, _create),
            name=f"speech_realtime_{handle.id}",
        )
        activity._schedule(handle, SpeechHandle.SPEECH_PRIORITY_NORMAL)
        return handle

    async def _generation_step(
        self,
        speech: SpeechHandle,
        create: Callable[[], Awaitable[GenerationCreatedEvent]],
    ) -> None:
        activity = self._activity
        session = activity.session
        exec_task: asyncio.Task[None] | None = None
        try:
            if not await _wait_authorized(speech):
                speech._mark_generation_done()
                speech._mark_done()
                return
            session._update_agent_state("thinking")
            gen = await create()
            exec_task, outputs = _execute_tools(
                activity,
                speech,
                llm_mod.ToolContext(activity.tools),
                gen.function_stream,
            )
            interrupted = await self._play_messages(speech, gen)
            speech._mark_generation_done()
            if interrupted:
                if exec_task.done() and not exec_task.cancelled() and outputs:
                    await self._after_tools(speech, outputs)
                await aio.cancel_and_wait(exec_task)
                speech._mark_done()
                return
            await exec_task
            if not outputs:
                speech._mark_done()
                return
            await self._after_tools(speech, outputs)
        except asyncio.CancelledError:
            speech._mark_generation_done()
            speech._mark_done()
            raise
        except Exception as e:
            logger.exception("the realtime reply of speech %s failed", speech.id)
            await aio.cancel_and_wait(exec_task)
            activity._on_reply_error(e)
            speech._mark_generation_done()
            speech._mark_done(e)

    async def _play_messages(self, speech: SpeechHandle, gen: GenerationCreatedEvent) -> bool:
        """Play every message of the generation; True if the speech was interrupted."""
        it = gen.message_stream.__aiter__()
        while True:
            nxt: asyncio.Future[MessageGeneration] = asyncio.ensure_future(_anext(it))
            await speech.wait_if_not_interrupted([nxt])
            if not nxt.done():
                await aio.cancel_and_wait(nxt)
                return True
            if nxt.cancelled():
                return True
            exc = nxt.exception()
            if isinstance(exc, StopAsyncIteration):
                return speech.interrupted
            if exc is not None:
                raise exc
            msg = nxt.result()
            interrupted = await self._play_message(speech, msg)
            if interrupted:
                return True

    async def _play_message(self, speech: SpeechHandle, msg: MessageGeneration) -> bool:
        """Play one generated message; True if the speech was interrupted."""
        activity = self._activity
        agent = activity.agent
        audio: AsyncIterable[rtc.AudioFrame] | None = None
        drain: asyncio.Task[None] | None = None
        if self._model.capabilities.audio_output:
            audio = _frames_only(
                node_output(agent.realtime_audio_output_node(msg.audio_stream, ModelSettings()))
            )
        else:
            drain = asyncio.create_task(_drain(msg.audio_stream), name="rt_audio_drain")
        created_at = time.time()  # a user turn cutting this message in comes after it
        try:
            outcome = await play_speech(
                activity,
                speech,
                msg.text_stream,
                audio_source=audio,
            )
        finally:
            await aio.cancel_and_wait(drain)
        if outcome.interrupted:
            self._truncate(
                msg, position=outcome.position, transcript=outcome.text, audio=outcome.audio
            )
        if outcome.text:
            item = ChatMessage(
                id=msg.message_id,
                role="assistant",
                content=[outcome.text],
                interrupted=outcome.interrupted,
                created_at=created_at,
            )
            activity._add_item(item, speech=speech)
        if outcome.error is not None:
            raise outcome.error  # after recording what the user heard
        return outcome.interrupted

    def _truncate(
        self, msg: MessageGeneration, *, position: float, transcript: str, audio: bool
    ) -> None:
        rt = self._rt
        if rt is None or self._closed or not self._model.capabilities.message_truncation:
            return
        try:
            rt.truncate(
                message_id=msg.message_id,
                modalities=["audio", "text"] if audio else ["text"],
                audio_end_ms=round(position * 1000),
                audio_transcript=transcript,
            )
        except Exception:
            logger.exception("truncating realtime message %s failed", msg.message_id)

    async def _after_tools(self, speech: SpeechHandle, outputs: list[Any]) -> None:
        activity = self._activity
        session = activity.session
        rt = self._require()
        ev, new_items, new_agent = record_tool_outputs(activity, speech, outputs)

        # the model learns the outputs whatever happens next
        ctx = rt.chat_ctx.copy()
        for item in new_items:
            if ctx.get_by_id(item.id) is None:
                ctx.insert(item)
        await self._safely(rt.update_chat_ctx(ctx), "chat context (tool outputs)")

        if (
            not reply_required(outputs, ev)
            or activity._closed
            or speech.interrupted
            or self._model.capabilities.auto_tool_reply_generation
        ):
            speech._mark_done()
            return
        if tool_steps_exhausted(activity, speech):
            speech._mark_done()
            return
        next_step = speech.step_index + 1
        tool_choice: NotGivenOr[Any] = NOT_GIVEN
        if (
            next_step >= session.options.max_tool_steps
            or activity.draining
            or new_agent is not None
        ):
            tool_choice = "none"
        child = create_tool_reply_handle(activity, speech)
        self._watch_interrupt(child)

        async def _create() -> GenerationCreatedEvent:
            return await rt.generate_reply(tool_choice=tool_choice)

        activity._spawn(
            self._generation_step(child, _create),
            name=f"speech_realtime_tool_reply_{child.id}",
        )
        activity._schedule(child, speech.priority, force=True)
        speech._mark_done()


async def _resolved(ev: GenerationCreatedEvent) -> GenerationCreatedEvent:
    return ev


async def _anext(it: AsyncIterator[MessageGeneration]) -> MessageGeneration:
    return await it.__anext__()


async def _frames_only(frames: AsyncIterator[Any]) -> AsyncIterator[rtc.AudioFrame]:
    async for frame in frames:
        if not isinstance(frame, rtc.AudioFrame):
            raise TypeError(
                f"realtime_audio_output_node yielded {type(frame).__name__}; expected "
                "rtc.AudioFrame"
            )
        yield frame


__all__ = ["RealtimeBridge"]
