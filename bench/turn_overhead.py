"""Per-turn framework overhead with zero-latency fakes, Voxlane vs LiveKit Agents.

Runs ``bench/_turn_scenario.py`` once per framework (same scenario code, import prefix
``voxlane.agents`` or ``livekit.agents``) and reports p50/p99 of three hops over the turns:

* end of user turn (STT END_OF_SPEECH) -> ``LLM.chat()`` called;
* first LLM token -> first text pushed into the TTS stream;
* first TTS audio -> first frame at the audio output;

plus end of user turn -> first output frame. Targets: p99 < 5 ms per hop and >= 3x lower than
LiveKit Agents.

    uv run --all-packages --all-extras python bench/turn_overhead.py [--quick] [--no-livekit]
        [--turns N] [--profile]

``--profile`` also writes a pyinstrument report per framework to
``bench/results/turn_overhead_profile_<framework>.txt`` (needs pyinstrument in each interpreter:
``uv run --with pyinstrument ...`` for Voxlane; it is installed into the LiveKit venv).
"""

from __future__ import annotations

import subprocess
from typing import Any

from _common import (
    BENCH_DIR,
    RESULTS_DIR,
    common_parser,
    fmt,
    frameworks,
    livekit_version,
    print_table,
    python_for,
    ratio,
    run_side,
    summarize_ms,
    write_result,
)

HOPS = {
    "eou_to_llm_request": "end of user turn -> LLM request",
    "llm_first_token_to_tts_text": "first LLM token -> first text to TTS",
    "tts_first_audio_to_output_frame": "first TTS audio -> first output frame",
    "eou_to_output_frame": "end of user turn -> first output frame (total)",
}
TARGET_P99_MS = 5.0
TARGET_RATIO = 3.0
SCENARIO = BENCH_DIR / "_turn_scenario.py"


def ensure_profiler(framework: str) -> None:
    """Install pyinstrument into the LiveKit bench venv (never into the Voxlane workspace)."""
    python = python_for(framework)
    probe = subprocess.run(
        [str(python), "-c", "import pyinstrument"], stderr=subprocess.DEVNULL, check=False
    )
    if probe.returncode == 0:
        return
    if framework == "voxlane":
        raise SystemExit(
            "--profile needs pyinstrument: run with "
            "`uv run --all-packages --all-extras --with pyinstrument python bench/turn_overhead.py "
            "--profile`"
        )
    subprocess.run(
        ["uv", "pip", "install", "--quiet", "--python", str(python), "pyinstrument"], check=True
    )


def main() -> None:
    parser = common_parser(__doc__ or "")
    parser.add_argument("--turns", type=int, default=0, help="measured turns (default 1000)")
    parser.add_argument("--profile", action="store_true", help="also write pyinstrument reports")
    args = parser.parse_args()
    turns = args.turns or (200 if args.quick else 1000)
    if turns < 1:
        parser.error("--turns must be >= 1")

    sides: dict[str, dict[str, Any]] = {}
    for fw in frameworks(args):
        extra: list[str] = ["--turns", str(turns), "--warmup", "20"]
        if args.profile:
            ensure_profiler(fw)
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            extra += ["--profile", str(RESULTS_DIR / f"turn_overhead_profile_{fw}.txt")]
        raw = run_side(fw, SCENARIO, extra, timeout=600)
        sides[fw] = {
            "turns": raw["turns"],
            "incomplete_turns": raw["incomplete_turns"],
            "timeouts": raw["timeouts"],
            "cpu_per_turn_ms": raw["cpu_per_turn_ms"],
            "wall_per_turn_ms": raw["wall_per_turn_ms"],
            "hops": {hop: summarize_ms(raw["hops_ns"][hop]) for hop in HOPS},
        }
        if args.profile:
            print(f"[bench] profile: bench/results/turn_overhead_profile_{fw}.txt")

    rows: list[list[str]] = []
    targets: dict[str, Any] = {}
    vox = sides["voxlane"]["hops"]
    lk = sides.get("livekit", {}).get("hops", {})
    for hop, label in HOPS.items():
        v = vox[hop]
        other = lk.get(hop)
        r50 = ratio(other["p50_ms"], v["p50_ms"]) if other else None
        r99 = ratio(other["p99_ms"], v["p99_ms"]) if other else None
        rows.append(
            [
                label,
                fmt(v["p50_ms"], 3),
                fmt(v["p99_ms"], 3),
                fmt(other["p50_ms"], 3) if other else "n/a",
                fmt(other["p99_ms"], 3) if other else "n/a",
                f"{fmt(r50, 1)}x / {fmt(r99, 1)}x",
            ]
        )
        if hop != "eou_to_output_frame":
            targets[hop] = {
                "p99_under_5ms": v["p99_ms"] < TARGET_P99_MS,
                "ratio_p50": r50,
                "ratio_p99": r99,
                "at_least_3x_lower_p99": None if r99 is None else r99 >= TARGET_RATIO,
            }
    vox_cpu = sides["voxlane"]["cpu_per_turn_ms"]
    lk_cpu = sides["livekit"]["cpu_per_turn_ms"] if "livekit" in sides else None
    rows.append(
        [
            "process CPU per turn (whole turn)",
            fmt(sides["voxlane"]["cpu_per_turn_ms"], 3),
            "",
            fmt(sides["livekit"]["cpu_per_turn_ms"], 3) if "livekit" in sides else "n/a",
            "",
            f"{fmt(ratio(lk_cpu, vox_cpu), 1)}x",
        ]
    )
    print(f"per-turn overhead over {turns} turns (ms)")
    if args.profile:
        print("NOTE: profiled run; the profiler inflates every figure (do not publish these)")
    print_table(
        ["hop", "voxlane p50", "voxlane p99", "livekit p50", "livekit p99", "ratio p50/p99"], rows
    )
    for hop, t in targets.items():
        print(
            f"target {hop}: p99 < {TARGET_P99_MS} ms -> {t['p99_under_5ms']}; "
            f">= {TARGET_RATIO}x lower than LiveKit (p99) -> {t['at_least_3x_lower_p99']}"
        )
    write_result(
        "turn_overhead",
        {
            "turns": turns,
            "profiled": args.profile,
            "livekit_agents_version": livekit_version() if "livekit" in sides else None,
            "results": sides,
            "targets": targets,
        },
    )


if __name__ == "__main__":
    main()
