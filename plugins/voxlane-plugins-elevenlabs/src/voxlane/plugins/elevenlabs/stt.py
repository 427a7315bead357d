"""ElevenLabs speech-to-text (Scribe) over REST ``POST /v1/speech-to-text``.

Non-streaming: use it through ``stt.StreamAdapter`` with a VAD (``AgentSession`` does that when a
``vad`` is given). The answer's word list (``type: "word"``) becomes the word timings.
"""

from __future__ import annotations

import aiohttp

from voxlane.agents import stt
from voxlane.agents._exceptions import APIConnectionError
from voxlane.agents.tts import TimedString
from voxlane.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr, is_given
from voxlane.agents.utils.audio import AudioBuffer, merge_frames
from voxlane.agents.utils.pcm import wav_bytes
from voxlane.agents.utils.provider import LazyHTTPSession, http_url

from ._utils import API, DEFAULT_BASE_URL, auth_headers

DEFAULT_STT_MODEL = "scribe_v1"
STT_MODELS = ("scribe_v1", "scribe_v1_experimental")


class STT(stt.STT):
    """ElevenLabs Scribe speech-to-text (``"elevenlabs/scribe_v1"``), one request per buffer.

    Args:
        model: ``"scribe_v1"`` by default.
        language: ISO 639-1/3 code; ``None`` lets Scribe detect it.
        tag_audio_events: include events like ``(laughter)`` in the text.
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
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=False, interim_results=False, aligned_transcript="word"
            )
        )
        self._model = model
        self._language = language
        self._tag_audio_events = tag_audio_events
        self._api_key = API.resolve_api_key(api_key)
        self._base_url = API.check_base_url(base_url)
        self._http_session = LazyHTTPSession(http_session)

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
        form.add_field("model_id", self._model)
        form.add_field("file", wav_bytes(frame), filename="audio.wav", content_type="audio/wav")
        form.add_field("tag_audio_events", "true" if self._tag_audio_events else "false")
        form.add_field("timestamps_granularity", "word")
        if lang:
            form.add_field("language_code", lang)
        try:
            async with self._http_session.get().post(
                http_url(self._base_url, "/speech-to-text"),
                data=form,
                headers=auth_headers(self._api_key),
                timeout=aiohttp.ClientTimeout(total=conn_options.timeout),
            ) as resp:
                await API.raise_for_response(resp, "speech-to-text")
                request_id = resp.headers.get("request-id", "")
                data = await resp.json(content_type=None)
        except Exception as e:
            raise API.map_error(e, "speech-to-text", conn_options.timeout) from e
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise APIConnectionError("ElevenLabs speech-to-text: the answer has no 'text'")
        words: list[TimedString] = []
        for w in data.get("words") or []:
            if not isinstance(w, dict) or w.get("type", "word") != "word":
                continue
            try:
                words.append(
                    TimedString(
                        str(w.get("text", "")),
                        start_time=float(w["start"]),
                        end_time=float(w["end"]),
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue
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

    async def aclose(self) -> None:
        await self._http_session.aclose()


__all__ = ["DEFAULT_STT_MODEL", "STT", "STT_MODELS"]
