"""Fixtures for the OpenAI plugin tests: a fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import vx_openai_fake  # noqa: E402


@pytest.fixture
async def fake_openai() -> AsyncIterator[vx_openai_fake.FakeOpenAI]:
    server = vx_openai_fake.FakeOpenAI()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(autouse=True)
def _no_ambient_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


import vx_openai_realtime_fake  # noqa: E402


@pytest.fixture
async def fake_realtime() -> AsyncIterator[vx_openai_realtime_fake.FakeRealtimeServer]:
    server = vx_openai_realtime_fake.FakeRealtimeServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
