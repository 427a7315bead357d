"""Real speech for the ElevenLabs tests: espeak-ng audio, energy segmentation, resampling.

espeak-ng (a Debian package) speaks in 22.05 kHz mono 16-bit. The fake server finds speech in
the audio it receives by energy, so the tests exercise real speech timing, not scripted times.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from livekit import rtc

ESPEAK_RATE = 22050
WINDOW = 0.02  # seconds per analysis window
LOUD_RMS = 300.0


@functools.lru_cache(maxsize=64)
def espeak_pcm(text: str) -> bytes:
    """``text`` spoken by espeak-ng, as 22.05 kHz mono int16 PCM (cached)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.wav"
        subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
        with wave.open(str(path), "rb") as w:
            assert w.getframerate() == ESPEAK_RATE and w.getsampwidth() == 2
            return w.readframes(w.getnframes())


def resample(pcm: bytes, src: int, dst: int) -> bytes:
    if src == dst or not pcm:
        return pcm
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    n = round(len(x) * dst / src)
    t = np.linspace(0, len(x) - 1, n)
    return np.interp(t, np.arange(len(x)), x).astype(np.int16).tobytes()


def silence_pcm(seconds: float, rate: int) -> bytes:
    return b"\x00\x00" * int(seconds * rate)


def frames_of(pcm: bytes, rate: int, frame_ms: int = 20) -> list[rtc.AudioFrame]:
    step = rate * frame_ms // 1000 * 2
    return [
        rtc.AudioFrame(
            data=pcm[i : i + step],
            sample_rate=rate,
            num_channels=1,
            samples_per_channel=len(pcm[i : i + step]) // 2,
        )
        for i in range(0, len(pcm) - len(pcm) % 2, step)
        if len(pcm[i : i + step]) >= 2
    ]


@dataclass
class Clip:
    """Utterances separated by silences, with where each one really is."""

    pcm: bytes
    rate: int
    texts: list[str]
    spans: list[tuple[float, float]]

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / self.rate

    def frames(self, frame_ms: int = 20) -> list[rtc.AudioFrame]:
        return frames_of(self.pcm, self.rate, frame_ms)


def make_clip(texts: list[str], *, lead: float = 0.4, gap: float = 1.2, tail: float = 1.0) -> Clip:
    parts = [silence_pcm(lead, ESPEAK_RATE)]
    spans: list[tuple[float, float]] = []
    t = lead
    for i, text in enumerate(texts):
        speech = espeak_pcm(text)
        d = len(speech) / 2 / ESPEAK_RATE
        spans.append((t, t + d))
        parts.append(speech)
        t += d
        pause = gap if i < len(texts) - 1 else tail
        parts.append(silence_pcm(pause, ESPEAK_RATE))
        t += pause
    pcm = b"".join(parts)
    # where the voice really is (espeak pads its output with a little silence)
    voiced = segments(pcm, ESPEAK_RATE)
    assert len(voiced) == len(texts), f"expected {len(texts)} utterances, found {voiced}"
    return Clip(pcm=pcm, rate=ESPEAK_RATE, texts=list(texts), spans=voiced)


def window_loudness(pcm: bytes, rate: int) -> list[bool]:
    """One flag per 20 ms window: does it hold speech (by RMS energy)?"""
    step = int(rate * WINDOW)
    x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16).astype(np.float64)
    out = []
    for i in range(0, len(x) - step + 1, step):
        out.append(float(np.sqrt(np.mean(x[i : i + step] ** 2))) > LOUD_RMS)
    return out


def segments(pcm: bytes, rate: int, min_gap: float = 0.4) -> list[tuple[float, float]]:
    """Stretches of speech in a whole buffer, split by silences of at least ``min_gap``."""
    loud = window_loudness(pcm, rate)
    spans: list[tuple[float, float]] = []
    start: float | None = None
    last = 0.0
    for i, flag in enumerate(loud):
        t = i * WINDOW
        if flag:
            if start is None:
                start = t
            last = t + WINDOW
        elif start is not None and t - last >= min_gap:
            spans.append((start, last))
            start = None
    if start is not None:
        spans.append((start, last))
    return spans
