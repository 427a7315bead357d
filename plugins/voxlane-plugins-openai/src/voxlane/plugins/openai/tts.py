"""OpenAI text-to-speech (audio speech endpoint) with raw PCM streamed into the AudioEmitter."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx2
import pydantic

import openai
from voxlane.agents import tts
from voxlane.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
    is_given,
)
from voxlane.agents.utils.misc import shortuuid

from ._client import make_client
from ._errors import to_api_error
from .models import DEFAULT_TTS_MODEL, DEFAULT_TTS_VOICE, TTSModels, TTSVoices

SAMPLE_RATE = 24000
"""The ``pcm`` response format is 24 kHz, 16-bit, mono."""
NUM_CHANNELS = 1

_SDK_ERRORS = (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError, pydantic.ValidationError)


@dataclass
class _TTSOptions:
    model: str
    voice: str
    speed: float
    instructions: str | None


def _check_speed(speed: float) -> float:
    if not 0.25 <= speed <= 4.0:
        raise ValueError(f"speed must be between 0.25 and 4.0, got {speed}")
    return speed


class TTS(tts.TTS):
    """Synthesizes each text with ``audio.speech`` (``response_format="pcm"``), streamed.

    ``instructions`` steer the delivery (only ``gpt-4o-mini-tts`` uses them); ``speed`` is
    0.25 to 4.0. Non-streaming: wrap in ``tts.StreamAdapter`` for sentence-by-sentence streaming
    (AgentSession does this automatically).
    """

    def __init__(
        self,
        *,
        model: TTSModels | str = DEFAULT_TTS_MODEL,
        voice: TTSVoices | str = DEFAULT_TTS_VOICE,
        speed: float = 1.0,
        instructions: str | None = None,
        api_key: NotGivenOr[str | None] = NOT_GIVEN,
        base_url: NotGivenOr[str | None] = NOT_GIVEN,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=NUM_CHANNELS,
        )
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty model name, got {model!r}")
        if not isinstance(voice, str) or not voice:
            raise ValueError(f"voice must be a non-empty voice name, got {voice!r}")
        self._opts = _TTSOptions(
            model=model, voice=voice, speed=_check_speed(speed), instructions=instructions
        )
        if client is not None:
            self._client = client.with_options(max_retries=0)
        else:
            self._client = make_client(api_key=api_key, base_url=base_url, what="OpenAI TTS")

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "openai"

    @property
    def voice(self) -> str:
        return self._opts.voice

    def __repr__(self) -> str:
        return f"openai.TTS(model={self._opts.model!r}, voice={self._opts.voice!r})"

    def update_options(
        self,
        *,
        model: NotGivenOr[str] = NOT_GIVEN,
        voice: NotGivenOr[str] = NOT_GIVEN,
        speed: NotGivenOr[float] = NOT_GIVEN,
        instructions: NotGivenOr[str | None] = NOT_GIVEN,
    ) -> None:
        """Change options for the next syntheses."""
        if is_given(model):
            self._opts.model = model
        if is_given(voice):
            self._opts.voice = voice
        if is_given(speed):
            self._opts.speed = _check_speed(speed)
        if is_given(instructions):
            self._opts.instructions = instructions

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return ChunkedStream(tts=self, input_text=text, conn_options=conn_options)


class ChunkedStream(tts.ChunkedStream):
    """One ``audio.speech`` request; PCM is pushed as it arrives."""

    def __init__(self, *, tts: TTS, input_text: str, conn_options: APIConnectOptions) -> None:
        self._oai_tts = tts
        self._opts = _TTSOptions(**vars(tts._opts))
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        try:
            async with self._oai_tts._client.audio.speech.with_streaming_response.create(
                input=self.input_text,
                model=self._opts.model,
                voice=self._opts.voice,
                response_format="pcm",
                speed=self._opts.speed,
                instructions=self._opts.instructions or openai.omit,
                timeout=self._conn_options.timeout,
            ) as resp:
                output_emitter.initialize(
                    request_id=resp.headers.get("x-request-id") or shortuuid("tts_"),
                    sample_rate=SAMPLE_RATE,
                    num_channels=NUM_CHANNELS,
                    mime_type="audio/pcm",
                )
                async for data in resp.iter_bytes():
                    if data:
                        output_emitter.push(data)
            output_emitter.flush()
        except _SDK_ERRORS as e:
            raise to_api_error(e, what="OpenAI speech synthesis") from e


__all__ = ["NUM_CHANNELS", "SAMPLE_RATE", "TTS", "ChunkedStream"]
