"""The OpenAI Realtime API (speech-to-speech over a websocket)."""

from .realtime_model import RealtimeModel, RealtimeOptions
from .realtime_session import RealtimeSession

__all__ = ["RealtimeModel", "RealtimeOptions", "RealtimeSession"]
