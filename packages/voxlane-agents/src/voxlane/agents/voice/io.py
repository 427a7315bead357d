"""I/O contracts of the voice runtime: where user audio comes from and where the agent speaks.

An ``AgentSession`` reads user audio from ``session.input.audio`` (an :class:`AudioInput`),
sends synthesized speech to ``session.output.audio`` (an :class:`AudioOutput`) and the agent's
text to ``session.output.transcription`` (a :class:`TextOutput`). Rooms, the console, WAV files
and in-memory queues all implement these three contracts.

Implementing an :class:`AudioOutput`:

- ``capture_frame`` receives frames of the current segment (call ``super().capture_frame``
  first: it counts segments);
- ``flush`` marks the end of a segment (call ``super().flush()``);
- ``clear_buffer`` stops playback immediately (interruption);
- the implementation **must** call ``on_playback_started(created_at=...)`` when the first
  frame of a segment is really played and ``on_playback_finished(playback_position=...,
  interrupted=...)`` once per segment, when it is played out or cleared. ``playback_position``
  is the number of seconds of the segment that were actually played.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from livekit import rtc

from ..utils.events import EventEmitter

logger = logging.getLogger("voxlane.agents.voice")

AudioOutputEvent = Literal["playback_started", "playback_finished"]


@dataclass(frozen=True)
class PlaybackStartedEvent:
    """The first frame of a segment started playing at ``created_at`` (loop time)."""

    created_at: float


@dataclass(frozen=True)
class PlaybackFinishedEvent:
    """A segment finished playing (or was cleared).

    ``playback_position`` is how many seconds of the segment were really played;
    ``synchronized_transcript`` is the text that was spoken up to that point, when the output
    knows it (a transcript synchroniser sets it).
    """

    playback_position: float
    interrupted: bool
    synchronized_transcript: str | None = None


@dataclass(frozen=True)
class AudioOutputCapabilities:
    """What an audio output can do beyond the basics."""

    pause: bool = False


class AudioInput(ABC):
    """An async iterator of the user's ``rtc.AudioFrame`` (16-bit PCM).

    Subclasses implement ``__anext__`` (raise ``StopAsyncIteration`` when the input ends). A
    wrapper may pass ``source=`` and forward to it.
    """

    def __init__(self, *, label: str = "", source: AudioInput | None = None) -> None:
        self._label = label or type(self).__name__
        self._source = source

    @property
    def label(self) -> str:
        return self._label

    @property
    def source(self) -> AudioInput | None:
        return self._source

    def __aiter__(self) -> AsyncIterator[rtc.AudioFrame]:
        return self

    @abstractmethod
    async def __anext__(self) -> rtc.AudioFrame: ...

    def on_attached(self) -> None:
        """Called when the session starts reading this input."""
        if self._source is not None:
            self._source.on_attached()

    def on_detached(self) -> None:
        """Called when the session stops reading this input."""
        if self._source is not None:
            self._source.on_detached()


class AudioOutput(ABC, EventEmitter[AudioOutputEvent]):
    """Where the agent's speech is played, segment by segment.

    Events: ``playback_started`` (:class:`PlaybackStartedEvent`) and ``playback_finished``
    (:class:`PlaybackFinishedEvent`). A wrapper output passes ``next_in_chain=``: the playback
    events of the next output are then forwarded automatically.
    """

    def __init__(
        self,
        *,
        label: str = "",
        capabilities: AudioOutputCapabilities | None = None,
        next_in_chain: AudioOutput | None = None,
        sample_rate: int | None = None,
    ) -> None:
        super().__init__()
        if sample_rate is not None and sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
        self._label = label or type(self).__name__
        self._capabilities = capabilities or AudioOutputCapabilities()
        self._next_in_chain = next_in_chain
        self._sample_rate = sample_rate
        self._capturing = False
        self._segments_count = 0
        self._finished_count = 0
        self._last_finished: PlaybackFinishedEvent | None = None
        self._waiters: list[tuple[int, asyncio.Future[PlaybackFinishedEvent]]] = []
        if next_in_chain is not None:
            next_in_chain.on("playback_started", self._forward_started)
            next_in_chain.on("playback_finished", self._forward_finished)

    def _forward_started(self, ev: PlaybackStartedEvent) -> None:
        self.on_playback_started(created_at=ev.created_at)

    def _forward_finished(self, ev: PlaybackFinishedEvent) -> None:
        self.on_playback_finished(
            playback_position=ev.playback_position,
            interrupted=ev.interrupted,
            synchronized_transcript=ev.synchronized_transcript,
        )

    @property
    def label(self) -> str:
        return self._label

    @property
    def capabilities(self) -> AudioOutputCapabilities:
        return self._capabilities

    @property
    def can_pause(self) -> bool:
        """True when ``pause``/``resume`` work on this output (and the rest of the chain)."""
        if not self._capabilities.pause:
            return False
        return self._next_in_chain is None or self._next_in_chain.can_pause

    @property
    def next_in_chain(self) -> AudioOutput | None:
        return self._next_in_chain

    @property
    def sample_rate(self) -> int | None:
        """The sample rate this output wants, or None to accept any."""
        return self._sample_rate

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        """Queue one frame of the current segment; the first frame opens a new segment."""
        if not self._capturing:
            self._capturing = True
            self._segments_count += 1

    def flush(self) -> None:
        """Mark the end of the current segment."""
        self._capturing = False

    @abstractmethod
    def clear_buffer(self) -> None:
        """Stop playing now and drop whatever is buffered (the segment ends as interrupted)."""

    def pause(self) -> None:
        """Pause playback (only when ``can_pause``)."""
        if self._next_in_chain is not None:
            self._next_in_chain.pause()
            return
        raise NotImplementedError(f"{self._label} cannot pause; check `can_pause` first")

    def resume(self) -> None:
        """Resume a paused playback."""
        if self._next_in_chain is not None:
            self._next_in_chain.resume()
            return
        raise NotImplementedError(f"{self._label} cannot resume; check `can_pause` first")

    def on_playback_started(self, *, created_at: float) -> None:
        """To be called by implementations when a segment really starts playing."""
        self.emit("playback_started", PlaybackStartedEvent(created_at=created_at))

    def on_playback_finished(
        self,
        *,
        playback_position: float,
        interrupted: bool,
        synchronized_transcript: str | None = None,
    ) -> None:
        """To be called by implementations once per segment, when played out or cleared."""
        if self._finished_count >= self._segments_count:
            logger.warning(
                "%s reported playback_finished more times than segments were captured; ignored",
                self._label,
            )
            return
        self._finished_count += 1
        ev = PlaybackFinishedEvent(
            playback_position=playback_position,
            interrupted=interrupted,
            synchronized_transcript=synchronized_transcript,
        )
        self._last_finished = ev
        still_waiting: list[tuple[int, asyncio.Future[PlaybackFinishedEvent]]] = []
        for target, fut in self._waiters:
            if fut.done():
                continue
            if self._finished_count >= target:
                fut.set_result(ev)
            else:
                still_waiting.append((target, fut))
        self._waiters = still_waiting
        self.emit("playback_finished", ev)

    async def wait_for_playout(self) -> PlaybackFinishedEvent:
        """Wait until every segment captured so far finished playing; return the last event."""
        target = self._segments_count
        if self._finished_count >= target:
            return self._last_finished or PlaybackFinishedEvent(
                playback_position=0.0, interrupted=False
            )
        fut: asyncio.Future[PlaybackFinishedEvent] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, fut))
        return await fut


class TextOutput(ABC):
    """Where the agent's text (its transcription) goes, segment by segment."""

    def __init__(self, *, label: str = "", next_in_chain: TextOutput | None = None) -> None:
        self._label = label or type(self).__name__
        self._next_in_chain = next_in_chain

    @property
    def label(self) -> str:
        return self._label

    @property
    def next_in_chain(self) -> TextOutput | None:
        return self._next_in_chain

    @abstractmethod
    async def capture_text(self, text: str) -> None:
        """Receive the next piece of the current segment's text."""

    @abstractmethod
    def flush(self) -> None:
        """Mark the end of the current text segment."""


class AgentInput:
    """The session's inputs: ``audio`` can be replaced or disabled while running."""

    def __init__(self, on_audio_changed: Callable[[], None] | None = None) -> None:
        self._audio: AudioInput | None = None
        self._audio_enabled = True
        self._on_audio_changed = on_audio_changed

    @property
    def audio(self) -> AudioInput | None:
        return self._audio

    @audio.setter
    def audio(self, stream: AudioInput | None) -> None:
        if stream is self._audio:
            return
        if self._audio is not None:
            self._audio.on_detached()
        self._audio = stream
        if stream is not None and self._audio_enabled:
            stream.on_attached()
        if self._on_audio_changed is not None:
            self._on_audio_changed()

    @property
    def audio_enabled(self) -> bool:
        return self._audio_enabled

    def set_audio_enabled(self, enabled: bool) -> None:
        """Stop (or restart) reading user audio without removing the input."""
        if enabled == self._audio_enabled:
            return
        self._audio_enabled = enabled
        if self._audio is not None:
            if enabled:
                self._audio.on_attached()
            else:
                self._audio.on_detached()
        if self._on_audio_changed is not None:
            self._on_audio_changed()


class AgentOutput:
    """The session's outputs: ``audio`` and ``transcription``, each replaceable and switchable.

    When both an audio and a transcription output are set, the runtime plays through a
    :class:`~voxlane.agents.voice.transcription.TranscriptSynchronizer` pairing them (created
    on demand), so the text follows the audio and an interrupted reply keeps exactly the
    words played. ``set_sync_transcription(False)`` (or ``AgentSession(sync_transcription=
    False)``) sends the text as soon as it is generated instead. Outputs that are already a
    synchronizer's are used as they are.
    """

    def __init__(self, *, sync_transcription: bool = True) -> None:
        self._audio: AudioOutput | None = None
        self._transcription: TextOutput | None = None
        self._audio_enabled = True
        self._transcription_enabled = True
        self._sync_transcription = sync_transcription
        self._sync_speed = 1.0
        self._synchronizer: Any = None
        self._sync_pair: tuple[AudioOutput, TextOutput] | None = None
        self._retired_synchronizers: list[Any] = []

    @property
    def audio(self) -> AudioOutput | None:
        """The audio output, or None when not set or disabled."""
        return self._audio if self._audio_enabled else None

    @audio.setter
    def audio(self, output: AudioOutput | None) -> None:
        self._audio = output

    @property
    def transcription(self) -> TextOutput | None:
        """The text output, or None when not set or disabled."""
        return self._transcription if self._transcription_enabled else None

    @transcription.setter
    def transcription(self, output: TextOutput | None) -> None:
        self._transcription = output

    @property
    def audio_enabled(self) -> bool:
        return self._audio_enabled

    @property
    def transcription_enabled(self) -> bool:
        return self._transcription_enabled

    @property
    def sync_transcription(self) -> bool:
        """Whether the transcription is synchronised with the audio playout (default True)."""
        return self._sync_transcription

    def set_audio_enabled(self, enabled: bool) -> None:
        """Disabling audio makes the session speak text only (no TTS needed)."""
        self._audio_enabled = enabled

    def set_transcription_enabled(self, enabled: bool) -> None:
        self._transcription_enabled = enabled

    def set_sync_transcription(self, enabled: bool, *, speed: float | None = None) -> None:
        """Synchronise (or not) the transcription with the audio; ``speed`` scales the
        speaking rate used when the TTS gives no word timings (1.0 = average)."""
        if speed is not None:
            if not speed > 0:
                raise ValueError(
                    f"speed must be > 0 (1.0 is the average speaking rate), got {speed}"
                )
            if speed != self._sync_speed:
                self._sync_speed = speed
                self._retire_synchronizer()
        self._sync_transcription = enabled

    def _playout_outputs(self) -> tuple[AudioOutput | None, TextOutput | None]:
        """The outputs the runtime plays a reply through (see the class docstring)."""
        from .transcription.synchronizer import TranscriptSynchronizer, is_synchronized

        audio, text = self.audio, self.transcription
        if (
            audio is None
            or text is None
            or not self._sync_transcription
            or is_synchronized(audio)
            or is_synchronized(text)
        ):
            return audio, text
        pair = self._sync_pair
        if pair is None or pair[0] is not audio or pair[1] is not text:
            self._retire_synchronizer()
            self._synchronizer = TranscriptSynchronizer(
                next_in_chain_audio=audio, next_in_chain_text=text, speed=self._sync_speed
            )
            self._sync_pair = (audio, text)
        return self._synchronizer.audio_output, self._synchronizer.text_output

    def _playout_audio(self) -> AudioOutput | None:
        """The audio output to pause/resume: the synchronised one when a reply used it."""
        audio = self.audio
        pair = self._sync_pair
        if (
            audio is not None
            and pair is not None
            and pair[0] is audio
            and self._synchronizer is not None
        ):
            out: AudioOutput = self._synchronizer.audio_output
            return out
        return audio

    def _retire_synchronizer(self) -> None:
        if self._synchronizer is not None:
            # its segments still playing finish on their own; closed with the session
            self._retired_synchronizers.append(self._synchronizer)
        self._synchronizer = None
        self._sync_pair = None

    async def _aclose(self) -> None:
        """Stop the synchronizers the session created."""
        self._retire_synchronizer()
        retired, self._retired_synchronizers = self._retired_synchronizers, []
        for sync in retired:
            await sync.aclose()


__all__ = [
    "AgentInput",
    "AgentOutput",
    "AudioInput",
    "AudioOutput",
    "AudioOutputCapabilities",
    "PlaybackFinishedEvent",
    "PlaybackStartedEvent",
    "TextOutput",
]
