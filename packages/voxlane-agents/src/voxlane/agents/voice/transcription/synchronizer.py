"""TranscriptSynchronizer: release the agent's text word by word as its audio is played.

Put the synchronizer's two outputs in the session::

    sync = TranscriptSynchronizer(next_in_chain_audio=speaker, next_in_chain_text=captions)
    session.output.audio = sync.audio_output
    session.output.transcription = sync.text_output

Each speech step is one *segment* on both outputs (the n-th text segment goes with the n-th
audio segment). While a segment plays, its words reach ``next_in_chain_text`` at the moment
they are spoken:

- when the TTS attached timings to its frames (``TimedString`` in
  ``frame.userdata["lk.timed_transcripts"]``), the first word of each timed string is released
  at that string's start time. A timed string may hold one word (word-level alignment) or a
  whole sentence (``tts.StreamAdapter``): the other words of a string are spread over the
  string's audio (up to the next timed string, or the end of the audio once known) in
  proportion to their syllables, or at the speaking rate while that span is unknown;
- otherwise at the speaking rate: ``STANDARD_SPEECH_RATE`` syllables per second times
  ``speed``, re-estimated from the segment's syllables and audio duration once both are known.

Pausing the audio output pauses the text. When a segment is interrupted, the playback-finished
event carries ``synchronized_transcript``: exactly the words whose start was played, which the
runtime stores as the interrupted assistant message. A text segment that never gets audio (for
example with audio output disabled) is passed through unsynchronised when the next segment
starts; call ``set_enabled(False)`` to pass all text through immediately instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc

from ...tts.audio_emitter import TIMED_TRANSCRIPTS_KEY
from ...types import is_given
from ...utils import aio
from ..io import AudioOutput, AudioOutputCapabilities, PlaybackStartedEvent, TextOutput
from ._speaking_rate import STANDARD_SPEECH_RATE, count_syllables, split_words

logger = logging.getLogger("voxlane.agents.voice")

_EPS = 1e-6


@dataclass(frozen=True)
class _Anchor:
    """A timed string: its first word starts at ``start`` (seconds into the segment)."""

    start: float
    words: int


@dataclass
class _Segment:
    index: int
    text: str = ""
    text_started: bool = False
    text_done: bool = False
    audio_started: bool = False
    audio_done: bool = False
    audio_duration: float = 0.0
    anchors: list[_Anchor] = field(default_factory=list)
    tts_base: float = 0.0
    last_raw_start: float = -1.0
    started_at: float | None = None
    paused_at: float | None = None
    paused_total: float = 0.0
    sent_words: int = 0
    final_words: int | None = None
    """Set when interrupted: how many words were played."""
    passthrough: bool = False
    """Set when played out: every remaining word is released at once."""
    cleared: bool = False
    closed: bool = False
    wake: asyncio.Future[None] | None = None
    task: asyncio.Task[None] | None = None

    @property
    def open(self) -> bool:
        """Still waiting for text, audio or playback."""
        return not self.closed and not self.passthrough and self.final_words is None

    def notify(self) -> None:
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)


class TranscriptSynchronizer:
    """Pairs an audio output and a text output so text follows the audio (module docstring).

    Args:
        next_in_chain_audio: where the audio really goes (a speaker, a room track, a file...).
        next_in_chain_text: where the synchronised text goes (None: only compute the
            synchronized transcripts).
        speed: speaking-rate factor for the estimate without word timings (1.0 = average).
    """

    def __init__(
        self,
        *,
        next_in_chain_audio: AudioOutput,
        next_in_chain_text: TextOutput | None = None,
        speed: float = 1.0,
    ) -> None:
        if not isinstance(next_in_chain_audio, AudioOutput):
            raise TypeError(
                "next_in_chain_audio must be an io.AudioOutput, "
                f"got {type(next_in_chain_audio).__name__}"
            )
        if next_in_chain_text is not None and not isinstance(next_in_chain_text, TextOutput):
            raise TypeError(
                "next_in_chain_text must be an io.TextOutput or None, "
                f"got {type(next_in_chain_text).__name__}"
            )
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (1.0 is the average speaking rate), got {speed}")
        self._speed = speed
        self._enabled = True
        self._next_text = next_in_chain_text
        self._segments: deque[_Segment] = deque()
        self._count = 0
        self._text_seg: _Segment | None = None
        self._audio_seg: _Segment | None = None
        self._closed = False
        self._audio_output = _SyncedAudioOutput(self, next_in_chain_audio)
        self._text_output = _SyncedTextOutput(self, next_in_chain_text)

    @property
    def audio_output(self) -> AudioOutput:
        """Set this as ``session.output.audio``."""
        return self._audio_output

    @property
    def text_output(self) -> TextOutput:
        """Set this as ``session.output.transcription``."""
        return self._text_output

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def speed(self) -> float:
        return self._speed

    def set_enabled(self, enabled: bool) -> None:
        """Disabled, text passes straight through and no transcript is synchronised."""
        if enabled == self._enabled:
            return
        self._enabled = enabled
        if not enabled:
            for seg in list(self._segments):
                seg.passthrough = True
                seg.notify()

    async def wait_for_released(self) -> None:
        """Wait until every segment whose playback finished delivered its text (and flush)."""
        while True:
            tasks = [
                s.task
                for s in self._segments
                if s.task is not None
                and not s.task.done()
                and (s.final_words is not None or (s.passthrough and s.text_done))
            ]
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop every pending release task."""
        self._closed = True
        tasks = [s.task for s in self._segments if s.task is not None]
        self._segments.clear()
        await aio.cancel_and_wait(*tasks)

    # -- segment bookkeeping ----------------------------------------------------------------

    def _new_segment(self) -> _Segment:
        seg = _Segment(index=self._count)
        self._count += 1
        self._segments.append(seg)
        seg.task = asyncio.create_task(self._release_loop(seg), name=f"transcript_sync_{seg.index}")
        return seg

    def _abandon_older(self, seg: _Segment) -> None:
        """Segments before ``seg`` whose text is done but never got audio will not play."""
        for other in list(self._segments):
            if other is seg:
                break
            if other.text_done and not other.audio_started and not other.closed:
                if other.cleared:
                    other.final_words = other.sent_words
                else:
                    other.passthrough = True
                other.notify()

    def _segment_for_text(self) -> _Segment:
        if self._text_seg is not None:
            return self._text_seg
        seg = next(
            (s for s in self._segments if not s.text_started and s.open),
            None,
        )
        if seg is None:
            seg = self._new_segment()
        seg.text_started = True
        self._text_seg = seg
        self._abandon_older(seg)
        return seg

    def _segment_for_audio(self) -> _Segment:
        if self._audio_seg is not None:
            return self._audio_seg
        seg = next(
            (s for s in self._segments if not s.audio_started and s.open),
            None,
        )
        if seg is None:
            seg = self._new_segment()
        seg.audio_started = True
        self._audio_seg = seg
        self._abandon_older(seg)
        return seg

    def _playing_segment(self) -> _Segment | None:
        """The oldest segment whose audio was captured and whose playback is not finished."""
        for seg in self._segments:
            if seg.audio_started and seg.final_words is None and not seg.passthrough:
                return seg
        return None

    # -- timing ------------------------------------------------------------------------------

    def _elapsed(self, seg: _Segment) -> float:
        if seg.started_at is None:
            return 0.0
        now = asyncio.get_running_loop().time()
        if seg.paused_at is not None:
            now = seg.paused_at
        return max(0.0, now - seg.started_at - seg.paused_total)

    def _word_starts(self, seg: _Segment, words: list[str]) -> list[float]:
        """Start time (seconds into the segment) of each word."""
        syllables = [count_syllables(w) for w in words]
        rate = STANDARD_SPEECH_RATE * self._speed
        if not seg.anchors and seg.text_done and seg.audio_done and seg.audio_duration > 0:
            total = sum(syllables)
            if total > 0:
                rate = total / seg.audio_duration
        # word index -> the timed string starting with that word
        first_words: dict[int, int] = {}
        index = 0
        for k, anchor in enumerate(seg.anchors):
            first_words[index] = k
            index += anchor.words
        starts: list[float] = []
        t = 0.0
        word_rate = rate
        group_end = 0  # index of the first word after the current timed string
        for i, syl in enumerate(syllables):
            anchor_index = first_words.get(i)
            if anchor_index is not None:
                # the TTS said when this string starts (never before the previous word)
                t = max(starts[-1] if starts else 0.0, seg.anchors[anchor_index].start)
                group_end = i + seg.anchors[anchor_index].words
                word_rate = self._group_rate(seg, anchor_index, syllables[i:group_end]) or rate
            elif i >= group_end:
                word_rate = rate
            starts.append(t)
            t += syl / word_rate
        return starts

    def _group_rate(self, seg: _Segment, k: int, syllables: list[int]) -> float | None:
        """Syllables per second inside timed string ``k``, when its audio span is known."""
        anchor = seg.anchors[k]
        if len(syllables) < anchor.words:
            return None  # its text has not all arrived yet
        if k + 1 < len(seg.anchors):
            end = seg.anchors[k + 1].start
        elif seg.audio_done:
            end = seg.audio_duration
        else:
            return None
        total = sum(syllables)
        if total <= 0 or end - anchor.start <= _EPS:
            return None
        return total / (end - anchor.start)

    def _played_words(self, seg: _Segment, position: float) -> int:
        words = split_words(seg.text, text_done=seg.text_done)
        starts = self._word_starts(seg, words)
        n = sum(1 for s in starts if s <= position + _EPS)
        return max(n, seg.sent_words)

    # -- events from the two outputs ---------------------------------------------------------

    def _on_text(self, text: str) -> None:
        seg = self._segment_for_text()
        if seg.closed or seg.final_words is not None:
            return
        seg.text += text
        seg.notify()

    def _on_text_flush(self) -> None:
        seg = self._segment_for_text()
        self._text_seg = None
        seg.text_done = True
        seg.notify()

    def _on_frame(self, frame: rtc.AudioFrame) -> None:
        seg = self._segment_for_audio()
        before = seg.audio_duration
        timed: Any = frame.userdata.get(TIMED_TRANSCRIPTS_KEY) if frame.userdata else None
        for ts in timed or []:
            start = getattr(ts, "start_time", None)
            n_words = len(str(ts).split())
            if start is None or not is_given(start) or n_words == 0:
                continue
            offset = getattr(ts, "start_time_offset", None)
            if offset is not None and is_given(offset):
                seg.anchors.append(_Anchor(float(offset) + float(start), n_words))
                continue
            if float(start) < seg.last_raw_start - _EPS:
                # a new TTS segment restarted its clock: it begins where the audio is now
                seg.tts_base = before
            seg.last_raw_start = float(start)
            seg.anchors.append(_Anchor(seg.tts_base + float(start), n_words))
        seg.audio_duration += frame.samples_per_channel / frame.sample_rate
        seg.notify()

    def _on_audio_flush(self) -> None:
        seg = self._audio_seg
        self._audio_seg = None
        if seg is not None:
            seg.audio_done = True
            seg.notify()

    def _on_clear(self) -> None:
        for seg in self._segments:
            seg.cleared = True

    def _on_playback_started(self) -> None:
        for seg in self._segments:
            if seg.audio_started and seg.started_at is None and seg.final_words is None:
                seg.started_at = asyncio.get_running_loop().time()
                seg.notify()
                return

    def _on_pause(self, paused: bool) -> None:
        seg = self._playing_segment()
        if seg is None or seg.started_at is None:
            return
        now = asyncio.get_running_loop().time()
        if paused and seg.paused_at is None:
            seg.paused_at = now
        elif not paused and seg.paused_at is not None:
            seg.paused_total += now - seg.paused_at
            seg.paused_at = None
        seg.notify()

    def _on_playback_finished(self, position: float, interrupted: bool) -> str | None:
        """Close the playing segment; return its synchronized transcript."""
        seg = self._playing_segment()
        if seg is None:
            return None
        if seg is self._audio_seg:
            self._audio_seg = None
        words = split_words(seg.text, text_done=seg.text_done)
        if not seg.text_started:
            # no text for this audio (no text output in use): nothing to synchronise
            seg.text_started = seg.text_done = True
            seg.final_words = 0
            seg.notify()
            return None
        if interrupted and self._enabled:
            n = self._played_words(seg, position)
            seg.final_words = n
            played = "".join(words[:n])
        else:
            seg.passthrough = True
            played = seg.text
        seg.notify()
        return played.strip()

    # -- delivery ----------------------------------------------------------------------------

    async def _send(self, text: str) -> None:
        if self._next_text is not None and text:
            await self._next_text.capture_text(text)

    async def _wait(self, seg: _Segment, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        seg.wake = loop.create_future()
        handle = loop.call_later(timeout, seg.notify) if timeout is not None else None
        try:
            await seg.wake
        finally:
            if handle is not None:
                handle.cancel()
            seg.wake = None

    async def _release_loop(self, seg: _Segment) -> None:
        try:
            while True:
                words = split_words(seg.text, text_done=seg.text_done)
                if seg.final_words is not None:
                    for w in words[seg.sent_words : seg.final_words]:
                        await self._send(w)
                    seg.sent_words = max(seg.sent_words, seg.final_words)
                    break
                if seg.passthrough or not self._enabled:
                    if seg.sent_words < len(words):
                        pending = "".join(words[seg.sent_words :])
                        seg.sent_words = len(words)
                        await self._send(pending)
                        continue
                    if seg.text_done:
                        break
                    await self._wait(seg, None)
                    continue
                if seg.started_at is None or seg.paused_at is not None:
                    await self._wait(seg, None)
                    continue
                starts = self._word_starts(seg, words)
                elapsed = self._elapsed(seg)
                limit = seg.audio_duration if not seg.audio_done else float("inf")
                due = seg.sent_words
                while due < len(words) and starts[due] <= elapsed + _EPS and starts[due] < limit:
                    due += 1
                if due > seg.sent_words:
                    pending = "".join(words[seg.sent_words : due])
                    seg.sent_words = due
                    await self._send(pending)
                    continue
                timeout = None
                if due < len(words) and starts[due] < limit:
                    timeout = max(0.0, starts[due] - elapsed)
                await self._wait(seg, timeout)
        finally:
            seg.closed = True
            if seg in self._segments:
                self._segments.remove(seg)
            if self._text_seg is seg:
                self._text_seg = None
            if not self._closed and self._next_text is not None:
                self._next_text.flush()


class _SyncedAudioOutput(AudioOutput):
    def __init__(self, sync: TranscriptSynchronizer, next_in_chain: AudioOutput) -> None:
        super().__init__(
            label=f"synced({next_in_chain.label})",
            capabilities=AudioOutputCapabilities(pause=True),
            next_in_chain=next_in_chain,
            sample_rate=next_in_chain.sample_rate,
        )
        self._sync = sync
        self._next = next_in_chain

    @property
    def synchronizer(self) -> TranscriptSynchronizer:
        return self._sync

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        self._sync._on_frame(frame)
        await self._next.capture_frame(frame)

    def flush(self) -> None:
        super().flush()
        self._sync._on_audio_flush()
        self._next.flush()

    def clear_buffer(self) -> None:
        self._sync._on_clear()
        self._next.clear_buffer()

    def pause(self) -> None:
        self._next.pause()
        self._sync._on_pause(True)

    def resume(self) -> None:
        self._next.resume()
        self._sync._on_pause(False)

    def _forward_started(self, ev: PlaybackStartedEvent) -> None:
        self._sync._on_playback_started()
        super()._forward_started(ev)

    def on_playback_finished(
        self,
        *,
        playback_position: float,
        interrupted: bool,
        synchronized_transcript: str | None = None,
    ) -> None:
        synced = self._sync._on_playback_finished(playback_position, interrupted)
        super().on_playback_finished(
            playback_position=playback_position,
            interrupted=interrupted,
            synchronized_transcript=synced if synced is not None else synchronized_transcript,
        )


class _SyncedTextOutput(TextOutput):
    def __init__(self, sync: TranscriptSynchronizer, next_in_chain: TextOutput | None) -> None:
        super().__init__(label="synced_text", next_in_chain=next_in_chain)
        self._sync = sync

    @property
    def synchronizer(self) -> TranscriptSynchronizer:
        return self._sync

    async def capture_text(self, text: str) -> None:
        if not self._sync.enabled:
            if self._next_in_chain is not None:
                await self._next_in_chain.capture_text(text)
            return
        self._sync._on_text(text)

    def flush(self) -> None:
        if not self._sync.enabled:
            if self._next_in_chain is not None:
                self._next_in_chain.flush()
            return
        self._sync._on_text_flush()


def is_synchronized(output: object) -> bool:
    """True for the audio or text output of a :class:`TranscriptSynchronizer`."""
    return isinstance(output, (_SyncedAudioOutput, _SyncedTextOutput))


def synchronizer_of(output: object) -> TranscriptSynchronizer | None:
    """The synchronizer owning ``output``, or None."""
    if isinstance(output, (_SyncedAudioOutput, _SyncedTextOutput)):
        return output.synchronizer
    return None


__all__ = ["TranscriptSynchronizer", "is_synchronized", "synchronizer_of"]
