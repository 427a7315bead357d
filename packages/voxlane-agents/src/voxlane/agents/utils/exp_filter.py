"""``ExpFilter``: an exponential moving average whose weight depends on elapsed time."""

from __future__ import annotations


class ExpFilter:
    """Exponentially smooths a series of samples.

    ``alpha`` (0 < alpha < 1) is how much of the previous value survives one step:
    ``value = alpha**exp * value + (1 - alpha**exp) * sample``, where ``exp`` (default 1) is
    the number of steps since the last sample, so irregular sampling can be weighted by time.
    The first sample is taken as is. ``max_val`` (when > 0) caps the filtered value.
    """

    def __init__(self, alpha: float, max_val: float = -1.0) -> None:
        self._check_alpha(alpha)
        self._alpha = alpha
        self._max_val = max_val
        self._value: float | None = None

    @staticmethod
    def _check_alpha(alpha: float) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")

    @property
    def alpha(self) -> float:
        return self._alpha

    @property
    def value(self) -> float | None:
        """The filtered value, or None before the first sample."""
        return self._value

    def reset(self, alpha: float | None = None) -> None:
        """Forget every sample (and optionally change ``alpha``)."""
        if alpha is not None:
            self._check_alpha(alpha)
            self._alpha = alpha
        self._value = None

    def apply(self, exp: float, sample: float) -> float:
        """Add ``sample``, ``exp`` steps after the previous one; returns the new value."""
        if exp < 0:
            raise ValueError(f"exp (steps since the last sample) must be >= 0, got {exp}")
        if self._value is None:
            value = sample
        else:
            keep = self._alpha**exp
            value = keep * self._value + (1.0 - keep) * sample
        if self._max_val > 0 and value > self._max_val:
            value = self._max_val
        self._value = value
        return value

    def filtered(self) -> float:
        """The filtered value; -1.0 before the first sample (LiveKit's convention)."""
        return -1.0 if self._value is None else self._value

    def update_base(self, alpha: float) -> None:
        """Change ``alpha`` without forgetting the current value."""
        self._check_alpha(alpha)
        self._alpha = alpha


__all__ = ["ExpFilter"]
