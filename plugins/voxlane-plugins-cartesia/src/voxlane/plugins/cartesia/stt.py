"""Cartesia speech-to-text (Ink): streaming over ``/stt/websocket`` and batch ``POST /stt``.

The stream sends 16-bit PCM in 50 ms binary frames, ``finalize`` on ``flush()`` and ``close`` at
the end. ``transcript`` messages (``is_final`` false/true) become INTERIM/FINAL transcripts; the
first words of an utterance send START_OF_SPEECH and its final transcript END_OF_SPEECH (Ink has
no separate speech events). Audio that no final transcript covers yet is sent again after a
reconnect, so nothing is lost or repeated and timestamps stay on the stream's clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from voxlane.agents import stt
from voxlane.agents._exceptions import APIConnectionError
from voxlane.agents.tts import TimedString
from voxlane.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
    given_or,
    is_given,
)
from voxlane.agents.utils.audio import AudioBuffer, merge_frames
from voxlane.agents.utils.pcm import wav_bytes
from voxlane.agents.utils.provider import ProviderClient, WebSocket
from voxlane.agents.utils.ws_speech import WebSocketRecognizeStream

from ._utils import API, DEFAULT_BASE_URL

logger = logging.getLogger("voxlane.plugins.cartesia")

DEFAULT_STT_MODEL = "ink-whisper"
STT_MODELS = ("ink-whisper", "ink-2")


@dataclass
class STTOptions:
    model: str
    language: str
    sample_rate: int
    min_volume: float | None = None
    max_silence_duration_secs: float | None = None

    def live_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "language": self.language,
            "encoding": "pcm_s16le",
            "sample_rate": self.sample_rate,
            "min_volume": self.min_volume,
            "max_silence_duration_secs": self.max_silence_duration_secs,
        }


class STT(stt.STT):
    """Cartesia Ink speech-to-text (``"cartesia/ink-whisper"``).

    Args:
        model: ``"ink-whisper"`` (multilingual) or ``"ink-2"``.
        language: ISO 639-1 code of the speech (``"en"``).
        sample_rate: the rate audio is streamed at; pushed audio is resampled to it.
        min_volume / max_silence_duration_secs: Cartesia's voice-activity settings that decide
            when an utterance is finalized.
        api_key: defaults to ``$CARTESIA_API_KEY``.
        base_url: the API root (``https://api.cartesia.ai``).
        http_session: an ``aiohttp.ClientSession`` to share; one is created otherwise.
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_STT_MODEL,
        language: str = "en",
        sample_rate: int = 16000,
        min_volume: float | None = None,
        max_silence_duration_secs: float | None = None,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True, interim_results=True, aligned_transcript="word"
            )
        )
        if sample_rate not in (8000, 16000, 22050, 24000, 44100, 48000):
            raise ValueError(
                f"sample_rate {sample_rate} is not one Cartesia streams at; use 8000, 16000, "
                "22050, 24000, 44100 or 48000 (pushed audio is resampled to it)"
            )
        if max_silence_duration_secs is not None and max_silence_duration_secs <= 0:
            raise ValueError("max_silence_duration_secs must be > 0 seconds")
        self._opts = STTOptions(
            model=model,
            language=language,
            sample_rate=sample_rate,
            min_volume=min_volume,
            max_silence_duration_secs=max_silence_duration_secs,
        )
        self._client = ProviderClient(
            API, api_key=api_key, base_url=base_url, http_session=http_session
        )

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "cartesia"

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = merge_frames(buffer)
        lang = language if is_given(language) else self._opts.language
        form = aiohttp.FormData()
        form.add_field("file", wav_bytes(frame), filename="audio.wav", content_type="audio/wav")
        form.add_field("model", self._opts.model)
        form.add_field("language", lang)
        form.add_field("timestamp_granularities[]", "word")
        data, _ = await self._client.post(
            self._client.http_url("/stt"),
            data=form,
            timeout=conn_options.timeout,
            what="recognize",
        )
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise APIConnectionError("Cartesia recognize: the answer has no 'text'")
        words = _timed_words(data.get("words"), 0.0)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=str(data.get("request_id", "")),
            alternatives=[
                stt.SpeechData(
                    language=str(data.get("language") or lang),
                    text=data["text"].strip(),
                    start_time=given_or(words[0].start_time, 0.0) if words else 0.0,
                    end_time=given_or(words[-1].end_time, 0.0) if words else 0.0,
                    words=words,
                )
            ],
        )

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> SpeechStream:
        opts = STTOptions(**self._opts.__dict__)
        if is_given(language):
            opts.language = language
        return SpeechStream(stt=self, opts=opts, conn_options=conn_options)

    async def aclose(self) -> None:
        await self._client.aclose()


def _timed_words(words: object, offset: float) -> list[TimedString]:
    out: list[TimedString] = []
    if not isinstance(words, list):
        return out
    for w in words:
        if not isinstance(w, dict):
            continue
        try:
            start = float(w["start"]) + offset
            end = float(w["end"]) + offset
        except (KeyError, TypeError, ValueError):
            continue
        out.append(TimedString(str(w.get("word", "")), start_time=start, end_time=end))
    return out


class SpeechStream(WebSocketRecognizeStream):
    """A streaming transcription over one Cartesia websocket (reconnected on failure)."""

    _logger = logger
    _what = "STT"

    def __init__(self, *, stt: STT, opts: STTOptions, conn_options: APIConnectOptions) -> None:
        super().__init__(
            stt=stt, client=stt._client, conn_options=conn_options, sample_rate=opts.sample_rate
        )
        self._ct = stt
        self._opts = opts

    async def _connect(self) -> WebSocket:
        return await self._ct._client.open_websocket(
            "/stt/websocket",
            self._opts.live_params(),
            self._conn_options.timeout,
            "STT websocket connect",
        )

    async def _send_flush(self, ws: WebSocket) -> None:
        await ws.send_str("finalize")

    async def _send_end(self, ws: WebSocket, *, flushed: bool) -> None:
        await ws.send_str("close")

    def _handle(self, data: dict[str, Any]) -> bool:
        kind = data.get("type")
        if isinstance(data.get("request_id"), str):
            self._request_id = data["request_id"]
        if kind == "transcript":
            self._on_transcript(data)
        elif kind == "done":
            return True
        elif kind == "error":
            detail = data.get("message") or data.get("title") or "error"
            raise API.message_error(
                "STT", detail, data.get("status_code"), request_id=self._request_id, body=data
            )
        elif kind != "flush_done":
            logger.debug("cartesia: ignoring STT message of type %r", kind)
        return False

    def _on_transcript(self, data: dict[str, Any]) -> None:
        text = data.get("text")
        if not isinstance(text, str):
            logger.warning("cartesia: ignoring a transcript message without text")
            return
        is_final = bool(data.get("is_final"))
        words = _timed_words(data.get("words"), self._ws_origin)
        if is_final and words:
            self._trim_replay(given_or(words[-1].end_time, 0.0))
        if not text.strip():
            return
        start = given_or(words[0].start_time, 0.0) if words else self._ws_origin
        end = given_or(words[-1].end_time, 0.0) if words else start
        speech = stt.SpeechData(
            language=str(data.get("language") or self._opts.language),
            text=text.strip(),
            start_time=start,
            end_time=end,
            words=words,
        )
        self._start_of_speech(start)
        self._transcript([speech], final=is_final)
        if is_final:
            self._end_of_speech()


__all__ = ["DEFAULT_STT_MODEL", "STT", "STT_MODELS", "STTOptions", "SpeechStream"]
