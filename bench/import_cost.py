"""Import cost: wall time and peak RSS of a fresh interpreter importing the framework.

For each framework (Voxlane in the workspace venv, LiveKit Agents in ``bench/.venv-livekit``)
and each case, a fresh ``python -c "<statement>"`` is started several times (interleaved
between the frameworks); the median wall time and the median peak RSS (``VmHWM`` the child
reads from ``/proc/self/status`` before exiting) are reported. One unmeasured warm-up run per
case compiles the bytecode first.

Cases: the bare interpreter; ``import <fw>.agents``; the voice runtime names (``Agent``,
``AgentSession``, ``function_tool``); the names a typical agent program imports (those plus
``JobContext``, ``WorkerOptions``, ``cli``, which load the worker); and the core with three
plugins (silero, openai, deepgram). Voxlane imports its public names lazily, so the bare import
is cheap and the cost moves to the first use of a name.

    uv run --all-packages --all-extras python bench/import_cost.py [--quick] [--no-livekit]
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from _common import (
    common_parser,
    fmt,
    frameworks,
    livekit_version,
    print_table,
    python_for,
    ratio,
    write_result,
)

TARGET_SECONDS = 0.4
TARGET_MB = 60.0


def cases(prefix: str) -> dict[str, str]:
    """The statements measured, for import prefix ``prefix`` (``voxlane`` or ``livekit``)."""
    return {
        "interpreter": "pass",
        "core": f"import {prefix}.agents",
        "core_session_names": f"from {prefix}.agents import Agent, AgentSession, function_tool",
        "core_agent_names": (
            f"from {prefix}.agents import Agent, AgentSession, JobContext, WorkerOptions, "
            "cli, function_tool"
        ),
        "core_3_plugins": (
            f"import {prefix}.agents, {prefix}.plugins.silero, {prefix}.plugins.openai, "
            f"{prefix}.plugins.deepgram"
        ),
    }


# After the statement, the child prints its own peak RSS (VmHWM is reset by exec, unlike the
# rusage of a forked child, which keeps the parent's RSS as a floor).
_REPORT_PEAK = "; print(open('/proc/self/status').read())"


def measure_once(python: Path, statement: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one fresh ``python -c statement``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    start = time.perf_counter()
    proc = subprocess.run(
        [str(python), "-c", statement + _REPORT_PEAK],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"`{python} -c {statement!r}` failed:\n{proc.stderr[-2000:]}")
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", proc.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError("no VmHWM line in /proc/self/status (this benchmark needs Linux)")
    return wall, int(match.group(1)) / 1024.0


def main() -> None:
    parser = common_parser(__doc__ or "")
    parser.add_argument("--runs", type=int, default=0, help="runs per case (default 7, quick 3)")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    if runs < 1:
        parser.error("--runs must be >= 1")

    fws = frameworks(args)
    pythons = {fw: python_for(fw) for fw in fws}
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {fw: {} for fw in fws}
    errors: dict[str, dict[str, str]] = {fw: {} for fw in fws}

    for case in cases("voxlane"):
        for fw in fws:  # warm-up: compile bytecode, fill the page cache
            try:
                measure_once(pythons[fw], cases(fw)[case])
            except RuntimeError as exc:
                errors[fw][case] = str(exc).splitlines()[-1]
        for _ in range(runs):
            for fw in fws:
                if case in errors[fw]:
                    continue
                samples[fw].setdefault(case, []).append(measure_once(pythons[fw], cases(fw)[case]))

    results: dict[str, Any] = {}
    for fw in fws:
        results[fw] = {}
        for case, statement in cases(fw).items():
            if case in errors[fw]:
                results[fw][case] = {"statement": statement, "error": errors[fw][case]}
                continue
            walls = [w for w, _ in samples[fw][case]]
            rss = [r for _, r in samples[fw][case]]
            results[fw][case] = {
                "statement": statement,
                "runs": len(walls),
                "wall_s_median": statistics.median(walls),
                "wall_s_min": min(walls),
                "wall_s_max": max(walls),
                "peak_rss_mb_median": statistics.median(rss),
            }

    rows: list[list[str]] = []
    for case in cases("voxlane"):
        for fw in fws:
            r = results[fw][case]
            if "error" in r:
                rows.append([case, fw, "error", "", "", r["error"][:60]])
                continue
            other = results.get("livekit" if fw == "voxlane" else "voxlane", {}).get(case, {})
            note = ""
            if fw == "voxlane" and "wall_s_median" in other:
                t_ratio = ratio(other["wall_s_median"], r["wall_s_median"])
                m_ratio = ratio(other["peak_rss_mb_median"], r["peak_rss_mb_median"])
                note = f"LiveKit/Voxlane: {fmt(t_ratio, 1)}x time, {fmt(m_ratio, 1)}x RSS"
            rows.append(
                [
                    case,
                    fw,
                    fmt(r["wall_s_median"], 3),
                    fmt(r["wall_s_min"], 3),
                    fmt(r["peak_rss_mb_median"], 1),
                    note,
                ]
            )
    print_table(["case", "framework", "wall s (median)", "min s", "peak RSS MB", "note"], rows)

    core = results["voxlane"]["core"]
    targets = {
        "core_wall_s": core.get("wall_s_median"),
        "core_wall_target_s": TARGET_SECONDS,
        "core_wall_met": core.get("wall_s_median", 1e9) < TARGET_SECONDS,
        "core_rss_mb": core.get("peak_rss_mb_median"),
        "core_rss_target_mb": TARGET_MB,
        "core_rss_met": core.get("peak_rss_mb_median", 1e9) < TARGET_MB,
    }
    print(
        f"target (Voxlane core): < {TARGET_SECONDS} s -> {targets['core_wall_met']}, "
        f"< {TARGET_MB} MB -> {targets['core_rss_met']}"
    )
    write_result(
        "import_cost",
        {
            "runs_per_case": runs,
            "livekit_agents_version": livekit_version() if "livekit" in fws else None,
            "results": results,
            "targets": targets,
        },
    )


if __name__ == "__main__":
    main()
