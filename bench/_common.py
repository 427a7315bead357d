"""Shared helpers for the Voxlane benchmarks (not a benchmark itself: nox skips ``_*.py``).

* the LiveKit Agents comparison environment (``bench/.venv-livekit``), created on demand with
  ``uv venv`` + ``uv pip install``; LiveKit Agents is never a dependency of Voxlane;
* running one side of a scenario as a subprocess and reading its JSON answer;
* statistics (percentiles) and the JSON result files in ``bench/results/``.

This module only uses the standard library, so the scenario scripts can import it from either
interpreter (Voxlane's workspace venv or the LiveKit venv).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LIVEKIT_VENV = BENCH_DIR / ".venv-livekit"

LIVEKIT_VERSION = os.environ.get("VOXLANE_BENCH_LIVEKIT_VERSION", "1.8.9")
"""The LiveKit Agents release compared against (override with VOXLANE_BENCH_LIVEKIT_VERSION)."""

LIVEKIT_PLUGINS = ("silero", "openai", "deepgram")

FRAMEWORKS = ("voxlane", "livekit")


def common_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark accepts (``nox -s bench -- --quick``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run (fewer repetitions); figures are noisier",
    )
    parser.add_argument(
        "--no-livekit",
        action="store_true",
        help="measure Voxlane only (do not create or use the LiveKit Agents venv)",
    )
    return parser


def livekit_python() -> Path:
    return LIVEKIT_VENV / "bin" / "python"


def ensure_livekit_venv() -> Path:
    """Create ``bench/.venv-livekit`` with livekit-agents and three plugins; return its python.

    Uses uv's default package index (no index URL is configured here). Raises RuntimeError with
    the installer's output when the environment cannot be built.
    """
    python = livekit_python()
    marker = LIVEKIT_VENV / f".installed-{LIVEKIT_VERSION}"
    if python.exists() and marker.exists():
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("the LiveKit comparison needs `uv` on PATH (pip install uv)")
    if not python.exists():
        _run_checked([uv, "venv", "--quiet", "--python", sys.executable, str(LIVEKIT_VENV)])
    reqs = [f"livekit-agents=={LIVEKIT_VERSION}"] + [
        f"livekit-plugins-{name}=={LIVEKIT_VERSION}" for name in LIVEKIT_PLUGINS
    ]
    print(f"[bench] installing {' '.join(reqs)} into {LIVEKIT_VENV}", file=sys.stderr)
    _run_checked([uv, "pip", "install", "--quiet", "--python", str(python), *reqs])
    marker.write_text(" ".join(reqs) + "\n", encoding="utf-8")
    return python


def _run_checked(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"building the LiveKit comparison venv failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"{proc.stdout}{proc.stderr}\n"
            "Check that the package index is reachable, or pass --no-livekit (Voxlane only)."
        )


def python_for(framework: str) -> Path:
    """The interpreter that runs ``framework``'s side of a scenario."""
    if framework == "voxlane":
        return Path(sys.executable)
    if framework == "livekit":
        return ensure_livekit_venv()
    raise ValueError(f"unknown framework {framework!r}; expected one of {FRAMEWORKS}")


def frameworks(args: argparse.Namespace) -> list[str]:
    return ["voxlane"] if args.no_livekit else list(FRAMEWORKS)


def run_side(
    framework: str,
    script: Path,
    script_args: Sequence[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``script --framework <framework> ...`` in that framework's interpreter.

    The script must print one JSON object as its last stdout line. Its stderr is passed
    through (shortened) when it fails.
    """
    cmd = [str(python_for(framework)), str(script), "--framework", framework, *script_args]
    full_env = {**os.environ, **(env or {})}
    # keep the LiveKit side from looking at the Voxlane workspace (and the other way round)
    full_env.pop("PYTHONPATH", None)
    full_env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False, env=full_env
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-30:])
        raise RuntimeError(f"{framework} side failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    lines = [line for line in proc.stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{framework} side printed no JSON result:\n{proc.stdout[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    data = sorted(values)
    if len(data) == 1:
        return float(data[0])
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return float(data[lo] + (data[hi] - data[lo]) * (pos - lo))


def summarize_ms(values_ns: Sequence[int]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds of nanosecond samples."""
    ms = [v / 1e6 for v in values_ns]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else math.nan,
        "mean_ms": sum(ms) / len(ms) if ms else math.nan,
    }


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (math.nan, math.nan, math.nan)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_when_written": [round(x, 2) for x in load],
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def livekit_version() -> str | None:
    python = livekit_python()
    if not python.exists():
        return None
    proc = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('livekit-agents'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` (with machine info) and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine_info(), **data}
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(f"[bench] wrote {path.relative_to(ROOT)}")
    return path


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def ratio(slow: float | None, fast: float | None) -> float | None:
    """``slow / fast`` (how many times lower ``fast`` is), or None when undefined."""
    if slow is None or fast is None or fast <= 0 or math.isnan(slow) or math.isnan(fast):
        return None
    return slow / fast


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
