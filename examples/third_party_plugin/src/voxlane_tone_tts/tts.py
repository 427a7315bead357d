"""``ToneTTS``: the formant synthesizer behind the core ``voxlane.agents.tts`` interface."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from voxlane.agents.tts import (
    TTS,
    AudioEmitter,
    ChunkedStream,
    SynthesizeStream,
    TimedString,
    TTSCapabilities,
)
from voxlane.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from voxlane.agents.utils.misc import shortuuid

from .synth import (
    DEFAULT_CHAR_DURATION,
    DEFAULT_MODEL,
    DEFAULT_PITCH_HZ,
    SynthOptions,
    ToneModel,
    split_words,
    synthesize_pcm,
)


class ToneTTS(TTS):
    """A local, deterministic TTS: every character becomes a short formant sound.

    Supports ``synthesize()`` and streaming ``stream()``; words carry timed transcripts.
    """

    def __init__(
        self,
        *,
        model: ToneModel = DEFAULT_MODEL,
        sample_rate: int = 16000,
        pitch_hz: float = DEFAULT_PITCH_HZ,
        char_duration: float = DEFAULT_CHAR_DURATION,
    ) -> None:
        opts = SynthOptions(
            model=model, sample_rate=sample_rate, pitch_hz=pitch_hz, char_duration=char_duration
        )
        super().__init__(
            capabilities=TTSCapabilities(streaming=True, aligned_transcript=True),
            sample_rate=sample_rate,
            num_channels=1,
        )
        self._opts = opts

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "tone"

    @property
    def options(self) -> SynthOptions:
        return self._opts

    def update_options(
        self, *, pitch_hz: float | None = None, char_duration: float | None = None
    ) -> None:
        """Change the voice pitch or speaking rate for later requests."""
        self._opts = replace(
            self._opts,
            pitch_hz=self._opts.pitch_hz if pitch_hz is None else pitch_hz,
            char_duration=self._opts.char_duration if char_duration is None else char_duration,
        )

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return ToneChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return ToneSynthesizeStream(tts=self, conn_options=conn_options)


async def _push_text(emitter: AudioEmitter, text: str, opts: SynthOptions) -> None:
    """Synthesize ``text`` word by word (off the event loop) and push PCM plus word timings."""
    for offset, piece in split_words(text):
        pcm = await asyncio.to_thread(synthesize_pcm, piece, opts)
        word = piece.strip()
        if word:
            lead = len(piece) - len(piece.lstrip())
            start = (offset + lead) * opts.char_duration
            end = start + len(word) * opts.char_duration
            emitter.push_timed_transcript(TimedString(piece, start_time=start, end_time=end))
        emitter.push(pcm)


class ToneChunkedStream(ChunkedStream):
    """One whole text, synthesized word by word."""

    async def _run(self, output_emitter: AudioEmitter) -> None:
        tts = self._tts
        assert isinstance(tts, ToneTTS)
        opts = tts.options
        output_emitter.initialize(
            request_id=shortuuid("tone_"),
            sample_rate=opts.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        await _push_text(output_emitter, self.input_text, opts)


class ToneSynthesizeStream(SynthesizeStream):
    """Streaming input: text is buffered until ``flush()``, then synthesized as a segment."""

    async def _run(self, output_emitter: AudioEmitter) -> None:
        tts = self._tts
        assert isinstance(tts, ToneTTS)
        opts = tts.options
        output_emitter.initialize(
            request_id=shortuuid("tone_"),
            sample_rate=opts.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            stream=True,
        )
        pending: list[str] = []
        async for item in self._input_ch:
            if isinstance(item, str):
                pending.append(item)
                continue
            text = "".join(pending)
            pending.clear()
            if not text:
                continue
            output_emitter.start_segment(segment_id=shortuuid("seg_"))
            await _push_text(output_emitter, text, opts)
            output_emitter.end_segment()
