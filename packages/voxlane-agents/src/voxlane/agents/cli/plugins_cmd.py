"""``voxlane plugins``: list installed plugins, their providers and load status."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ..plugin.manager import PluginStatus

COLUMNS = ("name", "distribution", "version", "kinds", "models", "core range", "status")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``plugins`` subcommand."""
    parser = subparsers.add_parser(
        "plugins",
        help="list installed Voxlane plugins",
        description="List installed Voxlane plugins: providers, models, supported core range "
        "and load status. Exit code 0, or 1 with --strict when a plugin failed or was skipped.",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--strict", action="store_true", help="exit with 1 if any plugin is not loaded"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the plugin list; see :func:`add_parser` for exit codes."""
    import warnings

    from ..plugin.manager import PluginVersionWarning, get_plugin_host

    with warnings.catch_warnings():
        # Skipped plugins are reported in the output itself; don't print the warning twice.
        warnings.simplefilter("ignore", PluginVersionWarning)
        host = get_plugin_host()
        statuses = host.list_plugins()
    if args.json:
        write_json(statuses, host.core_version, sys.stdout)
    else:
        write_table(statuses, host.core_version, sys.stdout)
    if args.strict and any(s.status != "ok" for s in statuses):
        return 1
    return 0


def write_json(statuses: Sequence[PluginStatus], core_version: str, out: TextIO) -> None:
    """JSON document: ``{"core_version": ..., "plugins": [every field of each plugin]}``."""
    doc: dict[str, Any] = {
        "core_version": core_version,
        "plugins": [s.to_json_dict() for s in statuses],
    }
    json.dump(doc, out, indent=2, sort_keys=False)
    out.write("\n")


def _models_cell(status: PluginStatus) -> str:
    parts = [f"{kind}: {', '.join(names)}" for kind, names in status.models.items()]
    return "; ".join(parts) or "-"


def _rows(statuses: Sequence[PluginStatus]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for s in statuses:
        rows.append(
            (
                s.name,
                s.distribution or "-",
                s.version or "-",
                ",".join(s.kinds) or "-",
                _models_cell(s),
                s.core_requirement or "any",
                s.status,
            )
        )
    return rows


def write_table(statuses: Sequence[PluginStatus], core_version: str, out: TextIO) -> None:
    """An aligned text table, followed by the error text of plugins that did not load."""
    out.write(f"voxlane-agents {core_version}\n")
    if not statuses:
        out.write("No Voxlane plugins installed (entry-point group 'voxlane.plugins').\n")
        return
    rows = [tuple(c.upper() for c in COLUMNS), *_rows(statuses)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        out.write(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        )
    problems = [s for s in statuses if s.status != "ok"]
    if problems:
        out.write("\nProblems:\n")
        for s in problems:
            out.write(f"  {s.name} [{s.status}]: {s.error}\n")
