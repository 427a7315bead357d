"""The OpenAI Realtime API model: configuration shared by the sessions it opens."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import aiohttp

from voxlane.agents import llm
from voxlane.agents.llm.tool_context import ToolChoice
from voxlane.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr, is_given

from .._client import resolve_api_key
from ..models import DEFAULT_REALTIME_MODEL, RealtimeModels

if TYPE_CHECKING:
    from .realtime_session import RealtimeSession

Modality = Literal["text", "audio"]

DEFAULT_TURN_DETECTION: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}
DEFAULT_INPUT_TRANSCRIPTION: dict[str, Any] = {"model": "gpt-4o-mini-transcribe"}
DEFAULT_CONN_OPTIONS = APIConnectOptions(max_retry=3, retry_interval=2.0, timeout=10.0)
SAMPLE_RATE = 24000
NUM_CHANNELS = 1


@dataclass
class RealtimeOptions:
    """Session configuration (copied into each session, which may then change it)."""

    model: str
    voice: str
    modalities: list[Modality]
    turn_detection: dict[str, Any] | None
    input_audio_transcription: dict[str, Any] | None
    input_audio_noise_reduction: dict[str, Any] | None
    tool_choice: ToolChoice | None
    speed: float | None
    max_output_tokens: int | Literal["inf"] | None
    ws_url: str
    api_key: str = field(repr=False)
    conn_options: APIConnectOptions
    generate_reply_timeout: float


def _ws_url(base_url: str | None) -> str:
    base = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip(
        "/"
    )
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    elif not base.startswith(("ws://", "wss://")):
        raise ValueError(f"base_url must be an http(s):// or ws(s):// URL, got {base_url!r}")
    return base + "/realtime"


class RealtimeModel(llm.RealtimeModel):
    """Speech-to-speech over the OpenAI Realtime API websocket.

    ``turn_detection`` is the server VAD config (``None`` lets the framework commit turns);
    ``input_audio_transcription`` enables user transcripts (``None`` disables them). User audio
    is resampled to 24 kHz mono PCM16. A dropped connection is re-opened (up to
    ``conn_options.max_retry`` attempts) and the conversation replayed.
    """

    def __init__(
        self,
        *,
        model: RealtimeModels | str = DEFAULT_REALTIME_MODEL,
        voice: str = "marin",
        modalities: list[Modality] | None = None,
        turn_detection: NotGivenOr[dict[str, Any] | None] = NOT_GIVEN,
        input_audio_transcription: NotGivenOr[dict[str, Any] | None] = NOT_GIVEN,
        input_audio_noise_reduction: dict[str, Any] | None = None,
        tool_choice: ToolChoice | None = "auto",
        speed: float | None = None,
        max_output_tokens: int | Literal["inf"] | None = None,
        api_key: NotGivenOr[str | None] = NOT_GIVEN,
        base_url: NotGivenOr[str | None] = NOT_GIVEN,
        http_session: aiohttp.ClientSession | None = None,
        conn_options: APIConnectOptions = DEFAULT_CONN_OPTIONS,
        generate_reply_timeout: float = 5.0,
    ) -> None:
        mods: list[Modality] = list(modalities) if modalities is not None else ["text", "audio"]
        if not mods or any(m not in ("text", "audio") for m in mods):
            raise ValueError(
                f"modalities must be a non-empty subset of ['text', 'audio'], got {modalities!r}"
            )
        if speed is not None and not 0.25 <= speed <= 1.5:
            raise ValueError(f"speed must be between 0.25 and 1.5, got {speed}")
        if generate_reply_timeout <= 0:
            raise ValueError(f"generate_reply_timeout must be > 0 s, got {generate_reply_timeout}")
        td = turn_detection if is_given(turn_detection) else dict(DEFAULT_TURN_DETECTION)
        tr = (
            input_audio_transcription
            if is_given(input_audio_transcription)
            else dict(DEFAULT_INPUT_TRANSCRIPTION)
        )
        super().__init__(
            capabilities=llm.RealtimeCapabilities(
                message_truncation=True,
                turn_detection=td is not None,
                user_transcription=tr is not None,
                auto_tool_reply_generation=False,
                audio_output="audio" in mods,
                manual_function_calls=True,
                can_disable_turn_detection=True,
                mutable_chat_context=True,
                mutable_instructions=True,
                mutable_tools=True,
                per_response_tool_choice=True,
            )
        )
        self._opts = RealtimeOptions(
            model=model,
            voice=voice,
            modalities=mods,
            turn_detection=td,
            input_audio_transcription=tr,
            input_audio_noise_reduction=input_audio_noise_reduction,
            tool_choice=tool_choice,
            speed=speed,
            max_output_tokens=max_output_tokens,
            ws_url=_ws_url(base_url if is_given(base_url) else None),
            api_key=resolve_api_key(api_key, env="OPENAI_API_KEY", what="OpenAI RealtimeModel"),
            conn_options=conn_options,
            generate_reply_timeout=generate_reply_timeout,
        )
        self._http_session = http_session
        self._owns_http_session = http_session is None
        self._sessions: list[RealtimeSession] = []

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "openai"

    @property
    def options(self) -> RealtimeOptions:
        return self._opts

    def __repr__(self) -> str:
        return (
            f"openai.realtime.RealtimeModel(model={self._opts.model!r}, voice={self._opts.voice!r})"
        )

    def _ensure_http_session(self) -> aiohttp.ClientSession:
        if self._http_session is None or self._http_session.closed:
            self._http_session = aiohttp.ClientSession()
            self._owns_http_session = True
        return self._http_session

    def session(self) -> RealtimeSession:
        """Open a session; it connects in the background."""
        from .realtime_session import RealtimeSession

        sess = RealtimeSession(self)
        self._sessions.append(sess)
        return sess

    def _forget(self, sess: RealtimeSession) -> None:
        if sess in self._sessions:
            self._sessions.remove(sess)

    async def aclose(self) -> None:
        for sess in list(self._sessions):
            await sess.aclose()
        if self._owns_http_session and self._http_session is not None:
            await self._http_session.close()
            self._http_session = None


__all__ = ["RealtimeModel", "RealtimeOptions"]
