"""resolve_turn_detection: the requested mode when its model exists, else the best available."""

from __future__ import annotations

import logging

import pytest

from voxlane.agents.types import NOT_GIVEN
from voxlane.agents.voice.turn_mode import resolve_turn_detection


class Detector:
    """Stands for a turn detector model (any object that is not a mode string)."""


@pytest.mark.parametrize(
    ("requested", "models", "expected"),
    [
        ("vad", {"has_vad": True}, "vad"),
        ("stt", {"has_stt": True}, "stt"),
        ("manual", {"has_vad": True, "has_stt": True}, "manual"),
        ("realtime_llm", {"is_realtime": True}, "realtime_llm"),
        (None, {"has_vad": True, "has_stt": True}, "vad"),
        (NOT_GIVEN, {"has_stt": True}, "stt"),
        (NOT_GIVEN, {"is_realtime": True, "has_vad": True}, "realtime_llm"),
        (NOT_GIVEN, {}, "manual"),
    ],
)
def test_requested_or_default_mode(
    requested: object, models: dict[str, bool], expected: str
) -> None:
    flags = {"has_vad": False, "has_stt": False, "is_realtime": False, **models}
    assert resolve_turn_detection(requested, **flags) == (expected, None)


@pytest.mark.parametrize(
    ("requested", "models", "expected", "reason"),
    [
        ("vad", {"has_stt": True}, "stt", "needs a VAD"),
        ("stt", {"has_vad": True}, "vad", "needs an STT"),
        ("realtime_llm", {}, "manual", "needs a RealtimeModel"),
    ],
)
def test_a_mode_without_its_model_falls_back_with_a_warning(
    requested: str,
    models: dict[str, bool],
    expected: str,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flags = {"has_vad": False, "has_stt": False, "is_realtime": False, **models}
    with caplog.at_level(logging.WARNING, logger="voxlane.agents.voice"):
        assert resolve_turn_detection(requested, **flags) == (expected, None)
    assert reason in caplog.text and "falling back" in caplog.text


def test_a_turn_detector_runs_after_the_vad_or_the_stt(caplog: pytest.LogCaptureFixture) -> None:
    detector = Detector()
    assert resolve_turn_detection(detector, has_vad=True, has_stt=True, is_realtime=False) == (
        "vad",
        detector,
    )
    assert resolve_turn_detection(detector, has_vad=False, has_stt=True, is_realtime=False) == (
        "stt",
        detector,
    )
    with caplog.at_level(logging.WARNING, logger="voxlane.agents.voice"):
        assert resolve_turn_detection(
            detector, has_vad=False, has_stt=False, is_realtime=False
        ) == ("manual", None)
    assert "needs a VAD or an STT" in caplog.text


def test_an_unknown_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown turn_detection 'vda'.*'stt', 'vad'"):
        resolve_turn_detection("vda", has_vad=True, has_stt=True, is_realtime=False)
