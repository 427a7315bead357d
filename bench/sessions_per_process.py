"""Sessions per process: the largest N of concurrent sessions one process keeps in real time.

Each session: the framework's Silero VAD on real-time audio (an espeak-ng sentence plus silence,
looped from a 16 kHz WAV), VAD turn detection, fake STT/LLM/TTS (see ``_sessions_scenario.py``).
For each framework, N is doubled from ``--start`` until a run fails, then bisected. A run passes
when under 0.1% of the audio frames are late (pulled from the input more than 50 ms after they
are due: 2.5 frames, less than a usual jitter buffer) and the sessions answered at least 80% of
the sentences they heard. Each probe runs ``--duration`` seconds (30 by default) in a fresh
process; the number of probes is bounded. A process-wide stall (a long GC pass, or the process
preempted by another one) makes every session late at once, so each probe also reports the
number of distinct stalls, the longest GC pass and the involuntary context switches.

    uv run --all-packages --all-extras python bench/sessions_per_process.py [--quick]
        [--no-livekit] [--duration S] [--max-probes K]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DIR,
    RESULTS_DIR,
    common_parser,
    fmt,
    frameworks,
    livekit_version,
    print_table,
    run_side,
    write_result,
)

SCENARIO = BENCH_DIR / "_sessions_scenario.py"
SENTENCE = "Hello, I would like to book a table for two people tonight, please."
SILENCE_S = 2.5
LATE_FRACTION_MAX = 0.001
LATE_MS = 50.0
REPLY_FRACTION_MIN = 0.8
TARGET_SESSIONS = 100


def make_wav() -> tuple[Path, float]:
    """The looped input: espeak-ng speech, resampled to 16 kHz mono, then silence.

    Returns the WAV path and the second at which the speech ends.
    """
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("this benchmark needs espeak-ng (apt-get install espeak-ng)")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    raw = RESULTS_DIR / "speech_raw.wav"
    out = RESULTS_DIR / "speech16k.wav"
    subprocess.run([espeak, "-w", str(raw), SENTENCE], check=True)
    with wave.open(str(raw), "rb") as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"espeak-ng wrote {w.getsampwidth() * 8}-bit audio; expected 16-bit")
        rate, channels = w.getframerate(), w.getnchannels()
        data = w.readframes(w.getnframes())
    mono = _to_mono(data, channels)
    resampled = _resample(mono, rate, 16000)
    speech_end = len(resampled) / 2 / 16000
    pcm = resampled + b"\x00\x00" * round(SILENCE_S * 16000)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm)
    return out, speech_end


def _to_mono(data: bytes, channels: int) -> bytes:
    if channels == 1:
        return data
    import array

    samples = array.array("h", data)
    mono = array.array("h", samples[::channels])
    return mono.tobytes()


def _resample(data: bytes, src: int, dst: int) -> bytes:
    """Linear-interpolation resampling (good enough for a VAD input)."""
    if src == dst:
        return data
    import array

    x = array.array("h", data)
    n_out = len(x) * dst // src
    out = array.array("h", bytes(2 * n_out))
    step = src / dst
    last = len(x) - 1
    for i in range(n_out):
        pos = i * step
        j = int(pos)
        frac = pos - j
        a = x[min(j, last)]
        b = x[min(j + 1, last)]
        out[i] = int(a + (b - a) * frac)
    return out.tobytes()


def probe(fw: str, n: int, wav: Path, speech_end: float, duration: float) -> dict[str, Any]:
    args = [
        "--sessions",
        str(n),
        "--duration",
        str(duration),
        "--wav",
        str(wav),
        "--speech-end",
        f"{speech_end:.3f}",
        "--late-ms",
        str(LATE_MS),
    ]
    load_before = os.getloadavg()[0]
    res = run_side(fw, SCENARIO, args, timeout=120 + duration + n * 0.5)
    res["loadavg_1min_before"] = load_before
    res["passed"] = (
        res["late_fraction"] < LATE_FRACTION_MAX
        and res["replies_in_window"] >= REPLY_FRACTION_MIN * res["replies_expected"]
    )
    print(
        f"  {fw:8s} N={n:4d}: late {res['late_frames']}/{res['frames']} "
        f"(p99 {fmt(res['lateness_p99_ms'], 1)} ms), replies {res['replies_in_window']}/"
        f"{res['replies_expected']:.0f}, CPU {res['cpu_cores_used']:.2f} cores, "
        f"RSS {res['rss_mb']:.0f} MB, {res['stalls']} stalls, GC max "
        f"{res['gc_max_pause_ms']:.0f} ms, {res['involuntary_context_switches']} preemptions, "
        f"load {load_before:.1f} -> {'pass' if res['passed'] else 'FAIL'}",
        flush=True,
    )
    return res


def search(
    fw: str, wav: Path, speech_end: float, duration: float, start: int, cap: int, max_probes: int
) -> dict[str, Any]:
    """Doubling then bisection; returns the best passing probe and every probe."""
    probes: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    lo, hi = 0, 0  # largest pass, smallest fail
    n = start
    while len(probes) < max_probes:
        res = probe(fw, n, wav, speech_end, duration)
        probes.append(res)
        if res["passed"]:
            lo = n
            best = res
        else:
            hi = n
        if hi == 0:
            if n >= cap:
                break
            n = min(cap, n * 2)
            continue
        if hi - lo <= max(1, lo // 8):
            break
        n = (lo + hi) // 2 if lo else max(1, hi // 2)
        if n in (lo, hi):
            break
    return {"max_sessions": lo, "capped": hi == 0, "best": best, "probes": probes}


def main() -> None:
    parser = common_parser(__doc__ or "")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds per probe (30)")
    parser.add_argument("--start", type=int, default=0, help="first N (32; quick 8)")
    parser.add_argument("--cap", type=int, default=512, help="largest N tried")
    parser.add_argument("--max-probes", type=int, default=0, help="probes per framework (6)")
    args = parser.parse_args()
    duration = args.duration or (6.0 if args.quick else 30.0)
    start = args.start or (8 if args.quick else 32)
    max_probes = args.max_probes or (3 if args.quick else 6)
    if duration <= 0 or start < 1 or args.cap < start or max_probes < 1:
        parser.error("need --duration > 0, 1 <= --start <= --cap and --max-probes >= 1")

    wav, speech_end = make_wav()
    results: dict[str, Any] = {}
    for fw in frameworks(args):
        print(f"{fw}: searching the largest N ({duration:.0f} s per probe)", flush=True)
        results[fw] = search(fw, wav, speech_end, duration, start, args.cap, max_probes)

    rows = []
    for fw, r in results.items():
        best = r["best"]
        per_session = best["cpu_cores_used"] / best["sessions"] * 100 if best else None
        rows.append(
            [
                fw,
                f"{r['max_sessions']}{'+' if r['capped'] else ''}",
                fmt(per_session, 2),
                fmt(best["lateness_p99_ms"], 1) if best else "n/a",
                fmt(best["rss_mb"], 0) if best else "n/a",
            ]
        )
        r["cpu_percent_of_core_per_session"] = per_session
    print_table(
        ["framework", "max sessions", "CPU % of a core / session", "lateness p99 ms", "RSS MB"],
        rows,
    )
    vox = results["voxlane"]["max_sessions"]
    print(f"target: >= {TARGET_SESSIONS} sessions -> {vox >= TARGET_SESSIONS}")
    write_result(
        "sessions_per_process",
        {
            "duration_s_per_probe": duration,
            "criteria": {
                "late_threshold_ms": LATE_MS,
                "late_fraction_max": LATE_FRACTION_MAX,
                "reply_fraction_min": REPLY_FRACTION_MIN,
            },
            "speech_end_s": speech_end,
            "silence_s": SILENCE_S,
            "livekit_agents_version": livekit_version() if "livekit" in results else None,
            "results": results,
            "target_sessions": TARGET_SESSIONS,
            "target_met": vox >= TARGET_SESSIONS,
        },
    )


if __name__ == "__main__":
    main()
