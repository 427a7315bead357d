"""Real speech for tests: espeak-ng audio, clips of several utterances, energy segmentation.

Plugin tests (and the fake provider servers they run against) need audio that holds real speech,
so timing behaviour (endpointing, interim results, word timings) is exercised on a real voice,
not on scripted times. espeak-ng (the Debian package ``espeak-ng``) synthesizes it offline in a
few milliseconds, as 22.05 kHz mono 16-bit PCM::

    from voxlane.agents.testing import speech

    clip = speech.make_speech_clip(["hello there my friend", "the weather is nice today"])
    frames = clip.frames()          # 20 ms rtc.AudioFrames, ready to push into an STT stream
    clip.spans                      # where each utterance really is, in seconds

:func:`speech_spans` finds the stretches of speech in any 16-bit buffer by RMS energy, which is
what a fake speech-to-text server uses to decide where the utterances it "hears" are.

Plugin tests drive their streams with the helpers at the end: :func:`stream_sentences` and
:func:`by_segment` for TTS streams, :func:`run_stt_stream`, :func:`final_texts` and
:func:`event_kinds` for STT streams, and two checks every streaming TTS must pass
(:func:`check_slow_text_is_not_a_stall`, :func:`check_fallback_speaks_every_segment`).
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from livekit import rtc

from ..stt import STT, RecognizeStream, SpeechEvent, SpeechEventType
from ..tts import TTS, FallbackAdapter, SynthesizedAudio, TTSError
from ..types import APIConnectOptions

__all__ = [
    "ANALYSIS_WINDOW",
    "ESPEAK_RATE",
    "FAST_RETRY",
    "HANG_TIMEOUT",
    "LOUD_RMS",
    "SpeechClip",
    "by_segment",
    "check_fallback_speaks_every_segment",
    "check_slow_text_is_not_a_stall",
    "espeak_pcm",
    "espeak_seconds",
    "event_kinds",
    "final_texts",
    "loud_windows",
    "make_speech_clip",
    "pcm_frames",
    "resample_pcm",
    "run_stt_stream",
    "silence_pcm",
    "speech_spans",
    "spoken_pcm",
    "stream_sentences",
]

ESPEAK_RATE = 22050
"""The sample rate (Hz) of espeak-ng's output."""
ANALYSIS_WINDOW = 0.02
"""Seconds per window of :func:`loud_windows`."""
LOUD_RMS = 300.0
"""RMS level (of 16-bit samples) above which a window counts as speech."""
FAST_RETRY = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=5.0)
"""Connection options for tests: quick retries, a timeout healthy fakes always meet."""
HANG_TIMEOUT = 1.5
"""Seconds a test lets a hung fake server cost; healthy answers come well within it."""


@functools.lru_cache(maxsize=64)
def espeak_pcm(text: str) -> bytes:
    """``text`` spoken by espeak-ng, as 22.05 kHz mono 16-bit PCM (cached per text).

    Raises ``RuntimeError`` when espeak-ng is not installed, or fails.
    """
    if not text.strip():
        raise ValueError("espeak_pcm needs some text to speak, got an empty string")
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(
            "espeak-ng is not installed: install the Debian package (apt-get install espeak-ng) "
            "to make speech for the tests"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        # -w writes a proper WAV file (--stdout writes a header with bogus lengths)
        done = subprocess.run([exe, "-w", str(path), text], capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"espeak-ng failed ({done.returncode}): {done.stderr.decode()!r}")
        with wave.open(str(path), "rb") as w:
            if w.getframerate() != ESPEAK_RATE or w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise RuntimeError(
                    "espeak-ng wrote an unexpected format: "
                    f"{w.getframerate()} Hz, {w.getsampwidth() * 8} bit, {w.getnchannels()} ch"
                )
            return w.readframes(w.getnframes())


def resample_pcm(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Mono 16-bit ``pcm`` from ``src_rate`` to ``dst_rate`` by linear interpolation.

    Good enough for test audio (fast, deterministic); plugins use ``utils.pcm.PcmResampler``.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    if src_rate == dst_rate or not pcm:
        return pcm
    x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16).astype(np.float64)
    n = round(len(x) * dst_rate / src_rate)
    at = np.linspace(0, len(x) - 1, n)
    out: bytes = np.interp(at, np.arange(len(x)), x).astype(np.int16).tobytes()
    return out


def spoken_pcm(text: str, sample_rate: int) -> bytes:
    """``text`` spoken by espeak-ng at ``sample_rate`` (what a fake TTS server answers with).

    Blocking (a subprocess the first time): call it through ``asyncio.to_thread`` on a loop.
    """
    return resample_pcm(espeak_pcm(text), ESPEAK_RATE, sample_rate)


def silence_pcm(seconds: float, sample_rate: int) -> bytes:
    """``seconds`` of mono 16-bit silence."""
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    return b"\x00\x00" * int(seconds * sample_rate)


def pcm_frames(pcm: bytes, sample_rate: int, frame_ms: int = 20) -> list[rtc.AudioFrame]:
    """Mono 16-bit ``pcm`` cut into frames of ``frame_ms`` (the last one may be shorter)."""
    if frame_ms <= 0:
        raise ValueError(f"frame_ms must be positive, got {frame_ms}")
    step = sample_rate * frame_ms // 1000 * 2
    usable = len(pcm) - len(pcm) % 2
    frames: list[rtc.AudioFrame] = []
    for start in range(0, usable, step):
        chunk = pcm[start : min(start + step, usable)]
        frames.append(
            rtc.AudioFrame(
                data=chunk,
                sample_rate=sample_rate,
                num_channels=1,
                samples_per_channel=len(chunk) // 2,
            )
        )
    return frames


def loud_windows(pcm: bytes, sample_rate: int) -> list[bool]:
    """One flag per :data:`ANALYSIS_WINDOW` of ``pcm``: is its RMS above :data:`LOUD_RMS`?"""
    step = int(sample_rate * ANALYSIS_WINDOW)
    x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16).astype(np.float64)
    return [
        float(np.sqrt(np.mean(x[i : i + step] ** 2))) > LOUD_RMS
        for i in range(0, len(x) - step + 1, step)
    ]


def speech_spans(pcm: bytes, sample_rate: int, min_gap: float = 0.4) -> list[tuple[float, float]]:
    """``(start, end)`` seconds of each stretch of speech in ``pcm``; stretches are separated by
    at least ``min_gap`` seconds of quiet (shorter pauses stay inside one stretch)."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    last_loud = 0.0
    for i, loud in enumerate(loud_windows(pcm, sample_rate)):
        t = i * ANALYSIS_WINDOW
        if loud:
            if start is None:
                start = t
            last_loud = t + ANALYSIS_WINDOW
        elif start is not None and t - last_loud >= min_gap:
            spans.append((start, last_loud))
            start = None
    if start is not None:
        spans.append((start, last_loud))
    return spans


@dataclass
class SpeechClip:
    """Utterances separated by silences, and where each one really is.

    Attributes:
        pcm: mono 16-bit audio at ``sample_rate``.
        texts: what each utterance says, in order.
        spans: ``(start, end)`` seconds of each utterance's voiced part (measured, not planned).
    """

    pcm: bytes
    sample_rate: int
    texts: list[str]
    spans: list[tuple[float, float]]

    @property
    def duration(self) -> float:
        """The clip's length in seconds."""
        return len(self.pcm) / 2 / self.sample_rate

    def frames(self, frame_ms: int = 20) -> list[rtc.AudioFrame]:
        """The clip as ``frame_ms`` frames."""
        return pcm_frames(self.pcm, self.sample_rate, frame_ms)


def make_speech_clip(
    texts: Sequence[str], *, lead: float = 0.4, gap: float = 1.2, tail: float = 1.0
) -> SpeechClip:
    """``texts`` spoken by espeak-ng one after the other: ``lead`` seconds of silence first,
    ``gap`` between utterances and ``tail`` at the end (at :data:`ESPEAK_RATE`).

    Raises ``ValueError`` when the energy segmentation does not find one span per text (a gap
    shorter than 0.4 s merges utterances).
    """
    if not texts:
        raise ValueError("make_speech_clip needs at least one text")
    parts = [silence_pcm(lead, ESPEAK_RATE)]
    for i, text in enumerate(texts):
        parts.append(espeak_pcm(text))
        parts.append(silence_pcm(gap if i < len(texts) - 1 else tail, ESPEAK_RATE))
    pcm = b"".join(parts)
    # espeak pads its output with a little silence: measure where the voice really is
    voiced = speech_spans(pcm, ESPEAK_RATE)
    if len(voiced) != len(texts):
        raise ValueError(
            f"expected {len(texts)} utterances in the clip but found {len(voiced)} ({voiced}); "
            "use a gap of at least 0.5 s between texts"
        )
    return SpeechClip(pcm=pcm, sample_rate=ESPEAK_RATE, texts=list(texts), spans=voiced)


def espeak_seconds(text: str) -> float:
    """How long espeak-ng speaks ``text`` (seconds)."""
    return len(espeak_pcm(text)) / 2 / ESPEAK_RATE


# -- driving streams in tests ----------------------------------------------------------------------


async def stream_sentences(
    tts: TTS, sentences: Sequence[str], conn_options: APIConnectOptions = FAST_RETRY
) -> list[SynthesizedAudio]:
    """Every event of a TTS stream fed ``sentences`` word by word, one flush per sentence."""
    async with tts.stream(conn_options=conn_options) as stream:
        for sentence in sentences:
            for word in sentence.split(" "):
                stream.push_text(word + " ")
            stream.flush()
        stream.end_input()
        return [ev async for ev in stream]


def by_segment(events: Sequence[SynthesizedAudio]) -> list[list[SynthesizedAudio]]:
    """``events`` grouped by segment, in order of appearance."""
    out: dict[str, list[SynthesizedAudio]] = {}
    for ev in events:
        out.setdefault(ev.segment_id, []).append(ev)
    return list(out.values())


async def run_stt_stream(
    stt: STT,
    frames: Sequence[rtc.AudioFrame],
    *,
    conn_options: APIConnectOptions = FAST_RETRY,
    on_frame: Callable[[int, RecognizeStream], Awaitable[None]] | None = None,
) -> list[SpeechEvent]:
    """Every event of an STT stream fed ``frames`` (yielding to the loop every 10 frames), then
    ``end_input()``; ``on_frame(i, stream)`` runs after frame ``i`` is pushed."""
    stream = stt.stream(conn_options=conn_options)
    reader = asyncio.create_task(_collect(stream))
    for i, frame in enumerate(frames):
        stream.push_frame(frame)
        if on_frame is not None:
            await on_frame(i, stream)
        if i % 10 == 0:
            await asyncio.sleep(0.001)
    stream.end_input()
    events = await asyncio.wait_for(reader, 20)
    await stream.aclose()
    return events


async def _collect(stream: RecognizeStream) -> list[SpeechEvent]:
    return [ev async for ev in stream]


def final_texts(events: Sequence[SpeechEvent]) -> list[str]:
    """The text of each FINAL_TRANSCRIPT."""
    return [e.alternatives[0].text for e in events if e.type == SpeechEventType.FINAL_TRANSCRIPT]


def event_kinds(events: Sequence[SpeechEvent]) -> list[SpeechEventType]:
    """The event types, without interim transcripts and usage."""
    skip = (SpeechEventType.INTERIM_TRANSCRIPT, SpeechEventType.RECOGNITION_USAGE)
    return [e.type for e in events if e.type not in skip]


async def check_slow_text_is_not_a_stall(tts: TTS) -> None:
    """A segment's text trickles in slower than the timeout (a slow LLM): no audio is owed
    before the segment ends, so waiting is not a stall, and nothing is retried or cut."""
    errors: list[TTSError] = []
    tts.on("error", errors.append)
    opts = APIConnectOptions(max_retry=0, timeout=HANG_TIMEOUT)
    async with tts.stream(conn_options=opts) as stream:
        stream.push_text("Hello there, ")
        await asyncio.sleep(HANG_TIMEOUT + 0.5)
        stream.push_text("friend.")
        stream.end_input()
        events = [ev async for ev in stream]
    tts.off("error", errors.append)
    assert errors == [], f"waiting for slow text was taken for a stall: {errors}"
    assert len(by_segment(events)) == 1 and events[-1].is_final
    seconds = sum(ev.frame.duration for ev in events)
    expected = espeak_seconds("Hello there, friend.")
    assert abs(seconds - expected) <= 0.02, f"{seconds} s of audio, expected {expected} s"


async def check_fallback_speaks_every_segment(
    broken: TTS, good: TTS, sentences: Sequence[str]
) -> None:
    """``broken`` refuses its key (401, not retried): a ``FallbackAdapter`` marks it unavailable
    and ``good`` speaks every segment, each exactly once. Closes both engines."""
    adapter = FallbackAdapter([broken, good])
    changes: list[bool] = []
    adapter.on("tts_availability_changed", lambda ev: changes.append(ev.available))
    try:
        async with adapter.stream(conn_options=FAST_RETRY) as stream:
            for sentence in sentences:
                stream.push_text(sentence)
                stream.flush()
            stream.end_input()
            events = [ev async for ev in stream]
    finally:
        await adapter.aclose()
        await broken.aclose()
        await good.aclose()
    assert changes[:1] == [False], f"the broken engine was not marked unavailable: {changes}"
    seconds = sum(ev.frame.duration for ev in events)
    expected = sum(espeak_seconds(s) for s in sentences)
    assert abs(seconds - expected) <= 0.05, f"{seconds} s of audio, expected {expected} s"
