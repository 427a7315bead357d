"""Deepgram text-to-speech (Aura): REST ``/v1/speak`` and the ``/v1/speak`` websocket.

The websocket takes ``Speak`` messages, synthesizes the buffered text on ``Flush`` and answers
with binary linear16 audio followed by ``Flushed``; one flush per segment. Sockets are pooled and
reused by the next stream when a stream ended cleanly.
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
from voxlane.agents.utils.speech_transport import WSFrame
from voxlane.agents.utils.ws_speech import SegmentOutput, WebSocketSynthesizeStream, WebSocketTTS

from ._utils import API, DEFAULT_BASE_URL

logger = logging.getLogger("voxlane.plugins.deepgram")

DEFAULT_TTS_MODEL = "aura-2-andromeda-en"
PROVIDER_SAMPLE_RATES = (8000, 16000, 24000, 32000, 48000)


def provider_rate_for(sample_rate: int) -> int:
    """The linear16 rate to ask Deepgram for: the requested one if offered, else the next above."""
    return pick_sample_rate(sample_rate, PROVIDER_SAMPLE_RATES)


@dataclass
class TTSOptions:
    model: str
    sample_rate: int
    provider_rate: int
    mip_opt_out: bool = False

    def params(self) -> dict[str, object]:
        return {
            "model": self.model,
            "encoding": "linear16",
            "sample_rate": self.provider_rate,
            "mip_opt_out": self.mip_opt_out,
        }


class TTS(WebSocketTTS):
    """Deepgram Aura text-to-speech (``"deepgram/aura-2-andromeda-en"``).

    Args:
        model: the Aura model and voice, e.g. ``"aura-2-andromeda-en"``.
        sample_rate: output rate; Deepgram offers 8, 16, 24, 32 and 48 kHz and other rates are
            resampled locally.
        api_key: defaults to ``$DEEPGRAM_API_KEY``.
        base_url: the API root (``https://api.deepgram.com/v1``).
        http_session: an ``aiohttp.ClientSession`` to share; one is created otherwise.
    """

    _what = "speak"
    _request_prefix = "dg_"

    def __init__(
        self,
        *,
        model: str = DEFAULT_TTS_MODEL,
        sample_rate: int = 24000,
        mip_opt_out: bool = False,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not model or not isinstance(model, str):
            raise ValueError(f"model must name a Deepgram Aura voice, got {model!r}")
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=False),
            sample_rate=sample_rate,
            provider_rates=PROVIDER_SAMPLE_RATES,
            client=ProviderClient(
                API, api_key=api_key, base_url=base_url, http_session=http_session
            ),
        )
        self._opts = TTSOptions(
            model=model,
            sample_rate=sample_rate,
            provider_rate=self.provider_rate,
            mip_opt_out=mip_opt_out,
        )

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "deepgram"

    def _ws_endpoint(self) -> tuple[str, Mapping[str, Any] | None]:
        return "/speak", self._opts.params()

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return ChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return SynthesizeStream(tts=self, conn_options=conn_options)


class ChunkedStream(tts.ChunkedStream):
    """One REST ``/v1/speak`` request; audio is pushed as it streams in."""

    def __init__(self, *, tts: TTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._dg = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        params = {**self._dg._opts.params(), "container": "none"}
        await self._dg._stream_pcm(
            output_emitter,
            self._dg._client.http_url("/speak", params),
            {"text": self._input_text},
            self._conn_options,
        )


class SynthesizeStream(WebSocketSynthesizeStream):
    """Streaming synthesis over a pooled ``/v1/speak`` websocket: one ``Flush`` per segment."""

    _logger = logger
    _segment_prefix = "seg_"

    async def _send_text(self, ws: WebSocket, segment_id: str, text: str) -> None:
        await ws.send_str(json.dumps({"type": "Speak", "text": text}))

    async def _end_segment(self, ws: WebSocket, segment_id: str) -> None:
        await ws.send_str(json.dumps({"type": "Flush"}))

    def _handle(self, frame: WSFrame, out: SegmentOutput) -> bool:
        if isinstance(frame, bytes):
            out.push_audio(frame)
            return False
        kind = frame.get("type")
        if kind == "Flushed":
            return True
        if kind == "Warning":
            logger.warning("deepgram speak warning: %s", frame.get("description"))
        elif kind == "Error":
            detail = frame.get("err_msg") or frame.get("description") or "unknown error"
            raise API.message_error("speak", detail, body=frame)
        elif kind not in ("Metadata", "Cleared"):
            logger.debug("deepgram: ignoring speak message of type %r", kind)
        return False


__all__ = [
    "DEFAULT_TTS_MODEL",
    "PROVIDER_SAMPLE_RATES",
    "TTS",
    "ChunkedStream",
    "SynthesizeStream",
    "provider_rate_for",
]
