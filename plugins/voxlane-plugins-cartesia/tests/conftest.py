"""Fixtures for the Cartesia plugin tests: a fake Cartesia server and real (espeak-ng) speech."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voxlane.agents.testing import speech

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import vx_cartesia_fake  # noqa: E402

TEXTS = ["hello there my friend", "the weather is nice today"]


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARTESIA_API_KEY", raising=False)


@pytest.fixture(scope="session")
def clip() -> speech.SpeechClip:
    return speech.make_speech_clip(TEXTS)


@pytest.fixture
async def ct_server() -> AsyncIterator[vx_cartesia_fake.FakeCartesia]:
    async with vx_cartesia_fake.FakeCartesia(script=TEXTS) as server:
        yield server
