"""Turn-taking options: LiveKit's newer ``turn_handling=`` spelling and the resolved options.

``AgentSession(turn_handling=TurnHandlingOptions(...))`` and ``Agent(turn_handling=...)`` group
the turn-detection, endpointing, interruption and preemptive-generation settings that older
programs pass as separate keyword arguments (``min_endpointing_delay=``,
``allow_interruptions=``...). Both spellings are accepted and end up in one
:class:`VoiceOptions` (``session.options``).

Rules:

- Every key is optional; a key left out keeps the value of the old keyword argument (or its
  default). Giving a ``preemptive_generation`` mapping turns preemptive generation on unless it
  says ``"enabled": False``.
- Setting a value both ways is an error: a ``turn_handling`` key together with its old keyword
  argument (for ``AgentSession``, an old argument counts as set when it differs from its
  default, since those defaults are part of the public signature).
- An agent's values override the session's key by key (leaf by leaf: an agent giving only
  ``endpointing.min_delay`` keeps the session's ``max_delay``).
- Unknown keys and wrongly typed values raise errors naming the valid keys.

Not available in Voxlane (accepted, with a warning, and run as described): dynamic endpointing
(``endpointing.mode="dynamic"`` runs with the fixed delays), adaptive interruption
(``interruption.mode="adaptive"`` uses the VAD; ``backchannel_boundary`` only applies there),
and ``preemptive_generation.preemptive_tts`` (the LLM starts early, the TTS does not).
``user_turn_limit`` is not implemented and raises an error.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from ..types import NOT_GIVEN
from .turn_mode import check_mode

logger = logging.getLogger("voxlane.agents.voice")


class EndpointingOptions(TypedDict, total=False):
    """When the user's turn is over after they stop speaking."""

    mode: Literal["fixed", "dynamic"]
    """"fixed" (Voxlane runs "dynamic" as "fixed", with a warning)."""
    min_delay: float
    """Seconds to wait after the end of speech (0.5)."""
    max_delay: float
    """Seconds to wait when a turn detector says the user is probably not done (6.0)."""
    alpha: float
    """Smoothing factor of dynamic endpointing, in (0, 1] (validated, otherwise unused)."""


class InterruptionOptions(TypedDict, total=False):
    """Whether and when the user's speech interrupts the agent."""

    enabled: bool
    """The user may interrupt the agent (True)."""
    mode: Literal["adaptive", "vad"]
    """"vad" (Voxlane has no adaptive detector: "adaptive" uses the VAD, with a warning)."""
    discard_audio_if_uninterruptible: bool
    """While uninterruptible speech plays, the STT hears silence (True)."""
    min_duration: float
    """Seconds of user speech that interrupt the agent (0.5)."""
    min_words: int
    """Transcribed words needed to interrupt (0: any speech)."""
    resume_false_interruption: bool
    """Resume paused speech when the user said nothing after all (True)."""
    false_interruption_timeout: float | None
    """Seconds after a wordless interruption before resuming (2.0; None: never)."""
    backchannel_boundary: tuple[float, float]
    """Adaptive mode only (validated, otherwise unused)."""


class PreemptiveGenerationOptions(TypedDict, total=False):
    """Starting the LLM on the user's transcript before the end of the turn is confirmed."""

    enabled: bool
    """On when this mapping is given, unless False."""
    preemptive_tts: bool
    """Not supported: only the LLM starts early (True logs a warning)."""
    max_speech_duration: float
    """No preemptive request once the user has spoken longer than this (seconds, 10.0)."""
    max_retries: int
    """Preemptive requests started at most per user turn (3)."""


class TurnHandlingOptions(TypedDict, total=False):
    """Turn detection, endpointing, interruption and preemptive generation, in one mapping."""

    turn_detection: Any
    """"stt", "vad", "realtime_llm", "manual", a turn detector object, or None (automatic)."""
    endpointing: EndpointingOptions
    interruption: InterruptionOptions
    preemptive_generation: PreemptiveGenerationOptions


@dataclass
class VoiceOptions:
    """Turn-taking, interruption and tool options of a session (``session.options``)."""

    allow_interruptions: bool = True
    discard_audio_if_uninterruptible: bool = True
    min_interruption_duration: float = 0.5
    min_interruption_words: int = 0
    min_endpointing_delay: float = 0.5
    max_endpointing_delay: float = 6.0
    max_tool_steps: int = 3
    user_away_timeout: float | None = 15.0
    min_consecutive_speech_delay: float = 0.0
    false_interruption_timeout: float | None = 2.0
    resume_false_interruption: bool = True
    preemptive_generation: bool = False
    preemptive_max_speech_duration: float = 10.0
    preemptive_max_retries: int = 3
    turn_detection: Any = None
    """The requested turn detection (None: chosen from the models)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def turn_handling(self) -> TurnHandlingOptions:
        """These options in the ``turn_handling`` spelling."""
        return TurnHandlingOptions(
            turn_detection=self.turn_detection,
            endpointing=EndpointingOptions(
                mode="fixed",
                min_delay=self.min_endpointing_delay,
                max_delay=self.max_endpointing_delay,
            ),
            interruption=InterruptionOptions(
                enabled=self.allow_interruptions,
                mode="vad",
                discard_audio_if_uninterruptible=self.discard_audio_if_uninterruptible,
                min_duration=self.min_interruption_duration,
                min_words=self.min_interruption_words,
                resume_false_interruption=self.resume_false_interruption,
                false_interruption_timeout=self.false_interruption_timeout,
            ),
            preemptive_generation=PreemptiveGenerationOptions(
                enabled=self.preemptive_generation,
                preemptive_tts=False,
                max_speech_duration=self.preemptive_max_speech_duration,
                max_retries=self.preemptive_max_retries,
            ),
        )


# -- parsing ---------------------------------------------------------------------------------

_BOOL = "bool"
_SECONDS = "seconds"  # float >= 0
_OPT_SECONDS = "seconds or None"
_COUNT = "count"  # int >= 0

# section -> key -> (VoiceOptions field or None when only validated, kind)
_SECTIONS: dict[str, dict[str, tuple[str | None, str]]] = {
    "endpointing": {
        "mode": (None, "endpointing_mode"),
        "min_delay": ("min_endpointing_delay", _SECONDS),
        "max_delay": ("max_endpointing_delay", _SECONDS),
        "alpha": (None, "alpha"),
    },
    "interruption": {
        "enabled": ("allow_interruptions", _BOOL),
        "mode": (None, "interruption_mode"),
        "discard_audio_if_uninterruptible": ("discard_audio_if_uninterruptible", _BOOL),
        "min_duration": ("min_interruption_duration", _SECONDS),
        "min_words": ("min_interruption_words", _COUNT),
        "resume_false_interruption": ("resume_false_interruption", _BOOL),
        "false_interruption_timeout": ("false_interruption_timeout", _OPT_SECONDS),
        "backchannel_boundary": (None, "boundary"),
    },
    "preemptive_generation": {
        "enabled": ("preemptive_generation", _BOOL),
        "preemptive_tts": (None, "preemptive_tts"),
        "max_speech_duration": ("preemptive_max_speech_duration", _SECONDS),
        "max_retries": ("preemptive_max_retries", _COUNT),
    },
}
_TOP_KEYS = ("turn_detection", *_SECTIONS)

FIELD_PATHS: dict[str, str] = {"turn_detection": "turn_handling['turn_detection']"}
"""VoiceOptions field -> where it is set in ``turn_handling`` (for error messages)."""
_FIELD_KEYS: dict[str, tuple[str, str]] = {}
"""VoiceOptions field -> (section, key) in ``turn_handling``."""
for _section, _keys in _SECTIONS.items():
    for _key, (_field, _) in _keys.items():
        if _field is not None:
            FIELD_PATHS[_field] = f"turn_handling[{_section!r}][{_key!r}]"
            _FIELD_KEYS[_field] = (_section, _key)


def overrides_as_turn_handling(fields: Mapping[str, Any]) -> TurnHandlingOptions:
    """VoiceOptions fields (as returned by :func:`parse_turn_handling`) in the nested
    ``turn_handling`` spelling; fields without one are left out."""
    out = TurnHandlingOptions()
    sections: dict[str, dict[str, Any]] = {}
    for name, value in fields.items():
        if name == "turn_detection":
            out["turn_detection"] = value
        elif name in _FIELD_KEYS:
            section, key = _FIELD_KEYS[name]
            sections.setdefault(section, {})[key] = value
    for section, values in sections.items():
        out[section] = values  # type: ignore[literal-required]
    return out


def _check_value(path: str, kind: str, value: Any) -> None:
    def fail(expected: str) -> None:
        raise ValueError(f"{path} must be {expected}, got {value!r}")

    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == _BOOL and not isinstance(value, bool):
        fail("True or False")
    elif kind == _SECONDS and not (is_number and value >= 0):
        fail("a number of seconds >= 0")
    elif kind == _OPT_SECONDS and value is not None and not (is_number and value >= 0):
        fail("a number of seconds >= 0 or None")
    elif kind == _COUNT and not (
        isinstance(value, int) and not isinstance(value, bool) and value >= 0
    ):
        fail("an integer >= 0")
    elif kind == "endpointing_mode":
        if value not in ("fixed", "dynamic"):
            fail("'fixed' or 'dynamic'")
        if value == "dynamic":
            logger.warning(
                "%s='dynamic': Voxlane has no dynamic endpointing; the fixed min_delay and "
                "max_delay are used",
                path,
            )
    elif kind == "alpha" and not (is_number and 0 < value <= 1):
        fail("a number in (0, 1]")
    elif kind == "interruption_mode":
        if value not in ("adaptive", "vad"):
            fail("'adaptive' or 'vad'")
        if value == "adaptive":
            logger.warning(
                "%s='adaptive': the adaptive interruption detector is a LiveKit Cloud model, "
                "not available in Voxlane; interruptions are detected with the VAD",
                path,
            )
    elif kind == "boundary":
        ok = (
            isinstance(value, (tuple, list))
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            and all(v >= 0 for v in value)
        )
        if not ok:
            fail("a pair of seconds >= 0, such as (1.0, 1.0)")
    elif kind == "preemptive_tts":
        if not isinstance(value, bool):
            fail("True or False")
        if value:
            logger.warning("%s=True: Voxlane starts only the LLM early, not the TTS", path)


def parse_turn_handling(turn_handling: Any, *, owner: str) -> dict[str, Any]:
    """Validate ``turn_handling`` and return the :class:`VoiceOptions` fields it sets.

    ``owner`` names the caller in error messages (e.g. ``"AgentSession"``).
    """
    if not isinstance(turn_handling, Mapping):
        raise TypeError(
            f"{owner}(turn_handling=...) must be a TurnHandlingOptions mapping (a dict), "
            f"got {type(turn_handling).__name__}"
        )
    fields: dict[str, Any] = {}
    for key, value in turn_handling.items():
        if key == "user_turn_limit":
            raise ValueError(
                f"{owner}(turn_handling=...): 'user_turn_limit' is not implemented in Voxlane; "
                "remove it (count the user's words in on_user_turn_completed instead)"
            )
        if key not in _TOP_KEYS:
            raise ValueError(
                f"{owner}(turn_handling=...): unknown key {key!r}; valid keys are "
                f"{', '.join(repr(k) for k in _TOP_KEYS)}"
            )
        if key == "turn_detection":
            check_mode(value, name="turn_handling['turn_detection']", none_allowed=True)
            fields["turn_detection"] = value
            continue
        spec = _SECTIONS[key]
        if not isinstance(value, Mapping):
            raise TypeError(
                f"turn_handling[{key!r}] must be a mapping (a dict) with keys "
                f"{', '.join(repr(k) for k in spec)}, got {type(value).__name__}"
            )
        if key == "preemptive_generation":
            fields["preemptive_generation"] = True  # giving the section enables it
        for sub, sub_value in value.items():
            if sub not in spec:
                raise ValueError(
                    f"turn_handling[{key!r}]: unknown key {sub!r}; valid keys are "
                    f"{', '.join(repr(k) for k in spec)}"
                )
            target, kind = spec[sub]
            _check_value(f"turn_handling[{key!r}][{sub!r}]", kind, sub_value)
            if target is not None:
                fields[target] = sub_value
    return fields


def merge_legacy(
    fields: dict[str, Any], legacy: dict[str, tuple[Any, Any]], *, owner: str
) -> dict[str, Any]:
    """Combine ``turn_handling`` fields with the old keyword arguments.

    ``legacy`` maps a VoiceOptions field to ``(value, default)`` of its old keyword argument;
    an argument equal to its default counts as not given. Setting a field both ways raises.
    """
    merged = dict(fields)
    for name, (value, default) in legacy.items():
        given = value is not default and not (type(value) is type(default) and value == default)
        if not given:
            continue
        if name in fields:
            raise ValueError(
                f"{owner}: {name}={value!r} and {FIELD_PATHS[name]} set the same option; "
                f"pass only {FIELD_PATHS[name]} (the old keyword is deprecated in LiveKit)"
            )
        merged[name] = value
    return merged


def check_options(opts: VoiceOptions, *, owner: str) -> None:
    """Errors for option combinations no single value can catch."""
    if opts.max_endpointing_delay < opts.min_endpointing_delay:
        raise ValueError(
            f"{owner}: max_endpointing_delay ({opts.max_endpointing_delay}) must be >= "
            f"min_endpointing_delay ({opts.min_endpointing_delay}) (in turn_handling: "
            "endpointing max_delay >= min_delay)"
        )


def check_non_negative(name: str, value: float | None) -> None:
    """Raise when the keyword argument ``name`` is negative (None passes)."""
    if value is not None and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


_NUMERIC_LEGACY = (
    "min_interruption_duration",
    "min_interruption_words",
    "min_endpointing_delay",
    "max_endpointing_delay",
    "false_interruption_timeout",
)


def build_session_options(turn_handling: Any, **legacy: Any) -> VoiceOptions:
    """A session's turn options from ``turn_handling`` (NOT_GIVEN: none) and the old keyword
    arguments ``legacy`` (``turn_detection`` and the VoiceOptions fields of the same name)."""
    defaults = VoiceOptions()
    for name in _NUMERIC_LEGACY:
        check_non_negative(name, legacy[name])
    turn_detection = legacy.pop("turn_detection")
    check_mode(turn_detection)
    fields = (
        parse_turn_handling(turn_handling, owner="AgentSession")
        if turn_handling is not NOT_GIVEN
        else {}
    )
    old = {name: (value, getattr(defaults, name)) for name, value in legacy.items()}
    old["turn_detection"] = (turn_detection, NOT_GIVEN)
    opts = VoiceOptions(**merge_legacy(fields, old, owner="AgentSession"))
    check_options(opts, owner="AgentSession")
    return opts


def with_overrides(base: VoiceOptions, overrides: dict[str, Any], *, owner: str) -> VoiceOptions:
    """``base`` with an agent's values put over it (key by key)."""
    if not overrides:
        return base
    opts = dataclasses.replace(base, **overrides)
    check_options(opts, owner=owner)
    return opts


__all__ = [
    "EndpointingOptions",
    "InterruptionOptions",
    "PreemptiveGenerationOptions",
    "TurnHandlingOptions",
    "VoiceOptions",
    "build_session_options",
    "check_non_negative",
    "check_options",
    "merge_legacy",
    "overrides_as_turn_handling",
    "parse_turn_handling",
    "with_overrides",
]
