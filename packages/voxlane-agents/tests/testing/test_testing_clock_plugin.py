"""Tests without the ``virtual_clock`` marker keep a normal asyncio loop."""

from __future__ import annotations

import asyncio

import pytest

from voxlane.agents.testing.clock import VirtualClockEventLoop, advance, current_virtual_loop


async def test_unmarked_tests_run_on_a_normal_loop() -> None:
    assert not isinstance(asyncio.get_running_loop(), VirtualClockEventLoop)


async def test_virtual_helpers_explain_a_normal_loop() -> None:
    with pytest.raises(RuntimeError, match="not a VirtualClockEventLoop"):
        current_virtual_loop()
    with pytest.raises(RuntimeError, match=r"pytest\.mark\.virtual_clock"):
        await advance(1)


@pytest.mark.virtual_clock
async def test_marked_test_in_an_unmarked_module() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualClockEventLoop)
    await asyncio.sleep(60)
    assert loop.time() == 60.0
