"""``FakeSTT``: a speech-to-text engine that plays a script of transcripts.

Each item of ``transcripts`` is either a :class:`ScriptedTranscript` (timed: START_OF_SPEECH at
``start``, interim transcripts, FINAL_TRANSCRIPT at ``end + final_delay``, then END_OF_SPEECH) or a
plain ``str`` (untimed: sent as a final transcript at the next ``flush()`` of the stream). Times
are seconds of audio pushed into the stream (``timebase="audio"``) or seconds of loop time since
the stream was opened (``timebase="clock"``, deterministic on the virtual clock). When the input
ends, the rest of the script is sent at once.

``recognize()`` (non-streaming) returns the script's texts one call after another (an empty
transcript once it is exhausted). Both paths go through the real STT base classes, so retries,
metrics and error events behave like a real plugin's.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from livekit import rtc

from ...stt import (
    STT,
    RecognitionUsage,
    RecognizeStream,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
)
from ...types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from ...utils import aio
from ...utils.audio import AudioBuffer, calculate_audio_duration
from ...utils.misc import shortuuid
from ._faults import FaultPlan

__all__ = ["FakeRecognizeStream", "FakeSTT", "RecognizeCall", "ScriptedTranscript"]

Timebase = Literal["audio", "clock"]

# summed frame durations drift by a few ulps: 11 x 0.1 s must count as 1.1 s
_EPSILON = 1e-6


@dataclass(frozen=True)
class ScriptedTranscript:
    """One timed utterance of a :class:`FakeSTT` script.

    ``interims``: ``(time, partial_text)`` pairs sent as INTERIM_TRANSCRIPT; ``None`` makes one
    per word, spread between ``start`` and ``end``; ``()`` sends none.
    """

    text: str
    start: float
    end: float
    interims: Sequence[tuple[float, str]] | None = None
    final_delay: float = 0.0
    language: str = "en"
    confidence: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"text must be a str, got {type(self.text).__name__}")
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"start/end must be finite seconds, got {self.start}, {self.end}")
        if self.start < 0 or self.end < self.start:
            raise ValueError(
                f"ScriptedTranscript({self.text!r}): need 0 <= start <= end, got "
                f"start={self.start}, end={self.end}"
            )
        if not math.isfinite(self.final_delay) or self.final_delay < 0:
            raise ValueError(f"final_delay must be >= 0 seconds, got {self.final_delay}")
        for t, partial in self.interims or ():
            if not self.start <= t <= self.end + self.final_delay:
                raise ValueError(
                    f"ScriptedTranscript({self.text!r}): interim {partial!r} at {t} s is outside "
                    f"[{self.start}, {self.end + self.final_delay}]"
                )

    def planned_interims(self) -> list[tuple[float, str]]:
        if self.interims is not None:
            return sorted(self.interims, key=lambda p: p[0])
        words = self.text.split()
        if len(words) < 2:
            return []
        step = (self.end - self.start) / len(words)
        return [
            (self.start + step * (i + 1), " ".join(words[: i + 1])) for i in range(len(words) - 1)
        ]


@dataclass(frozen=True)
class RecognizeCall:
    """A recorded ``recognize()`` attempt."""

    audio_duration: float
    language: str | None


@dataclass(order=True)
class _Planned:
    at: float
    seq: int
    event: SpeechEvent = field(compare=False)
    closes_utterance: bool = field(default=False, compare=False)


class FakeSTT(STT):
    """A scripted STT for tests (see the module docstring).

    Args:
        transcripts: the script (``ScriptedTranscript`` or plain ``str`` items).
        streaming: whether ``stream()`` is native (else wrap it in ``stt.StreamAdapter``).
        interim_results: send interim transcripts.
        speech_events: send START_OF_SPEECH/END_OF_SPEECH around timed transcripts.
        timebase: ``"audio"`` (seconds of pushed audio) or ``"clock"`` (loop time).
        recognize_delay: seconds (loop time) each ``recognize()`` takes.
        sample_rate: the rate streams ask for (pushed audio is resampled); None keeps it as is.
        language: the default language of the transcripts.
    """

    def __init__(
        self,
        transcripts: Sequence[ScriptedTranscript | str] = (),
        *,
        streaming: bool = True,
        interim_results: bool = True,
        speech_events: bool = True,
        timebase: Timebase = "audio",
        recognize_delay: float = 0.0,
        sample_rate: int | None = None,
        language: str = "en",
    ) -> None:
        super().__init__(
            capabilities=STTCapabilities(streaming=streaming, interim_results=interim_results)
        )
        items = list(transcripts)
        for i, item in enumerate(items):
            if not isinstance(item, (ScriptedTranscript, str)):
                raise TypeError(
                    f"transcripts[{i}] must be a ScriptedTranscript or a str, got "
                    f"{type(item).__name__}"
                )
        if timebase not in ("audio", "clock"):
            raise ValueError(f'timebase must be "audio" or "clock", got {timebase!r}')
        if not math.isfinite(recognize_delay) or recognize_delay < 0:
            raise ValueError(f"recognize_delay must be >= 0 seconds, got {recognize_delay!r}")
        if sample_rate is not None and (not isinstance(sample_rate, int) or sample_rate <= 0):
            raise ValueError(f"sample_rate must be a positive int or None, got {sample_rate!r}")
        previous_end = 0.0
        for i, item in enumerate(items):
            if isinstance(item, ScriptedTranscript):
                if item.start < previous_end:
                    raise ValueError(
                        f"transcripts[{i}] ({item.text!r}) starts at {item.start} s, before the "
                        f"previous utterance's final transcript at {previous_end} s: timed "
                        "transcripts must be in order and must not overlap"
                    )
                previous_end = item.end + item.final_delay
        self._script = items
        self._speech_events = speech_events
        self._timebase: Timebase = timebase
        self._recognize_delay = float(recognize_delay)
        self._sample_rate = sample_rate
        self._language = language
        self._recognize_cursor = 0
        self.faults = FaultPlan()
        """Inject errors: ``stt.faults.fail_next(APIStatusError(...), after=0.5)``."""
        self.recognize_calls: list[RecognizeCall] = []
        """Every ``recognize()`` attempt, in order."""
        self.streams: list[FakeRecognizeStream] = []
        """Every stream opened, in order."""

    @property
    def model(self) -> str:
        return "fake-stt"

    @property
    def provider(self) -> str:
        return "voxlane-testing"

    @property
    def script(self) -> list[ScriptedTranscript | str]:
        return list(self._script)

    def fail_next(
        self, error: BaseException | None = None, *, times: int = 1, after: float = 0.0
    ) -> None:
        """Make the next ``times`` attempts fail (``after`` seconds of streamed audio)."""
        self.faults.fail_next(error, times=times, after=after)

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> SpeechEvent:
        lang = language if isinstance(language, str) else None
        self.recognize_calls.append(
            RecognizeCall(audio_duration=calculate_audio_duration(buffer), language=lang)
        )
        fault = self.faults.start_attempt()
        if self._recognize_delay > 0:
            await asyncio.sleep(self._recognize_delay)
        if fault is not None:
            raise fault.error
        text, confidence, item_language = "", 0.0, lang or self._language
        if self._recognize_cursor < len(self._script):
            item = self._script[self._recognize_cursor]
            self._recognize_cursor += 1
            if isinstance(item, ScriptedTranscript):
                text, confidence = item.text, item.confidence
                item_language = lang or item.language
            else:
                text, confidence = item, 1.0
        duration = calculate_audio_duration(buffer)
        return SpeechEvent(
            type=SpeechEventType.FINAL_TRANSCRIPT,
            request_id=shortuuid("fake_stt_"),
            alternatives=[
                SpeechData(
                    language=item_language,
                    text=text,
                    start_time=0.0,
                    end_time=duration,
                    confidence=confidence,
                )
            ],
        )

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> FakeRecognizeStream:
        if not self.capabilities.streaming:
            super().stream(language=language, conn_options=conn_options)  # raises, explaining why
        stream = FakeRecognizeStream(
            stt=self,
            conn_options=conn_options,
            language=language if isinstance(language, str) else self._language,
        )
        self.streams.append(stream)
        return stream


class FakeRecognizeStream(RecognizeStream):
    """The stream of a :class:`FakeSTT`. ``pushed_duration``: seconds of audio received."""

    def __init__(self, *, stt: FakeSTT, conn_options: APIConnectOptions, language: str) -> None:
        self._fake = stt
        self._language = language
        self._request_id = shortuuid("fake_stt_")
        self._opened_at = asyncio.get_running_loop().time()
        self._plan = self._build_plan(stt)
        self._usage_reported = 0.0
        self._attempt_start = 0.0
        self.flush_count = 0
        super().__init__(
            stt=stt,
            conn_options=conn_options,
            sample_rate=stt._sample_rate if stt._sample_rate is not None else NOT_GIVEN,
        )

    @property
    def pushed_duration(self) -> float:
        return self._input_ch.consumed_duration

    def _position(self) -> float:
        if self._fake._timebase == "audio":
            return self._input_ch.consumed_duration
        return asyncio.get_running_loop().time() - self._opened_at

    def _build_plan(self, stt: FakeSTT) -> list[_Planned | str]:
        """The script as a queue: timed utterances expanded into events, strings kept as is."""
        plan: list[_Planned | str] = []
        seq = 0
        for item in stt._script:
            if isinstance(item, str):
                plan.append(item)
                continue
            group: list[_Planned] = []
            events: list[tuple[float, SpeechEvent, bool]] = []
            interim = SpeechEventType.INTERIM_TRANSCRIPT
            if stt._speech_events:
                sos = SpeechEvent(type=SpeechEventType.START_OF_SPEECH)
                events.append((item.start, sos, False))
            if stt.capabilities.interim_results:
                for t, partial in item.planned_interims():
                    events.append((t, self._transcript(interim, partial, item), False))
            final_at = item.end + item.final_delay
            final = self._transcript(SpeechEventType.FINAL_TRANSCRIPT, item.text, item)
            events.append((final_at, final, not stt._speech_events))
            if stt._speech_events:
                events.append((final_at, SpeechEvent(type=SpeechEventType.END_OF_SPEECH), True))
            for at, ev, closes in events:
                group.append(_Planned(at=at, seq=seq, event=ev, closes_utterance=closes))
                seq += 1
            plan.extend(sorted(group))
        return plan

    def _transcript(
        self, kind: SpeechEventType, text: str, item: ScriptedTranscript
    ) -> SpeechEvent:
        return SpeechEvent(
            type=kind,
            request_id=self._request_id,
            alternatives=[
                SpeechData(
                    language=item.language or self._language,
                    text=text,
                    start_time=item.start,
                    end_time=item.end,
                    confidence=item.confidence,
                )
            ],
        )

    def _send(self, ev: SpeechEvent) -> None:
        # script times count from the stream's first audio; add only the caller's offset
        offset = self.start_time_offset - self._attempt_start
        if offset and ev.alternatives:
            ev = SpeechEvent(
                type=ev.type,
                request_id=ev.request_id,
                alternatives=[
                    SpeechData(
                        language=a.language,
                        text=a.text,
                        start_time=a.start_time + offset,
                        end_time=a.end_time + offset,
                        confidence=a.confidence,
                    )
                    for a in ev.alternatives
                ],
            )
        ev.request_id = ev.request_id or self._request_id
        self._event_ch.send_nowait(ev)

    def _send_usage(self) -> None:
        consumed = self._input_ch.consumed_duration
        if consumed - self._usage_reported <= 0:
            return
        self._event_ch.send_nowait(
            SpeechEvent(
                type=SpeechEventType.RECOGNITION_USAGE,
                request_id=self._request_id,
                recognition_usage=RecognitionUsage(audio_duration=consumed - self._usage_reported),
            )
        )
        self._usage_reported = consumed

    def _play_due(self, *, flushed: bool, everything: bool = False) -> None:
        position = self._position()
        while self._plan:
            head = self._plan[0]
            if isinstance(head, str):
                if not (flushed or everything):
                    return
                self._plan.pop(0)
                flushed = False  # one untimed transcript per flush
                self._send(
                    SpeechEvent(
                        type=SpeechEventType.FINAL_TRANSCRIPT,
                        request_id=self._request_id,
                        alternatives=[
                            SpeechData(language=self._language, text=head, confidence=1.0)
                        ],
                    )
                )
                self._send_usage()
                continue
            if head.at > position + _EPSILON and not everything:
                return
            self._plan.pop(0)
            self._send(head.event)
            if head.closes_utterance:
                self._send_usage()

    def _next_deadline(self) -> float | None:
        if self._fake._timebase != "clock" or not self._plan:
            return None
        head = self._plan[0]
        if isinstance(head, str):
            return None
        return self._opened_at + head.at

    async def _run(self) -> None:
        self._attempt_start = self._input_ch.consumed_duration
        fault = self._fake.faults.start_attempt()
        fail_at: float | None = None
        if fault is not None:
            if fault.after <= 0:
                raise fault.error
            fail_at = self._input_ch.consumed_duration + fault.after

        loop = asyncio.get_running_loop()
        while True:
            self._play_due(flushed=False)
            deadline = self._next_deadline()
            try:
                if deadline is None:
                    item = await self._input_ch.recv()
                else:
                    item = await asyncio.wait_for(
                        self._input_ch.recv(), timeout=max(0.0, deadline - loop.time())
                    )
            except asyncio.TimeoutError:
                continue
            except aio.ChanClosed:
                break
            if isinstance(item, rtc.AudioFrame):
                if (
                    fault is not None
                    and fail_at is not None
                    and self._input_ch.consumed_duration >= fail_at
                ):
                    raise fault.error
            else:
                self.flush_count += 1
                self._play_due(flushed=True)

        self._play_due(flushed=True, everything=True)
        self._send_usage()
