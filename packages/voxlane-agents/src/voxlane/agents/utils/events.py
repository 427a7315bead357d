"""An ``rtc.EventEmitter`` whose ``emit`` does not inspect every callback on every call.

``livekit.rtc.EventEmitter.emit`` calls ``inspect.signature`` for each callback each time an
event fires, to pass a callback only as many arguments as it accepts. For models shared by many
sessions (one VAD for a whole process), that cost dominated the event loop in
``bench/sessions_per_process.py``. This subclass works out each callback's arity once, when it
is registered, and behaves the same otherwise: it is still an ``rtc.EventEmitter``, callbacks
run in registration order, a ``TypeError`` from a callback propagates and any other exception
is logged.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from livekit import rtc

logger = logging.getLogger("voxlane.agents")

T_contra = TypeVar("T_contra", contravariant=True)

_ALL_ARGS = -1


def callback_arity(callback: Callable[..., Any]) -> int:
    """How many positional arguments ``callback`` takes; ``-1`` when it takes ``*args``."""
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: hand them everything
        return _ALL_ARGS
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return _ALL_ARGS
    return sum(
        1
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )


class EventEmitter(rtc.EventEmitter[T_contra], Generic[T_contra]):
    """``rtc.EventEmitter`` with each callback's arity computed once, at registration."""

    def __init__(self) -> None:
        super().__init__()
        self._arity: dict[Callable[..., Any], int] = {}

    def on(self, event: T_contra, callback: Callable[..., Any] | None = None) -> Callable[..., Any]:
        registered = super().on(event, callback)
        if callback is not None:
            self._arity[callback] = callback_arity(callback)
        return registered

    def off(self, event: T_contra, callback: Callable[..., Any]) -> None:
        super().off(event, callback)
        if not any(callback in callbacks for callbacks in self._events.values()):
            self._arity.pop(callback, None)

    def emit(self, event: T_contra, *args: Any) -> None:
        callbacks = self._events.get(event)
        if not callbacks:
            return
        arity_of = self._arity
        for callback in list(callbacks):
            arity = arity_of.get(callback)
            if arity is None:  # registered around ``on`` (e.g. straight into ``_events``)
                arity = arity_of[callback] = callback_arity(callback)
            try:
                if arity == _ALL_ARGS:
                    callback(*args)
                else:
                    callback(*args[:arity])
            except TypeError:
                raise
            except Exception:
                logger.exception("an event callback for %r failed", event)
