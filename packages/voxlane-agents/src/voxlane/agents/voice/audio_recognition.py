"""User audio -> VAD + STT -> end-of-turn decision (endpointing).

``AudioRecognition`` feeds the user's audio to the VAD and to the agent's ``stt_node``,
accumulates final transcripts, and decides when the user's turn is over:

- ``"vad"`` mode (or a turn-detector object): after the VAD's end of speech;
- ``"stt"`` mode: after the STT's END_OF_SPEECH event;
- ``"manual"``: only when ``commit_user_turn()`` is called.

``commit_user_turn()`` may first flush the STT (feed it some silence so it finalizes what it
heard) and wait a while for the final transcript; automatic endpointing is held meanwhile.

After the end of speech it waits ``min_endpointing_delay`` (counted from the moment the user
stopped speaking); when a turn-detector object says the turn is probably not over, it waits
``max_endpointing_delay`` instead. New speech cancels the pending decision.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from livekit import rtc

from .. import stt as stt_mod
from .. import vad as vad_mod
from ..llm import ChatContext
from ..utils import aio
from ..utils.audio import silence
from .generation import node_output

logger = logging.getLogger("voxlane.agents.voice")


@dataclass(frozen=True)
class EndOfTurnInfo:
    """What the runtime knows when the user's turn ends."""

    new_transcript: str
    transcript_confidence: float
    started_speaking_at: float | None
    stopped_speaking_at: float | None
    end_of_utterance_delay: float
    transcription_delay: float
    manual: bool = False
    """Ended by ``commit_user_turn()`` rather than by endpointing."""
    skip_reply: bool = False
    """Record the user's message without replying (``commit_user_turn(skip_reply=True)``)."""


class RecognitionHooks(Protocol):
    """Callbacks from :class:`AudioRecognition` to the agent activity."""

    def on_start_of_speech(self, ev: vad_mod.VADEvent | None) -> None: ...
    def on_vad_inference_done(self, ev: vad_mod.VADEvent) -> None: ...
    def on_end_of_speech(self, ev: vad_mod.VADEvent | None) -> None: ...
    def on_interim_transcript(self, ev: stt_mod.SpeechEvent) -> None: ...
    def on_final_transcript(self, ev: stt_mod.SpeechEvent) -> None: ...
    def on_end_of_turn(self, info: EndOfTurnInfo) -> bool: ...
    def on_preemptive_generation(self, transcript: str) -> None: ...
    def retrieve_chat_ctx(self) -> ChatContext: ...


class AudioRecognition:
    """Runs VAD and STT on the user's audio and detects the end of the user's turn."""

    def __init__(
        self,
        *,
        hooks: RecognitionHooks,
        stt_node: Callable[[AsyncIterable[rtc.AudioFrame]], Any] | None,
        vad: vad_mod.VAD | None,
        turn_detection: str,
        turn_detector: Any | None,
        min_endpointing_delay: float,
        max_endpointing_delay: float,
    ) -> None:
        self._hooks = hooks
        self._stt_node = stt_node
        self._vad = vad
        self._mode = turn_detection
        self._turn_detector = turn_detector
        self._min_delay = min_endpointing_delay
        self._max_delay = max_endpointing_delay

        self._stt_input: aio.Chan[rtc.AudioFrame] | None = None
        self._vad_stream: vad_mod.VADStream | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._eou_task: asyncio.Task[None] | None = None

        self._transcript = ""
        self._interim = ""
        self._confidences: list[float] = []
        self._language: str | None = None
        self._speaking = False
        self._started_speaking_at: float | None = None
        self._last_speaking_time: float | None = None
        self._last_final_at: float | None = None
        self._closed = False
        self._input_ended = False
        self._stt_speaking = False
        self._stt_changed = asyncio.Event()
        # the latest user frame; its format is read only when commit_user_turn() flushes
        self._last_frame: rtc.AudioFrame | None = None
        self._commit_task: asyncio.Task[None] | None = None
        self._commit_fut: asyncio.Future[str] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._stt_node is not None:
            self._stt_input = aio.Chan()
            self._tasks.append(
                asyncio.create_task(self._stt_task(self._stt_input), name="recognition_stt")
            )
        if self._vad is not None:
            self._vad_stream = self._vad.stream()
            self._tasks.append(
                asyncio.create_task(self._vad_task(self._vad_stream), name="recognition_vad")
            )

    async def aclose(self) -> None:
        self._closed = True
        if self._stt_input is not None:
            self._stt_input.close()
        await aio.cancel_and_wait(self._eou_task, self._commit_task, *self._tasks)
        if self._vad_stream is not None:
            await self._vad_stream.aclose()
        self._tasks.clear()

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def pending_end_of_turn(self) -> asyncio.Task[None] | None:
        """The running end-of-turn decision (endpointing delay), or None."""
        task = self._eou_task
        return task if task is not None and not task.done() else None

    @property
    def speech_started_at(self) -> float | None:
        """Loop time the user started speaking in the current turn (None: not yet)."""
        return self._started_speaking_at

    @property
    def current_transcript(self) -> str:
        """Final transcript of the current user turn, plus the latest interim text."""
        return " ".join(t for t in (self._transcript, self._interim) if t)

    def push_audio(self, frame: rtc.AudioFrame, *, stt_frame: rtc.AudioFrame | None = None) -> None:
        """Feed one frame to the VAD and (``stt_frame`` or the frame itself) to the STT."""
        if self._closed or self._input_ended:
            return
        self._last_frame = frame
        if self._vad_stream is not None:
            self._vad_stream.push_frame(frame)
        if self._stt_input is not None and not self._stt_input.closed:
            self._stt_input.send_nowait(stt_frame if stt_frame is not None else frame)

    def end_input(self) -> None:
        """No more user audio will come: the VAD and the STT finish what they already heard
        (final transcripts included), then their tasks end. Later audio is ignored."""
        if self._input_ended or self._closed:
            return
        self._input_ended = True
        if self._stt_input is not None:
            self._stt_input.close()
        if self._vad_stream is not None:
            self._vad_stream.end_input()

    async def wait_input_processed(self) -> None:
        """After :meth:`end_input`: wait until the VAD and the STT have delivered everything
        (an end of turn they trigger may still be pending, see :attr:`pending_end_of_turn`)."""
        if not self._input_ended:
            raise RuntimeError("wait_input_processed() needs end_input() first")
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            await asyncio.wait(tasks)

    def clear_user_turn(self) -> None:
        """Forget the transcript of the current user turn (a pending commit is cancelled)."""
        self._transcript = ""
        self._interim = ""
        self._confidences.clear()
        if self._eou_task is not None:
            self._eou_task.cancel()
            self._eou_task = None
        if self._commit_task is not None:
            self._commit_task.cancel()
            self._commit_task = None

    def commit_user_turn(
        self,
        *,
        transcript_timeout: float = 0.0,
        stt_flush_duration: float = 0.0,
        skip_reply: bool = False,
    ) -> asyncio.Future[str]:
        """End the user's turn with what was transcribed; the future gets that transcript.

        First feeds ``stt_flush_duration`` seconds of silence to the STT so it finalizes what
        it heard, then waits up to ``transcript_timeout`` seconds while a transcript is still
        pending (interim text without its final, or the STT's speech not ended), then ends the
        turn with the final text (or the interim text, when no final came). When the STT heard
        nothing, the future gets ``""`` and the turn is not ended (no reply); without an STT
        the turn always ends. While a commit is pending, calling again returns its future.
        """
        if self._commit_task is not None and self._commit_fut is not None:
            return self._commit_fut
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        if self._closed:
            fut.set_result("")
            return fut
        self._flush_stt(stt_flush_duration)
        self._commit_fut = fut
        self._commit_task = asyncio.create_task(
            self._commit(fut, transcript_timeout, skip_reply), name="commit_user_turn"
        )
        return fut

    def _flush_stt(self, duration: float) -> None:
        chan = self._stt_input
        last = self._last_frame
        if duration <= 0 or chan is None or chan.closed or last is None:
            return
        sample_rate, num_channels = last.sample_rate, last.num_channels
        chunk = 0.1
        left = duration
        while left > 1e-9:
            step = min(chunk, left)
            chan.send_nowait(silence(step, sample_rate=sample_rate, num_channels=num_channels))
            left -= step

    def _awaiting_final(self) -> bool:
        return bool(self._interim) or self._stt_speaking

    async def _commit(self, fut: asyncio.Future[str], timeout: float, skip_reply: bool) -> None:
        loop = asyncio.get_running_loop()
        try:
            deadline = loop.time() + timeout
            while self._stt_node is not None and self._awaiting_final():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._stt_changed.clear()
                try:
                    await asyncio.wait_for(self._stt_changed.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            if self._transcript == "" and self._interim:
                # no final transcript came: use the interim text
                self._transcript = self._interim
            self._interim = ""
            self._stt_speaking = False
            if self._eou_task is not None:
                self._eou_task.cancel()
                self._eou_task = None
            transcript = self._transcript
            if transcript or self._stt_node is None:
                # without an STT the text is unknown (a realtime model hears the audio itself)
                self._end_turn(manual=True, skip_reply=skip_reply)
            else:
                self._started_speaking_at = None
            fut.set_result(transcript)
        finally:
            if not fut.done():
                fut.cancel()
            if self._commit_fut is fut:
                self._commit_task = None
                self._commit_fut = None

    # -- VAD ---------------------------------------------------------------------------------

    async def _vad_task(self, stream: vad_mod.VADStream) -> None:
        async for ev in stream:
            now = asyncio.get_running_loop().time()
            if ev.type == vad_mod.VADEventType.START_OF_SPEECH:
                self._on_speech_started(now - ev.speech_duration)
                self._hooks.on_start_of_speech(ev)
            elif ev.type == vad_mod.VADEventType.INFERENCE_DONE:
                self._hooks.on_vad_inference_done(ev)
            elif ev.type == vad_mod.VADEventType.END_OF_SPEECH:
                self._on_speech_ended(now - ev.silence_duration)
                self._hooks.on_end_of_speech(ev)
                if self._mode != "stt":
                    self._run_eou()

    # -- STT ---------------------------------------------------------------------------------

    async def _stt_task(self, audio: aio.Chan[rtc.AudioFrame]) -> None:
        assert self._stt_node is not None
        async for ev in node_output(self._stt_node(audio)):
            if isinstance(ev, str):
                ev = stt_mod.SpeechEvent(
                    type=stt_mod.SpeechEventType.FINAL_TRANSCRIPT,
                    alternatives=[stt_mod.SpeechData(language="", text=ev)],
                )
            if not isinstance(ev, stt_mod.SpeechEvent):
                raise TypeError(
                    f"stt_node yielded {type(ev).__name__}; expected stt.SpeechEvent or str"
                )
            self._on_stt_event(ev)

    def _on_stt_event(self, ev: stt_mod.SpeechEvent) -> None:
        self._stt_changed.set()
        if ev.type == stt_mod.SpeechEventType.START_OF_SPEECH:
            self._stt_speaking = True
        elif ev.type == stt_mod.SpeechEventType.END_OF_SPEECH:
            self._stt_speaking = False
        now = asyncio.get_running_loop().time()
        if ev.type == stt_mod.SpeechEventType.FINAL_TRANSCRIPT:
            text = ev.alternatives[0].text.strip() if ev.alternatives else ""
            self._interim = ""
            if not text:
                return
            alt = ev.alternatives[0]
            self._language = alt.language or self._language
            self._confidences.append(alt.confidence)
            self._transcript = f"{self._transcript} {text}".strip()
            self._last_final_at = now
            self._hooks.on_final_transcript(ev)
            self._hooks.on_preemptive_generation(self._transcript)
            if not self._speaking:
                # the transcript arrived after the end of speech: decide now
                self._run_eou()
        elif ev.type in (
            stt_mod.SpeechEventType.INTERIM_TRANSCRIPT,
            stt_mod.SpeechEventType.PREFLIGHT_TRANSCRIPT,
        ):
            text = ev.alternatives[0].text.strip() if ev.alternatives else ""
            if text:
                self._interim = text
                self._hooks.on_interim_transcript(ev)
                if ev.type == stt_mod.SpeechEventType.PREFLIGHT_TRANSCRIPT:
                    self._hooks.on_preemptive_generation(f"{self._transcript} {text}")
        elif ev.type == stt_mod.SpeechEventType.START_OF_SPEECH:
            if self._vad is None or self._mode == "stt":
                self._on_speech_started(now)
                self._hooks.on_start_of_speech(None)
        elif ev.type == stt_mod.SpeechEventType.END_OF_SPEECH and (
            self._vad is None or self._mode == "stt"
        ):
            self._on_speech_ended(now)
            self._hooks.on_end_of_speech(None)
            self._run_eou()

    # -- endpointing -------------------------------------------------------------------------

    def _on_speech_started(self, at: float) -> None:
        self._speaking = True
        if self._started_speaking_at is None:
            self._started_speaking_at = at
        if self._eou_task is not None:
            self._eou_task.cancel()
            self._eou_task = None

    def _on_speech_ended(self, at: float) -> None:
        self._speaking = False
        self._last_speaking_time = at

    def _run_eou(self) -> None:
        if self._closed or self._mode == "manual" or self._speaking:
            return
        if self._commit_task is not None:
            return  # commit_user_turn() ends this turn
        if self._eou_task is not None:
            self._eou_task.cancel()
        self._eou_task = asyncio.create_task(self._bounce_eou(), name="bounce_eou")

    async def _bounce_eou(self) -> None:
        loop = asyncio.get_running_loop()
        if not self._transcript:
            return
        delay = self._min_delay
        if self._turn_detector is not None:
            delay = await self._detector_delay()
        last = self._last_speaking_time if self._last_speaking_time is not None else loop.time()
        wait = delay - (loop.time() - last)
        if wait > 0:
            await asyncio.sleep(wait)
        self._eou_task = None
        self._end_turn()

    def _end_turn(self, *, manual: bool = False, skip_reply: bool = False) -> None:
        """Report the end of the turn to the hooks; forget the turn once they accept it."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        stopped = self._last_speaking_time
        info = EndOfTurnInfo(
            new_transcript=self._transcript,
            transcript_confidence=(
                sum(self._confidences) / len(self._confidences) if self._confidences else 0.0
            ),
            started_speaking_at=self._started_speaking_at,
            stopped_speaking_at=stopped,
            end_of_utterance_delay=(now - stopped) if stopped is not None else 0.0,
            transcription_delay=(
                max(0.0, self._last_final_at - stopped)
                if self._last_final_at is not None and stopped is not None
                else 0.0
            ),
            manual=manual,
            skip_reply=skip_reply,
        )
        if self._hooks.on_end_of_turn(info):
            self._transcript = ""
            self._interim = ""
            self._confidences.clear()
            self._started_speaking_at = None

    async def _detector_delay(self) -> float:
        detector = self._turn_detector
        assert detector is not None
        chat_ctx = self._hooks.retrieve_chat_ctx().copy()
        chat_ctx.add_message(role="user", content=self._transcript)
        try:
            language = self._language
            if hasattr(detector, "supports_language") and not await _maybe_await(
                detector.supports_language(language)
            ):
                return self._min_delay
            probability = float(await _maybe_await(detector.predict_end_of_turn(chat_ctx)))
            threshold = await _maybe_await(detector.unlikely_threshold(language))
        except Exception:
            logger.exception("the turn detector failed; using min_endpointing_delay")
            return self._min_delay
        if threshold is not None and probability < float(threshold):
            return self._max_delay
        return self._min_delay


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


__all__ = ["AudioRecognition", "EndOfTurnInfo", "RecognitionHooks"]
