"""Utilities shared by the core and by plugins.

``http_context`` is imported on first use: it loads aiohttp (about 0.1 s and 20 MB), which a
program that never makes HTTP calls should not pay for (see bench/import_cost.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..types import is_given
from . import aio, audio
from .audio import AudioBuffer, combine_frames, merge_frames
from .events import EventEmitter
from .exp_filter import ExpFilter
from .log import log_exceptions
from .misc import shortuuid, time_ms
from .moving_average import MovingAverage

if TYPE_CHECKING:
    from . import http_context

__all__ = [
    "AudioBuffer",
    "EventEmitter",
    "ExpFilter",
    "MovingAverage",
    "aio",
    "audio",
    "combine_frames",
    "http_context",
    "is_given",
    "log_exceptions",
    "merge_frames",
    "shortuuid",
    "time_ms",
]


def __getattr__(name: str) -> Any:
    if name == "http_context":
        return importlib.import_module(f"{__name__}.http_context")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
