"""Fixtures for the Anthropic plugin tests: a fake Messages API on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import vx_anthropic_fake  # noqa: E402


@pytest.fixture
async def fake_anthropic() -> AsyncIterator[vx_anthropic_fake.FakeAnthropic]:
    server = vx_anthropic_fake.FakeAnthropic()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(autouse=True)
def _no_ambient_anthropic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
