"""Nox sessions for the Voxlane monorepo (all through uv).

    nox -l                                   list sessions
    nox -s lint typecheck                    ruff + mypy --strict
    nox -s tests                             every package, one session each
    nox -s "tests(package='deepgram')"       one package
    nox -s plugin_matrix                     each plugin vs lowest declared and workspace core
    nox -s bench                             every bench/*.py

``lint``, ``typecheck``, ``tests`` and ``bench`` run in the workspace environment (``uv run
--all-packages --all-extras``, from ``uv.lock``). ``plugin_matrix`` builds a fresh uv virtualenv
per plugin, core and Python version; Python versions not installed here are skipped, not failed.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import nox

try:
    import tomllib  # type: ignore[import-not-found,unused-ignore]
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

ROOT = Path(__file__).resolve().parent
CORE_DIR = ROOT / "packages" / "voxlane-agents"
PLUGINS_DIR = ROOT / "plugins"
EXAMPLE_PLUGIN_DIR = ROOT / "examples" / "third_party_plugin"
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
TEST_TOOLS = ["pytest>=8.3", "pytest-asyncio>=0.24", "pytest-timeout>=2.3"]

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["lint", "typecheck", "tests"]

# Never let uv fetch interpreters: a Python that is not installed is simply skipped.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _plugin_dirs() -> dict[str, Path]:
    """Plugin name -> distribution folder, for plugins/* and the third-party example."""
    dirs = {
        p.name.removeprefix("voxlane-plugins-"): p
        for p in sorted(PLUGINS_DIR.glob("voxlane-plugins-*"))
        if (p / "pyproject.toml").is_file()
    }
    if (EXAMPLE_PLUGIN_DIR / "pyproject.toml").is_file():
        dirs["third_party"] = EXAMPLE_PLUGIN_DIR
    return dirs


PLUGIN_DIRS = _plugin_dirs()
TEST_TARGETS: dict[str, Path] = {
    "core": CORE_DIR / "tests",
    **{name: path / "tests" for name, path in PLUGIN_DIRS.items()},
    "cross": ROOT / "tests",
}


def _source_roots() -> list[Path]:
    return [CORE_DIR / "src", *(p / "src" for p in PLUGIN_DIRS.values())]


def _mypy_packages() -> list[str]:
    """``-p`` arguments: the core, every ``voxlane.plugins.<name>``, and top-level example pkgs."""
    args = ["-p", "voxlane.agents"]
    for plugin_dir in PLUGIN_DIRS.values():
        src = plugin_dir / "src"
        namespaced = src / "voxlane" / "plugins"
        if namespaced.is_dir():
            for pkg in sorted(namespaced.iterdir()):
                if (pkg / "__init__.py").is_file():
                    args += ["-p", f"voxlane.plugins.{pkg.name}"]
        for pkg in sorted(src.iterdir()):
            if pkg.name != "voxlane" and (pkg / "__init__.py").is_file():
                args += ["-p", pkg.name]
    return args


def _uv_run(
    session: nox.Session,
    *args: str,
    env: dict[str, str] | None = None,
    success_codes: list[int] | None = None,
) -> None:
    # --all-extras: without it a fresh environment lacks the core's optional extras (mcp,
    # sounddevice, av) and typecheck/tests fail on their imports.
    session.run(
        "uv",
        "run",
        "--all-packages",
        "--all-extras",
        *args,
        external=True,
        env=env,
        success_codes=success_codes,
    )


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    paths = session.posargs or ["."]
    _uv_run(session, "ruff", "check", *paths)
    _uv_run(session, "ruff", "format", "--check", *paths)


@nox.session(python=False)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the core, every plugin and the third-party example plugin."""
    mypypath = os.pathsep.join(str(p) for p in _source_roots())
    _uv_run(session, "mypy", "--strict", *_mypy_packages(), env={"MYPYPATH": mypypath})


@nox.session(python=False)
@nox.parametrize("package", list(TEST_TARGETS))
def tests(session: nox.Session, package: str) -> None:
    """One package's tests in the workspace environment ("cross" = the root tests/ folder)."""
    target = TEST_TARGETS[package]
    if not target.is_dir():
        session.skip(f"{target.relative_to(ROOT)} does not exist")
    # Exit code 5 means "no tests collected": reported, not treated as a crash of the session.
    _uv_run(session, "pytest", "-q", str(target), *session.posargs, success_codes=[0, 5])


def _declared_core_specifier(plugin_dir: Path) -> str:
    data = tomllib.loads((plugin_dir / "pyproject.toml").read_text(encoding="utf-8"))
    for dep in data.get("project", {}).get("dependencies", []):
        match = re.match(r"^\s*voxlane-agents\s*(?:\[[^\]]*\])?\s*([^;]*)", dep)
        if match:
            return match.group(1).strip()
    raise RuntimeError(f"{plugin_dir.name}/pyproject.toml declares no voxlane-agents range")


def _lowest_core_version(specifier: str) -> str:
    """The smallest version a ``>=``/``==``/``~=`` clause of ``specifier`` allows."""
    lows = [m.group(2) for m in re.finditer(r"(>=|==|~=)\s*([0-9][0-9A-Za-z.+!-]*)", specifier)]
    if not lows:
        raise RuntimeError(f"core range {specifier!r} has no lower bound to test against")

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", v))

    return min(lows, key=key)


def _workspace_core_version() -> str:
    text = (CORE_DIR / "src" / "voxlane" / "agents" / "version.py").read_text(encoding="utf-8")
    match = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", text)
    if not match:
        raise RuntimeError("cannot read the core version from version.py")
    return match.group(1)


def _release_of_core(session: nox.Session, version: str) -> str:
    """A pip requirement or local path for core ``version``.

    Order: the workspace core if it has that version; a git tag ``voxlane-agents-v<version>``
    exported to a temp dir; otherwise the released distribution from the package index.
    """
    if version == _workspace_core_version():
        return str(CORE_DIR)
    tag = f"voxlane-agents-v{version}"
    has_tag = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"],
        capture_output=True,
        check=False,
    )
    if has_tag.returncode == 0:
        dest = Path(tempfile.mkdtemp(prefix=f"{tag}-"))
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", tag, "packages/voxlane-agents"],
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
        session.log(f"core {version} from git tag {tag}")
        return str(dest / "packages" / "voxlane-agents")
    session.log(f"core {version} from the package index")
    return f"voxlane-agents=={version}"


@nox.session(python=PYTHONS)
@nox.parametrize("core", ["lowest", "workspace"])
@nox.parametrize("plugin", list(PLUGIN_DIRS))
def plugin_matrix(session: nox.Session, plugin: str, core: str) -> None:
    """A plugin's tests against the lowest core it declares and against the workspace core.

    ``lowest`` installs with ``uv pip install --resolution lowest-direct`` (the plugin's direct
    dependencies at their declared minimum); ``workspace`` with ``--resolution highest``.
    """
    plugin_dir = PLUGIN_DIRS[plugin]
    tests_dir = plugin_dir / "tests"
    if not any(tests_dir.glob("test_*.py")):
        session.skip(f"{plugin_dir.relative_to(ROOT)} has no tests yet")
    specifier = _declared_core_specifier(plugin_dir)
    if core == "lowest":
        resolution = "lowest-direct"
        core_req = _release_of_core(session, _lowest_core_version(specifier))
    else:
        resolution = "highest"
        core_req = str(CORE_DIR)
    session.log(f"{plugin}: declares voxlane-agents{specifier}; testing against {core_req}")
    core_args = ["-e", core_req] if os.path.isdir(core_req) else [core_req]
    session.install("--resolution", resolution, *core_args, "-e", str(plugin_dir))
    session.install(*TEST_TOOLS)
    session.run("python", "-m", "voxlane.agents.cli.main", "plugins", "--strict")
    session.run("pytest", "-q", str(tests_dir), *session.posargs)


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Run every bench/*.py (each prints its figures and writes a JSON result)."""
    scripts = sorted((ROOT / "bench").glob("*.py"))
    scripts = [s for s in scripts if not s.name.startswith("_")]
    if not scripts:
        session.skip("no benchmarks in bench/")
    for script in scripts:
        _uv_run(session, "python", str(script), *session.posargs)
