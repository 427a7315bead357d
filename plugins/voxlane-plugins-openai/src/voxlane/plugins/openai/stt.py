"""OpenAI speech-to-text (audio transcriptions endpoint) as a non-streaming Voxlane STT.

Use it in a voice session through ``stt.StreamAdapter(stt=openai.STT(), vad=...)``.
"""

from __future__ import annotations

import io
import json
import wave
from dataclasses import dataclass

import httpx2
import pydantic
from livekit import rtc

import openai
from voxlane.agents import stt
from voxlane.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr, is_given
from voxlane.agents.utils.audio import AudioBuffer, merge_frames
from voxlane.agents.utils.misc import shortuuid

from ._client import make_client
from ._errors import to_api_error
from .models import DEFAULT_STT_MODEL, STTModels

_SDK_ERRORS = (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError, pydantic.ValidationError)


def encode_wav(frame: rtc.AudioFrame) -> bytes:
    """A 16-bit PCM WAV file holding ``frame``."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(frame.num_channels)
        wav.setsampwidth(2)
        wav.setframerate(frame.sample_rate)
        wav.writeframes(bytes(frame.data))
    return out.getvalue()


@dataclass
class _STTOptions:
    model: str
    language: str | None
    prompt: str | None


class STT(stt.STT):
    """Transcribes whole utterances with ``audio.transcriptions`` (WAV upload).

    ``language`` is an ISO-639-1 code (``None`` lets the model detect it); ``prompt`` biases the
    vocabulary. The key comes from ``api_key`` or ``OPENAI_API_KEY``.
    """

    def __init__(
        self,
        *,
        model: STTModels | str = DEFAULT_STT_MODEL,
        language: str | None = "en",
        prompt: str | None = None,
        api_key: NotGivenOr[str | None] = NOT_GIVEN,
        base_url: NotGivenOr[str | None] = NOT_GIVEN,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty model name, got {model!r}")
        self._opts = _STTOptions(model=model, language=language or None, prompt=prompt)
        if client is not None:
            self._client = client.with_options(max_retries=0)
        else:
            self._client = make_client(api_key=api_key, base_url=base_url, what="OpenAI STT")

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "openai"

    def __repr__(self) -> str:
        return f"openai.STT(model={self._opts.model!r}, language={self._opts.language!r})"

    def update_options(
        self,
        *,
        model: NotGivenOr[str] = NOT_GIVEN,
        language: NotGivenOr[str | None] = NOT_GIVEN,
        prompt: NotGivenOr[str | None] = NOT_GIVEN,
    ) -> None:
        """Change the model, language or prompt for the next requests."""
        if is_given(model):
            self._opts.model = model
        if is_given(language):
            self._opts.language = language or None
        if is_given(prompt):
            self._opts.prompt = prompt

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        lang = language if is_given(language) else self._opts.language
        wav = encode_wav(merge_frames(buffer))
        try:
            resp = await self._client.audio.transcriptions.create(
                file=("audio.wav", wav, "audio/wav"),
                model=self._opts.model,
                response_format="json",
                language=lang or openai.omit,
                prompt=self._opts.prompt or openai.omit,
                timeout=conn_options.timeout,
            )
        except _SDK_ERRORS as e:
            raise to_api_error(e, what="OpenAI transcription") from e
        request_id = getattr(resp, "_request_id", None) or shortuuid("stt_")
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=request_id,
            alternatives=[stt.SpeechData(language=lang or "", text=resp.text or "")],
        )


__all__ = ["STT", "encode_wav"]
