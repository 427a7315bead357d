"""Utilities shared by the core and by plugins."""

from livekit.rtc import EventEmitter

from ..types import is_given
from . import aio, audio, http_context
from .audio import AudioBuffer, combine_frames, merge_frames
from .exp_filter import ExpFilter
from .log import log_exceptions
from .misc import shortuuid, time_ms
from .moving_average import MovingAverage

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
