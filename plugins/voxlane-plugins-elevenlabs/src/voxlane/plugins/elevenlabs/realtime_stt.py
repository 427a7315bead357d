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

import base64
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voxlane.agents import stt
from voxlane.agents._exceptions import APIConnectionError, APIStatusError
from voxlane.agents.tts import TimedString
from voxlane.agents.types import APIConnectOptions, given_or
from voxlane.agents.utils.provider import WebSocket
from voxlane.agents.utils.ws_speech import WebSocketRecognizeStream

if TYPE_CHECKING:
    from .stt import STT

logger = logging.getLogger("voxlane.plugins.elevenlabs")

REALTIME_STT_MODELS = ("scribe_v2_realtime",)
REALTIME_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
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


def timed_words(items: object, offset: float) -> list[TimedString]:
    """The ``type: "word"`` entries of a Scribe word list, timed from ``offset`` seconds."""
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


class SpeechStream(WebSocketRecognizeStream):
    """One realtime Scribe session (reconnected on failure, unacknowledged audio replayed)."""

    _logger = logger
    _what = "realtime STT"
    # after the last commit was answered, how long more results may still come
    _end_linger = 1.0
    _normal_close_ends = False

    def __init__(self, *, stt: STT, opts: RealtimeOptions, conn_options: APIConnectOptions) -> None:
        super().__init__(
            stt=stt, client=stt._client, conn_options=conn_options, sample_rate=opts.sample_rate
        )
        self._el = stt
        self._opts = opts
        self._pending: str | None = None  # committed text waiting for its timestamps

    # -- events -----------------------------------------------------------------------------

    def _final(self, text: str, words: list[TimedString]) -> None:
        """Emit one committed utterance and drop the audio it covers from the replay."""
        # without word times, everything sent so far counts as covered: replaying it could
        # only transcribe the same words twice
        self._trim_replay(
            given_or(words[-1].end_time, 0.0) if words else self._ws_origin + self._ws_sent
        )
        text = text.strip()
        if not text:
            return
        start = given_or(words[0].start_time, 0.0) if words else self._ws_origin
        self._start_of_speech(start)
        self._transcript(
            [
                stt.SpeechData(
                    language=self._opts.language or "",
                    text=text,
                    start_time=start,
                    end_time=given_or(words[-1].end_time, 0.0) if words else start,
                    words=words,
                )
            ],
            final=True,
        )
        self._end_of_speech()

    def _emit_pending(self) -> None:
        if self._pending is not None:
            text, self._pending = self._pending, None
            self._final(text, [])

    # -- the connection -----------------------------------------------------------------------

    def _before_connect(self) -> None:
        self._pending = None  # a commit the last connection did not complete: replayed

    def _on_linger_end(self) -> None:
        self._emit_pending()

    async def _connect(self) -> WebSocket:
        return await self._el._client.open_websocket(
            "/speech-to-text/realtime",
            self._opts.params(),
            self._conn_options.timeout,
            "realtime speech-to-text connect",
        )

    async def _send_chunk(self, ws: WebSocket, data: bytes, *, commit: bool) -> None:
        message = {
            "message_type": "input_audio_chunk",
            "audio_base_64": base64.b64encode(data).decode("ascii"),
            "commit": commit,
            "sample_rate": self._opts.sample_rate,
        }
        await ws.send_str(json.dumps(message))

    async def _send_audio_data(self, ws: WebSocket, data: bytes) -> None:
        await self._send_chunk(ws, data, commit=False)

    async def _send_flush(self, ws: WebSocket) -> None:
        await self._send_chunk(ws, b"", commit=True)

    async def _send_end(self, ws: WebSocket, *, flushed: bool) -> None:
        if not flushed:
            # the end of the input: commit what is left and wait for its transcript
            await self._send_chunk(ws, b"", commit=True)

    def _handle(self, data: dict[str, Any]) -> bool:
        """Apply one server message; True for an empty committed transcript once the input
        ended (a commit with no speech left: the answer to the last commit)."""
        kind = str(data.get("message_type") or data.get("type") or "")
        if kind == "session_started":
            self._request_id = str(data.get("session_id") or "")
        elif kind == "partial_transcript":
            self._emit_pending()
            text = data.get("text")
            if isinstance(text, str) and text.strip():
                self._start_of_speech(None)
                self._transcript(
                    [stt.SpeechData(language=self._opts.language or "", text=text.strip())],
                    final=False,
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
            self._final(text, timed_words(data.get("words"), self._ws_origin))
            return not text.strip() and self._ws_closing.is_set()
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
        raise APIStatusError(
            message, status_code=status, request_id=self._request_id or None, body=data
        )


__all__ = [
    "REALTIME_SAMPLE_RATES",
    "REALTIME_STT_MODELS",
    "RealtimeOptions",
    "SpeechStream",
    "timed_words",
]
