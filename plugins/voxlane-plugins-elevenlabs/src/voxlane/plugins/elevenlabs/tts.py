"""ElevenLabs text-to-speech: the multi-context input-streaming websocket and REST streaming.

A stream uses ``/v1/text-to-speech/{voice}/multi-stream-input`` with one context per segment:
the context opens with ``{"text": " ", "context_id", "voice_settings", "generation_config"}``,
every pushed piece of text follows as it arrives, and ``flush()`` sends ``flush: true`` then
``close_context: true``. Audio comes back base64-encoded with per-character ``alignment`` (times
relative to each chunk), turned into word-level timed transcripts; ``isFinal`` ends the segment.
Sockets are pooled and reused by the next stream when a stream ended cleanly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from voxlane.agents import tts
from voxlane.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from voxlane.agents.utils.pcm import pick_sample_rate
from voxlane.agents.utils.provider import ProviderClient, WebSocket
from voxlane.agents.utils.speech_transport import WSFrame, decode_b64_audio
from voxlane.agents.utils.ws_speech import SegmentOutput, WebSocketSynthesizeStream, WebSocketTTS

from ._utils import API, DEFAULT_BASE_URL

logger = logging.getLogger("voxlane.plugins.elevenlabs")

DEFAULT_TTS_MODEL = "eleven_flash_v2_5"
DEFAULT_VOICE = "EXAVITQu4vr4xnSDxMaL"
PROVIDER_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)


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


class TTS(WebSocketTTS):
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

    _request_prefix = "el_"

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
        if not model or not voice:
            raise ValueError("ElevenLabs needs a model (e.g. 'eleven_flash_v2_5') and a voice id")
        schedule = list(chunk_length_schedule or [80, 120, 200, 260])
        if any(not 50 <= n <= 500 for n in schedule):
            raise ValueError(f"chunk_length_schedule values must be 50..500, got {schedule}")
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=True),
            sample_rate=sample_rate,
            provider_rates=PROVIDER_SAMPLE_RATES,
            client=ProviderClient(
                API, api_key=api_key, base_url=base_url, http_session=http_session
            ),
        )
        self._opts = TTSOptions(
            model=model,
            voice=voice,
            sample_rate=sample_rate,
            provider_rate=self.provider_rate,
            voice_settings=voice_settings,
            language=language,
            chunk_length_schedule=schedule,
        )

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "elevenlabs"

    @property
    def voice(self) -> str:
        return self._opts.voice

    def _ws_endpoint(self) -> tuple[str, Mapping[str, Any] | None]:
        params: dict[str, Any] = {
            "model_id": self._opts.model,
            "output_format": self._opts.output_format,
            "sync_alignment": True,
            "language_code": self._opts.language,
        }
        return f"/text-to-speech/{self._opts.voice}/multi-stream-input", params

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return ChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return SynthesizeStream(tts=self, conn_options=conn_options)


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
        url = self._el._client.http_url(
            f"/text-to-speech/{opts.voice}/stream", {"output_format": opts.output_format}
        )
        await self._el._stream_pcm(output_emitter, url, body, self._conn_options)


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


class SynthesizeStream(WebSocketSynthesizeStream):
    """Input streaming over a pooled multi-context websocket, one context per segment."""

    _logger = logger
    _policy_violation_is_status = True

    def __init__(self, *, tts: TTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._el = tts
        self._aligner = _WordAligner()

    async def _begin_segment(self, ws: WebSocket, segment_id: str) -> None:
        opts = self._el._opts
        first: dict[str, Any] = {
            "text": " ",
            "context_id": segment_id,
            "generation_config": {"chunk_length_schedule": opts.chunk_length_schedule},
        }
        if opts.voice_settings is not None:
            first["voice_settings"] = asdict(opts.voice_settings)
        await ws.send_str(json.dumps(first))

    async def _send_text(self, ws: WebSocket, segment_id: str, text: str) -> None:
        await ws.send_str(json.dumps({"text": text, "context_id": segment_id}))

    async def _end_segment(self, ws: WebSocket, segment_id: str) -> None:
        await ws.send_str(json.dumps({"text": "", "context_id": segment_id, "flush": True}))
        await ws.send_str(json.dumps({"context_id": segment_id, "close_context": True}))

    def _segment_id_of(self, frame: Mapping[str, Any]) -> str | None:
        return str(frame.get("contextId") or frame.get("context_id"))

    def _segment_started(self, out: SegmentOutput) -> None:
        self._aligner = _WordAligner()

    def _handle(self, frame: WSFrame, out: SegmentOutput) -> bool:
        if not isinstance(frame, dict):
            return False
        if "error" in frame and not frame.get("audio"):
            detail = frame.get("message") or frame.get("error")
            raise API.message_error("TTS", detail, frame.get("code"), body=frame)
        audio_b64 = frame.get("audio")
        if isinstance(audio_b64, str) and audio_b64:
            audio = decode_b64_audio(audio_b64, provider="ElevenLabs", logger=logger)
            # alignment times are relative to each chunk: offset by the audio so far
            out.push_words(self._aligner.feed(frame.get("alignment"), out.seconds))
            out.push_audio(audio)
        if frame.get("isFinal"):
            out.push_words(self._aligner.flush())
            return True
        return False


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
