"""How an activity detects the end of the user's turn: ``"vad"``, ``"stt"``, ``"realtime_llm"``
or ``"manual"``, plus an optional turn detector model.

The agent's ``turn_detection`` wins over the session's. A mode whose model is missing (``"vad"``
without a VAD, ...) is reported and replaced by the best mode the models allow.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import llm as llm_mod
from ..types import NOT_GIVEN, is_given

logger = logging.getLogger("voxlane.agents.voice")

MODES = ("stt", "vad", "realtime_llm", "manual")


def check_mode(value: Any, *, name: str = "turn_detection", none_allowed: bool = False) -> None:
    """Refuse a mode string that is not one of :data:`MODES` (objects are turn detectors)."""
    if isinstance(value, str) and value not in MODES:
        choices = "'stt', 'vad', 'realtime_llm', 'manual'"
        tail = ", a turn detector object or None" if none_allowed else " or a turn detector object"
        raise ValueError(f"unknown {name} {value!r}; use {choices}{tail}")


def is_realtime_model(model: object) -> bool:
    """True for a :class:`~voxlane.agents.llm.RealtimeModel` given as the ``llm``."""
    realtime_cls = getattr(llm_mod, "RealtimeModel", None)
    return realtime_cls is not None and isinstance(model, realtime_cls)


def resolve_turn_detection(
    requested: Any, *, has_vad: bool, has_stt: bool, is_realtime: bool
) -> tuple[str, Any]:
    """The mode to run and the turn detector object (``None`` when there is none)."""
    mode: Any = NOT_GIVEN if requested is None else requested
    if isinstance(mode, str):
        check_mode(mode)
        missing = {
            "vad": None if has_vad else "needs a VAD; none is set",
            "stt": None if has_stt else "needs an STT; none is set",
            "realtime_llm": None if is_realtime else "needs a RealtimeModel as llm",
        }.get(mode)
        if missing is None:
            return mode, None
        logger.warning("turn_detection=%r %s, falling back", mode, missing)
    elif is_given(mode):
        # a turn detector object: end of speech from the VAD (or the STT), then the model
        if not has_vad and not has_stt:
            logger.warning("a turn detector needs a VAD or an STT; using manual turns")
            return "manual", None
        return ("vad" if has_vad else "stt"), mode
    if is_realtime:
        return "realtime_llm", None
    if has_vad:
        return "vad", None
    if has_stt:
        return "stt", None
    return "manual", None
