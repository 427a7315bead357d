"""Identifiers and clocks."""

from __future__ import annotations

import time
import uuid


def shortuuid(prefix: str = "") -> str:
    """A short random identifier, e.g. ``shortuuid("SP_")`` -> ``"SP_3f9a0c1b2d4e"``."""
    return prefix + uuid.uuid4().hex[:12]


def time_ms() -> int:
    """Wall-clock time in milliseconds."""
    return int(time.time() * 1000)
