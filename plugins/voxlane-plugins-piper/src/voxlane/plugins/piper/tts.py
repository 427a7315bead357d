"""Offline text-to-speech with piper as a Voxlane ``tts.TTS``.

``synthesize()`` speaks a whole text; ``stream()`` takes text as it is generated (e.g. LLM
tokens), cuts it into sentences and synthesizes each as soon as it is complete, so the first
audio comes out long before the whole reply is known. Synthesis runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from voxlane.agents import tokenize, tts
from voxlane.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
    is_given,
)
from voxlane.agents.utils import aio
from voxlane.agents.utils.misc import shortuuid
from voxlane.agents.utils.thread_iter import iterate_in_thread

from .engine import DEFAULT_VOICE, PiperEngine, SynthesisOptions

_Producer = Callable[[threading.Event], Iterator[bytes]]


class TTS(tts.TTS):
    """Piper TTS; the default voice is the bundled ``en_US-joe-medium`` (22.05 kHz).

    ``voice`` is ``"en_US-joe-medium"`` or the path of a piper ``.onnx`` voice (its config next
    to it as ``.onnx.json``, or given as ``config_path``). The sample rate is the voice's own.
    ``noise_scale=0, noise_w_scale=0`` makes the output exactly reproducible (for tests).
    """

    def __init__(
        self,
        *,
        voice: str = DEFAULT_VOICE,
        config_path: str | Path | None = None,
        speaker_id: int | None = None,
        length_scale: float | None = None,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
        volume: float = 1.0,
        sentence_tokenizer: NotGivenOr[tokenize.SentenceTokenizer] = NOT_GIVEN,
    ) -> None:
        engine = PiperEngine(voice, config_path=config_path)
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True),
            sample_rate=engine.sample_rate,
            num_channels=1,
        )
        self._engine = engine
        self._opts = SynthesisOptions(
            speaker_id=speaker_id,
            length_scale=length_scale,
            noise_scale=noise_scale,
            noise_w_scale=noise_w_scale,
            volume=volume,
        )
        _validate(self._opts, engine)
        self._tokenizer: tokenize.SentenceTokenizer = (
            sentence_tokenizer
            if is_given(sentence_tokenizer)
            else tokenize.basic.SentenceTokenizer()
        )
        self._prewarm_thread: threading.Thread | None = None

    @property
    def model(self) -> str:
        return self._engine.name

    @property
    def provider(self) -> str:
        return "piper"

    @property
    def engine(self) -> PiperEngine:
        """The underlying synchronous engine."""
        return self._engine

    def prewarm(self) -> None:
        """Start loading the voice in a background thread (returns immediately)."""
        if self._engine.loaded or self._prewarm_thread is not None:
            return
        self._prewarm_thread = threading.Thread(
            target=self._engine.load, name="piper-prewarm", daemon=True
        )
        self._prewarm_thread.start()

    def update_options(
        self,
        *,
        speaker_id: NotGivenOr[int | None] = NOT_GIVEN,
        length_scale: NotGivenOr[float | None] = NOT_GIVEN,
        noise_scale: NotGivenOr[float | None] = NOT_GIVEN,
        noise_w_scale: NotGivenOr[float | None] = NOT_GIVEN,
        volume: NotGivenOr[float] = NOT_GIVEN,
    ) -> None:
        """Change the synthesis options used by later requests."""
        new = replace(self._opts)
        if is_given(speaker_id):
            new.speaker_id = speaker_id
        if is_given(length_scale):
            new.length_scale = length_scale
        if is_given(noise_scale):
            new.noise_scale = noise_scale
        if is_given(noise_w_scale):
            new.noise_w_scale = noise_w_scale
        if is_given(volume):
            new.volume = volume
        _validate(new, self._engine)
        self._opts = new

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return ChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return SynthesizeStream(tts=self, conn_options=conn_options)

    def _produce(self, text: str) -> _Producer:
        opts = replace(self._opts)
        engine = self._engine

        def produce(stop: threading.Event) -> Iterator[bytes]:
            return engine.synthesize(text, opts, stop=stop)

        return produce


def _validate(opts: SynthesisOptions, engine: PiperEngine) -> None:
    if opts.length_scale is not None and opts.length_scale <= 0:
        raise ValueError(f"length_scale must be a positive number, got {opts.length_scale}")
    for name in ("noise_scale", "noise_w_scale"):
        value = getattr(opts, name)
        if value is not None and value < 0:
            raise ValueError(f"{name} must be >= 0 (0 makes synthesis deterministic), got {value}")
    if opts.volume < 0:
        raise ValueError(f"volume must be >= 0, got {opts.volume}")
    if opts.speaker_id is not None and not 0 <= opts.speaker_id < engine.num_speakers:
        raise ValueError(
            f"speaker_id {opts.speaker_id} is out of range: voice {engine.name!r} has "
            f"{engine.num_speakers} speaker(s)"
        )


async def _speak(piper_tts: TTS, text: str, emitter: tts.AudioEmitter) -> None:
    """Synthesize ``text`` in a worker thread, pushing each sentence's audio as it is ready."""
    async with contextlib.aclosing(iterate_in_thread(piper_tts._produce(text))) as chunks:
        async for pcm in chunks:
            emitter.push(pcm)


class ChunkedStream(tts.ChunkedStream):
    """Synthesis of one whole text (piper still emits it sentence by sentence)."""

    def __init__(self, *, tts: TTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._piper = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=shortuuid("piper_"),
            sample_rate=self._piper.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        await _speak(self._piper, self._input_text, output_emitter)
        output_emitter.flush()


class SynthesizeStream(tts.SynthesizeStream):
    """Streaming synthesis: each complete sentence is spoken as soon as it arrives.

    Every ``flush()`` closes an output segment; sentences inside a segment keep their order.
    """

    def __init__(self, *, tts: TTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._piper = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=shortuuid("piper_"),
            sample_rate=self._piper.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            stream=True,
        )
        segments: aio.Chan[tokenize.SentenceStream] = aio.Chan()
        input_ch = self._input_ch

        async def read_input() -> None:
            current: tokenize.SentenceStream | None = None
            try:
                async for item in input_ch:
                    if isinstance(item, str):
                        if current is None:
                            current = self._piper._tokenizer.stream()
                            segments.send_nowait(current)
                        current.push_text(item)
                    elif current is not None:
                        current.end_input()
                        current = None
                if current is not None:
                    current.end_input()
            finally:
                segments.close()

        async def speak_segments() -> None:
            async for sentences in segments:
                output_emitter.start_segment(segment_id=shortuuid("SEG_"))
                async for sentence in sentences:
                    await _speak(self._piper, sentence.token, output_emitter)
                output_emitter.end_segment()

        reader = asyncio.create_task(read_input(), name="piper.read_input")
        try:
            await speak_segments()
            await reader
        finally:
            await aio.cancel_and_wait(reader)
