"""The one thread that runs Silero for every stream of the process, batching their windows.

Each stream submits the windows it has ready and awaits a future. The thread takes everything
pending at once and runs the windows of all streams that share a model session in a single
onnxruntime call per window position (``run_batch``), then resolves the futures with one
wake-up per event loop. With many sessions in one process this costs far less than one call
and one loop wake-up per window and stream (bench/sessions_per_process.py).

A single thread, not the loop's default executor: with several threads, dozens of sessions
submitting a window every 32 ms made the threads fight the event loop for the GIL (at 64
sessions: 2.8% of audio frames over 50 ms late, 25,000 involuntary context switches in 15 s).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .onnx_model import SileroOnnxModel, run_batch

logger = logging.getLogger("voxlane.plugins.silero")

MAX_BATCH = 16
"""Streams per onnxruntime call. Larger batches save little more compute, and the results of one
batch wake their streams all at once: bounded batches keep those bursts of event-loop work short
(at 128 sessions, unbounded batches tripled the lateness p99 of the audio input)."""

WindowResult = tuple[float, float]
"""(speech probability, seconds of compute attributed to the window)."""


@dataclass
class _Request:
    model: SileroOnnxModel
    windows: list[npt.NDArray[np.float32]]
    future: asyncio.Future[list[WindowResult]]
    loop: asyncio.AbstractEventLoop
    results: list[WindowResult] = field(default_factory=list)
    error: BaseException | None = None


class InferenceBatcher:
    """Runs submitted windows on a daemon thread, batching concurrent streams together."""

    def __init__(self, name: str = "silero-vad") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._pending: list[_Request] = []
        self._thread: threading.Thread | None = None

    def submit(
        self, model: SileroOnnxModel, pcm: npt.NDArray[np.int16]
    ) -> asyncio.Future[list[WindowResult]]:
        """Queue consecutive windows of ``pcm`` (a multiple of the model's window) for ``model``.

        At most one request per model may be pending: a stream awaits its result before it
        submits the next windows (the model's recurrent state depends on the order).
        """
        window = model.window_size_samples
        if pcm.ndim != 1 or pcm.shape[0] == 0 or pcm.shape[0] % window:
            raise ValueError(
                f"submit expects 1-D int16 audio whose length is a non-zero multiple of {window}, "
                f"got shape {pcm.shape}"
            )
        audio = pcm.astype(np.float32) / 32768.0
        windows = [audio[i : i + window] for i in range(0, audio.shape[0], window)]
        loop = asyncio.get_running_loop()
        request = _Request(model, windows, loop.create_future(), loop)
        with self._cond:
            self._pending.append(request)
            if self._thread is None or not self._thread.is_alive():  # e.g. in a forked child
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return request.future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
            self._process(batch)
            self._deliver(batch)

    @staticmethod
    def _process(batch: list[_Request]) -> None:
        groups: dict[tuple[int, int], list[_Request]] = defaultdict(list)
        for request in batch:
            model = request.model
            groups[(id(model.session), model.sample_rate)].append(request)
        for group in groups.values():
            steps = max(len(r.windows) for r in group)
            try:
                for step in range(steps):
                    active = [r for r in group if len(r.windows) > step]
                    t0 = time.perf_counter()
                    probs = run_batch([r.model for r in active], [r.windows[step] for r in active])
                    per_window = (time.perf_counter() - t0) / len(active)
                    for request, prob in zip(active, probs, strict=True):
                        request.results.append((prob, per_window))
            except Exception as e:  # reported to every stream of the group
                for request in group:
                    request.error = e

    @staticmethod
    def _deliver(batch: list[_Request]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Request]] = defaultdict(list)
        for request in batch:
            by_loop[request.loop].append(request)
        for loop, requests in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, requests)
            except RuntimeError:  # that loop was closed while its requests were running
                logger.debug("dropping Silero results for a closed event loop")


def _resolve(requests: list[_Request]) -> None:
    for request in requests:
        if request.future.done():  # the stream was cancelled meanwhile
            continue
        if request.error is not None:
            request.future.set_exception(request.error)
        else:
            request.future.set_result(request.results)


_batcher: InferenceBatcher | None = None
_batcher_lock = threading.Lock()


def inference_batcher() -> InferenceBatcher:
    """The process's batcher (created on first use)."""
    global _batcher
    with _batcher_lock:
        if _batcher is None:
            _batcher = InferenceBatcher()
        return _batcher
