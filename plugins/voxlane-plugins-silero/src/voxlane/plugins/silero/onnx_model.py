"""The Silero VAD network on onnxruntime: one speech probability per fixed-size window.

This module knows nothing about asyncio or Voxlane streams; :class:`SileroOnnxModel` is a plain,
stateful, single-threaded object (call it from one thread at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

SUPPORTED_SAMPLE_RATES: tuple[int, ...] = (8000, 16000)
_WINDOW_SAMPLES = {16000: 512, 8000: 256}
_CONTEXT_SAMPLES = {16000: 64, 8000: 32}
_STATE_SHAPE = (2, 1, 128)
MODEL_FILENAME = "silero_vad.onnx"


def bundled_model_path() -> Path:
    """Path of the Silero VAD ONNX file shipped inside this plugin (MIT licence next to it)."""
    res = resources.files("voxlane.plugins.silero").joinpath("resources").joinpath(MODEL_FILENAME)
    path = Path(str(res))
    if not path.is_file():
        raise FileNotFoundError(
            f"the bundled Silero model is missing at {path}; reinstall voxlane-plugins-silero"
        )
    return path


def window_size_samples(sample_rate: int) -> int:
    """Samples per inference window at ``sample_rate`` (32 ms of audio)."""
    _check_rate(sample_rate)
    return _WINDOW_SAMPLES[sample_rate]


def _check_rate(sample_rate: int) -> None:
    if sample_rate not in SUPPORTED_SAMPLE_RATES:
        raise ValueError(
            f"Silero VAD runs at 8000 or 16000 Hz, got sample_rate={sample_rate}; "
            "pick one of those (input audio at other rates is resampled automatically)"
        )


def new_session(
    *, model_path: str | Path | None = None, force_cpu: bool = True, intra_op_threads: int = 1
) -> Any:
    """Create an ``onnxruntime.InferenceSession`` for the Silero model (1 intra-op thread)."""
    import onnxruntime  # imported lazily: the plugin module stays cheap to import

    path = Path(model_path) if model_path is not None else bundled_model_path()
    if not path.is_file():
        raise FileNotFoundError(f"Silero ONNX model not found at {path}")
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    available = onnxruntime.get_available_providers()
    if force_cpu or available == ["CPUExecutionProvider"]:
        providers = ["CPUExecutionProvider"]
    else:
        providers = available
    return onnxruntime.InferenceSession(str(path), sess_options=opts, providers=providers)


class SileroOnnxModel:
    """Stateful Silero inference over consecutive windows of one audio stream.

    ``session`` may be shared between models (onnxruntime sessions are thread-safe for ``run``);
    the recurrent state and the audio context belong to this object.
    """

    def __init__(self, session: Any, *, sample_rate: int) -> None:
        _check_rate(sample_rate)
        self._session = session
        self._sample_rate = sample_rate
        self._window = _WINDOW_SAMPLES[sample_rate]
        self._context_size = _CONTEXT_SAMPLES[sample_rate]
        self._sr = np.array(sample_rate, dtype=np.int64)
        self._input = np.zeros((1, self._context_size + self._window), dtype=np.float32)
        self.reset()

    @property
    def session(self) -> Any:
        """The onnxruntime session (shared models can be batched together: ``run_batch``)."""
        return self._session

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def window_size_samples(self) -> int:
        return self._window

    @property
    def window_duration(self) -> float:
        return self._window / self._sample_rate

    def reset(self) -> None:
        """Forget the recurrent state and context (start of a new, unrelated stream)."""
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros((self._context_size,), dtype=np.float32)

    def __call__(self, window: npt.NDArray[np.float32]) -> float:
        """Speech probability (0..1) of one window of ``window_size_samples`` float samples."""
        if window.shape != (self._window,):
            raise ValueError(
                f"a Silero window at {self._sample_rate} Hz has {self._window} samples, "
                f"got an array of shape {window.shape}"
            )
        self._input[0, : self._context_size] = self._context
        self._input[0, self._context_size :] = window
        out, state = self._session.run(
            None, {"input": self._input, "state": self._state, "sr": self._sr}
        )
        self._state = state
        self._context = window[-self._context_size :].copy()
        return float(np.asarray(out).reshape(-1)[0])

    def run_pcm16(self, pcm: npt.NDArray[np.int16]) -> list[float]:
        """Probabilities of consecutive windows of int16 PCM (length a multiple of the window)."""
        if pcm.ndim != 1 or pcm.shape[0] % self._window:
            raise ValueError(
                f"run_pcm16 expects 1-D int16 audio whose length is a multiple of {self._window}, "
                f"got shape {pcm.shape}"
            )
        audio = pcm.astype(np.float32) / 32768.0
        return [self(audio[i : i + self._window]) for i in range(0, audio.shape[0], self._window)]


def run_batch(
    models: Sequence[SileroOnnxModel], windows: Sequence[npt.NDArray[np.float32]]
) -> list[float]:
    """One window for each model in a single onnxruntime call: the speech probabilities.

    The models must share one session and one sample rate; each keeps its own recurrent state
    and context, which this updates exactly as ``model(window)`` would. One call for many
    streams costs far less than one call each (bench/sessions_per_process.py).
    """
    if len(models) != len(windows):
        raise ValueError(f"run_batch got {len(models)} models but {len(windows)} windows")
    if not models:
        return []
    if len(models) == 1:
        return [models[0](windows[0])]
    first = models[0]
    ctx, win = first._context_size, first._window
    batch = np.empty((len(models), ctx + win), dtype=np.float32)
    for row, (model, window) in enumerate(zip(models, windows, strict=True)):
        if model._session is not first._session or model._sample_rate != first._sample_rate:
            raise ValueError("run_batch needs models that share one session and sample rate")
        if window.shape != (win,):
            raise ValueError(
                f"a Silero window at {first._sample_rate} Hz has {win} samples, "
                f"got an array of shape {window.shape}"
            )
        batch[row, :ctx] = model._context
        batch[row, ctx:] = window
    state = np.concatenate([m._state for m in models], axis=1)
    out, new_state = first._session.run(None, {"input": batch, "state": state, "sr": first._sr})
    probs = np.asarray(out).reshape(-1)
    for row, (model, window) in enumerate(zip(models, windows, strict=True)):
        model._state = np.ascontiguousarray(new_state[:, row : row + 1, :])
        model._context = window[-ctx:].copy()
    return [float(p) for p in probs]
