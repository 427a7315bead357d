"""ElevenLabs realtime Scribe: streaming speech-to-text over ``/v1/speech-to-text/realtime``.

Audio goes out as ``input_audio_chunk`` JSON messages (base64 16-bit PCM, 50 ms each) and the
server commits utterances with its own VAD (``commit_strategy=vad``); ``flush()`` forces a commit
(``commit: true``). ``partial_transcript`` messages become INTERIM transcripts (the first one of
an utterance also START_OF_SPEECH), a ``committed_transcript`` (completed by its
``committed_transcript_with_timestamps``) a FINAL transcript followed by END_OF_SPEECH. Audio
that no committed transcript covers yet is kept and sent again after a reconnect, so a dropped
socket loses and repeats nothing, and word times stay on the stream's clock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from livekit import rtc

from voxlane.agents import stt
from voxlane.agents._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
)
from voxlane.agents.tts import TimedString
from voxlane.agents.types import APIConnectOptions, is_given
from voxlane.agents.utils.audio import AudioByteStream
from voxlane.agents.utils.pcm import mono_pcm
from voxlane.agents.utils.provider import WebSocket, ws_url

from ._utils import API, auth_headers

if TYPE_CHECKING:
    from .stt import STT

logger = logging.getLogger("voxlane.plugins.elevenlabs")

REALTIME_STT_MODELS = ("scribe_v2_realtime",)
REALTIME_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
_CHUNK_MS = 50
_USAGE_EVERY = 5.0
_MAX_REPLAY = 30.0
_END_LINGER = 1.0  # after the last commit was answered, how long more results may still come
_CLOSED = (
    aiohttp.WSMsgType.CLOSE,
    aiohttp.WSMsgType.CLOSING,
    aiohttp.WSMsgType.CLOSED,
    aiohttp.WSMsgType.ERROR,
)
# error message types -> (HTTP-like status, retryable by the base class through the status)
_ERROR_STATUS = {
    "auth_error": 401,
    "unaccepted_terms_error": 403,
    "quota_exceeded": 402,
    "quota_exceeded_error": 402,
    "input_error": 400,
    "chunk_size_exceeded": 400,
    "chunk_size_exceeded_error": 400,
    "rate_limited": 429,
    "rate_limited_error": 429,
    "commit_throttled": 429,
    "commit_throttled_error": 429,
    "queue_overflow": 429,
    "queue_overflow_error": 429,
    "resource_exhausted": 429,
    "resource_exhausted_error": 429,
}


@dataclass
class RealtimeOptions:
    """Query options of a realtime Scribe session."""

    model: str
    language: str | None
    sample_rate: int
    vad_silence_threshold_secs: float | None = None

    def params(self) -> dict[str, Any]:
        return {
            "model_id": self.model,
            "audio_format": f"pcm_{self.sample_rate}",
            "commit_strategy": "vad",
            "include_timestamps": True,
            "language_code": self.language,
            "vad_silence_threshold_secs": self.vad_silence_threshold_secs,
        }


def _words(items: object, offset: float) -> list[TimedString]:
    out: list[TimedString] = []
    if not isinstance(items, list):
        return out
    for w in items:
        if not isinstance(w, dict) or w.get("type", "word") != "word":
            continue
        try:
            start = float(w["start"]) + offset
            end = float(w["end"]) + offset
        except (KeyError, TypeError, ValueError):
            continue
        out.append(TimedString(str(w.get("text", "")), start_time=start, end_time=end))
    return out


def _time(value: object) -> float:
    return float(value) if is_given(value) and isinstance(value, (int, float)) else 0.0


class SpeechStream(stt.RecognizeStream):
    """One realtime Scribe session (reconnected on failure, unacknowledged audio replayed)."""

    def __init__(self, *, stt: STT, opts: RealtimeOptions, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=stt, conn_options=conn_options, sample_rate=opts.sample_rate)
        self._el = stt
        self._opts = opts
        self._bps = opts.sample_rate * 2
        self._speaking = False
        self._session_id = ""
        self._replay = bytearray()
        self._replay_start = 0.0
        self._origin = 0.0
        self._sent = 0.0  # seconds of audio sent on the current connection
        self._pending: str | None = None  # committed text waiting for its timestamps
        self._pending_usage = 0.0
        self._last_audio_sent = 0.0
        self._last_message = 0.0

    # -- events -----------------------------------------------------------------------------

    def _send_event(self, ev: stt.SpeechEvent) -> None:
        with contextlib.suppress(Exception):
            self._event_ch.send_nowait(ev)

    def _flush_usage(self) -> None:
        if self._pending_usage > 0:
            self._send_event(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.RECOGNITION_USAGE,
                    request_id=self._session_id,
                    recognition_usage=stt.RecognitionUsage(audio_duration=self._pending_usage),
                )
            )
            self._pending_usage = 0.0

    def _start_of_speech(self, start: float | None) -> None:
        if not self._speaking:
            self._speaking = True
            self._send_event(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.START_OF_SPEECH,
                    request_id=self._session_id,
                    speech_start_time=start,
                )
            )

    def _final(self, text: str, words: list[TimedString]) -> None:
        """Emit one committed utterance and drop the audio it covers from the replay."""
        # without word times, everything sent so far counts as covered: replaying it could
        # only transcribe the same words twice
        self._trim_replay(_time(words[-1].end_time) if words else self._origin + self._sent)
        text = text.strip()
        if not text:
            return
        start = _time(words[0].start_time) if words else self._origin
        self._start_of_speech(start)
        self._send_event(
            stt.SpeechEvent(
                type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                request_id=self._session_id,
                alternatives=[
                    stt.SpeechData(
                        language=self._opts.language or "",
                        text=text,
                        start_time=start,
                        end_time=_time(words[-1].end_time) if words else start,
                        words=words,
                    )
                ],
            )
        )
        self._speaking = False
        self._send_event(
            stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH, request_id=self._session_id)
        )

    def _emit_pending(self) -> None:
        if self._pending is not None:
            text, self._pending = self._pending, None
            self._final(text, [])

    # -- replay buffer ------------------------------------------------------------------------

    def _trim_replay(self, until: float) -> None:
        drop = int((until - self._replay_start) * self._bps)
        drop = min(drop - drop % 2, len(self._replay))
        if drop > 0:
            del self._replay[:drop]
            self._replay_start += drop / self._bps

    def _keep(self, data: bytes) -> None:
        self._replay += data
        excess = len(self._replay) - int(_MAX_REPLAY * self._bps)
        if excess > 0:
            excess += excess % 2
            del self._replay[:excess]
            self._replay_start += excess / self._bps

    # -- the attempt --------------------------------------------------------------------------

    async def _run(self) -> None:
        self._replay_start = self.start_time_offset - len(self._replay) / self._bps
        self._pending = None  # a commit the last connection did not complete: replayed below
        url = ws_url(self._el._base_url, "/speech-to-text/realtime", self._opts.params())
        ws = await API.open_websocket(
            self._el._http_session.get(),
            url,
            auth_headers(self._el._api_key),
            self._conn_options.timeout,
            "realtime speech-to-text connect",
        )
        self._origin = self._replay_start
        self._sent = 0.0
        closing = asyncio.Event()
        send = asyncio.create_task(self._send_task(ws, closing), name="elevenlabs-stt-send")
        recv = asyncio.create_task(self._recv_task(ws, closing), name="elevenlabs-stt-recv")
        try:
            await asyncio.wait([send, recv], return_when=asyncio.FIRST_COMPLETED)
            if send.done() and send.exception() is None and not recv.done():
                await recv
            for t in (send, recv):
                exc = t.exception() if t.done() else None
                if exc is not None:
                    raise exc
        finally:
            for t in (send, recv):
                t.cancel()
            await asyncio.gather(send, recv, return_exceptions=True)
            with contextlib.suppress(Exception):
                await ws.close()
            self._flush_usage()

    async def _send_chunk(self, ws: WebSocket, data: bytes, *, commit: bool = False) -> None:
        message = {
            "message_type": "input_audio_chunk",
            "audio_base_64": base64.b64encode(data).decode("ascii"),
            "commit": commit,
            "sample_rate": self._opts.sample_rate,
        }
        await ws.send_str(json.dumps(message))
        if data:
            seconds = len(data) / self._bps
            self._sent += seconds
            self._pending_usage += seconds
            self._last_audio_sent = asyncio.get_running_loop().time()
            if self._pending_usage >= _USAGE_EVERY:
                self._flush_usage()

    async def _send_task(self, ws: WebSocket, closing: asyncio.Event) -> None:
        sr = self._opts.sample_rate
        try:
            step = sr * 2 * _CHUNK_MS // 1000
            replay = bytes(self._replay)
            for i in range(0, len(replay), step):
                await self._send_chunk(ws, replay[i : i + step])
            chunker = AudioByteStream(sr, 1, samples_per_channel=sr * _CHUNK_MS // 1000)
            committed = False  # nothing was sent since the last commit
            async for item in self._input_ch:
                if isinstance(item, rtc.AudioFrame):
                    data = mono_pcm(item)
                    self._keep(data)
                    for chunk in chunker.push(data):
                        await self._send_chunk(ws, bytes(chunk.data.cast("B")))
                        committed = False
                else:
                    for chunk in chunker.flush():
                        await self._send_chunk(ws, bytes(chunk.data.cast("B")))
                    if self._input_ch.closed and self._input_ch.empty():
                        closing.set()  # end_input()'s flush: this commit's answer ends it
                    await self._send_chunk(ws, b"", commit=True)
                    committed = True
            tail = [bytes(chunk.data.cast("B")) for chunk in chunker.flush()]
            for data in tail:
                await self._send_chunk(ws, data)
            if tail or not committed:
                # the end of the input: commit what is left and wait for its transcript
                closing.set()
                await self._send_chunk(ws, b"", commit=True)
            closing.set()
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as e:
            raise APIConnectionError(f"ElevenLabs realtime STT: sending failed: {e}") from e

    async def _recv_task(self, ws: WebSocket, closing: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        timeout = self._conn_options.timeout
        self._last_message = loop.time()
        while True:
            answered = closing.is_set() and self._last_message >= self._last_audio_sent
            try:
                msg = await asyncio.wait_for(
                    ws.receive(), min(timeout, _END_LINGER) if answered else timeout
                )
            except asyncio.TimeoutError:
                if answered:
                    # the input ended and the server answered after it, then went quiet: done
                    self._emit_pending()
                    return
                if closing.is_set() or self._last_audio_sent > self._last_message:
                    raise APITimeoutError(
                        f"ElevenLabs realtime STT: no answer for {timeout} s"
                    ) from None
                continue
            self._last_message = loop.time()
            if msg.type in _CLOSED:
                raise APIConnectionError(
                    f"ElevenLabs closed the realtime STT websocket (code {ws.close_code})"
                )
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except ValueError:
                logger.warning(
                    "elevenlabs: ignoring a malformed realtime STT message: %.80r", msg.data
                )
                continue
            if self._handle(data) and closing.is_set():
                return

    def _handle(self, data: dict[str, Any]) -> bool:
        """Apply one server message; True for an empty committed transcript (a commit with no
        speech left: after the input ended, the answer to the last commit)."""
        kind = str(data.get("message_type") or data.get("type") or "")
        if kind == "session_started":
            self._session_id = str(data.get("session_id") or "")
        elif kind == "partial_transcript":
            self._emit_pending()
            text = data.get("text")
            if isinstance(text, str) and text.strip():
                self._start_of_speech(None)
                self._send_event(
                    stt.SpeechEvent(
                        type=stt.SpeechEventType.INTERIM_TRANSCRIPT,
                        request_id=self._session_id,
                        alternatives=[
                            stt.SpeechData(language=self._opts.language or "", text=text.strip())
                        ],
                    )
                )
        elif kind == "committed_transcript":
            self._emit_pending()
            text = data.get("text")
            self._pending = text if isinstance(text, str) else ""
        elif kind == "committed_transcript_with_timestamps":
            text = data.get("text")
            if not isinstance(text, str):
                text = self._pending or ""
            self._pending = None
            self._final(text, _words(data.get("words"), self._origin))
            return not text.strip()
        elif kind.endswith("error") or kind in _ERROR_STATUS:
            self._raise_error(kind, data)
        else:
            logger.debug("elevenlabs: ignoring realtime STT message of type %r", kind)
        return False

    def _raise_error(self, kind: str, data: dict[str, Any]) -> None:
        detail = data.get("error") or data.get("message") or kind
        message = f"ElevenLabs realtime STT error ({kind}): {detail}"
        status = _ERROR_STATUS.get(kind)
        if status is None:
            # transcriber/server errors, session time limits: a new session can continue
            raise APIConnectionError(message)
        error: APIError = APIStatusError(
            message, status_code=status, request_id=self._session_id or None, body=data
        )
        raise error


__all__ = ["REALTIME_SAMPLE_RATES", "REALTIME_STT_MODELS", "RealtimeOptions", "SpeechStream"]
