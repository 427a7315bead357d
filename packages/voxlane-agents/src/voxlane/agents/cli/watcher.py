"""``dev`` mode reloading: run the worker in a child process, restart it when a file changes.

A plain mtime poll (no extra dependency): good enough for a developer's project tree.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

WATCHED_SUFFIXES = (".py", ".env", ".toml", ".yaml", ".yml", ".json")
SKIPPED_DIRS = {
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    ".mypy_cache",
    ".ruff_cache",
}
STOP_TIMEOUT = 10.0


def snapshot(roots: Iterable[Path]) -> dict[str, float]:
    """Modification times of the watched files under ``roots``."""
    result: dict[str, float] = {}
    for root in roots:
        if root.is_file():
            candidates: Iterable[tuple[str, list[str], list[str]]] = [
                (str(root.parent), [], [root.name])
            ]
        else:
            candidates = os.walk(root)
        for dirpath, dirnames, filenames in candidates:
            dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith(".")]
            for name in filenames:
                if name.endswith(WATCHED_SUFFIXES):
                    path = os.path.join(dirpath, name)
                    try:
                        result[path] = os.stat(path).st_mtime_ns / 1e9
                    except OSError:
                        continue
    return result


def changed_files(before: dict[str, float], after: dict[str, float]) -> list[str]:
    """Files added, removed or modified between two snapshots."""
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k))


def _stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_with_reload(
    cmd: Sequence[str],
    roots: Sequence[Path],
    *,
    env: dict[str, str] | None = None,
    poll_interval: float = 0.5,
    max_restarts: int | None = None,
) -> int:
    """Run ``cmd``; restart it whenever a watched file changes. Ctrl+C or SIGTERM stops
    everything: the child gets the same signal, so no worker is left running on its own."""
    received: list[int] = []

    def on_sigterm(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = None
    if hasattr(signal, "SIGTERM"):
        try:
            previous = signal.signal(signal.SIGTERM, on_sigterm)
        except ValueError:  # not the main thread (e.g. tests): no handler
            previous = None
    try:
        return _reload_loop(cmd, roots, env, poll_interval, max_restarts, received)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _reload_loop(
    cmd: Sequence[str],
    roots: Sequence[Path],
    env: dict[str, str] | None,
    poll_interval: float,
    max_restarts: int | None,
    received: list[int],
) -> int:
    restarts = 0
    while True:
        proc = subprocess.Popen(list(cmd), env=env)
        before = snapshot(roots)
        announced_exit = False
        try:
            while True:
                time.sleep(poll_interval)
                after = snapshot(roots)
                changes = changed_files(before, after)
                if changes:
                    shown = ", ".join(os.path.relpath(c) for c in changes[:3])
                    print(
                        f"[voxlane dev] change detected ({shown}); restarting the worker",
                        file=sys.stderr,
                        flush=True,
                    )
                    _stop(proc, signal.SIGTERM)
                    break
                if proc.poll() is not None and not announced_exit:
                    announced_exit = True
                    print(
                        f"[voxlane dev] the worker exited with code {proc.returncode}; "
                        "waiting for a file change to restart it",
                        file=sys.stderr,
                        flush=True,
                    )
        except KeyboardInterrupt:
            _stop(proc, signal.SIGTERM if received else signal.SIGINT)
            return 0
        restarts += 1
        if max_restarts is not None and restarts > max_restarts:
            return 0


__all__ = ["changed_files", "run_with_reload", "snapshot"]
