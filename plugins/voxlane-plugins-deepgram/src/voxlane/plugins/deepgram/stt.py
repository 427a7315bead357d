"""Deepgram speech-to-text: live streaming over ``/v1/listen`` (websocket) and REST recognize.

Streaming sends 16-bit PCM in 50 ms chunks and maps Deepgram's messages to speech events:
``SpeechStarted`` (and the first words) -> START_OF_SPEECH, ``Results`` -> INTERIM/FINAL
transcripts, ``speech_final`` or ``UtteranceEnd`` -> END_OF_SPEECH. Audio not yet covered by a
final result is kept and sent again after a reconnect, so a dropped socket loses no words and,
because finals are only emitted once per stretch of audio, duplicates none; timestamps stay
monotonic across reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import weakref
from dataclasses import dataclass, field
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

logger = logging.getLogger("voxlane.plugins.deepgram")

STT_MODELS = (
    "nova-3",
    "nova-3-general",
    "nova-3-medical",
    "nova-2",
    "nova-2-general",
    "nova-2-meeting",
    "nova-2-phonecall",
    "nova-2-conversationalai",
    "nova-2-medical",
    "enhanced",
    "base",
)
DEFAULT_STT_MODEL = "nova-3"

_CHUNK_MS = 50
_USAGE_EVERY = 5.0  # seconds of audio between RECOGNITION_USAGE events
_MAX_REPLAY = 30.0  # seconds of unacknowledged audio kept for a reconnect
_CLOSED_TYPES = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


@dataclass
class STTOptions:
    """Query options of a Deepgram transcription request."""

    model: str
    language: str | None
    interim_results: bool
    punctuate: bool
    smart_format: bool
    filler_words: bool
    profanity_filter: bool
    numerals: bool
    endpointing_ms: int
    utterance_end_ms: int | None
    vad_events: bool
    keyterms: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    sample_rate: int = 16000
    mip_opt_out: bool = False

    def keyterm_params(self) -> dict[str, Any]:
        if not self.keyterms:
            return {}
        # nova-3 takes `keyterm`; older models boost `keywords`
        if self.model.startswith("nova-3"):
            return {"keyterm": list(self.keyterms)}
        return {"keywords": [f"{k}:1.5" for k in self.keyterms]}

    def live_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "encoding": "linear16",
            "sample_rate": self.sample_rate,
            "channels": 1,
            "interim_results": self.interim_results,
            "punctuate": self.punctuate,
            "smart_format": self.smart_format,
            "filler_words": self.filler_words,
            "profanity_filter": self.profanity_filter,
            "numerals": self.numerals,
            "vad_events": self.vad_events,
            "endpointing": self.endpointing_ms if self.endpointing_ms > 0 else False,
            "mip_opt_out": self.mip_opt_out,
            "language": self.language,
            "tag": self.tags or None,
        }
        if self.utterance_end_ms is not None:
            params["utterance_end_ms"] = self.utterance_end_ms
        params.update(self.keyterm_params())
        return params

    def prerecorded_params(self, language: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "punctuate": self.punctuate,
            "smart_format": self.smart_format,
            "filler_words": self.filler_words,
            "profanity_filter": self.profanity_filter,
            "numerals": self.numerals,
            "mip_opt_out": self.mip_opt_out,
            "tag": self.tags or None,
        }
        if language:
            params["language"] = language
        else:
            params["detect_language"] = True
        params.update(self.keyterm_params())
        return params


def _check_options(opts: STTOptions) -> None:
    if opts.sample_rate not in (8000, 16000, 24000, 32000, 44100, 48000):
        raise ValueError(
            f"sample_rate {opts.sample_rate} is not one Deepgram streams at; use 8000, 16000, "
            "24000, 32000, 44100 or 48000 (audio pushed at other rates is resampled to it)"
        )
    if opts.endpointing_ms < 0:
        raise ValueError(f"endpointing_ms must be >= 0 (0 turns it off), got {opts.endpointing_ms}")
    if opts.utterance_end_ms is not None:
        if opts.utterance_end_ms < 1000:
            raise ValueError(
                "utterance_end_ms must be >= 1000 (Deepgram's minimum), "
                f"got {opts.utterance_end_ms}"
            )
        if not opts.interim_results:
            raise ValueError("utterance_end_ms needs interim_results=True (a Deepgram rule)")
    for term in opts.keyterms:
        if not isinstance(term, str) or not term.strip():
            raise ValueError(f"keyterms must be non-empty strings, got {term!r}")


class STT(stt.STT):
    """Deepgram speech-to-text (``"deepgram/nova-3"``).

    Args:
        model: a Deepgram model, ``"nova-3"`` by default.
        language: BCP-47 language (``"en-US"``, ``"multi"`` for nova-3 multilingual); ``None``
            lets ``recognize()`` detect it.
        interim_results: send partial transcripts while the user speaks.
        endpointing_ms: silence (ms) after which Deepgram marks ``speech_final``; 0 disables it.
        utterance_end_ms: gap (ms, >= 1000) after the last word that sends ``UtteranceEnd``.
        keyterms: words or phrases to boost (``keyterm`` on nova-3, ``keywords`` otherwise).
        sample_rate: the rate audio is streamed at; pushed audio is resampled to it.
        api_key: defaults to ``$DEEPGRAM_API_KEY``.
        base_url: the API root (``https://api.deepgram.com/v1``); the websocket URL derives from it.
        http_session: an ``aiohttp.ClientSession`` to share; one is created otherwise.
        keepalive_interval: seconds between ``KeepAlive`` messages on an open stream.
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_STT_MODEL,
        language: str | None = "en-US",
        interim_results: bool = True,
        punctuate: bool = True,
        smart_format: bool = False,
        filler_words: bool = True,
        profanity_filter: bool = False,
        numerals: bool = False,
        endpointing_ms: int = 25,
        utterance_end_ms: int | None = None,
        vad_events: bool = True,
        keyterms: list[str] | None = None,
        tags: list[str] | None = None,
        sample_rate: int = 16000,
        mip_opt_out: bool = False,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        http_session: aiohttp.ClientSession | None = None,
        keepalive_interval: float = 5.0,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True,
                interim_results=interim_results,
                aligned_transcript="word",
                offline_recognize=True,
                keyterms=True,
            )
        )
        if keepalive_interval <= 0:
            raise ValueError(f"keepalive_interval must be > 0 seconds, got {keepalive_interval}")
        self._opts = STTOptions(
            model=model,
            language=language,
            interim_results=interim_results,
            punctuate=punctuate,
            smart_format=smart_format,
            filler_words=filler_words,
            profanity_filter=profanity_filter,
            numerals=numerals,
            endpointing_ms=endpointing_ms,
            utterance_end_ms=utterance_end_ms,
            vad_events=vad_events,
            keyterms=list(keyterms or []),
            tags=list(tags or []),
            sample_rate=sample_rate,
            mip_opt_out=mip_opt_out,
        )
        _check_options(self._opts)
        self._api_key = API.resolve_api_key(api_key)
        self._base_url = API.check_base_url(base_url)
        self._http_session = LazyHTTPSession(http_session)
        self._keepalive_interval = keepalive_interval
        self._streams: weakref.WeakSet[SpeechStream] = weakref.WeakSet()

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "deepgram"

    @property
    def options(self) -> STTOptions:
        """A copy of the current options."""
        return dataclasses.replace(self._opts, keyterms=list(self._opts.keyterms))

    def update_options(
        self,
        *,
        model: NotGivenOr[str] = NOT_GIVEN,
        language: NotGivenOr[str | None] = NOT_GIVEN,
        keyterms: NotGivenOr[list[str]] = NOT_GIVEN,
        endpointing_ms: NotGivenOr[int] = NOT_GIVEN,
        utterance_end_ms: NotGivenOr[int | None] = NOT_GIVEN,
    ) -> None:
        """Change options; open streams reconnect with them (no audio is lost)."""
        new = dataclasses.replace(self._opts, keyterms=list(self._opts.keyterms))
        if is_given(model):
            new.model = model
        if is_given(language):
            new.language = language
        if is_given(keyterms):
            new.keyterms = list(keyterms)
        if is_given(endpointing_ms):
            new.endpointing_ms = endpointing_ms
        if is_given(utterance_end_ms):
            new.utterance_end_ms = utterance_end_ms
        _check_options(new)
        self._opts = new
        for s in list(self._streams):
            s._update_options(dataclasses.replace(new, keyterms=list(new.keyterms)))

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = merge_frames(buffer)
        lang = language if is_given(language) else self._opts.language
        url = http_url(self._base_url, "/listen", self._opts.prerecorded_params(lang))
        headers = {**auth_headers(self._api_key), "Content-Type": "audio/wav"}
        try:
            async with self._http_session.get().post(
                url,
                data=wav_bytes(frame),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=conn_options.timeout),
            ) as resp:
                await API.raise_for_response(resp, "recognize")
                data = await resp.json(content_type=None)
        except Exception as e:
            raise API.map_error(e, "recognize", conn_options.timeout) from e
        return _prerecorded_event(data, lang)

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> SpeechStream:
        opts = dataclasses.replace(self._opts, keyterms=list(self._opts.keyterms))
        if is_given(language):
            opts.language = language
        stream = SpeechStream(stt=self, opts=opts, conn_options=conn_options)
        self._streams.add(stream)
        return stream

    async def aclose(self) -> None:
        for s in list(self._streams):
            await s.aclose()
        await self._http_session.aclose()


def _prerecorded_event(data: Any, language: str | None) -> stt.SpeechEvent:
    try:
        channel = data["results"]["channels"][0]
        alt = channel["alternatives"][0]
        text = str(alt.get("transcript", ""))
    except (KeyError, IndexError, TypeError) as e:
        raise APIConnectionError(
            f"Deepgram recognize: unexpected answer without results.channels[0].alternatives: {e}"
        ) from e
    words = _timed_words(alt.get("words") or [], 0.0)
    request_id = ""
    if isinstance(data.get("metadata"), dict):
        request_id = str(data["metadata"].get("request_id", ""))
    detected = channel.get("detected_language")
    speech = stt.SpeechData(
        language=str(detected or language or ""),
        text=text,
        start_time=_time_of(words[0].start_time) if words else 0.0,
        end_time=_time_of(words[-1].end_time) if words else 0.0,
        confidence=float(alt.get("confidence", 0.0) or 0.0),
        words=words,
    )
    return stt.SpeechEvent(
        type=stt.SpeechEventType.FINAL_TRANSCRIPT, request_id=request_id, alternatives=[speech]
    )


def _time_of(value: NotGivenOr[float]) -> float:
    return float(value) if is_given(value) else 0.0


def _timed_words(words: list[Any], offset: float) -> list[TimedString]:
    out: list[TimedString] = []
    for w in words:
        if not isinstance(w, dict):
            continue
        text = w.get("punctuated_word") or w.get("word") or ""
        try:
            start = float(w.get("start", 0.0)) + offset
            end = float(w.get("end", 0.0)) + offset
        except (TypeError, ValueError):
            continue
        conf = w.get("confidence")
        out.append(
            TimedString(
                str(text),
                start_time=start,
                end_time=end,
                confidence=float(conf) if isinstance(conf, (int, float)) else NOT_GIVEN,
            )
        )
    return out


class SpeechStream(stt.RecognizeStream):
    """A live transcription over one Deepgram websocket (reconnected on failure)."""

    def __init__(self, *, stt: STT, opts: STTOptions, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=stt, conn_options=conn_options, sample_rate=opts.sample_rate)
        self._dg = stt
        self._opts = opts
        self._speaking = False
        self._request_id = ""
        self._bytes_per_second = opts.sample_rate * 2
        # audio sent (or about to be) that no final result covers yet: replayed on reconnect
        self._replay = bytearray()
        self._conn_origin_abs = 0.0  # absolute time of the connection's audio t=0
        self._replay_start_abs = 0.0
        self._pending_usage = 0.0
        self._reconnect = asyncio.Event()
        self._last_audio_sent = 0.0
        self._last_message = 0.0

    def _update_options(self, opts: STTOptions) -> None:
        self._opts = opts
        self._reconnect.set()

    # -- helpers ----------------------------------------------------------------------------

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

    def _trim_replay(self, until_abs: float) -> None:
        drop = int((until_abs - self._replay_start_abs) * self._bytes_per_second)
        drop -= drop % 2
        if drop <= 0:
            return
        drop = min(drop, len(self._replay))
        del self._replay[:drop]
        self._replay_start_abs += drop / self._bytes_per_second

    def _keep_for_replay(self, data: bytes) -> None:
        self._replay += data
        excess = len(self._replay) - int(_MAX_REPLAY * self._bytes_per_second)
        if excess > 0:
            excess += excess % 2
            del self._replay[:excess]
            self._replay_start_abs += excess / self._bytes_per_second

    # -- the attempt ------------------------------------------------------------------------

    async def _connect(self) -> WebSocket:
        url = ws_url(self._dg._base_url, "/listen", self._opts.live_params())
        return await API.open_websocket(
            self._dg._http_session.get(),
            url,
            auth_headers(self._dg._api_key),
            self._conn_options.timeout,
            "live transcription connect",
        )

    async def _run(self) -> None:
        # the base class counted every consumed frame; the replay buffer ends at that point
        self._replay_start_abs = self.start_time_offset - len(self._replay) / self._bytes_per_second
        while True:
            self._reconnect.clear()
            ws = await self._connect()
            self._conn_origin_abs = self._replay_start_abs
            closing = asyncio.Event()
            tasks = [
                asyncio.create_task(self._send_task(ws, closing), name="deepgram-stt-send"),
                asyncio.create_task(self._recv_task(ws, closing), name="deepgram-stt-recv"),
                asyncio.create_task(self._keepalive_task(ws), name="deepgram-stt-keepalive"),
            ]
            reconnect = asyncio.create_task(self._reconnect.wait(), name="deepgram-stt-reconnect")
            try:
                done, _ = await asyncio.wait(
                    [tasks[0], tasks[1], reconnect], return_when=asyncio.FIRST_COMPLETED
                )
                if reconnect in done and not tasks[1].done():
                    logger.debug("deepgram: options changed, reconnecting the live stream")
                    continue
                if tasks[0].done() and tasks[0].exception() is None and not tasks[1].done():
                    await tasks[1]  # input ended: wait for the last results
                for t in tasks[:2]:
                    exc = t.exception() if t.done() else None
                    if exc is not None:
                        raise exc
                return
            finally:
                await _cancel(*tasks, reconnect)
                with contextlib.suppress(Exception):
                    await ws.close()
                self._flush_usage()

    async def _send_task(self, ws: WebSocket, closing: asyncio.Event) -> None:
        sr = self._opts.sample_rate
        try:
            if self._replay:
                replay = bytes(self._replay)
                step = sr * 2 * _CHUNK_MS // 1000
                for i in range(0, len(replay), step):
                    await self._send_audio(ws, replay[i : i + step])
            chunker = AudioByteStream(sr, 1, samples_per_channel=sr * _CHUNK_MS // 1000)
            async for item in self._input_ch:
                if isinstance(item, rtc.AudioFrame):
                    data = mono_pcm(item)
                    self._keep_for_replay(data)
                    for chunk in chunker.push(data):
                        await self._send_audio(ws, bytes(chunk.data.cast("B")))
                else:
                    for chunk in chunker.flush():
                        await self._send_audio(ws, bytes(chunk.data.cast("B")))
                    await ws.send_str(json.dumps({"type": "Finalize"}))
            for chunk in chunker.flush():
                await self._send_audio(ws, bytes(chunk.data.cast("B")))
            closing.set()
            await ws.send_str(json.dumps({"type": "CloseStream"}))
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as e:
            raise APIConnectionError(f"Deepgram live transcription: sending failed: {e}") from e

    async def _send_audio(self, ws: WebSocket, data: bytes) -> None:
        await ws.send_bytes(data)
        seconds = len(data) / self._bytes_per_second
        self._pending_usage += seconds
        self._last_audio_sent = asyncio.get_running_loop().time()
        if self._pending_usage >= _USAGE_EVERY:
            self._flush_usage()

    async def _keepalive_task(self, ws: WebSocket) -> None:
        with contextlib.suppress(Exception):
            while not ws.closed:
                await asyncio.sleep(self._dg._keepalive_interval)
                await ws.send_str(json.dumps({"type": "KeepAlive"}))

    async def _recv_task(self, ws: WebSocket, closing: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        timeout = self._conn_options.timeout
        self._last_message = loop.time()
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout)
            except asyncio.TimeoutError:
                waiting = closing.is_set() or self._last_audio_sent > self._last_message
                if waiting:
                    raise APITimeoutError(
                        f"Deepgram live transcription: no answer for {timeout} s"
                    ) from None
                continue
            self._last_message = loop.time()
            if msg.type in _CLOSED_TYPES:
                code = ws.close_code
                if closing.is_set() and code == 1000:
                    return  # the normal end after CloseStream
                reason = msg.extra if isinstance(msg.extra, str) else ""
                if code == 1008:
                    raise APIStatusError(
                        f"Deepgram rejected the audio (close code 1008): {reason}",
                        status_code=400,
                        request_id=self._request_id or None,
                    )
                raise APIConnectionError(
                    f"Deepgram closed the live connection unexpectedly (code {code}) {reason}"
                )
            if msg.type == aiohttp.WSMsgType.ERROR:
                raise APIConnectionError(f"Deepgram live connection error: {ws.exception()}")
            if msg.type != aiohttp.WSMsgType.TEXT:
                logger.warning("deepgram: ignoring an unexpected %s message", msg.type.name)
                continue
            try:
                data = json.loads(msg.data)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except ValueError as e:
                logger.warning("deepgram: ignoring a malformed message (%s): %.80r", e, msg.data)
                continue
            self._process(data)

    def _process(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind == "SpeechStarted":
            if not self._speaking:
                self._speaking = True
                ts = data.get("timestamp")
                self._send_event(
                    stt.SpeechEvent(
                        type=stt.SpeechEventType.START_OF_SPEECH,
                        request_id=self._request_id,
                        speech_start_time=(
                            self._conn_origin_abs + float(ts)
                            if isinstance(ts, (int, float))
                            else None
                        ),
                    )
                )
        elif kind == "Results":
            self._process_results(data)
        elif kind == "UtteranceEnd":
            self._end_of_speech()
        elif kind == "Metadata":
            if isinstance(data.get("request_id"), str):
                self._request_id = data["request_id"]
        elif kind == "Error":
            detail = data.get("description") or data.get("message") or "unknown error"
            raise APIStatusError(
                f"Deepgram live transcription error: {detail}",
                status_code=500,
                request_id=self._request_id or None,
                body=data,
            )
        else:
            logger.debug("deepgram: ignoring message of type %r", kind)

    def _end_of_speech(self) -> None:
        if self._speaking:
            self._speaking = False
            self._send_event(
                stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH, request_id=self._request_id)
            )

    def _process_results(self, data: dict[str, Any]) -> None:
        try:
            alts = data["channel"]["alternatives"]
            start = float(data.get("start", 0.0))
            duration = float(data.get("duration", 0.0))
            if not isinstance(alts, list):
                raise TypeError("alternatives is not a list")
        except (KeyError, TypeError, ValueError) as e:
            logger.warning("deepgram: ignoring a Results message without a channel: %s", e)
            return
        meta = data.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("request_id"), str):
            self._request_id = meta["request_id"]
        is_final = bool(data.get("is_final"))
        origin = self._conn_origin_abs
        if is_final:
            self._trim_replay(origin + start + duration)
        speech = [
            stt.SpeechData(
                language=str(a.get("languages", [self._opts.language or ""])[0] or "")
                if isinstance(a.get("languages"), list) and a.get("languages")
                else (self._opts.language or ""),
                text=str(a.get("transcript", "")),
                start_time=origin + start,
                end_time=origin + start + duration,
                confidence=float(a.get("confidence", 0.0) or 0.0),
                words=_timed_words(a.get("words") or [], origin),
            )
            for a in alts
            if isinstance(a, dict)
        ]
        if speech and speech[0].text:
            if not self._speaking:
                self._speaking = True
                self._send_event(
                    stt.SpeechEvent(
                        type=stt.SpeechEventType.START_OF_SPEECH,
                        request_id=self._request_id,
                        speech_start_time=speech[0].start_time,
                    )
                )
            self._send_event(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.FINAL_TRANSCRIPT
                    if is_final
                    else stt.SpeechEventType.INTERIM_TRANSCRIPT,
                    request_id=self._request_id,
                    alternatives=speech,
                )
            )
        if is_final and data.get("speech_final"):
            self._end_of_speech()


async def _cancel(*tasks: asyncio.Task[Any]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["DEFAULT_STT_MODEL", "STT", "STT_MODELS", "STTOptions", "SpeechStream"]
