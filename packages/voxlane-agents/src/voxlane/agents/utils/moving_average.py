"""``MovingAverage``: the mean of the last ``window_size`` samples."""

from __future__ import annotations

import math
from collections import deque


class MovingAverage:
    """Average of the most recent ``window_size`` samples (fewer until the window fills)."""

    def __init__(self, window_size: int) -> None:
        if window_size < 1:
            raise ValueError(f"window_size must be >= 1, got {window_size}")
        self._window_size = window_size
        self._samples: deque[float] = deque(maxlen=window_size)

    @property
    def window_size(self) -> int:
        return self._window_size

    def add_sample(self, sample: float) -> None:
        """Add a sample; the oldest one leaves once the window is full."""
        self._samples.append(sample)

    def get_avg(self) -> float:
        """The average of the window; 0.0 when no sample was added yet."""
        if not self._samples:
            return 0.0
        return math.fsum(self._samples) / len(self._samples)

    def reset(self) -> None:
        self._samples.clear()

    def size(self) -> int:
        """How many samples the window holds now."""
        return len(self._samples)


__all__ = ["MovingAverage"]
