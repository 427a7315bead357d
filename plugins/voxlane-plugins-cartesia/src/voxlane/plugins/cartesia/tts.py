"""Cartesia text-to-speech (Sonic): REST ``/tts/bytes`` and the ``/tts/websocket`` contexts API.

A stream opens one Cartesia *context* per segment: every piece of pushed text is sent on the
segment's ``context_id`` with ``continue: true`` (prosody carries across pieces), and the flush
sends an empty transcript with ``continue: false``. Audio arrives as base64 ``chunk`` messages,
word timings as ``timestamps`` messages (turned into timed transcripts), and ``done`` closes the
context. Sockets are pooled and reused by the next stream when a stream ended cleanly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from voxlane.agents import tts
from voxlane.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from voxlane.agents.utils.pcm import pick_sample_rate
from voxlane.agents.utils.provider import ProviderClient, WebSocket
from voxlane.agents.utils.speech_transport import WSFrame, decode_b64_audio
from voxlane.agents.utils.ws_speech import SegmentOutput, WebSocketSynthesizeStream, WebSocketTTS

from ._utils import API, DEFAULT_BASE_URL

logger = logging.getLogger("voxlane.plugins.cartesia")

DEFAULT_TTS_MODEL = "sonic-2"
DEFAULT_VOICE = "f786b574-daa5-4673-aa0c-cbe3e8534c02"
PROVIDER_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)


def provider_rate_for(sample_rate: int) -> int:
    """The rate to ask Cartesia for: the requested one if offered, else the next one above."""
    return pick_sample_rate(sample_rate, PROVIDER_SAMPLE_RATES)


@dataclass
class TTSOptions:
    model: str
    voice: str
    language: str
    sample_rate: int
    provider_rate: int
    word_timestamps: bool = True
    speed: float | None = None

    def request(self, transcript: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model_id": self.model,
            "transcript": transcript,
            "voice": {"mode": "id", "id": self.voice},
            "language": self.language,
            "output_format": {
                "container": "raw",
                "encoding": "pcm_s16le",
                "sample_rate": self.provider_rate,
            },
        }
        if self.speed is not None:
            body["generation_config"] = {"speed": self.speed}
        return body


class TTS(WebSocketTTS):
    """Cartesia Sonic text-to-speech (``"cartesia/sonic-2:<voice-id>"``).

    Args:
        model: a Sonic model (``"sonic-2"`` by default).
        voice: the voice id.
        language: language of the text (``"en"``).
        sample_rate: output rate; Cartesia offers 8, 16, 22.05, 24, 44.1 and 48 kHz, other rates
            are resampled locally.
        word_timestamps: ask for word timings and attach them to the audio (timed transcripts).
        speed: speaking rate passed as ``generation_config.speed`` (models that support it).
        api_key: defaults to ``$CARTESIA_API_KEY``.
        base_url: the API root (``https://api.cartesia.ai``); the websocket URL derives from it.
        http_session: an ``aiohttp.ClientSession`` to share; one is created otherwise.
    """

    _request_prefix = "ct_"

    def __init__(
        self,
        *,
        model: str = DEFAULT_TTS_MODEL,
        voice: str = DEFAULT_VOICE,
        language: str = "en",
        sample_rate: int = 24000,
        word_timestamps: bool = True,
        speed: float | None = None,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not model or not voice:
            raise ValueError("Cartesia needs a model (e.g. 'sonic-2') and a voice id")
        if speed is not None and not 0.25 <= speed <= 4.0:
            raise ValueError(f"speed must be between 0.25 and 4.0, got {speed}")
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=word_timestamps),
            sample_rate=sample_rate,
            provider_rates=PROVIDER_SAMPLE_RATES,
            client=ProviderClient(
                API, api_key=api_key, base_url=base_url, http_session=http_session
            ),
        )
        self._opts = TTSOptions(
            model=model,
            voice=voice,
            language=language,
            sample_rate=sample_rate,
            provider_rate=self.provider_rate,
            word_timestamps=word_timestamps,
            speed=speed,
        )

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "cartesia"

    @property
    def voice(self) -> str:
        return self._opts.voice

    def _ws_endpoint(self) -> tuple[str, Mapping[str, Any] | None]:
        return "/tts/websocket", None

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return ChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return SynthesizeStream(tts=self, conn_options=conn_options)


class ChunkedStream(tts.ChunkedStream):
    """One ``POST /tts/bytes`` request; raw PCM is pushed as it streams in."""

    def __init__(self, *, tts: TTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._ct = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        await self._ct._stream_pcm(
            output_emitter,
            self._ct._client.http_url("/tts/bytes"),
            self._ct._opts.request(self._input_text),
            self._conn_options,
        )


class SynthesizeStream(WebSocketSynthesizeStream):
    """Streaming synthesis over a pooled Cartesia websocket, one context per segment."""

    _logger = logger

    def __init__(self, *, tts: TTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._ct = tts

    async def _send(self, ws: WebSocket, context_id: str, transcript: str, more: bool) -> None:
        opts = self._ct._opts
        body = opts.request(transcript)
        body.update(
            {"context_id": context_id, "continue": more, "add_timestamps": opts.word_timestamps}
        )
        await ws.send_str(json.dumps(body))

    async def _send_text(self, ws: WebSocket, segment_id: str, text: str) -> None:
        await self._send(ws, segment_id, text, True)

    async def _end_segment(self, ws: WebSocket, segment_id: str) -> None:
        await self._send(ws, segment_id, "", False)

    def _segment_id_of(self, frame: Mapping[str, Any]) -> str | None:
        return str(frame.get("context_id"))

    def _handle(self, frame: WSFrame, out: SegmentOutput) -> bool:
        if not isinstance(frame, dict):
            return False
        kind = frame.get("type")
        if kind == "chunk":
            out.push_audio(decode_b64_audio(frame.get("data"), provider="Cartesia", logger=logger))
        elif kind == "timestamps":
            out.push_words(_timed_words(frame.get("word_timestamps")))
        elif kind == "done":
            return True
        elif kind == "error":
            detail = frame.get("message") or frame.get("error") or frame.get("title") or "error"
            raise API.message_error("TTS", detail, frame.get("status_code"), body=frame)
        elif kind not in ("flush_done", "phoneme_timestamps"):
            logger.debug("cartesia: ignoring TTS message of type %r", kind)
        return False


def _timed_words(ts: object) -> list[tts.TimedString]:
    if not isinstance(ts, dict):
        return []
    words, starts, ends = ts.get("words"), ts.get("start"), ts.get("end")
    if not (
        isinstance(words, list)
        and isinstance(starts, list)
        and isinstance(ends, list)
        and len(words) == len(starts) == len(ends)
    ):
        return []
    return [
        tts.TimedString(f"{w} ", start_time=float(s), end_time=float(e))
        for w, s, e in zip(words, starts, ends, strict=True)
    ]


__all__ = [
    "DEFAULT_TTS_MODEL",
    "DEFAULT_VOICE",
    "PROVIDER_SAMPLE_RATES",
    "TTS",
    "ChunkedStream",
    "SynthesizeStream",
    "provider_rate_for",
]
