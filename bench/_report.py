"""Print the Markdown results table of docs/benchmarks.md from ``bench/results/*.json``.

    uv run --all-packages --all-extras python bench/_report.py

Not a benchmark (nox skips ``_*.py``): it only formats the figures of the last run, so the
document carries exactly what was measured.
"""

from __future__ import annotations

import json
import math
from typing import Any

from _common import RESULTS_DIR, fmt, ratio


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def times(lk: float | None, vox: float | None) -> str:
    r = ratio(lk, vox)
    return "n/a" if r is None else f"{r:.1f}x"


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "met" if ok else "**missed**"


Row = tuple[str, str, str, str, str]


def import_rows(d: dict[str, Any]) -> list[Row]:
    res = d["results"]
    lk = res.get("livekit", {})
    labels = {
        "core": "`import <fw>.agents`",
        "core_session_names": "`from <fw>.agents import Agent, AgentSession, function_tool`",
        "core_agent_names": "typical agent imports (+ `JobContext, WorkerOptions, cli`)",
        "core_3_plugins": "core + silero, openai, deepgram plugins",
    }
    rows: list[Row] = []
    for case, label in labels.items():
        v = res["voxlane"].get(case, {})
        o = lk.get(case, {})
        if "wall_s_median" not in v:
            continue
        target_t = target_m = ""
        if case == "core":
            target_t = f"< 0.4 s: {verdict(d['targets']['core_wall_met'])}"
            target_m = f"< 60 MB: {verdict(d['targets']['core_rss_met'])}"
        rows.append(
            (
                f"Import time, {label} (s, median)",
                fmt(v["wall_s_median"], 3),
                fmt(o.get("wall_s_median"), 3),
                times(o.get("wall_s_median"), v["wall_s_median"]),
                target_t,
            )
        )
        rows.append(
            (
                f"Import peak RSS, {label} (MB)",
                fmt(v["peak_rss_mb_median"], 1),
                fmt(o.get("peak_rss_mb_median"), 1),
                times(o.get("peak_rss_mb_median"), v["peak_rss_mb_median"]),
                target_m,
            )
        )
    return rows


def turn_rows(d: dict[str, Any]) -> list[Row]:
    if d.get("profiled"):
        print("<!-- WARNING: turn_overhead.json comes from a --profile run (inflated figures) -->")
    res = d["results"]
    lk = res.get("livekit", {}).get("hops", {})
    labels = {
        "eou_to_llm_request": "end of user turn -> LLM request",
        "llm_first_token_to_tts_text": "first LLM token -> first text to TTS",
        "tts_first_audio_to_output_frame": "first TTS audio -> first output frame",
        "eou_to_output_frame": "end of user turn -> first output frame (sum)",
    }
    rows: list[Row] = []
    for hop, label in labels.items():
        v = res["voxlane"]["hops"][hop]
        o = lk.get(hop, {})
        t = d["targets"].get(hop)
        for q in ("p50", "p99"):
            target = ""
            if t is not None and q == "p99":
                target = (
                    f"< 5 ms: {verdict(t['p99_under_5ms'])}; "
                    f">= 3x: {verdict(t['at_least_3x_lower_p99'])}"
                )
            rows.append(
                (
                    f"Per-turn overhead, {label}, {q} (ms)",
                    fmt(v[f"{q}_ms"], 3),
                    fmt(o.get(f"{q}_ms"), 3),
                    times(o.get(f"{q}_ms"), v[f"{q}_ms"]),
                    target,
                )
            )
    v_cpu = res["voxlane"]["cpu_per_turn_ms"]
    o_cpu = res.get("livekit", {}).get("cpu_per_turn_ms")
    rows.append(
        ("Process CPU per turn (ms)", fmt(v_cpu, 2), fmt(o_cpu, 2), times(o_cpu, v_cpu), "")
    )
    return rows


def sessions_rows(d: dict[str, Any]) -> list[Row]:
    res = d["results"]
    v = res["voxlane"]
    o = res.get("livekit")

    def n(r: dict[str, Any] | None) -> str:
        if r is None:
            return "n/a"
        return f"{r['max_sessions']}{'+' if r['capped'] else ''}"

    def cpu(r: dict[str, Any] | None) -> float | None:
        return None if r is None else r.get("cpu_percent_of_core_per_session")

    return [
        (
            "Sessions per process (silero VAD, real-time audio, < 0.1% late frames)",
            n(v),
            n(o),
            times(v["max_sessions"], o["max_sessions"]) if o and o["max_sessions"] else "n/a",
            f">= 100: {verdict(d['target_met'])}",
        ),
        (
            "CPU per session at that N (% of one core)",
            fmt(cpu(v), 2),
            fmt(cpu(o), 2),
            times(cpu(o), cpu(v)),
            "",
        ),
    ]


def memory_rows(d: dict[str, Any]) -> list[Row]:
    res = d["results"]
    v = res["voxlane"]
    o = res.get("livekit")

    def get(r: dict[str, Any] | None, *keys: str) -> float | None:
        if r is None:
            return None
        cur: Any = r
        for k in keys:
            cur = cur[k]
        return float(cur)

    t = d["targets"]
    specs: list[tuple[str, tuple[str, ...], str]] = [
        (
            "RSS growth per idle session (MB)",
            ("idle_sessions", "per_session_mb"),
            f"< 3 MB: {verdict(t['idle_session_met'])}",
        ),
        ("RSS growth per active session (MB)", ("active_sessions", "per_session_mb"), ""),
        (
            "Idle prewarmed job process, no prewarm work: RSS (MB)",
            ("job_process", "none", "rss_mb"),
            f"< 60 MB: {verdict(t['job_process_met_no_prewarm'])}",
        ),
        (
            "Idle prewarmed job process, no prewarm work: USS (MB)",
            ("job_process", "none", "uss_mb"),
            "",
        ),
        (
            "Idle prewarmed job process, prewarm loads Silero: RSS (MB)",
            ("job_process", "silero", "rss_mb"),
            f"< 60 MB: {verdict(t['job_process_met_prewarm_silero'])}",
        ),
        (
            "Idle prewarmed job process, prewarm loads Silero: USS (MB)",
            ("job_process", "silero", "uss_mb"),
            "",
        ),
    ]
    rows: list[Row] = []
    for label, keys, target in specs:
        a, b = get(v, *keys), get(o, *keys)
        rows.append((label, fmt(a, 2), fmt(b, 2), times(b, a), target))
    return rows


def main() -> None:
    rows: list[Row] = []
    versions: set[str] = set()
    for name, fn in (
        ("import_cost", import_rows),
        ("turn_overhead", turn_rows),
        ("sessions_per_process", sessions_rows),
        ("memory", memory_rows),
    ):
        d = load(name)
        if d is None:
            print(f"<!-- no bench/results/{name}.json -->")
            continue
        if d.get("livekit_agents_version"):
            versions.add(d["livekit_agents_version"])
        rows.extend(fn(d))
    print(f"LiveKit Agents version(s): {', '.join(sorted(versions)) or 'n/a'}\n")
    print("| figure | Voxlane | LiveKit Agents | Voxlane advantage | target |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")

    off = load("offline_latency")
    if off is not None:
        print("\nOffline pipeline (Voxlane only): end of user speech -> first agent audio\n")
        print("| stage | n | p50 (ms) | p90 (ms) | max (ms) |")
        print("|---|---:|---:|---:|---:|")
        for stage, s in off["stages_ms"].items():
            vals = [fmt(s[k], 0) for k in ("p50_ms", "p90_ms", "max_ms")]
            print(f"| {stage} | {s['n']} | " + " | ".join(vals) + " |")
    for name in ("import_cost", "turn_overhead", "sessions_per_process", "memory"):
        d = load(name)
        if d is not None:
            m = d["machine"]
            load_avg = m.get("loadavg_when_written", m.get("loadavg_at_start", [math.nan]))
            print(f"\n<!-- {name}: {m['time_utc']} load {load_avg} {m['cpu']} -->", end="")
    print()


if __name__ == "__main__":
    main()
