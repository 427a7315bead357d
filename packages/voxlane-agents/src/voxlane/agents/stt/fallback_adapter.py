"""``FallbackAdapter``: several STT engines behind one, failing over when one breaks.

The first available engine serves requests. When it fails (after its own retries), it is marked
unavailable (``"stt_availability_changed"``), a background task probes it with real audio until
it works again, and the next engine takes over. In a stream, the audio of the current turn
(everything since the last FINAL_TRANSCRIPT) is replayed to the next engine, so no user turn is
lost in the switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from livekit import rtc

from .._exceptions import APIConnectionError
from ..types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from ..utils import aio
from ..utils.audio import AudioBuffer, merge_frames, silence
from ..vad import VAD
from .stream_adapter import StreamAdapter
from .stt import (
    STT,
    RecognizeStream,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTError,
    _FlushSentinel,
)

logger = logging.getLogger("voxlane.agents.stt")

# audio kept for replay to the next engine (and for recovery probes), in seconds
MAX_REPLAY_DURATION = 60.0
# audio used to probe an engine that failed before it received any
_PROBE_SILENCE = 0.5


@dataclass
class AvailabilityChangedEvent:
    """Payload of ``"stt_availability_changed"``: ``stt`` became (un)available."""

    stt: STT
    available: bool


@dataclass
class _Member:
    stt: STT  # as given by the user
    streaming: STT  # what stream() uses: the STT itself, or a StreamAdapter around it
    available: bool = True
    recovering: asyncio.Task[None] | None = None


class FallbackAdapter(STT):
    """Use the first available STT of a list, failing over to the next on errors.

    ``vad`` is required when one of the engines cannot stream (it is wrapped in
    ``stt.StreamAdapter``). ``attempt_timeout``, ``max_retry_per_stt`` and ``retry_interval``
    are the connection options given to each engine before it is declared failed.
    """

    def __init__(
        self,
        stt: list[STT],
        *,
        vad: VAD | None = None,
        attempt_timeout: float = 10.0,
        max_retry_per_stt: int = 1,
        retry_interval: float = 5.0,
    ) -> None:
        if not isinstance(stt, (list, tuple)) or not stt:
            raise ValueError("FallbackAdapter needs a non-empty list of STT instances")
        bad = [type(s).__name__ for s in stt if not isinstance(s, STT)]
        if bad:
            raise TypeError(f"FallbackAdapter accepts only stt.STT instances, got {bad[0]}")
        non_streaming = [s.label for s in stt if not s.capabilities.streaming]
        if non_streaming and vad is None:
            raise ValueError(
                f"{', '.join(non_streaming)} cannot stream: pass vad=... to FallbackAdapter so "
                "they are wrapped in stt.StreamAdapter"
            )
        self._conn_options = APIConnectOptions(
            max_retry=max_retry_per_stt, retry_interval=retry_interval, timeout=attempt_timeout
        )
        members: list[_Member] = []
        for s in stt:
            if s.capabilities.streaming:
                members.append(_Member(stt=s, streaming=s))
            else:
                assert vad is not None
                wrapper = StreamAdapter(stt=s, vad=vad)
                wrapper._raise_recognition_errors = True
                members.append(_Member(stt=s, streaming=wrapper))

        aligned = {m.streaming.capabilities.aligned_transcript for m in members}
        super().__init__(
            capabilities=STTCapabilities(
                streaming=True,
                interim_results=all(m.streaming.capabilities.interim_results for m in members),
                diarization=all(s.capabilities.diarization for s in stt),
                aligned_transcript=aligned.pop() if len(aligned) == 1 else False,
                offline_recognize=all(s.capabilities.offline_recognize for s in stt),
            )
        )
        self._members = members
        self._vad = vad
        self._closed = False
        self._label = "stt.FallbackAdapter<" + ", ".join(s.label for s in stt) + ">"
        for m in members:
            m.stt.on("metrics_collected", self._forward_metrics)

    def _forward_metrics(self, metrics: Any) -> None:
        self.emit("metrics_collected", metrics)

    @property
    def stt_instances(self) -> list[STT]:
        """The engines, in order of preference."""
        return [m.stt for m in self._members]

    def is_available(self, stt: STT) -> bool:
        """Whether ``stt`` (one of :attr:`stt_instances`) is currently in use."""
        for m in self._members:
            if m.stt is stt:
                return m.available
        raise ValueError(f"{stt.label} is not one of this FallbackAdapter's STT instances")

    def _active(self) -> _Member:
        return next((m for m in self._members if m.available), self._members[0])

    @property
    def model(self) -> str:
        """The model of the engine currently preferred."""
        return self._active().stt.model

    @property
    def provider(self) -> str:
        """The provider of the engine currently preferred."""
        return self._active().stt.provider

    def _candidates(self) -> list[_Member]:
        available = [m for m in self._members if m.available]
        # when every engine is marked failed, try them all rather than give up without trying
        return available or list(self._members)

    def _mark_failed(self, member: _Member, probe_audio: list[rtc.AudioFrame]) -> None:
        if member.available:
            member.available = False
            logger.warning("%s is unavailable, switching to the next STT", member.stt.label)
            self.emit(
                "stt_availability_changed",
                AvailabilityChangedEvent(stt=member.stt, available=False),
            )
        if self._closed or (member.recovering is not None and not member.recovering.done()):
            return
        member.recovering = asyncio.create_task(
            self._recover(member, list(probe_audio)),
            name=f"FallbackAdapter.recover<{member.stt.label}>",
        )

    async def _recover(self, member: _Member, audio: list[rtc.AudioFrame]) -> None:
        """Probe a failed engine with real audio until it answers, then mark it available."""
        if not audio:
            audio = [silence(_PROBE_SILENCE)]
        probe_options = APIConnectOptions(max_retry=0, timeout=self._conn_options.timeout)
        while not self._closed:
            await asyncio.sleep(self._conn_options.retry_interval)
            try:
                if member.stt.capabilities.streaming:
                    await asyncio.wait_for(
                        self._probe_stream(member.stt, audio, probe_options),
                        timeout=self._conn_options.timeout,
                    )
                else:
                    await member.stt.recognize(merge_frames(audio), conn_options=probe_options)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                logger.debug("%s: recovery probe failed: %s", member.stt.label, e)
                continue
            member.available = True
            logger.info("%s is available again", member.stt.label)
            self.emit(
                "stt_availability_changed",
                AvailabilityChangedEvent(stt=member.stt, available=True),
            )
            return

    @staticmethod
    async def _probe_stream(
        stt: STT, audio: list[rtc.AudioFrame], conn_options: APIConnectOptions
    ) -> None:
        async with stt.stream(conn_options=conn_options) as stream:
            for frame in audio:
                stream.push_frame(frame)
            stream.end_input()
            async for _ in stream:
                pass

    async def recognize(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> SpeechEvent:
        """Recognize with the first engine that succeeds, marking failing ones unavailable.

        ``conn_options`` is ignored in favour of the adapter's per-engine options.
        """
        return await self._recognize_impl(buffer, language=language, conn_options=conn_options)

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> SpeechEvent:
        errors: list[str] = []
        last: Exception | None = None
        for member in self._candidates():
            try:
                return await member.stt.recognize(
                    buffer, language=language, conn_options=self._conn_options
                )
            except asyncio.CancelledError:
                raise
            except Exception as e:
                errors.append(f"{member.stt.label}: {e}")
                last = e
                frames = [buffer] if isinstance(buffer, rtc.AudioFrame) else list(buffer)
                self._mark_failed(member, frames)
        err = APIConnectionError("every STT of the FallbackAdapter failed: " + "; ".join(errors))
        self.emit(
            "error", STTError(timestamp=time.time(), label=self.label, error=err, recoverable=False)
        )
        raise err from last

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> RecognizeStream:
        """A stream that switches engine on failure, replaying the current turn's audio."""
        return FallbackRecognizeStream(stt=self, language=language)

    def prewarm(self) -> None:
        for m in self._members:
            m.stt.prewarm()

    async def aclose(self) -> None:
        """Stop the recovery probes and detach from the engines (which stay open)."""
        self._closed = True
        await aio.cancel_and_wait(*(m.recovering for m in self._members))
        for m in self._members:
            m.stt.off("metrics_collected", self._forward_metrics)
            if isinstance(m.streaming, StreamAdapter):
                await m.streaming.aclose()


class FallbackRecognizeStream(RecognizeStream):
    """The stream of a :class:`FallbackAdapter`."""

    def __init__(self, *, stt: FallbackAdapter, language: NotGivenOr[str]) -> None:
        self._adapter = stt
        self._language = language
        # audio not covered by a FINAL_TRANSCRIPT yet, replayed to the next engine on failure
        self._replay: deque[rtc.AudioFrame | _FlushSentinel] = deque()
        self._replay_duration = 0.0
        self._replay_start = 0.0  # seconds of stream audio before the replayed part
        self._input_done = False
        super().__init__(stt=stt, conn_options=APIConnectOptions(max_retry=0))

    def _remember(self, item: rtc.AudioFrame | _FlushSentinel) -> None:
        self._replay.append(item)
        if isinstance(item, rtc.AudioFrame):
            self._replay_duration += item.samples_per_channel / item.sample_rate
        while self._replay_duration > MAX_REPLAY_DURATION and self._replay:
            old = self._replay.popleft()
            if isinstance(old, rtc.AudioFrame):
                d = old.samples_per_channel / old.sample_rate
                self._replay_duration -= d
                self._replay_start += d

    def _forget_until(self, position: float) -> None:
        """Drop replay audio that ends before ``position`` (seconds of stream audio)."""
        while self._replay:
            head = self._replay[0]
            if isinstance(head, _FlushSentinel):
                self._replay.popleft()
                continue
            d = head.samples_per_channel / head.sample_rate
            if self._replay_start + d > position + 1e-6:
                break
            self._replay.popleft()
            self._replay_start += d
            self._replay_duration -= d

    def _replay_frames(self) -> list[rtc.AudioFrame]:
        return [f for f in self._replay if isinstance(f, rtc.AudioFrame)]

    async def _run(self) -> None:
        errors: list[str] = []
        last: Exception | None = None
        for member in self._adapter._candidates():
            try:
                await self._run_with(member)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                errors.append(f"{member.stt.label}: {e}")
                last = e
                self._adapter._mark_failed(member, self._replay_frames())
        raise APIConnectionError(
            "every STT of the FallbackAdapter failed: " + "; ".join(errors), retryable=False
        ) from last

    async def _run_with(self, member: _Member) -> None:
        child = member.streaming.stream(
            language=self._language, conn_options=self._adapter._conn_options
        )
        child.start_time_offset = self.start_time_offset + self._replay_start
        for item in self._replay:
            if isinstance(item, _FlushSentinel):
                child.flush()
            else:
                child.push_frame(item)
        if self._input_done:
            child.end_input()

        async def pump() -> None:
            if self._input_done:
                return
            async for item in self._input_ch:
                self._remember(item)
                if isinstance(item, _FlushSentinel):
                    child.flush()
                else:
                    child.push_frame(item)
            self._input_done = True
            child.end_input()

        base = self._replay_start  # stream position of the child's time zero

        async def relay() -> None:
            async for ev in child:
                if ev.type == SpeechEventType.FINAL_TRANSCRIPT:
                    # the turn is delivered: its audio no longer needs replaying. It ends where
                    # the transcript ends, and never after what the child has read.
                    done = base + child._input_ch.consumed_duration
                    if ev.alternatives and ev.alternatives[0].end_time > 0:
                        done = min(done, ev.alternatives[0].end_time - self.start_time_offset)
                    self._forget_until(done)
                self._event_ch.send_nowait(ev)

        pump_task = asyncio.create_task(pump(), name="FallbackRecognizeStream.pump")
        relay_task = asyncio.create_task(relay(), name="FallbackRecognizeStream.relay")
        try:
            pending: set[asyncio.Task[None]] = {pump_task, relay_task}
            while relay_task in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    t.result()  # raises the child's (or the pump's) error
        finally:
            await aio.cancel_and_wait(pump_task, relay_task)
            with contextlib.suppress(Exception):
                await child.aclose()
