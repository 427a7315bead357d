"""``voxlane plugins``: a real subprocess (JSON) and in-process runs, with fixture distributions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voxlane.agents.cli.main import build_parser, main

MakeDist = Callable[..., Any]

PLUGIN_FIELDS = {
    "name",
    "distribution",
    "version",
    "entry_point",
    "kinds",
    "models",
    "providers",
    "core_requirement",
    "homepage",
    "status",
    "error",
}

GOOD_SOURCE = """
from voxlane.agents.plugin import hookimpl


@hookimpl
def register_providers(registry):
    registry.register("stt", "clifix", dict, models=["small", "large"], default_model="small",
                      capabilities={"streaming": True})
"""


def run_cli(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "voxlane.agents.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_plugins_json_is_valid_and_complete(make_dist: MakeDist) -> None:
    good = make_dist("clifix", GOOD_SOURCE)
    make_dist("clibroken", "import no_such_module_anywhere_xyz\n")
    make_dist("cliold", GOOD_SOURCE, requires=("voxlane-agents<0.0.1",))
    proc = run_cli(good.site, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    from voxlane.agents.version import __version__

    assert doc["core_version"] == __version__
    plugins = {p["name"]: p for p in doc["plugins"]}
    for plugin in plugins.values():
        assert set(plugin) == PLUGIN_FIELDS
    for name in ("openai", "anthropic", "silero", "whisper", "piper", "llamacpp", "tone"):
        assert plugins[name]["status"] == "ok"

    fix = plugins["clifix"]
    assert fix["distribution"] == "voxlane-fixture-clifix"
    assert fix["version"] == "1.0.0"
    assert fix["entry_point"] == good.module
    assert fix["kinds"] == ["stt"]
    assert fix["models"] == {"stt": ["clifix/small", "clifix/large"]}
    assert fix["providers"] == [
        {
            "kind": "stt",
            "provider": "clifix",
            "models": ["small", "large"],
            "default_model": "small",
            "capabilities": {"streaming": True},
        }
    ]
    assert fix["core_requirement"] == ">=0.1.0,<0.2"
    assert (fix["status"], fix["error"]) == ("ok", None)

    broken = plugins["clibroken"]
    assert broken["status"] == "error"
    assert "ModuleNotFoundError" in broken["error"]
    assert broken["kinds"] == [] and broken["models"] == {}

    old = plugins["cliold"]
    assert old["status"] == "skipped"
    assert "<0.0.1" in old["error"] and __version__ in old["error"]


def test_plugins_table_shows_problems(make_dist: MakeDist, capsys: Any) -> None:
    make_dist("clifix", GOOD_SOURCE)
    make_dist("clibroken", "raise ValueError('cannot start')\n")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("NAME"))
    for column in ("DISTRIBUTION", "VERSION", "KINDS", "MODELS", "CORE RANGE", "STATUS"):
        assert column in header
    row = next(line for line in lines if line.startswith("clifix "))
    assert "voxlane-fixture-clifix" in row and "stt: clifix/small, clifix/large" in row
    assert row.rstrip().endswith("ok")
    assert any(line.startswith("clibroken ") and line.rstrip().endswith("error") for line in lines)
    assert "  clibroken [error]: import failed: ValueError: cannot start" in out


def test_strict_exit_code(make_dist: MakeDist, capsys: Any) -> None:
    make_dist("clifix", GOOD_SOURCE)
    assert main(["plugins", "--strict"]) == 0
    make_dist("clibroken", "raise ValueError('cannot start')\n")
    assert main(["plugins", "--strict", "--json"]) == 1
    capsys.readouterr()


def test_no_command_prints_help_and_fails(capsys: Any) -> None:
    assert main([]) == 2
    assert "plugins" in capsys.readouterr().err


def test_parser_lists_plugins_subcommand() -> None:
    help_text = build_parser().format_help()
    assert "plugins" in help_text


def test_voxlane_console_script_runs_plugins_json() -> None:
    from importlib import metadata

    (script,) = metadata.entry_points(group="console_scripts", name="voxlane")
    assert script.dist is not None and script.dist.name == "voxlane-agents"
    assert script.load() is main
    # the installed launcher next to this interpreter, run as a user would
    launcher = Path(sys.executable).parent / "voxlane"
    assert launcher.is_file(), f"console script not installed at {launcher}"
    proc = subprocess.run(
        [str(launcher), "plugins", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    names = {p["name"] for p in json.loads(proc.stdout)["plugins"]}
    assert {"openai", "silero", "tone"} <= names
