"""A tiny deterministic formant synthesizer: one fixed-length sound per character.

Not intelligible speech, but real audio with speech-like structure, computed locally with numpy:

- vowels (``a e i o u y``): a glottal pulse train (harmonics of the voice pitch) shaped by the
  vowel's first three formant resonances;
- voiced consonants (``b d g j l m n r v w z``): the same source with their own, weaker formants;
- unvoiced consonants (``c f h k p q s t x``): band-limited noise (a fixed seed per letter);
- digits: pure musical tones; other letters: a tone derived from the code point;
- whitespace and punctuation: silence.

Every character lasts exactly ``char_duration`` seconds, so the audio length is proportional to
the text length. The ``"sine"`` model replaces every sound with a pure tone (one semitone per
letter), which is useful when a test wants clean, easily measured pitches.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

ToneModel = Literal["formant", "sine"]
MODELS: tuple[ToneModel, ...] = ("formant", "sine")
DEFAULT_MODEL: ToneModel = "formant"
DEFAULT_PITCH_HZ = 120.0
MIN_PITCH_HZ, MAX_PITCH_HZ = 50.0, 500.0
DEFAULT_CHAR_DURATION = 0.08
SUPPORTED_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)

_FULL_SCALE = 32767.0
_RAMP_SECONDS = 0.008

# (F1, F2, F3) in Hz and a peak level (fraction of full scale).
_VOWELS: dict[str, tuple[tuple[float, float, float], float]] = {
    "a": ((730.0, 1090.0, 2440.0), 0.55),
    "e": ((530.0, 1840.0, 2480.0), 0.50),
    "i": ((270.0, 2290.0, 3010.0), 0.45),
    "o": ((570.0, 840.0, 2410.0), 0.55),
    "u": ((300.0, 870.0, 2240.0), 0.45),
    "y": ((300.0, 2100.0, 2700.0), 0.45),
}
_VOICED: dict[str, tuple[tuple[float, float, float], float]] = {
    "m": ((280.0, 1000.0, 2200.0), 0.30),
    "n": ((280.0, 1700.0, 2500.0), 0.30),
    "l": ((360.0, 1300.0, 2700.0), 0.32),
    "r": ((420.0, 1300.0, 1600.0), 0.32),
    "w": ((300.0, 700.0, 2200.0), 0.30),
    "b": ((250.0, 800.0, 2200.0), 0.25),
    "d": ((300.0, 1700.0, 2600.0), 0.25),
    "g": ((280.0, 2000.0, 2400.0), 0.25),
    "j": ((300.0, 2000.0, 2800.0), 0.25),
    "v": ((250.0, 1200.0, 2400.0), 0.22),
    "z": ((250.0, 1600.0, 2600.0), 0.22),
}
# Centre frequency (Hz) of the noise band and a peak level.
_UNVOICED: dict[str, tuple[float, float]] = {
    "s": (5000.0, 0.22),
    "x": (4500.0, 0.20),
    "c": (3500.0, 0.20),
    "f": (3000.0, 0.12),
    "h": (1500.0, 0.10),
    "t": (4000.0, 0.20),
    "k": (2500.0, 0.20),
    "q": (2200.0, 0.20),
    "p": (1200.0, 0.18),
}
_FORMANT_BANDWIDTH = 90.0


@dataclass(frozen=True)
class SynthOptions:
    """Synthesis settings; validated on construction."""

    model: ToneModel = DEFAULT_MODEL
    sample_rate: int = 16000
    pitch_hz: float = DEFAULT_PITCH_HZ
    char_duration: float = DEFAULT_CHAR_DURATION

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown tone model {self.model!r}; choose one of {list(MODELS)}")
        if self.sample_rate not in SUPPORTED_SAMPLE_RATES:
            raise ValueError(
                f"sample_rate {self.sample_rate} is not supported; use one of "
                f"{list(SUPPORTED_SAMPLE_RATES)}"
            )
        if not MIN_PITCH_HZ <= self.pitch_hz <= MAX_PITCH_HZ:
            raise ValueError(
                f"pitch_hz must be between {MIN_PITCH_HZ:g} and {MAX_PITCH_HZ:g} Hz, "
                f"got {self.pitch_hz:g}"
            )
        if not 0.01 <= self.char_duration <= 1.0:
            raise ValueError(
                f"char_duration must be between 0.01 and 1.0 seconds, got {self.char_duration:g}"
            )

    @property
    def samples_per_char(self) -> int:
        return round(self.sample_rate * self.char_duration)


def _envelope(n: int, sample_rate: int) -> npt.NDArray[np.float64]:
    """Raised-cosine attack and release, so characters join without clicks."""
    env = np.ones(n)
    ramp = min(n // 2, max(1, round(_RAMP_SECONDS * sample_rate)))
    shape = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, ramp))
    env[:ramp] = shape
    env[n - ramp :] = shape[::-1]
    return env


def _normalize(wave: npt.NDArray[np.float64], level: float) -> npt.NDArray[np.float64]:
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    return wave * (level / peak) if peak > 0 else wave


def _voiced(
    formants: tuple[float, float, float], level: float, opts: SynthOptions
) -> npt.NDArray[np.float64]:
    n = opts.samples_per_char
    t = np.arange(n) / opts.sample_rate
    top = min(opts.sample_rate / 2 - 100.0, 4000.0)
    harmonics = np.arange(1, int(top // opts.pitch_hz) + 1) * opts.pitch_hz
    gains = np.zeros_like(harmonics)
    for centre in formants:
        gains += 1.0 / (1.0 + ((harmonics - centre) / _FORMANT_BANDWIDTH) ** 2)
    gains /= np.sqrt(np.arange(1, harmonics.size + 1))  # glottal source tilt
    wave = (gains[:, None] * np.sin(2 * np.pi * harmonics[:, None] * t[None, :])).sum(axis=0)
    return _normalize(wave, level)


def _noise(char: str, centre: float, level: float, opts: SynthOptions) -> npt.NDArray[np.float64]:
    n = opts.samples_per_char
    rng = np.random.default_rng(ord(char))
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / opts.sample_rate)
    centre = min(centre, opts.sample_rate / 2 * 0.8)
    spectrum *= np.exp(-(((freqs - centre) / (centre * 0.35)) ** 2))
    wave = np.fft.irfft(spectrum, n)
    return _normalize(wave, level)


def _tone(freq: float, level: float, opts: SynthOptions) -> npt.NDArray[np.float64]:
    t = np.arange(opts.samples_per_char) / opts.sample_rate
    return level * np.sin(2 * np.pi * freq * t)


def char_wave(char: str, opts: SynthOptions) -> npt.NDArray[np.float64]:
    """The waveform (floats in [-1, 1]) of one character; silence for spaces and punctuation."""
    n = opts.samples_per_char
    lower = char.lower()
    if not char.isalnum():
        return np.zeros(n)
    if opts.model == "sine":
        if "a" <= lower <= "z":
            semitone = ord(lower) - ord("a")
        elif lower.isdigit():
            semitone = 26 + int(lower) if lower.isascii() else 26
        else:
            semitone = ord(char) % 36
        wave = _tone(opts.pitch_hz * 2.0 ** (semitone / 12.0), 0.4, opts)
    elif lower in _VOWELS:
        formants, level = _VOWELS[lower]
        wave = _voiced(formants, level, opts)
    elif lower in _VOICED:
        formants, level = _VOICED[lower]
        wave = _voiced(formants, level, opts)
    elif lower in _UNVOICED:
        centre, level = _UNVOICED[lower]
        wave = _noise(lower, centre, level, opts)
    elif lower.isdigit() and lower.isascii():
        wave = _tone(440.0 * 2.0 ** (int(lower) / 12.0), 0.35, opts)
    else:
        base = unicodedata.normalize("NFKD", lower)[:1]
        if base and base != lower and (base in _VOWELS or base in _VOICED):
            return char_wave(base, opts)  # accented letters sound like their base letter
        wave = _tone(300.0 + (ord(char) % 50) * 20.0, 0.3, opts)
    return wave * _envelope(n, opts.sample_rate)


def synthesize_pcm(text: str, opts: SynthOptions) -> bytes:
    """16-bit little-endian mono PCM for ``text``: ``len(text) * samples_per_char`` samples."""
    if not text:
        return b""
    cache: dict[str, npt.NDArray[np.float64]] = {}
    parts = []
    for char in text:
        wave = cache.get(char)
        if wave is None:
            wave = cache[char] = char_wave(char, opts)
        parts.append(wave)
    audio = np.clip(np.concatenate(parts) * _FULL_SCALE, -_FULL_SCALE, _FULL_SCALE)
    return audio.astype("<i2").tobytes()


_WORD_RE = re.compile(r"\s*\S+\s*|\s+")


def split_words(text: str) -> list[tuple[int, str]]:
    """``(offset, piece)`` pairs covering ``text``: each word with its surrounding spaces."""
    return [(m.start(), m.group()) for m in _WORD_RE.finditer(text)]
