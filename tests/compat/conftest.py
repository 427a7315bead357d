"""Shared fixtures of the LiveKit compatibility tests.

``rewritten_programs`` copies ``programs/`` into a temporary folder with the two import prefixes
rewritten (``livekit.agents`` -> ``voxlane.agents``, ``livekit.plugins`` -> ``voxlane.plugins``),
the plain text substitution a user would do with ``sed``. ``load_program`` imports one of them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

PROGRAMS = Path(__file__).parent / "programs"
REWRITES = (("livekit.agents", "voxlane.agents"), ("livekit.plugins", "voxlane.plugins"))


def rewrite_source(text: str) -> str:
    """The user's migration: replace the two import prefixes, nothing else."""
    for old, new in REWRITES:
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="session")
def rewritten_programs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with every program of ``programs/`` rewritten for Voxlane."""
    dst = tmp_path_factory.mktemp("compat_programs")
    for src in sorted(PROGRAMS.glob("*.py")):
        text = src.read_text(encoding="utf-8")
        assert "voxlane" not in text.replace("voxlane.agents.testing", ""), (
            f"{src.name} must be written against livekit.* only (the harness rewrites it)"
        )
        (dst / src.name).write_text(rewrite_source(text), encoding="utf-8")
    return dst


@pytest.fixture
def load_program(rewritten_programs: Path) -> Iterator[Callable[[str], ModuleType]]:
    """Import a rewritten program by file stem; it is removed from sys.modules afterwards."""
    loaded: list[str] = []
    sys.path.insert(0, str(rewritten_programs))

    def load(stem: str) -> ModuleType:
        name = stem
        spec = importlib.util.spec_from_file_location(name, rewritten_programs / f"{stem}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    try:
        yield load
    finally:
        sys.path.remove(str(rewritten_programs))
        for name in loaded:
            sys.modules.pop(name, None)


Until = Callable[[Callable[[], bool], str], Awaitable[None]]


@pytest.fixture
def until() -> Until:
    """``await until(predicate, what)``: let the loop run until ``predicate()`` holds.

    Bounded (about 10 s of polling) so that a regression fails with ``what`` instead of hanging.
    """

    async def wait(predicate: Callable[[], bool], what: str) -> None:
        for _ in range(2000):
            if predicate():
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"timed out waiting until {what}")

    return wait
