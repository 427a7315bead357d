"""Utilities shared by the core and by plugins."""

from . import aio, audio
from .misc import shortuuid, time_ms

__all__ = ["aio", "audio", "shortuuid", "time_ms"]
