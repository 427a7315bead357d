"""Resident memory of a process, without extra dependencies where possible."""

from __future__ import annotations

import os
import sys

try:
    _PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):
    _PAGE_SIZE = 4096


def process_rss_mb(pid: int) -> float | None:
    """Resident set size of ``pid`` in MiB, or None when it cannot be measured here."""
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as f:
                fields = f.read().split()
            return int(fields[1]) * _PAGE_SIZE / (1024 * 1024)
        except (OSError, IndexError, ValueError):
            return None
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:
        return float(psutil.Process(pid).memory_info().rss) / (1024 * 1024)
    except Exception:
        return None


__all__ = ["process_rss_mb"]
