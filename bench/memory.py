"""Memory: RSS growth per idle and per active session, and the RSS of an idle prewarmed job process.

Sessions (``_memory_scenario.py``, one fresh process per measurement): RSS after one warm-up
session, then after ``K`` more sessions, idle (no audio) or active (real-time speech through the
Silero VAD, each session answering a sentence); reported as MB per session.

Job process (``_worker_agent.py``): the framework's worker started with ``start`` and one idle
prewarmed job process (prewarm: nothing, or loading the Silero VAD); once that process's memory
is stable, its RSS, PSS and USS (``/proc/<pid>/smaps_rollup``) are read. LiveKit forks job
processes from a preloaded forkserver, so part of their RSS is shared with it: PSS and USS show
what each extra process costs.

Targets: < 3 MB per idle session, < 60 MB per job process.

    uv run --all-packages --all-extras python bench/memory.py [--quick] [--no-livekit]
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DIR,
    common_parser,
    fmt,
    frameworks,
    livekit_version,
    print_table,
    python_for,
    ratio,
    run_side,
    write_result,
)
from sessions_per_process import make_wav

TARGET_IDLE_SESSION_MB = 3.0
TARGET_JOB_PROCESS_MB = 60.0


def _parent_map() -> dict[int, list[int]]:
    """ppid -> child pids, from /proc/<pid>/stat (children of every thread included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8")
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces: parse after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _descendants(pid: int, tree: dict[int, list[int]]) -> list[int]:
    out: list[int] = []
    stack = list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        out.append(child)
        stack.extend(tree.get(child, []))
    return out


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _memory(pid: int) -> dict[str, float] | None:
    """RSS, PSS and USS in MB from smaps_rollup (None when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="utf-8")
    except OSError:
        return None
    kb: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].endswith(":") and parts[2] == "kB":
            kb[parts[0][:-1]] = int(parts[1])
    uss = kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)
    return {
        "rss_mb": kb.get("Rss", 0) / 1024,
        "pss_mb": kb.get("Pss", 0) / 1024,
        "uss_mb": uss / 1024,
    }


def _job_processes(worker: int) -> list[int]:
    """Leaf descendants of the worker that are not multiprocessing's resource tracker."""
    tree = _parent_map()
    return [
        p
        for p in _descendants(worker, tree)
        if not tree.get(p) and "resource_tracker" not in _cmdline(p)
    ]


def job_process_memory(fw: str, prewarm: str, timeout: float = 60.0) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"BENCH_FRAMEWORK": fw, "BENCH_PREWARM": prewarm})
    proc = subprocess.Popen(
        [str(python_for(fw)), str(BENCH_DIR / "_worker_agent.py"), "start"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        last: float | None = None
        stable_since = 0.0
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{fw} worker exited with {proc.returncode}")
            time.sleep(0.5)
            jobs = _job_processes(proc.pid)
            if not jobs:
                continue
            mem = _memory(jobs[0])
            if mem is None:
                continue
            if last is not None and abs(mem["rss_mb"] - last) < 0.5:
                if time.monotonic() - stable_since >= 3.0:
                    return {
                        "prewarm": prewarm,
                        "job_processes": len(jobs),
                        "cmdline": _cmdline(jobs[0])[:160],
                        **mem,
                    }
            else:
                stable_since = time.monotonic()
            last = mem["rss_mb"]
        raise RuntimeError(f"{fw}: no stable idle job process within {timeout} s")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def main() -> None:
    parser = common_parser(__doc__ or "")
    parser.add_argument("--idle", type=int, default=0, help="idle sessions (default 100)")
    parser.add_argument("--active", type=int, default=0, help="active sessions (default 20)")
    args = parser.parse_args()
    idle = args.idle or (30 if args.quick else 100)
    active = args.active or (10 if args.quick else 20)
    if idle < 1 or active < 1:
        parser.error("--idle and --active must be >= 1")

    wav, speech_end = make_wav()
    results: dict[str, Any] = {}
    for fw in frameworks(args):
        r: dict[str, Any] = {}
        for mode, k in (("idle", idle), ("active", active)):
            r[f"{mode}_sessions"] = run_side(
                fw,
                BENCH_DIR / "_memory_scenario.py",
                [
                    "--mode",
                    mode,
                    "--sessions",
                    str(k),
                    "--wav",
                    str(wav),
                    "--speech-end",
                    f"{speech_end:.3f}",
                ],
                timeout=300,
            )
        r["job_process"] = {p: job_process_memory(fw, p) for p in ("none", "silero")}
        results[fw] = r

    rows: list[list[str]] = []
    lk = results.get("livekit")

    def row(label: str, get: Any) -> None:
        v = get(results["voxlane"])
        other = get(lk) if lk else None
        rows.append(
            [
                label,
                fmt(v, 2),
                fmt(other, 2) if other is not None else "n/a",
                f"{fmt(ratio(other, v), 1)}x" if other is not None else "",
            ]
        )

    row("RSS per idle session (MB)", lambda r: r["idle_sessions"]["per_session_mb"])
    row("RSS per active session (MB)", lambda r: r["active_sessions"]["per_session_mb"])
    row("process RSS with 1 session (MB)", lambda r: r["idle_sessions"]["rss_before_mb"])
    for p in ("none", "silero"):
        for key in ("rss_mb", "pss_mb", "uss_mb"):
            row(
                f"idle job process, prewarm={p}: {key[:3].upper()} (MB)",
                lambda r, p=p, key=key: r["job_process"][p][key],
            )
    print_table(["figure", "voxlane", "livekit", "LiveKit/Voxlane"], rows)

    vox = results["voxlane"]
    targets = {
        "idle_session_mb": vox["idle_sessions"]["per_session_mb"],
        "idle_session_met": vox["idle_sessions"]["per_session_mb"] < TARGET_IDLE_SESSION_MB,
        "job_process_rss_mb_prewarm_silero": vox["job_process"]["silero"]["rss_mb"],
        "job_process_met_prewarm_silero": vox["job_process"]["silero"]["rss_mb"]
        < TARGET_JOB_PROCESS_MB,
        "job_process_rss_mb_no_prewarm": vox["job_process"]["none"]["rss_mb"],
        "job_process_met_no_prewarm": vox["job_process"]["none"]["rss_mb"] < TARGET_JOB_PROCESS_MB,
    }
    print(
        f"target: < {TARGET_IDLE_SESSION_MB} MB per idle session -> "
        f"{targets['idle_session_met']}; < {TARGET_JOB_PROCESS_MB} MB per job process -> "
        f"{targets['job_process_met_no_prewarm']} (no prewarm), "
        f"{targets['job_process_met_prewarm_silero']} (silero prewarm)"
    )
    write_result(
        "memory",
        {
            "idle_sessions": idle,
            "active_sessions": active,
            "livekit_agents_version": livekit_version() if lk else None,
            "results": results,
            "targets": targets,
        },
    )


if __name__ == "__main__":
    main()
