"""Fixtures that build real plugin distributions on disk (a ``*.dist-info`` plus a module)."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from voxlane.agents.plugin import reset_plugin_manager


@dataclass
class FixtureDist:
    """A distribution written by :func:`make_dist`."""

    dist_name: str
    plugin_name: str
    module: str
    site: Path


MakeDist = Callable[..., FixtureDist]


def _normalize(name: str) -> str:
    return name.replace("-", "_").lower()


@pytest.fixture(autouse=True)
def _fresh_plugin_manager() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on ``sys.path`` that fixture distributions are written to."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.fixture
def make_dist(site_dir: Path) -> Iterator[MakeDist]:
    """Write a plugin distribution: METADATA (Requires-Dist), entry_points.txt and its module."""
    modules: list[str] = []

    def make(
        plugin_name: str,
        source: str,
        *,
        dist_name: str | None = None,
        version: str = "1.0.0",
        requires: tuple[str, ...] = ("voxlane-agents>=0.1.0,<0.2",),
    ) -> FixtureDist:
        dist_name = dist_name or f"voxlane-fixture-{plugin_name}"
        module = f"voxlane_fixture_{_normalize(plugin_name)}_{uuid.uuid4().hex[:8]}"
        (site_dir / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = site_dir / f"{_normalize(dist_name)}-{version}.dist-info"
        info.mkdir()
        metadata_lines = ["Metadata-Version: 2.1", f"Name: {dist_name}", f"Version: {version}"]
        metadata_lines += [f"Requires-Dist: {req}" for req in requires]
        (info / "METADATA").write_text("\n".join(metadata_lines) + "\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(
            f"[voxlane.plugins]\n{plugin_name} = {module}\n", encoding="utf-8"
        )
        modules.append(module)
        reset_plugin_manager()
        return FixtureDist(
            dist_name=dist_name, plugin_name=plugin_name, module=module, site=site_dir
        )

    yield make
    for module in modules:
        sys.modules.pop(module, None)
    reset_plugin_manager()
