"""ElevenLabs text-to-speech: the multi-context input-streaming websocket and REST streaming.

A stream uses ``/v1/text-to-speech/{voice}/multi-stream-input`` with one context per segment:
the context opens with ``{"text": " ", "context_id", "voice_settings", "generation_config"}``,
every pushed piece of text follows as it arrives, and ``flush()`` sends ``flush: true`` then
``close_context: true``. Audio comes back base64-encoded with per-character ``alignment`` (times
relative to each chunk), turned into word-level timed transcripts; ``isFinal`` ends the segment.
Sockets are pooled and reused by the next stream when a stream ended cleanly.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections import deque
from dataclasses import asdict, dataclass, field
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

logger = logging.getLogger("voxlane.plugins.elevenlabs")

DEFAULT_TTS_MODEL = "eleven_flash_v2_5"
DEFAULT_VOICE = "EXAVITQu4vr4xnSDxMaL"
PROVIDER_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


def provider_rate_for(sample_rate: int) -> int:
    """The ``pcm_<rate>`` format to ask for: the requested rate if offered, else the next above."""
    return pick_sample_rate(sample_rate, PROVIDER_SAMPLE_RATES)


@dataclass
class VoiceSettings:
    """ElevenLabs voice settings (each between 0 and 1, ``speed`` between 0.7 and 1.2)."""

    stability: float = 0.5
    similarity_boost: float = 0.75
    style: float = 0.0
    use_speaker_boost: bool = True
    speed: float = 1.0

    def __post_init__(self) -> None:
        for name in ("stability", "similarity_boost", "style"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"voice_settings.{name} must be between 0 and 1, got {value}")
        if not 0.7 <= self.speed <= 1.2:
            raise ValueError(f"voice_settings.speed must be between 0.7 and 1.2, got {self.speed}")


@dataclass
class TTSOptions:
    model: str
    voice: str
    sample_rate: int
    provider_rate: int
    voice_settings: VoiceSettings | None
    language: str | None = None
    chunk_length_schedule: list[int] = field(default_factory=lambda: [80, 120, 200, 260])

    @property
    def output_format(self) -> str:
        return f"pcm_{self.provider_rate}"


class TTS(tts.TTS):
    """ElevenLabs text-to-speech (``"elevenlabs/<model>:<voice>"``).

    Args:
        model: e.g. ``"eleven_flash_v2_5"`` (default), ``"eleven_multilingual_v2"``.
        voice: the voice id.
        voice_settings: stability, similarity boost, style, speaker boost, speed.
        language: ISO 639-1 code for models that take one.
        sample_rate: output rate; ElevenLabs offers PCM at 8, 16, 22.05, 24, 44.1 and 48 kHz,
            other rates are resampled locally.
        api_key: defaults to ``$ELEVEN_API_KEY`` (or ``$ELEVENLABS_API_KEY``).
        base_url: the API root (``https://api.elevenlabs.io/v1``); the websocket URL derives
            from it (``ws://`` stays ``ws://``).
        http_session: an ``aiohttp.ClientSession`` to share; one is created otherwise.
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_TTS_MODEL,
        voice: str = DEFAULT_VOICE,
        voice_settings: VoiceSettings | None = None,
        language: str | None = None,
        sample_rate: int = 24000,
        chunk_length_schedule: list[int] | None = None,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=True),
            sample_rate=sample_rate,
            num_channels=1,
        )
        if not model or not voice:
            raise ValueError("ElevenLabs needs a model (e.g. 'eleven_flash_v2_5') and a voice id")
        schedule = list(chunk_length_schedule or [80, 120, 200, 260])
        if any(not 50 <= n <= 500 for n in schedule):
            raise ValueError(f"chunk_length_schedule values must be 50..500, got {schedule}")
        self._opts = TTSOptions(
            model=model,
            voice=voice,
            sample_rate=sample_rate,
            provider_rate=provider_rate_for(sample_rate),
            voice_settings=voice_settings,
            language=language,
            chunk_length_schedule=schedule,
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
        return "elevenlabs"

    @property
    def voice(self) -> str:
        return self._opts.voice

    @property
    def pool(self) -> WSPool:
        return self._pool

    async def _connect_ws(self, timeout: float) -> WebSocket:
        params: dict[str, Any] = {
            "model_id": self._opts.model,
            "output_format": self._opts.output_format,
            "sync_alignment": True,
            "language_code": self._opts.language,
        }
        url = ws_url(
            self._base_url, f"/text-to-speech/{self._opts.voice}/multi-stream-input", params
        )
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
    """One ``POST /v1/text-to-speech/{voice}/stream`` request (raw PCM streamed back)."""

    def __init__(self, *, tts: TTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._el = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        opts = self._el._opts
        body: dict[str, Any] = {"text": self._input_text, "model_id": opts.model}
        if opts.voice_settings is not None:
            body["voice_settings"] = asdict(opts.voice_settings)
        if opts.language:
            body["language_code"] = opts.language
        url = http_url(
            self._el._base_url,
            f"/text-to-speech/{opts.voice}/stream",
            {"output_format": opts.output_format},
        )
        await stream_pcm_response(
            API,
            self._el._http_session.get(),
            url,
            emitter=output_emitter,
            json_body=body,
            headers=auth_headers(self._el._api_key),
            timeout=self._conn_options.timeout,
            what="TTS",
            provider_rate=opts.provider_rate,
            sample_rate=opts.sample_rate,
            request_id_prefix="el_",
        )


@dataclass
class _Context:
    context_id: str
    backlog: deque[dict[str, Any]] = field(default_factory=deque)
    # no more text will come (flushed and closed, or the sender stopped): from then on a silent
    # socket is a stall; before, the text may still be on its way (a slow LLM)
    ended: bool = False


class _WordAligner:
    """Turns per-chunk character alignment into words timed from the segment's start."""

    def __init__(self) -> None:
        self._word = ""
        self._start = 0.0
        self._end = 0.0

    def feed(self, alignment: object, offset: float) -> list[tts.TimedString]:
        out: list[tts.TimedString] = []
        if not isinstance(alignment, dict):
            return out
        chars = alignment.get("chars")
        starts = alignment.get("charStartTimesMs")
        durations = alignment.get("charDurationsMs")
        if not (
            isinstance(chars, list)
            and isinstance(starts, list)
            and isinstance(durations, list)
            and len(chars) == len(starts) == len(durations)
        ):
            return out
        for ch, start_ms, dur_ms in zip(chars, starts, durations, strict=True):
            start = offset + float(start_ms) / 1000
            end = start + float(dur_ms) / 1000
            if str(ch).isspace():
                out.extend(self.flush())
                continue
            if not self._word:
                self._start = start
            self._word += str(ch)
            self._end = end
        return out

    def flush(self) -> list[tts.TimedString]:
        if not self._word:
            return []
        word = tts.TimedString(f"{self._word} ", start_time=self._start, end_time=self._end)
        self._word = ""
        return [word]


class SynthesizeStream(tts.SynthesizeStream):
    """Input streaming over a pooled multi-context websocket, one context per segment."""

    def __init__(self, *, tts: TTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._el = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        opts = self._el._opts
        output_emitter.initialize(
            request_id=shortuuid("el_"),
            sample_rate=opts.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            stream=True,
        )
        timeout = self._conn_options.timeout
        contexts: asyncio.Queue[_Context | None] = asyncio.Queue()
        by_id: dict[str, _Context] = {}
        try:
            async with self._el._pool.connection(timeout) as ws:
                await run_duplex(
                    lambda: self._send(ws, opts, contexts, by_id),
                    lambda: self._receive(ws, opts, contexts, by_id, output_emitter, timeout),
                    name="elevenlabs-tts-send",
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

        async def close(ctx: _Context) -> None:
            ctx.ended = True
            await ws.send_str(json.dumps({"text": "", "context_id": ctx.context_id, "flush": True}))
            await ws.send_str(json.dumps({"context_id": ctx.context_id, "close_context": True}))

        try:
            async for item in self._input_ch:
                if isinstance(item, str):
                    if current is None:
                        current = _Context(context_id=shortuuid("ctx_"))
                        by_id[current.context_id] = current
                        contexts.put_nowait(current)
                        first: dict[str, Any] = {
                            "text": " ",
                            "context_id": current.context_id,
                            "generation_config": {
                                "chunk_length_schedule": opts.chunk_length_schedule
                            },
                        }
                        if opts.voice_settings is not None:
                            first["voice_settings"] = asdict(opts.voice_settings)
                        await ws.send_str(json.dumps(first))
                    await ws.send_str(json.dumps({"text": item, "context_id": current.context_id}))
                elif current is not None:
                    await close(current)
                    current = None
            if current is not None:
                await close(current)
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
            aligner = _WordAligner()
            pushed = 0.0  # seconds of this context's audio so far (alignment is per chunk)
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
                    owner = by_id.get(str(data.get("contextId") or data.get("context_id")))
                    if owner is not None and owner is not ctx:
                        owner.backlog.append(data)
                        continue
                if "error" in data and not data.get("audio"):
                    code = data.get("code")
                    raise APIStatusError(
                        f"ElevenLabs TTS error: {data.get('message') or data.get('error')}",
                        status_code=code if isinstance(code, int) and code >= 400 else 500,
                        body=data,
                    )
                audio_b64 = data.get("audio")
                if isinstance(audio_b64, str) and audio_b64:
                    try:
                        audio = base64.b64decode(audio_b64, validate=True)
                    except (binascii.Error, ValueError):
                        logger.warning("elevenlabs: ignoring a chunk with invalid base64 audio")
                        audio = b""
                    words = aligner.feed(data.get("alignment"), pushed)
                    if words:
                        emitter.push_timed_transcript(words)
                    emitter.push(resampler.push(audio))
                    pushed += len(audio) / 2 / opts.provider_rate
                if data.get("isFinal"):
                    rest = aligner.flush()
                    if rest:
                        emitter.push_timed_transcript(rest)
                    emitter.push(resampler.flush())
                    emitter.end_segment()
                    by_id.pop(ctx.context_id, None)
                    break

    async def _next_message(self, ws: WebSocket, timeout: float) -> dict[str, Any] | None:
        return await receive_json(
            ws,
            timeout,
            provider="ElevenLabs",
            what="TTS",
            logger=logger,
            policy_violation_is_status=True,
        )


__all__ = [
    "DEFAULT_TTS_MODEL",
    "DEFAULT_VOICE",
    "PROVIDER_SAMPLE_RATES",
    "TTS",
    "ChunkedStream",
    "SynthesizeStream",
    "TTSOptions",
    "VoiceSettings",
    "provider_rate_for",
]
