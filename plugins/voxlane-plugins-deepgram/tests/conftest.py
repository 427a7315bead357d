"""Fixtures for the Deepgram plugin tests: a fake Deepgram server and real (espeak-ng) speech."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voxlane.agents.testing import speech

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import vx_deepgram_fake  # noqa: E402

TEXTS = ["hello there my friend", "the weather is nice today"]


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPGRAM_API_KEY", raising=False)


@pytest.fixture(scope="session")
def clip() -> speech.SpeechClip:
    return speech.make_speech_clip(TEXTS)


@pytest.fixture
async def dg_server() -> AsyncIterator[vx_deepgram_fake.FakeDeepgram]:
    async with vx_deepgram_fake.FakeDeepgram(script=TEXTS) as server:
        yield server
