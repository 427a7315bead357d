"""Testing kit for Voxlane: a virtual clock, scripted fakes and a conformance kit.

Not imported by ``import voxlane.agents``; import it explicitly in tests::

    from voxlane.agents.testing import VirtualClockEventLoop, run_with_virtual_clock

See :mod:`voxlane.agents.testing.clock` for the virtual clock and its pytest-asyncio integration
(:mod:`voxlane.agents.testing.pytest_plugin`).
"""

from .clock import (
    VirtualClockEventLoop,
    advance,
    current_virtual_loop,
    hold_clock,
    now,
    run_with_virtual_clock,
    wait_idle,
)

__all__ = [
    "VirtualClockEventLoop",
    "advance",
    "current_virtual_loop",
    "hold_clock",
    "now",
    "run_with_virtual_clock",
    "wait_idle",
]
