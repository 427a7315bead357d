"""``StreamAdapter``: streaming recognition for an STT that only transcribes whole buffers.

A VAD cuts the incoming audio into segments of speech; each segment is sent to the wrapped
engine's ``recognize()`` and comes back as one FINAL_TRANSCRIPT.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from ..types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from ..utils import aio
from ..utils.audio import AudioBuffer, calculate_audio_duration, merge_frames
from ..vad import VAD, VADEventType, VADStream
from .stt import STT, RecognizeStream, SpeechEvent, SpeechEventType, STTCapabilities

logger = logging.getLogger("voxlane.agents.stt")

# the adapter's own stream never retries: retries happen inside each recognize() call
_NO_RETRY = APIConnectOptions(max_retry=0)


class StreamAdapter(STT):
    """Make a non-streaming STT streaming by segmenting the audio with a VAD.

    VAD START_OF_SPEECH becomes START_OF_SPEECH; VAD END_OF_SPEECH becomes END_OF_SPEECH followed
    by a FINAL_TRANSCRIPT of the segment, whose times are moved onto the stream's timeline (the
    segment ends at the VAD event's ``timestamp``; ``start_time_offset`` is added). A failed
    recognition is reported (the wrapped STT's ``"error"`` event is re-emitted here) and the
    stream goes on with the next segment.
    """

    def __init__(self, *, stt: STT, vad: VAD) -> None:
        if not isinstance(stt, STT):
            raise TypeError(f"StreamAdapter needs an stt.STT as stt=, got {type(stt).__name__}")
        if not isinstance(vad, VAD):
            raise TypeError(f"StreamAdapter needs a vad.VAD as vad=, got {type(vad).__name__}")
        super().__init__(
            capabilities=STTCapabilities(
                streaming=True,
                interim_results=False,
                diarization=stt.capabilities.diarization,
                aligned_transcript=stt.capabilities.aligned_transcript,
                offline_recognize=stt.capabilities.offline_recognize,
            )
        )
        self._stt = stt
        self._vad = vad
        self._label = f"stt.StreamAdapter<{stt.label}>"
        # FallbackAdapter sets this: a failed segment must end the stream so it can fail over
        self._raise_recognition_errors = False
        # the wrapped STT's events are relayed only while this adapter uses it, so adapters
        # created per session (and never closed) leave no listener behind on a shared STT
        self._users = 0

    def _attach(self) -> None:
        if self._users == 0:
            self._stt.on("metrics_collected", self._forward_metrics)
            self._stt.on("error", self._forward_error)
        self._users += 1

    def _detach(self) -> None:
        self._users = max(0, self._users - 1)
        if self._users == 0:
            self._stt.off("metrics_collected", self._forward_metrics)
            self._stt.off("error", self._forward_error)

    def _forward_metrics(self, metrics: Any) -> None:
        self.emit("metrics_collected", metrics)

    def _forward_error(self, error: Any) -> None:
        self.emit("error", error)

    @property
    def wrapped_stt(self) -> STT:
        return self._stt

    @property
    def vad(self) -> VAD:
        return self._vad

    @property
    def model(self) -> str:
        return self._stt.model

    @property
    def provider(self) -> str:
        return self._stt.provider

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> SpeechEvent:
        return await self._stt._recognize_impl(buffer, language=language, conn_options=conn_options)

    async def recognize(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> SpeechEvent:
        """Delegate to the wrapped STT (its retries, metrics and errors apply)."""
        self._attach()
        try:
            return await self._stt.recognize(buffer, language=language, conn_options=conn_options)
        finally:
            self._detach()

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> RecognizeStream:
        return StreamAdapterWrapper(
            self,
            vad=self._vad,
            wrapped_stt=self._stt,
            language=language,
            conn_options=conn_options,
            raise_recognition_errors=self._raise_recognition_errors,
        )

    def prewarm(self) -> None:
        self._stt.prewarm()

    async def aclose(self) -> None:
        """Stop relaying the wrapped STT's events (the STT stays open: its owner closes it)."""
        self._users = 1
        self._detach()


class StreamAdapterWrapper(RecognizeStream):
    """The stream of a :class:`StreamAdapter`: VAD segments in, final transcripts out."""

    def __init__(
        self,
        stt: StreamAdapter,
        *,
        vad: VAD,
        wrapped_stt: STT,
        language: NotGivenOr[str],
        conn_options: APIConnectOptions,
        raise_recognition_errors: bool = False,
    ) -> None:
        self._vad = vad
        self._raise_recognition_errors = raise_recognition_errors
        self._wrapped_stt = wrapped_stt
        self._language = language
        self._wrapped_conn_options = conn_options
        self._vad_stream: VADStream | None = None
        self._adapter = stt
        super().__init__(stt=stt, conn_options=_NO_RETRY)

    async def _run(self) -> None:
        self._adapter._attach()
        try:
            await self._transcribe_segments()
        finally:
            self._adapter._detach()

    async def _transcribe_segments(self) -> None:
        vad_stream = self._vad.stream()
        self._vad_stream = vad_stream

        async def forward_input() -> None:
            async for item in self._input_ch:
                if isinstance(item, self._FlushSentinel):
                    vad_stream.flush()
                else:
                    vad_stream.push_frame(item)
            vad_stream.end_input()

        async def transcribe() -> None:
            async for ev in vad_stream:
                if ev.type == VADEventType.START_OF_SPEECH:
                    self._event_ch.send_nowait(SpeechEvent(type=SpeechEventType.START_OF_SPEECH))
                elif ev.type == VADEventType.END_OF_SPEECH:
                    self._event_ch.send_nowait(SpeechEvent(type=SpeechEventType.END_OF_SPEECH))
                    if not ev.frames:
                        continue
                    try:
                        result = await self._wrapped_stt.recognize(
                            merge_frames(ev.frames),
                            language=self._language,
                            conn_options=self._wrapped_conn_options,
                        )
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        if self._raise_recognition_errors:
                            raise
                        # already emitted as an "error" event by the wrapped STT
                        logger.exception(
                            "%s: recognition of a speech segment failed; skipping it",
                            self._wrapped_stt.label,
                        )
                        continue
                    if not result.alternatives or not result.alternatives[0].text.strip():
                        continue
                    # place the segment on the stream's timeline: it ends where the VAD ended it
                    seg_end = ev.timestamp
                    seg_start = max(0.0, seg_end - calculate_audio_duration(ev.frames))
                    offset = self.start_time_offset
                    alternatives = [
                        dataclasses.replace(
                            d,
                            start_time=offset + seg_start + d.start_time,
                            end_time=offset
                            + (seg_start + d.end_time if d.end_time > 0 else seg_end),
                        )
                        for d in result.alternatives
                    ]
                    self._event_ch.send_nowait(
                        SpeechEvent(
                            type=SpeechEventType.FINAL_TRANSCRIPT,
                            request_id=result.request_id,
                            alternatives=alternatives,
                        )
                    )

        tasks = [
            asyncio.create_task(forward_input(), name="StreamAdapter.forward_input"),
            asyncio.create_task(transcribe(), name="StreamAdapter.transcribe"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            await aio.cancel_and_wait(*tasks)
            await vad_stream.aclose()
