"""``FakeVAD``: a voice activity detector driven by a script or by the energy of the audio.

Scripted mode (``segments=[(start, end), ...]`` in seconds of pushed audio) marks exactly those
spans as speech, whatever the audio holds. Energy mode (no ``segments``) calls a window speech
when its RMS level reaches ``threshold``; pair it with :func:`~.audio.audio_pattern` to build
tone/silence input. Both go through the real :class:`~voxlane.agents.vad.VADStream` contract.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from livekit import rtc

from ...types import NOT_GIVEN, NotGivenOr, is_given
from ...utils.audio import AudioByteStream, merge_frames
from ...vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream

__all__ = ["FakeVAD", "FakeVADStream", "SpeechSegment"]


@dataclass(frozen=True)
class SpeechSegment:
    """A span of speech, in seconds from the start of a stream's audio."""

    start: float
    end: float

    def contains(self, t: float) -> bool:
        return self.start <= t < self.end


def _to_segments(segments: Sequence[tuple[float, float] | SpeechSegment]) -> list[SpeechSegment]:
    out: list[SpeechSegment] = []
    for i, seg in enumerate(segments):
        if isinstance(seg, SpeechSegment):
            start, end = seg.start, seg.end
        elif isinstance(seg, tuple) and len(seg) == 2:
            start, end = seg
        else:
            raise TypeError(f"segments[{i}] must be a (start, end) tuple, got {seg!r}")
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
            raise ValueError(
                f"segments[{i}] = ({start}, {end}): need 0 <= start < end (seconds of audio)"
            )
        if out and start < out[-1].end:
            raise ValueError(
                f"segments[{i}] starts at {start} s, before the previous one ends "
                f"({out[-1].end} s): segments must be sorted and must not overlap"
            )
        out.append(SpeechSegment(float(start), float(end)))
    return out


def _non_negative(name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)


class FakeVAD(VAD):
    """A scripted or energy-based VAD for tests.

    Args:
        segments: speech spans ``(start, end)`` in seconds of pushed audio (scripted mode); omit
            for energy mode.
        threshold: energy mode: RMS level (0..1 of full scale) from which a window is speech.
        update_interval: seconds of audio per analysed window (one INFERENCE_DONE each).
        min_speech_duration: speech needed before START_OF_SPEECH (default 0 scripted, 0.05
            energy).
        min_silence_duration: silence needed before END_OF_SPEECH (default 0 scripted, 0.3
            energy).
        prefix_padding: seconds of audio kept before the speech start in END_OF_SPEECH frames.
        inference_delay: seconds (on the loop clock) each window's "inference" takes.
    """

    def __init__(
        self,
        *,
        segments: Sequence[tuple[float, float] | SpeechSegment] | None = None,
        threshold: float = 0.02,
        update_interval: float = 0.032,
        min_speech_duration: NotGivenOr[float] = NOT_GIVEN,
        min_silence_duration: NotGivenOr[float] = NOT_GIVEN,
        prefix_padding: float = 0.3,
        inference_delay: float = 0.0,
    ) -> None:
        super().__init__(capabilities=VADCapabilities(update_interval=update_interval))
        self._segments = _to_segments(segments) if segments is not None else None
        if not math.isfinite(threshold) or not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be an RMS level in (0, 1], got {threshold!r}")
        scripted = self._segments is not None
        self._threshold = float(threshold)
        self._min_speech = _non_negative(
            "min_speech_duration",
            min_speech_duration if is_given(min_speech_duration) else (0.0 if scripted else 0.05),
        )
        self._min_silence = _non_negative(
            "min_silence_duration",
            min_silence_duration if is_given(min_silence_duration) else (0.0 if scripted else 0.3),
        )
        self._prefix_padding = _non_negative("prefix_padding", prefix_padding)
        self._inference_delay = _non_negative("inference_delay", inference_delay)
        self.streams: list[FakeVADStream] = []
        """Every stream opened, in order."""

    @property
    def model(self) -> str:
        return "fake-vad" if self._segments is None else "fake-vad-scripted"

    @property
    def provider(self) -> str:
        return "voxlane-testing"

    @property
    def segments(self) -> list[SpeechSegment] | None:
        return list(self._segments) if self._segments is not None else None

    def stream(self) -> FakeVADStream:
        stream = FakeVADStream(self)
        self.streams.append(stream)
        return stream

    def _is_speech(self, window: rtc.AudioFrame, start: float, end: float) -> tuple[bool, float]:
        if self._segments is not None:
            middle = (start + end) / 2
            voiced = any(seg.contains(middle) for seg in self._segments)
            return voiced, 1.0 if voiced else 0.0
        samples = np.frombuffer(bytes(window.data.cast("B")), dtype=np.int16)
        if samples.size == 0:
            return False, 0.0
        rms = float(np.sqrt(np.mean((samples.astype(np.float64) / 32768.0) ** 2)))
        return rms >= self._threshold, min(1.0, rms / (2.0 * self._threshold))


class FakeVADStream(VADStream):
    """The stream of a :class:`FakeVAD`; ``pushed_duration`` is the audio analysed so far."""

    def __init__(self, vad: FakeVAD) -> None:
        self._fake = vad
        self.pushed_duration = 0.0
        super().__init__(vad)

    async def _main_task(self) -> None:
        fake = self._fake
        bstream: AudioByteStream | None = None
        sample_rate = 0
        num_channels = 0
        processed = 0  # samples per channel analysed so far
        speaking = False
        pending_speech = 0.0
        speech_duration = 0.0
        silence_duration = 0.0
        prefix: deque[rtc.AudioFrame] = deque()
        prefix_duration = 0.0
        speech_frames: list[rtc.AudioFrame] = []
        trailing: list[rtc.AudioFrame] = []

        def window_event(
            kind: VADEventType, *, frames: list[rtc.AudioFrame], probability: float
        ) -> VADEvent:
            return VADEvent(
                type=kind,
                samples_index=processed,
                timestamp=processed / sample_rate,
                speech_duration=speech_duration if speaking else pending_speech,
                silence_duration=silence_duration,
                frames=frames,
                probability=probability,
                inference_duration=fake._inference_delay,
                speaking=speaking,
                raw_accumulated_silence=silence_duration,
                raw_accumulated_speech=speech_duration if speaking else pending_speech,
            )

        async def analyse(window: rtc.AudioFrame) -> None:
            nonlocal processed, speaking, pending_speech, speech_duration, silence_duration
            nonlocal prefix_duration, speech_frames, trailing
            if fake._inference_delay > 0:
                await asyncio.sleep(fake._inference_delay)
            duration = window.samples_per_channel / sample_rate
            start = processed / sample_rate
            processed += window.samples_per_channel
            voiced, probability = fake._is_speech(window, start, start + duration)

            if not speaking:
                prefix.append(window)
                prefix_duration += duration
                while prefix and prefix_duration - prefix[0].duration >= fake._prefix_padding:
                    prefix_duration -= prefix.popleft().duration
                pending_speech = pending_speech + duration if voiced else 0.0
                self._event_ch.send_nowait(
                    window_event(
                        VADEventType.INFERENCE_DONE, frames=[window], probability=probability
                    )
                )
                if voiced and pending_speech >= fake._min_speech:
                    speaking = True
                    speech_duration = pending_speech
                    silence_duration = 0.0
                    speech_frames = list(prefix)
                    trailing = []
                    prefix.clear()
                    prefix_duration = 0.0
                    self._event_ch.send_nowait(
                        window_event(
                            VADEventType.START_OF_SPEECH,
                            frames=[merge_frames(speech_frames)],
                            probability=probability,
                        )
                    )
                return

            speech_duration += duration
            if voiced:
                silence_duration = 0.0
                speech_frames.extend(trailing)
                trailing = []
                speech_frames.append(window)
            else:
                silence_duration += duration
                trailing.append(window)
            self._event_ch.send_nowait(
                window_event(VADEventType.INFERENCE_DONE, frames=[window], probability=probability)
            )
            if not voiced and silence_duration >= fake._min_silence:
                end_of_speech(probability)

        def end_of_speech(probability: float) -> None:
            nonlocal speaking, speech_duration, silence_duration, pending_speech
            nonlocal speech_frames, trailing
            speaking = False
            spoken = max(0.0, speech_duration - silence_duration)
            self._event_ch.send_nowait(
                VADEvent(
                    type=VADEventType.END_OF_SPEECH,
                    samples_index=processed,
                    timestamp=processed / sample_rate,
                    speech_duration=spoken,
                    silence_duration=silence_duration,
                    frames=[merge_frames(speech_frames)] if speech_frames else [],
                    probability=probability,
                    inference_duration=fake._inference_delay,
                    speaking=False,
                    raw_accumulated_silence=silence_duration,
                    raw_accumulated_speech=spoken,
                )
            )
            speech_duration = 0.0
            silence_duration = 0.0
            pending_speech = 0.0
            speech_frames = []
            trailing = []

        async for item in self._input_ch:
            if isinstance(item, rtc.AudioFrame):
                if bstream is None:
                    sample_rate, num_channels = item.sample_rate, item.num_channels
                    window = max(1, round(fake.capabilities.update_interval * sample_rate))
                    bstream = AudioByteStream(sample_rate, num_channels, window)
                elif item.sample_rate != sample_rate or item.num_channels != num_channels:
                    raise ValueError(
                        f"FakeVAD stream got {item.sample_rate} Hz/{item.num_channels} ch audio "
                        f"after {sample_rate} Hz/{num_channels} ch: keep one format per stream"
                    )
                self.pushed_duration += item.duration
                for window_frame in bstream.push(item.data.cast("B")):
                    await analyse(window_frame)
            elif bstream is not None:
                for window_frame in bstream.flush():
                    await analyse(window_frame)

        if bstream is not None:
            for window_frame in bstream.flush():
                await analyse(window_frame)
            if speaking:
                end_of_speech(0.0)
