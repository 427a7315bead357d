"""Command-line entry points: `cli.run_app` for agent programs (the `voxlane` script is in main).

`run_app` is imported on first use so that the `voxlane` script (cli.main) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import run_app


def __getattr__(name: str) -> Any:
    if name == "run_app":
        from .app import run_app

        return run_app
    raise AttributeError(f"module 'voxlane.agents.cli' has no attribute {name!r}")


__all__ = ["run_app"]
