"""``FakeTTS``: a text-to-speech model that "speaks" a tone of a length set by the text.

Every text becomes ``len(text.strip()) * seconds_per_char`` seconds of a sine tone (real 16-bit
PCM, audible), pushed through the real :class:`~voxlane.agents.tts.AudioEmitter` in chunks of
``chunk_duration`` seconds, after ``ttfb`` seconds of loop time, with an optional pause between
chunks. ``aligned_transcript=True`` attaches word timings. Both ``synthesize()`` and ``stream()``
(one segment per ``flush()``) are provided, and every text is recorded in ``requests``.
"""

from __future__ import annotations

import asyncio
import math

from ...tts import (
    TTS,
    AudioEmitter,
    ChunkedStream,
    SynthesizeStream,
    TimedString,
    TTSCapabilities,
)
from ...types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from ...utils.misc import shortuuid
from ._faults import FaultPlan, InjectedFault
from .audio import tone_pcm

__all__ = ["FakeChunkedStream", "FakeSynthesizeStream", "FakeTTS"]


def _non_negative(name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)


class FakeTTS(TTS):
    """A deterministic TTS for tests.

    Args:
        sample_rate/num_channels: the output format.
        streaming: offer ``stream()`` natively (else wrap it in ``tts.StreamAdapter``).
        seconds_per_char: audio length per character of (stripped) text.
        ttfb: seconds (loop time) before the first audio of each request or segment.
        chunk_duration: seconds of audio per push into the emitter.
        chunk_delay: seconds (loop time) between two pushes; ``chunk_delay=chunk_duration``
            produces audio at real-time speed.
        frequency/amplitude: the tone.
        aligned_transcript: push word timings (``TimedString``) with the audio.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 24000,
        num_channels: int = 1,
        streaming: bool = True,
        seconds_per_char: float = 0.05,
        ttfb: float = 0.0,
        chunk_duration: float = 0.05,
        chunk_delay: float = 0.0,
        frequency: float = 440.0,
        amplitude: float = 0.3,
        aligned_transcript: bool = True,
    ) -> None:
        super().__init__(
            capabilities=TTSCapabilities(
                streaming=streaming, aligned_transcript=aligned_transcript
            ),
            sample_rate=sample_rate,
            num_channels=num_channels,
        )
        self._seconds_per_char = _non_negative("seconds_per_char", seconds_per_char)
        self._ttfb = _non_negative("ttfb", ttfb)
        self._chunk_duration = _non_negative("chunk_duration", chunk_duration)
        if self._chunk_duration <= 0:
            raise ValueError("chunk_duration must be > 0 seconds")
        self._chunk_delay = _non_negative("chunk_delay", chunk_delay)
        # validates frequency/amplitude against the format now rather than on first use
        tone_pcm(0, sample_rate=sample_rate, frequency=frequency, amplitude=amplitude)
        self._frequency = float(frequency)
        self._amplitude = float(amplitude)
        self.faults = FaultPlan()
        """Inject errors: ``tts.faults.fail_next(APIStatusError(...), after=0.2)`` (seconds of
        audio pushed before failing)."""
        self.requests: list[str] = []
        """Every text it was asked to say: each ``synthesize()`` text, each stream segment."""
        self.chunked_streams: list[FakeChunkedStream] = []
        self.streams: list[FakeSynthesizeStream] = []

    @property
    def model(self) -> str:
        return "fake-tts"

    @property
    def provider(self) -> str:
        return "voxlane-testing"

    def audio_duration_for(self, text: str) -> float:
        """The seconds of audio this TTS produces for ``text``."""
        return self._num_samples(text) / self.sample_rate

    def _num_samples(self, text: str) -> int:
        return round(len(text.strip()) * self._seconds_per_char * self.sample_rate)

    def fail_next(
        self, error: BaseException | None = None, *, times: int = 1, after: float = 0.0
    ) -> None:
        """Make the next ``times`` attempts fail after ``after`` seconds of audio."""
        self.faults.fail_next(error, times=times, after=after)

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> FakeChunkedStream:
        stream = FakeChunkedStream(tts=self, input_text=text, conn_options=conn_options)
        self.chunked_streams.append(stream)
        return stream

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> FakeSynthesizeStream:
        if not self.capabilities.streaming:
            super().stream(conn_options=conn_options)  # raises, explaining what to do
        stream = FakeSynthesizeStream(tts=self, conn_options=conn_options)
        self.streams.append(stream)
        return stream

    async def _speak(
        self,
        emitter: AudioEmitter,
        text: str,
        fault: InjectedFault | None,
        pushed_before: float,
    ) -> float:
        """Push the audio of ``text``; returns the seconds pushed (raises an injected fault)."""
        if self._ttfb > 0:
            await asyncio.sleep(self._ttfb)
        total = self._num_samples(text)
        if total == 0:
            return 0.0
        if self.capabilities.aligned_transcript:
            emitter.push_timed_transcript(self._word_timings(text))
        chunk = max(1, round(self._chunk_duration * self.sample_rate))
        pushed = 0
        while pushed < total:
            if fault is not None and pushed_before + pushed / self.sample_rate >= fault.after:
                raise fault.error
            n = min(chunk, total - pushed)
            emitter.push(
                tone_pcm(
                    n,
                    sample_rate=self.sample_rate,
                    num_channels=self.num_channels,
                    frequency=self._frequency,
                    amplitude=self._amplitude,
                    start_sample=pushed,
                )
            )
            pushed += n
            if self._chunk_delay > 0 and pushed < total:
                await asyncio.sleep(self._chunk_delay)
        return pushed / self.sample_rate

    def _word_timings(self, text: str) -> list[TimedString]:
        stripped = text.strip()
        out: list[TimedString] = []
        cursor = 0
        for word in stripped.split():
            begin = stripped.index(word, cursor)
            cursor = begin + len(word)
            out.append(
                TimedString(
                    word + " ",
                    start_time=begin * self._seconds_per_char,
                    end_time=cursor * self._seconds_per_char,
                )
            )
        return out


class FakeChunkedStream(ChunkedStream):
    """``FakeTTS.synthesize()``: the tone for the whole text."""

    def __init__(self, *, tts: FakeTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        self._fake = tts
        self._recorded = False
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)

    async def _run(self, output_emitter: AudioEmitter) -> None:
        fake = self._fake
        if not self._recorded:
            fake.requests.append(self.input_text)
            self._recorded = True
        fault = fake.faults.start_attempt()
        output_emitter.initialize(
            request_id=shortuuid("fake_tts_"),
            sample_rate=fake.sample_rate,
            num_channels=fake.num_channels,
            mime_type="audio/pcm",
            frame_size_ms=50,
        )
        if fault is not None and fault.after <= 0:
            raise fault.error
        await fake._speak(output_emitter, self.input_text, fault, 0.0)
        output_emitter.flush()


class FakeSynthesizeStream(SynthesizeStream):
    """``FakeTTS.stream()``: one tone segment per flushed piece of text.

    ``segments`` lists the text of each segment synthesized by the latest attempt.
    """

    def __init__(self, *, tts: FakeTTS, conn_options: APIConnectOptions) -> None:
        self._fake = tts
        self._recorded_segments = 0
        self.segments: list[str] = []
        super().__init__(tts=tts, conn_options=conn_options)

    async def _run(self, output_emitter: AudioEmitter) -> None:
        fake = self._fake
        fault = fake.faults.start_attempt()
        output_emitter.initialize(
            request_id=shortuuid("fake_tts_"),
            sample_rate=fake.sample_rate,
            num_channels=fake.num_channels,
            mime_type="audio/pcm",
            frame_size_ms=50,
            stream=True,
        )
        if fault is not None and fault.after <= 0:
            raise fault.error
        self.segments = []
        pushed = 0.0
        pending: list[str] = []

        async def speak_segment() -> None:
            nonlocal pushed
            text = "".join(pending)
            pending.clear()
            if not text.strip():
                return
            self.segments.append(text)
            if len(self.segments) > self._recorded_segments:
                fake.requests.append(text)  # a retry replays segments: record each once
                self._recorded_segments = len(self.segments)
            output_emitter.start_segment(segment_id=shortuuid("seg_"))
            pushed += await fake._speak(output_emitter, text, fault, pushed)
            output_emitter.end_segment()

        async for item in self._input_ch:
            if isinstance(item, str):
                pending.append(item)
            else:
                await speak_segment()
        await speak_segment()
