"""The default load function: CPU utilisation of the machine, smoothed over a few samples."""

from __future__ import annotations

import os
import sys
import threading
from collections import deque

_SAMPLES = 5


class CpuLoadMonitor:
    """Measures CPU utilisation between successive calls (Linux: /proc/stat)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[int, int] | None = None
        self._history: deque[float] = deque(maxlen=_SAMPLES)

    @staticmethod
    def _read_proc_stat() -> tuple[int, int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                first = f.readline().split()
        except OSError:
            return None
        if not first or first[0] != "cpu":
            return None
        values = [int(v) for v in first[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), idle

    def get_load(self) -> float:
        """Utilisation in [0, 1] (moving average of the last samples)."""
        with self._lock:
            if sys.platform.startswith("linux"):
                now = self._read_proc_stat()
                if now is not None:
                    if self._last is not None:
                        total = now[0] - self._last[0]
                        idle = now[1] - self._last[1]
                        if total > 0:
                            self._history.append(max(0.0, min(1.0, 1.0 - idle / total)))
                    self._last = now
            elif hasattr(os, "getloadavg"):
                cpus = os.cpu_count() or 1
                self._history.append(min(1.0, os.getloadavg()[0] / cpus))
            if not self._history:
                return 0.0
            return sum(self._history) / len(self._history)


_monitor = CpuLoadMonitor()


def default_load_fnc() -> float:
    """CPU utilisation of the machine in [0, 1]."""
    return _monitor.get_load()


__all__ = ["CpuLoadMonitor", "default_load_fnc"]
