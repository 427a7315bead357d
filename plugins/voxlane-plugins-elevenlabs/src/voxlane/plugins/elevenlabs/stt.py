"""ElevenLabs speech-to-text (Scribe): REST ``POST /v1/speech-to-text`` and realtime streaming.

A batch model (``scribe_v1``) is non-streaming: use it through ``stt.StreamAdapter`` with a VAD
(``AgentSession`` does that when a ``vad`` is given). A realtime model (``scribe_v2_realtime``)
streams over the realtime websocket (see :mod:`.realtime_stt`); its ``recognize()`` uploads to
``batch_model``. The answer's word list (``type: "word"``) becomes the word timings.
"""

from __future__ import annotations

import aiohttp

from voxlane.agents import stt
from voxlane.agents._exceptions import APIConnectionError
from voxlane.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
    is_given,
)
from voxlane.agents.utils.audio import AudioBuffer, merge_frames
from voxlane.agents.utils.pcm import wav_bytes
from voxlane.agents.utils.provider import ProviderClient

from ._utils import API, DEFAULT_BASE_URL
from .realtime_stt import (
    REALTIME_SAMPLE_RATES,
    REALTIME_STT_MODELS,
    RealtimeOptions,
    SpeechStream,
    timed_words,
)

DEFAULT_STT_MODEL = "scribe_v1"
BATCH_STT_MODELS = ("scribe_v1", "scribe_v1_experimental", "scribe_v2")
STT_MODELS = BATCH_STT_MODELS + REALTIME_STT_MODELS


class STT(stt.STT):
    """ElevenLabs Scribe speech-to-text (``"elevenlabs/scribe_v1"``, one request per buffer, or
    ``"elevenlabs/scribe_v2_realtime"``, streaming).

    Args:
        model: ``"scribe_v1"`` by default; ``"scribe_v2_realtime"`` streams (interim and final
            transcripts, utterances committed by the server's VAD).
        language: ISO 639-1/3 code; ``None`` lets Scribe detect it.
        tag_audio_events: include events like ``(laughter)`` in the text (batch models).
        sample_rate: the rate a realtime stream sends (8000 to 48000); pushed audio is
            resampled to it.
        batch_model: the model ``recognize()`` uses when ``model`` is a realtime one.
        vad_silence_threshold_secs: silence that commits an utterance (realtime, server VAD).
        api_key: defaults to ``$ELEVEN_API_KEY`` (or ``$ELEVENLABS_API_KEY``).
        base_url: the API root (``https://api.elevenlabs.io/v1``).
        http_session: an ``aiohttp.ClientSession`` to share; one is created otherwise.
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_STT_MODEL,
        language: str | None = None,
        tag_audio_events: bool = False,
        sample_rate: int = 16000,
        batch_model: str = DEFAULT_STT_MODEL,
        vad_silence_threshold_secs: float | None = None,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        realtime = model in REALTIME_STT_MODELS
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=realtime, interim_results=realtime, aligned_transcript="word"
            )
        )
        if not model:
            raise ValueError("model must name a Scribe model, e.g. 'scribe_v1'")
        if sample_rate not in REALTIME_SAMPLE_RATES:
            raise ValueError(
                f"sample_rate {sample_rate} is not one realtime Scribe takes; use one of "
                f"{list(REALTIME_SAMPLE_RATES)} (pushed audio is resampled to it)"
            )
        if batch_model in REALTIME_STT_MODELS:
            raise ValueError(
                f"batch_model must be a batch model like 'scribe_v1', got {batch_model!r}"
            )
        if vad_silence_threshold_secs is not None and not 0.3 < vad_silence_threshold_secs <= 3.0:
            raise ValueError(
                "vad_silence_threshold_secs must be above 0.3 and at most 3.0 seconds, "
                f"got {vad_silence_threshold_secs}"
            )
        self._realtime = realtime
        self._sample_rate = sample_rate
        self._batch_model = batch_model
        self._vad_silence = vad_silence_threshold_secs
        self._model = model
        self._language = language
        self._tag_audio_events = tag_audio_events
        self._client = ProviderClient(
            API, api_key=api_key, base_url=base_url, http_session=http_session
        )

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return "elevenlabs"

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = merge_frames(buffer)
        lang = language if is_given(language) else self._language
        form = aiohttp.FormData()
        form.add_field("model_id", self._batch_model if self._realtime else self._model)
        form.add_field("file", wav_bytes(frame), filename="audio.wav", content_type="audio/wav")
        form.add_field("tag_audio_events", "true" if self._tag_audio_events else "false")
        form.add_field("timestamps_granularity", "word")
        if lang:
            form.add_field("language_code", lang)
        data, headers = await self._client.post(
            self._client.http_url("/speech-to-text"),
            data=form,
            timeout=conn_options.timeout,
            what="speech-to-text",
        )
        request_id = headers.get("request-id", "")
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise APIConnectionError("ElevenLabs speech-to-text: the answer has no 'text'")
        words = timed_words(data.get("words"), 0.0)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=request_id,
            alternatives=[
                stt.SpeechData(
                    language=str(data.get("language_code") or lang or ""),
                    text=data["text"].strip(),
                    start_time=float(words[0].start_time) if words else 0.0,  # type: ignore[arg-type]
                    end_time=float(words[-1].end_time) if words else 0.0,  # type: ignore[arg-type]
                    confidence=float(data.get("language_probability") or 0.0),
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
        """A realtime Scribe stream (realtime models only; wrap a batch model in
        ``stt.StreamAdapter`` with a VAD instead)."""
        if not self._realtime:
            raise NotImplementedError(
                f"ElevenLabs {self._model!r} is a batch model: use model='scribe_v2_realtime' to "
                "stream, or wrap this STT in stt.StreamAdapter(stt, vad) (AgentSession does that "
                "when given a vad)"
            )
        opts = RealtimeOptions(
            model=self._model,
            language=language if is_given(language) else self._language,
            sample_rate=self._sample_rate,
            vad_silence_threshold_secs=self._vad_silence,
        )
        return SpeechStream(stt=self, opts=opts, conn_options=conn_options)

    async def aclose(self) -> None:
        await self._client.aclose()


__all__ = ["BATCH_STT_MODELS", "DEFAULT_STT_MODEL", "STT", "STT_MODELS"]
