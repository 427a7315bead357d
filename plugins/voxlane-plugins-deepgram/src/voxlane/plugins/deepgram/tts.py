"""Deepgram text-to-speech (Aura): REST ``/v1/speak`` and the ``/v1/speak`` websocket.

The websocket takes ``Speak`` messages, synthesizes the buffered text on ``Flush`` and answers
with binary linear16 audio followed by ``Flushed``; one flush per segment. Sockets are pooled and
reused by the next stream when a stream ended cleanly.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import aiohttp

from voxlane.agents import tts
from voxlane.agents._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
)
from voxlane.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from voxlane.agents.utils.misc import shortuuid
from voxlane.agents.utils.pcm import PcmResampler, pick_sample_rate
from voxlane.agents.utils.provider import LazyHTTPSession, WebSocket, http_url, ws_url
from voxlane.agents.utils.speech_transport import run_duplex, stream_pcm_response
from voxlane.agents.utils.ws_pool import WSPool

from ._utils import API, DEFAULT_BASE_URL, auth_headers

logger = logging.getLogger("voxlane.plugins.deepgram")

DEFAULT_TTS_MODEL = "aura-2-andromeda-en"
PROVIDER_SAMPLE_RATES = (8000, 16000, 24000, 32000, 48000)


def provider_rate_for(sample_rate: int) -> int:
    """The linear16 rate to ask Deepgram for: the requested one if offered, else the next above."""
    return pick_sample_rate(sample_rate, PROVIDER_SAMPLE_RATES)


@dataclass
class _Segment:
    segment_id: str
    # no more text will come (its Flush was sent, or the sender stopped): from then on a silent
    # socket is a stall; before, the text may still be on its way (a slow LLM)
    text_done: bool = False


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


class TTS(tts.TTS):
    """Deepgram Aura text-to-speech (``"deepgram/aura-2-andromeda-en"``).

    Args:
        model: the Aura model and voice, e.g. ``"aura-2-andromeda-en"``.
        sample_rate: output rate; Deepgram offers 8, 16, 24, 32 and 48 kHz and other rates are
            resampled locally.
        api_key: defaults to ``$DEEPGRAM_API_KEY``.
        base_url: the API root (``https://api.deepgram.com/v1``).
        http_session: an ``aiohttp.ClientSession`` to share; one is created otherwise.
    """

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
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=False),
            sample_rate=sample_rate,
            num_channels=1,
        )
        if not model or not isinstance(model, str):
            raise ValueError(f"model must name a Deepgram Aura voice, got {model!r}")
        self._opts = TTSOptions(
            model=model,
            sample_rate=sample_rate,
            provider_rate=provider_rate_for(sample_rate),
            mip_opt_out=mip_opt_out,
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
        return "deepgram"

    @property
    def pool(self) -> WSPool:
        """The websocket pool (reused connections)."""
        return self._pool

    async def _connect_ws(self, timeout: float) -> WebSocket:
        url = ws_url(self._base_url, "/speak", self._opts.params())
        return await API.open_websocket(
            self._http_session.get(),
            url,
            auth_headers(self._api_key),
            timeout,
            "speak websocket connect",
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
    """One REST ``/v1/speak`` request; audio is pushed as it streams in."""

    def __init__(self, *, tts: TTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._dg = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        opts = self._dg._opts
        url = http_url(self._dg._base_url, "/speak", {**opts.params(), "container": "none"})
        await stream_pcm_response(
            API,
            self._dg._http_session.get(),
            url,
            emitter=output_emitter,
            json_body={"text": self._input_text},
            headers=auth_headers(self._dg._api_key),
            timeout=self._conn_options.timeout,
            what="speak",
            provider_rate=opts.provider_rate,
            sample_rate=opts.sample_rate,
            request_id_prefix="dg_",
        )


class SynthesizeStream(tts.SynthesizeStream):
    """Streaming synthesis over a pooled ``/v1/speak`` websocket: one ``Flush`` per segment."""

    def __init__(self, *, tts: TTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._dg = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        opts = self._dg._opts
        request_id = shortuuid("dg_")
        output_emitter.initialize(
            request_id=request_id,
            sample_rate=opts.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            stream=True,
        )
        timeout = self._conn_options.timeout
        # segments whose text was sent, in order; None once the input ended
        segments: asyncio.Queue[_Segment | None] = asyncio.Queue()
        try:
            async with self._dg._pool.connection(timeout) as ws:
                await run_duplex(
                    lambda: self._send(ws, segments),
                    lambda: self._receive(ws, segments, output_emitter, opts, timeout),
                    name="deepgram-tts-send",
                )
        except APIError:
            raise
        except Exception as e:
            raise API.map_error(e, "speak websocket", timeout) from e

    async def _send(self, ws: WebSocket, segments: asyncio.Queue[_Segment | None]) -> None:
        current: _Segment | None = None

        async def flush(segment: _Segment) -> None:
            await ws.send_str(json.dumps({"type": "Flush"}))
            segment.text_done = True

        try:
            async for item in self._input_ch:
                if isinstance(item, str):
                    if current is None:
                        current = _Segment(shortuuid("seg_"))
                        segments.put_nowait(current)
                    await ws.send_str(json.dumps({"type": "Speak", "text": item}))
                elif current is not None:
                    await flush(current)
                    current = None
            if current is not None:
                await flush(current)
            segments.put_nowait(None)
        finally:
            if current is not None:
                current.text_done = True

    async def _receive(
        self,
        ws: WebSocket,
        segments: asyncio.Queue[_Segment | None],
        emitter: tts.AudioEmitter,
        opts: TTSOptions,
        timeout: float,
    ) -> None:
        while True:
            segment = await segments.get()
            if segment is None:
                return
            emitter.start_segment(segment_id=segment.segment_id)
            resampler = PcmResampler(opts.provider_rate, opts.sample_rate)
            while True:
                try:
                    msg = await asyncio.wait_for(ws.receive(), timeout)
                except asyncio.TimeoutError:
                    if not segment.text_done:
                        continue  # the text is still coming (a slow LLM): nothing is owed yet
                    raise APITimeoutError(
                        f"Deepgram speak: no audio for {timeout} s after the segment was flushed"
                    ) from None
                if msg.type == aiohttp.WSMsgType.BINARY:
                    emitter.push(resampler.push(msg.data))
                    continue
                if msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    raise APIConnectionError(
                        f"Deepgram closed the speak websocket mid-segment (code {ws.close_code})"
                    )
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                    kind = data.get("type") if isinstance(data, dict) else None
                except ValueError:
                    logger.warning("deepgram: ignoring a malformed speak message: %.80r", msg.data)
                    continue
                if kind == "Flushed":
                    emitter.push(resampler.flush())
                    emitter.end_segment()
                    break
                if kind == "Warning":
                    logger.warning("deepgram speak warning: %s", data.get("description"))
                elif kind == "Error":
                    detail = data.get("err_msg") or data.get("description") or "unknown error"
                    raise APIStatusError(
                        f"Deepgram speak error: {detail}", status_code=500, body=data
                    )
                elif kind not in ("Metadata", "Cleared"):
                    logger.debug("deepgram: ignoring speak message of type %r", kind)


__all__ = [
    "DEFAULT_TTS_MODEL",
    "PROVIDER_SAMPLE_RATES",
    "TTS",
    "ChunkedStream",
    "SynthesizeStream",
    "provider_rate_for",
]
