"""Cartesia speech-to-text (Ink): streaming over ``/stt/websocket`` and batch ``POST /stt``.

The stream sends 16-bit PCM in 50 ms binary frames, ``finalize`` on ``flush()`` and ``close`` at
the end. ``transcript`` messages (``is_final`` false/true) become INTERIM/FINAL transcripts; the
first words of an utterance send START_OF_SPEECH and its final transcript END_OF_SPEECH (Ink has
no separate speech events). Audio that no final transcript covers yet is sent again after a
reconnect, so nothing is lost or repeated and timestamps stay on the stream's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from livekit import rtc

from voxlane.agents import stt
from voxlane.agents._exceptions import APIConnectionError, APIStatusError, APITimeoutError
from voxlane.agents.tts import TimedString
from voxlane.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
    is_given,
)
from voxlane.agents.utils.audio import AudioBuffer, AudioByteStream, merge_frames
from voxlane.agents.utils.pcm import mono_pcm, wav_bytes
from voxlane.agents.utils.provider import LazyHTTPSession, WebSocket, http_url, ws_url

from ._utils import API, DEFAULT_BASE_URL, auth_headers

logger = logging.getLogger("voxlane.plugins.cartesia")

DEFAULT_STT_MODEL = "ink-whisper"
STT_MODELS = ("ink-whisper", "ink-2")
_CHUNK_MS = 50
_USAGE_EVERY = 5.0
_MAX_REPLAY = 30.0
_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


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
        self._api_key = API.resolve_api_key(api_key)
        self._base_url = API.check_base_url(base_url)
        self._http_session = LazyHTTPSession(http_session)

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
        try:
            async with self._http_session.get().post(
                http_url(self._base_url, "/stt"),
                data=form,
                headers=auth_headers(self._api_key),
                timeout=aiohttp.ClientTimeout(total=conn_options.timeout),
            ) as resp:
                await API.raise_for_response(resp, "recognize")
                data = await resp.json(content_type=None)
        except Exception as e:
            raise API.map_error(e, "recognize", conn_options.timeout) from e
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
                    start_time=_num(words[0].start_time) if words else 0.0,
                    end_time=_num(words[-1].end_time) if words else 0.0,
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
        await self._http_session.aclose()


def _num(value: NotGivenOr[float]) -> float:
    return float(value) if is_given(value) else 0.0


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


class SpeechStream(stt.RecognizeStream):
    """A streaming transcription over one Cartesia websocket (reconnected on failure)."""

    def __init__(self, *, stt: STT, opts: STTOptions, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=stt, conn_options=conn_options, sample_rate=opts.sample_rate)
        self._ct = stt
        self._opts = opts
        self._bps = opts.sample_rate * 2
        self._speaking = False
        self._request_id = ""
        self._replay = bytearray()
        self._replay_start = 0.0
        self._origin = 0.0
        self._pending_usage = 0.0
        self._last_audio_sent = 0.0
        self._last_message = 0.0

    def _send_event(self, ev: stt.SpeechEvent) -> None:
        with contextlib.suppress(Exception):
            self._event_ch.send_nowait(ev)

    def _flush_usage(self) -> None:
        if self._pending_usage > 0:
            self._send_event(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.RECOGNITION_USAGE,
                    request_id=self._request_id,
                    recognition_usage=stt.RecognitionUsage(audio_duration=self._pending_usage),
                )
            )
            self._pending_usage = 0.0

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

    async def _run(self) -> None:
        self._replay_start = self.start_time_offset - len(self._replay) / self._bps
        url = ws_url(self._ct._base_url, "/stt/websocket", self._opts.live_params())
        ws = await API.open_websocket(
            self._ct._http_session.get(),
            url,
            auth_headers(self._ct._api_key),
            self._conn_options.timeout,
            "STT websocket connect",
        )
        self._origin = self._replay_start
        closing = asyncio.Event()
        send = asyncio.create_task(self._send_task(ws, closing), name="cartesia-stt-send")
        recv = asyncio.create_task(self._recv_task(ws, closing), name="cartesia-stt-recv")
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

    async def _send_audio(self, ws: WebSocket, data: bytes) -> None:
        await ws.send_bytes(data)
        self._pending_usage += len(data) / self._bps
        self._last_audio_sent = asyncio.get_running_loop().time()
        if self._pending_usage >= _USAGE_EVERY:
            self._flush_usage()

    async def _send_task(self, ws: WebSocket, closing: asyncio.Event) -> None:
        sr = self._opts.sample_rate
        try:
            step = sr * 2 * _CHUNK_MS // 1000
            replay = bytes(self._replay)
            for i in range(0, len(replay), step):
                await self._send_audio(ws, replay[i : i + step])
            chunker = AudioByteStream(sr, 1, samples_per_channel=sr * _CHUNK_MS // 1000)
            async for item in self._input_ch:
                if isinstance(item, rtc.AudioFrame):
                    data = mono_pcm(item)
                    self._keep(data)
                    for chunk in chunker.push(data):
                        await self._send_audio(ws, bytes(chunk.data.cast("B")))
                else:
                    for chunk in chunker.flush():
                        await self._send_audio(ws, bytes(chunk.data.cast("B")))
                    await ws.send_str("finalize")
            for chunk in chunker.flush():
                await self._send_audio(ws, bytes(chunk.data.cast("B")))
            closing.set()
            await ws.send_str("close")
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as e:
            raise APIConnectionError(f"Cartesia STT: sending failed: {e}") from e

    async def _recv_task(self, ws: WebSocket, closing: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        timeout = self._conn_options.timeout
        self._last_message = loop.time()
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout)
            except asyncio.TimeoutError:
                if closing.is_set() or self._last_audio_sent > self._last_message:
                    raise APITimeoutError(f"Cartesia STT: no answer for {timeout} s") from None
                continue
            self._last_message = loop.time()
            if msg.type in _CLOSED or msg.type == aiohttp.WSMsgType.ERROR:
                if closing.is_set() and ws.close_code == 1000:
                    return  # closed normally after "close"
                raise APIConnectionError(
                    f"Cartesia closed the STT websocket unexpectedly (code {ws.close_code})"
                )
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except ValueError:
                logger.warning("cartesia: ignoring a malformed STT message: %.80r", msg.data)
                continue
            kind = data.get("type")
            if isinstance(data.get("request_id"), str):
                self._request_id = data["request_id"]
            if kind == "transcript":
                self._on_transcript(data)
            elif kind == "done":
                return
            elif kind == "error":
                status = data.get("status_code")
                raise APIStatusError(
                    f"Cartesia STT error: {data.get('message') or data.get('title') or 'error'}",
                    status_code=status if isinstance(status, int) else 500,
                    request_id=self._request_id or None,
                    body=data,
                )
            elif kind != "flush_done":
                logger.debug("cartesia: ignoring STT message of type %r", kind)

    def _on_transcript(self, data: dict[str, Any]) -> None:
        text = data.get("text")
        if not isinstance(text, str):
            logger.warning("cartesia: ignoring a transcript message without text")
            return
        is_final = bool(data.get("is_final"))
        words = _timed_words(data.get("words"), self._origin)
        if is_final and words:
            self._trim_replay(_num(words[-1].end_time))
        if not text.strip():
            return
        start = _num(words[0].start_time) if words else self._origin
        end = _num(words[-1].end_time) if words else start
        speech = stt.SpeechData(
            language=str(data.get("language") or self._opts.language),
            text=text.strip(),
            start_time=start,
            end_time=end,
            words=words,
        )
        if not self._speaking:
            self._speaking = True
            self._send_event(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.START_OF_SPEECH,
                    request_id=self._request_id,
                    speech_start_time=start,
                )
            )
        self._send_event(
            stt.SpeechEvent(
                type=stt.SpeechEventType.FINAL_TRANSCRIPT
                if is_final
                else stt.SpeechEventType.INTERIM_TRANSCRIPT,
                request_id=self._request_id,
                alternatives=[speech],
            )
        )
        if is_final:
            self._speaking = False
            self._send_event(
                stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH, request_id=self._request_id)
            )


__all__ = ["DEFAULT_STT_MODEL", "STT", "STT_MODELS", "STTOptions", "SpeechStream"]
