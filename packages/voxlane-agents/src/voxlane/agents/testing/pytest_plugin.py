"""pytest-asyncio integration of the virtual clock.

pytest-asyncio 1.x lets a ``conftest.py`` choose the event loop of each test through the
``pytest_asyncio_loop_factories`` hook. Re-export the two hooks below from a ``conftest.py``::

    from voxlane.agents.testing.pytest_plugin import (  # noqa: F401
        pytest_asyncio_loop_factories,
        pytest_configure,
    )

then mark tests (or a whole module with ``pytestmark = pytest.mark.virtual_clock``)::

    @pytest.mark.virtual_clock
    async def test_endpointing() -> None:
        await asyncio.sleep(10)        # instant; loop.time() moved by 10

Unmarked tests keep a normal asyncio loop. Async fixtures used by a marked test run on the same
virtual loop. The module can also be loaded for a whole run with ``-p
voxlane.agents.testing.pytest_plugin``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from .clock import VirtualClockEventLoop

if TYPE_CHECKING:
    import pytest

__all__ = [
    "VIRTUAL_CLOCK_MARKER",
    "pytest_asyncio_loop_factories",
    "pytest_configure",
    "virtual_clock_loop_factories",
]

VIRTUAL_CLOCK_MARKER = "virtual_clock"


def virtual_clock_loop_factories(
    item: pytest.Item,
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The loop factory for ``item``: the virtual clock when it carries the marker."""
    if item.get_closest_marker(VIRTUAL_CLOCK_MARKER) is not None:
        return {VIRTUAL_CLOCK_MARKER: VirtualClockEventLoop}
    return {"asyncio": asyncio.new_event_loop}


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """pytest-asyncio hook: run ``@pytest.mark.virtual_clock`` tests on a virtual clock loop."""
    return virtual_clock_loop_factories(item)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``virtual_clock`` marker."""
    config.addinivalue_line(
        "markers",
        f"{VIRTUAL_CLOCK_MARKER}: run this async test on voxlane's VirtualClockEventLoop "
        "(time advances only when every task is idle)",
    )
