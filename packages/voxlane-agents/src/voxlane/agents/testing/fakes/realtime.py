"""``FakeRealtimeModel``: a scripted speech-to-speech model.

Replies come from a :class:`~.llm.FakeLLM` "brain" (the same script rules: by turn, by
matching the last user message, follow-ups to tool calls, a default), so
``model.when("weather", FakeResponse(...))`` works as for the LLM fake. A reply's text is
streamed in chunks together with tone audio of ``seconds_per_char`` per character, its tool calls
come on the function stream.

User audio: with ``turn_detection=True`` the session detects speech by energy (like the server
VAD of a real model): it emits ``input_speech_started``, then after ``silence_duration`` seconds of
silence ``input_speech_stopped``, the transcript of the turn (the next of ``user_transcripts``)
and a reply. Without it, call ``commit_audio()`` then ``generate_reply()``. A session's own turn
detection can be switched with ``update_turn_detection(enabled=...)`` (the voice runtime switches
it off when the session detects turns itself), unless the model was built with
``can_disable_turn_detection=False``.

Sessions record what they were told: ``instructions``, ``generate_reply_calls``,
``truncations``, ``interruptions``, ``pushed_duration``, ``turn_detection_calls``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit import rtc

from ...llm import (
    ChatContext,
    FunctionCall,
    FunctionToolCall,
    RealtimeCapabilities,
    RealtimeModel,
    RealtimeSession,
    Tool,
    ToolChoice,
    ToolContext,
)
from ...llm.realtime import (
    GenerationCreatedEvent,
    InputSpeechStartedEvent,
    InputSpeechStoppedEvent,
    InputTranscriptionCompleted,
    MessageGeneration,
    Modality,
    RealtimeError,
    RealtimeModelError,
)
from ...metrics import RealtimeModelMetrics
from ...metrics.base import Metadata
from ...types import NOT_GIVEN, NotGivenOr, is_given
from ...utils import aio
from ...utils.misc import shortuuid
from .audio import tone_pcm
from .llm import FakeLLM, FakeResponse, Matcher, ReplyLike

__all__ = ["FakeRealtimeModel", "FakeRealtimeSession", "GenerateReplyCall", "Truncation"]


@dataclass(frozen=True)
class GenerateReplyCall:
    """A recorded ``generate_reply()`` call."""

    instructions: str | None
    tool_choice: NotGivenOr[ToolChoice]
    tools: list[Tool] | None


@dataclass(frozen=True)
class Truncation:
    """A recorded ``truncate()`` call."""

    message_id: str
    modalities: list[Modality]
    audio_end_ms: int
    audio_transcript: str | None


def _non_negative(name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)


class FakeRealtimeModel(RealtimeModel):
    """A scripted realtime model for tests (see the module docstring).

    Args:
        responses / default: the reply script (as for :class:`~.llm.FakeLLM`).
        user_transcripts: transcripts of the user's committed turns, in order.
        turn_detection: detect user turns in the pushed audio (energy based).
        can_disable_turn_detection: whether sessions accept ``update_turn_detection()``.
        audio_output: produce audio with the text.
        sample_rate / num_channels: format of the produced audio.
        seconds_per_char: produced audio per character of reply text.
        ttft / chunk_delay: loop-time delays before the first and between text chunks.
        threshold: RMS level (0..1) from which pushed audio counts as speech.
        silence_duration: silence that ends a user turn.
    """

    def __init__(
        self,
        responses: Sequence[ReplyLike] = (),
        *,
        default: ReplyLike | None = None,
        user_transcripts: Sequence[str] = (),
        turn_detection: bool = True,
        can_disable_turn_detection: bool = True,
        audio_output: bool = True,
        sample_rate: int = 24000,
        num_channels: int = 1,
        seconds_per_char: float = 0.05,
        ttft: float = 0.0,
        chunk_delay: float = 0.0,
        threshold: float = 0.02,
        silence_duration: float = 0.5,
    ) -> None:
        super().__init__(
            capabilities=RealtimeCapabilities(
                message_truncation=True,
                turn_detection=turn_detection,
                user_transcription=True,
                auto_tool_reply_generation=False,
                audio_output=audio_output,
                manual_function_calls=True,
                can_disable_turn_detection=can_disable_turn_detection,
                mutable_chat_context=True,
                mutable_instructions=True,
                mutable_tools=True,
                per_response_tool_choice=True,
            )
        )
        self.brain = FakeLLM(responses, default=default, ttft=ttft, chunk_delay=chunk_delay)
        """The FakeLLM choosing the replies (its ``calls`` record every generation)."""
        for i, t in enumerate(user_transcripts):
            if not isinstance(t, str):
                raise TypeError(f"user_transcripts[{i}] must be a str, got {type(t).__name__}")
        self._user_transcripts = list(user_transcripts)
        tone_pcm(0, sample_rate=sample_rate, num_channels=num_channels)  # validates the format
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._seconds_per_char = _non_negative("seconds_per_char", seconds_per_char)
        if not math.isfinite(threshold) or not 0 < threshold <= 1:
            raise ValueError(f"threshold must be an RMS level in (0, 1], got {threshold!r}")
        self._threshold = float(threshold)
        self._silence_duration = _non_negative("silence_duration", silence_duration)
        self.sessions: list[FakeRealtimeSession] = []

    @property
    def model(self) -> str:
        return "fake-realtime"

    @property
    def provider(self) -> str:
        return "voxlane-testing"

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def num_channels(self) -> int:
        return self._num_channels

    def when(
        self, match: Matcher, response: ReplyLike, *, times: int | None = None
    ) -> FakeRealtimeModel:
        """Reply ``response`` when the last user message matches (see ``FakeLLM.when``)."""
        self.brain.when(match, response, times=times)
        return self

    def add_response(self, response: ReplyLike) -> None:
        self.brain.add_response(response)

    def _next_transcript(self) -> str:
        return self._user_transcripts.pop(0) if self._user_transcripts else ""

    def session(self) -> FakeRealtimeSession:
        session = FakeRealtimeSession(self)
        self.sessions.append(session)
        return session

    async def aclose(self) -> None:
        for session in list(self.sessions):
            await session.aclose()


class _Generation:
    def __init__(self, response_id: str, user_initiated: bool) -> None:
        self.response_id = response_id
        self.message_ch: aio.Chan[MessageGeneration] = aio.Chan()
        self.function_ch: aio.Chan[FunctionCall] = aio.Chan()
        self.text_ch: aio.Chan[str] = aio.Chan()
        self.audio_ch: aio.Chan[rtc.AudioFrame] = aio.Chan()
        self.user_initiated = user_initiated
        self.task: asyncio.Task[None] | None = None

    def close(self) -> None:
        for ch in (self.message_ch, self.function_ch, self.text_ch, self.audio_ch):
            ch.close()

    def event(self) -> GenerationCreatedEvent:
        return GenerationCreatedEvent(
            message_stream=_iterate(self.message_ch),
            function_stream=_iterate(self.function_ch),
            user_initiated=self.user_initiated,
            response_id=self.response_id,
        )


async def _iterate(ch: aio.Chan[Any]) -> AsyncIterator[Any]:
    async for item in ch:
        yield item


class FakeRealtimeSession(RealtimeSession):
    """A session of :class:`FakeRealtimeModel`."""

    def __init__(self, model: FakeRealtimeModel) -> None:
        super().__init__(model)
        self._fake = model
        self._chat_ctx = ChatContext.empty()
        self._tools = ToolContext.empty()
        self._tool_choice: ToolChoice | None = None
        self._closed = False
        self._pending_audio = 0.0
        self._speaking = False
        self._silence = 0.0
        self._current: _Generation | None = None
        self._turn_detection = model.capabilities.turn_detection
        self.turn_detection_calls: list[bool] = []
        """Every ``update_turn_detection(enabled=...)`` argument, in order."""
        self.instructions: str | None = None
        self.pushed_duration = 0.0
        self.generate_reply_calls: list[GenerateReplyCall] = []
        self.truncations: list[Truncation] = []
        self.interruptions = 0

    # -- state ----------------------------------------------------------------------------------
    @property
    def chat_ctx(self) -> ChatContext:
        return self._chat_ctx.copy()

    @property
    def tools(self) -> ToolContext:
        return self._tools.copy()

    @property
    def tool_choice(self) -> ToolChoice | None:
        return self._tool_choice

    async def update_instructions(self, instructions: str) -> None:
        self._check_open("update_instructions")
        self.instructions = instructions

    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        self._check_open("update_chat_ctx")
        self._chat_ctx = chat_ctx.copy()

    async def update_tools(self, tools: list[Tool]) -> None:
        self._check_open("update_tools")
        self._tools = ToolContext(tools)

    def update_options(self, *, tool_choice: NotGivenOr[ToolChoice | None] = NOT_GIVEN) -> None:
        if is_given(tool_choice):
            self._tool_choice = tool_choice

    @property
    def turn_detection_enabled(self) -> bool:
        """Whether this session currently detects user turns in the pushed audio."""
        return self._turn_detection

    def update_turn_detection(self, *, enabled: bool) -> bool:
        """Switch the energy turn detection; False (nothing changed) when the model was built
        with ``can_disable_turn_detection=False``."""
        self._check_open("update_turn_detection")
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
        self.turn_detection_calls.append(enabled)
        if not self._fake.capabilities.can_disable_turn_detection:
            return False
        if not enabled and self._speaking:
            # a turn in progress is left to the client to commit
            self._speaking = False
            self._silence = 0.0
        self._turn_detection = enabled
        return True

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise RealtimeError(f"{what}: the realtime session is closed")

    # -- user audio -----------------------------------------------------------------------------
    def push_audio(self, frame: rtc.AudioFrame) -> None:
        self._check_open("push_audio")
        if not isinstance(frame, rtc.AudioFrame):
            raise TypeError(f"push_audio expects an rtc.AudioFrame, got {type(frame).__name__}")
        duration = frame.duration
        self.pushed_duration += duration
        self._pending_audio += duration
        if not self._turn_detection:
            return
        samples = np.frombuffer(bytes(frame.data.cast("B")), dtype=np.int16)
        rms = (
            float(np.sqrt(np.mean((samples.astype(np.float64) / 32768.0) ** 2)))
            if samples.size
            else 0.0
        )
        if rms >= self._fake._threshold:
            self._silence = 0.0
            if not self._speaking:
                self._speaking = True
                self.emit("input_speech_started", InputSpeechStartedEvent())
        elif self._speaking:
            self._silence += duration
            if self._silence >= self._fake._silence_duration:
                self._speaking = False
                self._silence = 0.0
                self.emit(
                    "input_speech_stopped", InputSpeechStoppedEvent(user_transcription_enabled=True)
                )
                self._commit()
                self._start_generation(user_initiated=False)

    def commit_audio(self) -> None:
        self._check_open("commit_audio")
        self._commit()

    def clear_audio(self) -> None:
        self._pending_audio = 0.0
        self._speaking = False
        self._silence = 0.0

    def _commit(self) -> None:
        if self._pending_audio <= 0:
            return
        self._pending_audio = 0.0
        transcript = self._fake._next_transcript()
        item = self._chat_ctx.add_message(role="user", content=transcript)
        self.emit(
            "input_audio_transcription_completed",
            InputTranscriptionCompleted(item_id=item.id, transcript=transcript, is_final=True),
        )

    # -- generation -----------------------------------------------------------------------------
    def generate_reply(
        self,
        *,
        instructions: NotGivenOr[str] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        tools: NotGivenOr[list[Tool]] = NOT_GIVEN,
    ) -> asyncio.Future[GenerationCreatedEvent]:
        self._check_open("generate_reply")
        self.generate_reply_calls.append(
            GenerateReplyCall(
                instructions=instructions if is_given(instructions) else None,
                tool_choice=tool_choice,
                tools=list(tools) if is_given(tools) else None,
            )
        )
        fut: asyncio.Future[GenerationCreatedEvent] = asyncio.get_running_loop().create_future()
        try:
            event = self._start_generation(user_initiated=True, tools=tools)
        except Exception as e:
            fut.set_exception(e)
        else:
            fut.set_result(event)
        return fut

    def _start_generation(
        self, *, user_initiated: bool, tools: NotGivenOr[list[Tool]] = NOT_GIVEN
    ) -> GenerationCreatedEvent:
        if self._current is not None and self._current.task and not self._current.task.done():
            self._cancel_current()
        ctx = self._chat_ctx.copy()
        if self.instructions is not None:
            ctx.add_message(role="system", content=self.instructions)
        offered = list(tools) if is_given(tools) else self._tools.flatten()
        try:
            response, calls = self._fake.brain._reply_for(ctx, tools=offered)
        except RuntimeError as e:
            error = RealtimeError(str(e))
            self._emit_error(error)
            raise error from e
        gen = _Generation(shortuuid("fake_resp_"), user_initiated)
        gen.task = asyncio.create_task(
            self._play(gen, response, calls), name="FakeRealtimeSession.generation"
        )
        self._current = gen
        event = gen.event()
        self.emit("generation_created", event)
        return event

    async def _play(
        self, gen: _Generation, response: FakeResponse, calls: list[FunctionToolCall]
    ) -> None:
        fake = self._fake
        started = time.perf_counter()
        ttft_measured = -1.0
        message_id = shortuuid("fake_msg_")
        modalities: asyncio.Future[list[Modality]] = asyncio.get_running_loop().create_future()
        modalities.set_result(["audio", "text"] if fake.capabilities.audio_output else ["text"])
        chunks = response.text_chunks()
        text_parts: list[str] = []
        cancelled = False
        try:
            if chunks:
                gen.message_ch.send_nowait(
                    MessageGeneration(
                        message_id=message_id,
                        text_stream=_iterate(gen.text_ch),
                        audio_stream=_iterate(gen.audio_ch),
                        modalities=modalities,
                    )
                )
            gen.message_ch.close()
            ttft = response.ttft if response.ttft is not None else fake.brain._ttft
            delay = (
                response.chunk_delay
                if response.chunk_delay is not None
                else fake.brain._chunk_delay
            )
            if ttft > 0:
                await asyncio.sleep(ttft)
            if response.error is not None and response.error_after == 0:
                raise response.error
            played = 0
            for i, piece in enumerate(chunks):
                if i > 0 and delay > 0:
                    await asyncio.sleep(delay)
                if response.error is not None and i >= response.error_after:
                    raise response.error
                if ttft_measured < 0:
                    ttft_measured = time.perf_counter() - started
                gen.text_ch.send_nowait(piece)
                text_parts.append(piece)
                if fake.capabilities.audio_output:
                    n = round(len(piece) * fake._seconds_per_char * fake.sample_rate)
                    if n > 0:
                        gen.audio_ch.send_nowait(
                            rtc.AudioFrame(
                                data=tone_pcm(
                                    n,
                                    sample_rate=fake.sample_rate,
                                    num_channels=fake.num_channels,
                                    start_sample=played,
                                ),
                                sample_rate=fake.sample_rate,
                                num_channels=fake.num_channels,
                                samples_per_channel=n,
                            )
                        )
                        played += n
            gen.text_ch.close()
            gen.audio_ch.close()
            for call in calls:
                item = FunctionCall(call_id=call.call_id, name=call.name, arguments=call.arguments)
                gen.function_ch.send_nowait(item)
                self._chat_ctx.insert(item)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as e:
            self._emit_error(e)
        finally:
            gen.close()
            text = "".join(text_parts)
            if text:
                self._chat_ctx.add_message(
                    role="assistant", content=text, id=message_id, interrupted=cancelled
                )
            duration = time.perf_counter() - started
            tokens = len(text_parts) + len(calls)
            self.emit(
                "metrics_collected",
                RealtimeModelMetrics(
                    label=fake.label,
                    request_id=gen.response_id,
                    timestamp=time.time(),
                    duration=duration,
                    ttft=ttft_measured,
                    cancelled=cancelled,
                    input_tokens=0,
                    output_tokens=tokens,
                    total_tokens=tokens,
                    tokens_per_second=tokens / duration if duration > 0 else 0.0,
                    metadata=Metadata(model_name=fake.model, model_provider=fake.provider),
                ),
            )

    def _emit_error(self, error: Exception) -> None:
        self.emit(
            "error",
            RealtimeModelError(
                timestamp=time.time(), label=self._fake.label, error=error, recoverable=False
            ),
        )

    def _cancel_current(self) -> None:
        gen = self._current
        if gen is not None and gen.task is not None and not gen.task.done():
            gen.task.cancel()
            self.interruptions += 1

    def interrupt(self) -> None:
        self._cancel_current()

    def truncate(
        self,
        *,
        message_id: str,
        modalities: list[Modality],
        audio_end_ms: int,
        audio_transcript: NotGivenOr[str] = NOT_GIVEN,
    ) -> None:
        transcript = audio_transcript if is_given(audio_transcript) else None
        self.truncations.append(
            Truncation(
                message_id=message_id,
                modalities=list(modalities),
                audio_end_ms=audio_end_ms,
                audio_transcript=transcript,
            )
        )
        item = self._chat_ctx.get_by_id(message_id)
        if transcript is not None and item is not None and item.type == "message":
            item.content = [transcript]

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        gen = self._current
        if gen is not None and gen.task is not None:
            gen.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(gen.task, return_exceptions=True)
            gen.close()
