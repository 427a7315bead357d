"""Deepgram speech-to-text: live streaming over ``/v1/listen`` (websocket) and REST recognize.

Streaming sends 16-bit PCM in 50 ms chunks and maps Deepgram's messages to speech events:
``SpeechStarted`` (and the first words) -> START_OF_SPEECH, ``Results`` -> INTERIM/FINAL
transcripts, ``speech_final`` or ``UtteranceEnd`` -> END_OF_SPEECH. Audio not yet covered by a
final result is kept and sent again after a reconnect, so a dropped socket loses no words and,
because finals are only emitted once per stretch of audio, duplicates none; timestamps stay
monotonic across reconnects.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import weakref
from dataclasses import dataclass, field
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
        self._client = ProviderClient(
            API, api_key=api_key, base_url=base_url, http_session=http_session
        )
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
        data, _ = await self._client.post(
            self._client.http_url("/listen", self._opts.prerecorded_params(lang)),
            data=wav_bytes(frame),
            headers={"Content-Type": "audio/wav"},
            timeout=conn_options.timeout,
            what="recognize",
        )
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
        await self._client.aclose()


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
        start_time=given_or(words[0].start_time, 0.0) if words else 0.0,
        end_time=given_or(words[-1].end_time, 0.0) if words else 0.0,
        confidence=float(alt.get("confidence", 0.0) or 0.0),
        words=words,
    )
    return stt.SpeechEvent(
        type=stt.SpeechEventType.FINAL_TRANSCRIPT, request_id=request_id, alternatives=[speech]
    )


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


class SpeechStream(WebSocketRecognizeStream):
    """A live transcription over one Deepgram websocket (reconnected on failure)."""

    _logger = logger
    _what = "live transcription"
    _policy_violation_is_status = True

    def __init__(self, *, stt: STT, opts: STTOptions, conn_options: APIConnectOptions) -> None:
        super().__init__(
            stt=stt,
            client=stt._client,
            conn_options=conn_options,
            sample_rate=opts.sample_rate,
            keepalive_interval=stt._keepalive_interval,
        )
        self._dg = stt
        self._opts = opts

    def _update_options(self, opts: STTOptions) -> None:
        self._opts = opts
        self._request_reconnect()

    async def _connect(self) -> WebSocket:
        return await self._dg._client.open_websocket(
            "/listen",
            self._opts.live_params(),
            self._conn_options.timeout,
            "live transcription connect",
        )

    async def _send_flush(self, ws: WebSocket) -> None:
        await ws.send_str(json.dumps({"type": "Finalize"}))

    async def _send_end(self, ws: WebSocket, *, flushed: bool) -> None:
        await ws.send_str(json.dumps({"type": "CloseStream"}))

    async def _send_keepalive(self, ws: WebSocket) -> None:
        await ws.send_str(json.dumps({"type": "KeepAlive"}))

    def _handle(self, data: dict[str, Any]) -> bool:
        # Deepgram ends a stream by closing the socket (code 1000), never with a message
        kind = data.get("type")
        if kind == "SpeechStarted":
            ts = data.get("timestamp")
            self._start_of_speech(
                self._ws_origin + float(ts) if isinstance(ts, (int, float)) else None
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
            raise API.message_error(
                "live transcription", detail, request_id=self._request_id, body=data
            )
        else:
            logger.debug("deepgram: ignoring message of type %r", kind)
        return False

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
        origin = self._ws_origin
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
            self._start_of_speech(speech[0].start_time)
            self._transcript(speech, final=is_final)
        if is_final and data.get("speech_final"):
            self._end_of_speech()


__all__ = ["DEFAULT_STT_MODEL", "STT", "STT_MODELS", "STTOptions", "SpeechStream"]
