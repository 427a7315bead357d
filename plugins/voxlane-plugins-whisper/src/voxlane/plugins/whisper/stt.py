"""Offline speech-to-text with Whisper (faster-whisper) as a Voxlane ``stt.STT``.

Recognition is non-streaming: in a voice pipeline the runtime wraps it in
``stt.StreamAdapter(stt=whisper.STT(), vad=silero.VAD.load())`` so each VAD-detected utterance is
transcribed once. Inference runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from livekit import rtc

from voxlane.agents import stt
from voxlane.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr, is_given
from voxlane.agents.utils.audio import AudioBuffer, merge_frames
from voxlane.agents.utils.misc import shortuuid

from .engine import DEFAULT_MODEL, SAMPLE_RATE, Transcript, WhisperEngine


@dataclass
class STTOptions:
    language: str | None
    beam_size: int
    initial_prompt: str | None


class STT(stt.STT):
    """Whisper STT running locally; the default model is the bundled ``tiny.en``.

    ``model`` is a Whisper size name (``"tiny.en"`` is shipped; others must already be in the
    local Hugging Face cache) or the directory of a CTranslate2 Whisper model. ``language`` is a
    language code, or ``None`` to detect it (multilingual models only).
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        language: str | None = "en",
        beam_size: int = 5,
        initial_prompt: str | None = None,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 0,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=False, interim_results=False, offline_recognize=True
            )
        )
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        self._engine = WhisperEngine(
            model, device=device, compute_type=compute_type, cpu_threads=cpu_threads
        )
        if self._engine.english_only and language not in (None, "en"):
            raise ValueError(
                f"the Whisper model {model!r} only transcribes English, got language={language!r}; "
                "use a multilingual model (e.g. 'tiny' or 'base') for other languages"
            )
        self._opts = STTOptions(
            language=language or None, beam_size=beam_size, initial_prompt=initial_prompt
        )
        self._prewarm_thread: threading.Thread | None = None

    @property
    def model(self) -> str:
        return self._engine.name

    @property
    def provider(self) -> str:
        return "whisper"

    @property
    def engine(self) -> WhisperEngine:
        """The underlying synchronous engine."""
        return self._engine

    def prewarm(self) -> None:
        """Start loading the model in a background thread (returns immediately)."""
        if self._engine.loaded or self._prewarm_thread is not None:
            return
        self._prewarm_thread = threading.Thread(
            target=self._engine.load, name="whisper-prewarm", daemon=True
        )
        self._prewarm_thread.start()

    def update_options(
        self,
        *,
        language: NotGivenOr[str | None] = NOT_GIVEN,
        beam_size: NotGivenOr[int] = NOT_GIVEN,
        initial_prompt: NotGivenOr[str | None] = NOT_GIVEN,
    ) -> None:
        """Change the recognition options used by later calls."""
        if is_given(language):
            if self._engine.english_only and language not in (None, "en"):
                raise ValueError(
                    f"the Whisper model {self.model!r} only transcribes English, "
                    f"got language={language!r}"
                )
            self._opts.language = language or None
        if is_given(beam_size):
            if beam_size < 1:
                raise ValueError(f"beam_size must be >= 1, got {beam_size}")
            self._opts.beam_size = beam_size
        if is_given(initial_prompt):
            self._opts.initial_prompt = initial_prompt

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        lang = (language or None) if is_given(language) else self._opts.language
        engine, beam_size, prompt = self._engine, self._opts.beam_size, self._opts.initial_prompt

        def run() -> Transcript:
            # resampling and inference both happen off the event loop
            return engine.transcribe(
                _to_whisper_input(buffer),
                language=lang,
                beam_size=beam_size,
                initial_prompt=prompt,
            )

        result = await asyncio.to_thread(run)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=shortuuid("whisper_"),
            alternatives=[
                stt.SpeechData(
                    language=result.language,
                    text=result.text,
                    start_time=result.start_time,
                    end_time=result.end_time,
                    confidence=result.confidence,
                )
            ],
            recognition_usage=stt.RecognitionUsage(audio_duration=result.audio_duration),
        )


def _to_whisper_input(buffer: AudioBuffer) -> npt.NDArray[np.float32]:
    """Merge, downmix and resample a buffer to 16 kHz mono float32."""
    frame = merge_frames(buffer)
    pcm = np.frombuffer(frame.data, dtype=np.int16)
    if frame.num_channels > 1:
        pcm = pcm.reshape(-1, frame.num_channels).astype(np.int32).mean(axis=1).astype(np.int16)
    if frame.sample_rate != SAMPLE_RATE and pcm.size:
        resampler = rtc.AudioResampler(
            frame.sample_rate, SAMPLE_RATE, num_channels=1, quality=rtc.AudioResamplerQuality.HIGH
        )
        src = rtc.AudioFrame(pcm.tobytes(), frame.sample_rate, 1, int(pcm.size))
        out = [*resampler.push(src), *resampler.flush()]
        pcm = (
            np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in out])
            if out
            else np.zeros(0, dtype=np.int16)
        )
    result: npt.NDArray[np.float32] = pcm.astype(np.float32) / 32768.0
    return result
