"""The core TTS conformance suite, run against piper with the bundled voice.

Failures are injected by making the engine's next syntheses raise, which exercises the retry and
error paths exactly as a failing voice would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from voxlane.agents._exceptions import APIError
from voxlane.agents.testing.conformance import ErrorInjector, TTSConformance
from voxlane.plugins import piper


@pytest.fixture(scope="module")
def _piper() -> piper.TTS:
    model = piper.TTS()
    model.engine.load()
    return model


class TestPiperConformance(TTSConformance):
    @pytest.fixture
    def tts(self, _piper: piper.TTS) -> piper.TTS:
        return _piper

    @pytest.fixture
    def inject_error(self, _piper: piper.TTS, monkeypatch: pytest.MonkeyPatch) -> ErrorInjector:
        engine = _piper.engine

        def inject(error: APIError, times: int) -> None:
            original: Callable[..., Any] = engine.synthesize
            remaining = [times]

            def failing(*args: Any, **kwargs: Any) -> Any:
                if remaining[0] > 0:
                    remaining[0] -= 1
                    raise error
                return original(*args, **kwargs)

            monkeypatch.setattr(engine, "synthesize", failing)

        return inject
