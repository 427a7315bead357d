"""Command-line entry points: `cli.run_app` for agent programs (the `voxlane` script is in main)."""

from .run_app import run_app

__all__ = ["run_app"]
