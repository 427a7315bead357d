"""Which session a piece of work belongs to, so that events of shared models reach only it.

Models (an LLM, STT, TTS or VAD instance) may be shared by many sessions in one process, e.g.
one Silero VAD loaded by a prewarm function. Their ``metrics_collected`` and ``error`` events
are emitted on the model, synchronously, from the task of the stream that produced them. A
session marks the tasks it starts with itself (a context variable, inherited by every task
created from them), so an ``AgentActivity`` can tell its own events from another session's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current_session: ContextVar[object | None] = ContextVar("voxlane_current_session", default=None)


@contextmanager
def session_scope(session: object) -> Iterator[None]:
    """Mark work started inside this block (and the tasks it creates) as ``session``'s."""
    token = _current_session.set(session)
    try:
        yield
    finally:
        _current_session.reset(token)


def belongs_to_other_session(session: object) -> bool:
    """True when the running code was started by a session other than ``session``.

    Code started outside any session (a user's own task calling a model) belongs to nobody,
    so every session that listens to that model still hears its events.
    """
    owner = _current_session.get()
    return owner is not None and owner is not session
