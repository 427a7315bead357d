"""Playing one speech step to the session's outputs (shared by the LLM and realtime paths).

:func:`play_speech` sends a step's text through ``transcription_node`` to the text output and
its audio (given, or synthesized with ``tts_node``) to the audio output, paired by a
``TranscriptSynchronizer`` when both outputs exist. It waits for the playout (or the
interruption of the speech) and reports what the user really heard.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from livekit import rtc

from ..utils import aio
from .agent import ModelSettings
from .generation import (
    perform_audio_forwarding,
    perform_text_forwarding,
    perform_tts_inference,
    played_text,
    tee_text,
)
from .io import AudioOutput, PlaybackFinishedEvent, TextOutput
from .speech_handle import SpeechHandle
from .transcription.synchronizer import synchronizer_of

if TYPE_CHECKING:
    from .agent_activity import AgentActivity


@dataclass(frozen=True)
class PlayOutcome:
    """What one step put in front of the user."""

    text: str
    """The text said: only the played part when interrupted."""
    interrupted: bool
    audio: bool
    """Whether the step was played as audio."""
    position: float = 0.0
    """Seconds of audio played."""
    error: BaseException | None = None
    """Set when a node or output failed mid-step (e.g. the TTS): ``text`` is then what was
    heard before the failure and ``interrupted`` is True. The caller records that text and
    then raises the error, so a failing TTS does not erase the part the user already heard."""


async def play_speech(
    activity: AgentActivity,
    speech: SpeechHandle,
    text_source: AsyncIterable[str],
    *,
    audio_source: AsyncIterable[rtc.AudioFrame] | None = None,
    synthesize: bool = False,
) -> PlayOutcome:
    """Play one step of ``speech``: ``text_source`` with ``audio_source`` (or, with
    ``synthesize``, the ``tts_node`` audio of the text). Without an audio output the text is
    sent as it is generated (and ``audio_source`` is read to its end)."""
    session = activity.session
    audio_output, text_output = session.output._playout_outputs()
    use_audio = audio_output is not None and (audio_source is not None or synthesize)
    drain: asyncio.Task[None] | None = None
    if not use_audio:
        # no audio to follow: the text goes out as it is generated
        audio_output, text_output = None, session.output.transcription
        if audio_source is not None:
            drain = asyncio.create_task(_drain(audio_source), name="audio_drain")
    try:
        outcome = await _play_outputs(
            activity,
            speech,
            text_source,
            audio_source,
            audio_output,
            text_output,
        )
    finally:
        await aio.cancel_and_wait(drain)
    sync = synchronizer_of(text_output)
    if sync is not None:
        # the words still due reach the text output before the step counts as played
        await sync.wait_for_released()
    return outcome


async def _drain(stream: AsyncIterable[Any]) -> None:
    async for _ in stream:
        pass


async def _play_outputs(
    activity: AgentActivity,
    speech: SpeechHandle,
    text_source: AsyncIterable[str],
    audio_source: AsyncIterable[rtc.AudioFrame] | None,
    audio_output: AudioOutput | None,
    text_output: TextOutput | None,
) -> PlayOutcome:
    session = activity.session
    agent = activity.agent
    settings = ModelSettings()
    tasks: list[asyncio.Task[Any]] = []
    audio_data = None
    if audio_output is not None:
        if audio_source is None:
            tee_task, (tr_ch, tts_ch) = tee_text(text_source, 2)
            tts_task, tts_data = perform_tts_inference(agent.tts_node(tts_ch, settings))
            tasks += [tts_task] if tee_task is None else [tee_task, tts_task]
            frames: AsyncIterable[rtc.AudioFrame] = tts_data.audio_ch
            tr_source: AsyncIterable[str] = tr_ch
        else:
            frames, tr_source = audio_source, text_source
        audio_task, audio_data = perform_audio_forwarding(audio_output, frames)
        text_task, text_data = perform_text_forwarding(
            text_output, agent.transcription_node(tr_source, settings)
        )
        tasks += [audio_task, text_task]
        first_out: asyncio.Future[None] = audio_data.first_frame_fut
    else:
        text_task, text_data = perform_text_forwarding(
            text_output, agent.transcription_node(text_source, settings)
        )
        tasks.append(text_task)
        first_out = text_data.first_text_fut
    use_audio = audio_output is not None

    def _on_first_output(_: Any) -> None:
        if not speech.interrupted and session._activity is activity:
            session._update_agent_state("speaking")

    first_out.add_done_callback(_on_first_output)
    try:
        await speech.wait_if_not_interrupted(list(tasks))
        position = 0.0
        finished: PlaybackFinishedEvent | None = None
        if (
            not speech.interrupted
            and audio_output is not None
            and audio_data is not None
            and audio_data.pushed_duration > 0
        ):
            playout = asyncio.ensure_future(audio_output.wait_for_playout())
            await speech.wait_if_not_interrupted([playout])
            if not playout.done():
                playout.cancel()
            elif not playout.cancelled():
                finished = playout.result()
                position = finished.playback_position
        if speech.interrupted:
            await aio.cancel_and_wait(*tasks)
            if audio_output is None or audio_data is None:
                return PlayOutcome(text_data.text, True, use_audio)
            if audio_data.pushed_duration <= 0:
                return PlayOutcome("", True, use_audio)
            audio_output.clear_buffer()
            ev = await audio_output.wait_for_playout()
            said = ev.synchronized_transcript
            if said is None:
                said = played_text(text_data.text, ev.playback_position, audio_data.pushed_duration)
            return PlayOutcome(said, True, use_audio, ev.playback_position)
        for t in tasks:
            if t.done() and not t.cancelled() and t.exception() is not None:
                error = t.exception()
                if audio_data is None:
                    heard = text_data.text
                elif finished is None:
                    heard = ""  # no audio was played
                elif finished.synchronized_transcript is not None:
                    heard = finished.synchronized_transcript
                else:
                    # the length of the audio the whole text would have had is unknown: count
                    # the text forwarded as heard (as a text output shows it)
                    heard = text_data.text
                return PlayOutcome(heard, True, use_audio, position, error=error)
        return PlayOutcome(text_data.text, False, use_audio, position)
    finally:
        first_out.remove_done_callback(_on_first_output)
        await aio.cancel_and_wait(*tasks)


__all__ = ["PlayOutcome", "play_speech"]
