"""Tests marked ``pytest.mark.virtual_clock`` run on the virtual clock."""

from voxlane.agents.testing.pytest_plugin import (  # noqa: F401
    pytest_asyncio_loop_factories,
    pytest_configure,
)
