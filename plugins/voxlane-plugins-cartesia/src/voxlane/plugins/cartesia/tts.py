"""Cartesia text-to-speech (Sonic): REST ``/tts/bytes`` and the ``/tts/websocket`` contexts API.

A stream opens one Cartesia *context* per segment: every piece of pushed text is sent on the
segment's ``context_id`` with ``continue: true`` (prosody carries across pieces), and the flush
sends an empty transcript with ``continue: false``. Audio arrives as base64 ``chunk`` messages,
word timings as ``timestamps`` messages (turned into timed transcripts), and ``done`` closes the
context. Sockets are pooled and reused by the next stream when a stream ended cleanly.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from voxlane.agents import tts
from voxlane.agents._exceptions import (
    APIError,
    APIStatusError,
    APITimeoutError,
)
from voxlane.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from voxlane.agents.utils.misc import shortuuid
from voxlane.agents.utils.pcm import PcmResampler, pick_sample_rate
from voxlane.agents.utils.provider import LazyHTTPSession, WebSocket, http_url, ws_url
from voxlane.agents.utils.speech_transport import (
    receive_json,
    run_duplex,
    stream_pcm_response,
)
from voxlane.agents.utils.ws_pool import WSPool

from ._utils import API, DEFAULT_BASE_URL, auth_headers

logger = logging.getLogger("voxlane.plugins.cartesia")

DEFAULT_TTS_MODEL = "sonic-2"
DEFAULT_VOICE = "f786b574-daa5-4673-aa0c-cbe3e8534c02"
PROVIDER_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


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


class TTS(tts.TTS):
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
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=word_timestamps),
            sample_rate=sample_rate,
            num_channels=1,
        )
        if not model or not voice:
            raise ValueError("Cartesia needs a model (e.g. 'sonic-2') and a voice id")
        if speed is not None and not 0.25 <= speed <= 4.0:
            raise ValueError(f"speed must be between 0.25 and 4.0, got {speed}")
        self._opts = TTSOptions(
            model=model,
            voice=voice,
            language=language,
            sample_rate=sample_rate,
            provider_rate=provider_rate_for(sample_rate),
            word_timestamps=word_timestamps,
            speed=speed,
        )
        self._api_key = API.resolve_api_key(api_key)
        self._base_url = API.check_base_url(base_url)
        self._http_session = LazyHTTPSession(http_session)
        self._pool = WSPool(self._connect_ws)

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "cartesia"

    @property
    def voice(self) -> str:
        return self._opts.voice

    @property
    def pool(self) -> WSPool:
        return self._pool

    async def _connect_ws(self, timeout: float) -> WebSocket:
        url = ws_url(self._base_url, "/tts/websocket")
        return await API.open_websocket(
            self._http_session.get(),
            url,
            auth_headers(self._api_key),
            timeout,
            "TTS websocket connect",
        )

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return ChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return SynthesizeStream(tts=self, conn_options=conn_options)

    async def aclose(self) -> None:
        await self._pool.aclose()
        await self._http_session.aclose()


class ChunkedStream(tts.ChunkedStream):
    """One ``POST /tts/bytes`` request; raw PCM is pushed as it streams in."""

    def __init__(self, *, tts: TTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._ct = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        opts = self._ct._opts
        await stream_pcm_response(
            API,
            self._ct._http_session.get(),
            http_url(self._ct._base_url, "/tts/bytes"),
            emitter=output_emitter,
            json_body=opts.request(self._input_text),
            headers=auth_headers(self._ct._api_key),
            timeout=self._conn_options.timeout,
            what="TTS",
            provider_rate=opts.provider_rate,
            sample_rate=opts.sample_rate,
            request_id_prefix="ct_",
        )


@dataclass
class _Context:
    context_id: str
    # no more text will come (the flush, continue: false, was sent, or the sender stopped): from
    # then on a silent socket is a stall; before, the text may still be on its way (a slow LLM)
    ended: bool = False
    backlog: deque[dict[str, Any]] = field(default_factory=deque)


class SynthesizeStream(tts.SynthesizeStream):
    """Streaming synthesis over a pooled Cartesia websocket, one context per segment."""

    def __init__(self, *, tts: TTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._ct = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        opts = self._ct._opts
        output_emitter.initialize(
            request_id=shortuuid("ct_"),
            sample_rate=opts.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            stream=True,
        )
        timeout = self._conn_options.timeout
        contexts: asyncio.Queue[_Context | None] = asyncio.Queue()
        by_id: dict[str, _Context] = {}
        try:
            async with self._ct._pool.connection(timeout) as ws:
                await run_duplex(
                    lambda: self._send(ws, opts, contexts, by_id),
                    lambda: self._receive(ws, opts, contexts, by_id, output_emitter, timeout),
                    name="cartesia-tts-send",
                )
        except APIError:
            raise
        except Exception as e:
            raise API.map_error(e, "TTS websocket", timeout) from e

    async def _send(
        self,
        ws: WebSocket,
        opts: TTSOptions,
        contexts: asyncio.Queue[_Context | None],
        by_id: dict[str, _Context],
    ) -> None:
        current: _Context | None = None

        async def send(ctx: _Context, transcript: str, more: bool) -> None:
            body = opts.request(transcript)
            body.update(
                {
                    "context_id": ctx.context_id,
                    "continue": more,
                    "add_timestamps": opts.word_timestamps,
                }
            )
            await ws.send_str(json.dumps(body))

        try:
            async for item in self._input_ch:
                if isinstance(item, str):
                    if current is None:
                        current = _Context(context_id=shortuuid("ctx_"))
                        by_id[current.context_id] = current
                        contexts.put_nowait(current)
                    await send(current, item, True)
                elif current is not None:
                    current.ended = True
                    await send(current, "", False)
                    current = None
            if current is not None:
                current.ended = True
                await send(current, "", False)
            contexts.put_nowait(None)
        finally:
            if current is not None:
                current.ended = True

    async def _receive(
        self,
        ws: WebSocket,
        opts: TTSOptions,
        contexts: asyncio.Queue[_Context | None],
        by_id: dict[str, _Context],
        emitter: tts.AudioEmitter,
        timeout: float,
    ) -> None:
        while True:
            ctx = await contexts.get()
            if ctx is None:
                return
            emitter.start_segment(segment_id=ctx.context_id)
            resampler = PcmResampler(opts.provider_rate, opts.sample_rate)
            while True:
                data = ctx.backlog.popleft() if ctx.backlog else None
                if data is None:
                    try:
                        data = await self._next_message(ws, timeout)
                    except APITimeoutError:
                        if not ctx.ended:
                            continue  # the text is still coming: nothing is owed yet
                        raise
                    if data is None:
                        continue
                    owner = by_id.get(str(data.get("context_id")))
                    if owner is not None and owner is not ctx:
                        owner.backlog.append(data)  # a later segment's audio: keep it in order
                        continue
                if self._handle(data, ctx, emitter, resampler):
                    by_id.pop(ctx.context_id, None)
                    break

    async def _next_message(self, ws: WebSocket, timeout: float) -> dict[str, Any] | None:
        return await receive_json(ws, timeout, provider="Cartesia", what="TTS", logger=logger)

    def _handle(
        self,
        data: dict[str, Any],
        ctx: _Context,
        emitter: tts.AudioEmitter,
        resampler: PcmResampler,
    ) -> bool:
        """Apply one message of ``ctx``; True when the context is done."""
        kind = data.get("type")
        if kind == "chunk":
            try:
                audio = base64.b64decode(data.get("data") or "", validate=True)
            except (binascii.Error, ValueError):
                logger.warning("cartesia: ignoring a chunk with invalid base64 audio")
                return False
            emitter.push(resampler.push(audio))
        elif kind == "timestamps":
            ts = data.get("word_timestamps")
            if isinstance(ts, dict):
                words, starts, ends = ts.get("words"), ts.get("start"), ts.get("end")
                if (
                    isinstance(words, list)
                    and isinstance(starts, list)
                    and isinstance(ends, list)
                    and len(words) == len(starts) == len(ends)
                ):
                    emitter.push_timed_transcript(
                        [
                            tts.TimedString(f"{w} ", start_time=float(s), end_time=float(e))
                            for w, s, e in zip(words, starts, ends, strict=True)
                        ]
                    )
        elif kind == "done":
            emitter.push(resampler.flush())
            emitter.end_segment()
            return True
        elif kind == "error":
            status = data.get("status_code")
            detail = data.get("message") or data.get("error") or data.get("title") or "error"
            raise APIStatusError(
                f"Cartesia TTS error: {detail}",
                status_code=status if isinstance(status, int) else 500,
                body=data,
            )
        elif kind not in ("flush_done", "phoneme_timestamps"):
            logger.debug("cartesia: ignoring TTS message of type %r", kind)
        return False


__all__ = [
    "DEFAULT_TTS_MODEL",
    "DEFAULT_VOICE",
    "PROVIDER_SAMPLE_RATES",
    "TTS",
    "ChunkedStream",
    "SynthesizeStream",
    "provider_rate_for",
]
