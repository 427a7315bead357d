"""Metrics tests marked ``virtual_clock`` run on the testing kit's virtual clock loop."""

from voxlane.agents.testing.pytest_plugin import (  # noqa: F401
    pytest_asyncio_loop_factories,
    pytest_configure,
)
