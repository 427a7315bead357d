"""One side of the sessions-per-process scenario, run in one framework's interpreter.

    python bench/_sessions_scenario.py --framework voxlane|livekit --sessions N --duration 20
        --wav bench/results/speech16k.wav --speech-end 2.9

N AgentSessions run concurrently in this process. Each has the framework's Silero VAD (one model
loaded once and shared, as a prewarm function would), VAD turn detection, a fake streaming STT
(a final transcript at the end of each spoken sentence), and the zero-latency LLM, TTS and
instant audio output of the per-turn scenario. Each session's audio input plays the WAV (speech
then silence, looped) in real time as 20 ms frames, starting at a different offset.

A frame is *late* when the framework pulls it from the input more than ``--late-ms`` after the
moment it is due (its real-time position). Prints one JSON object: frames, late frames, lateness
percentiles, process CPU time over the measured window, replies per session, RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import logging
import resource
import time
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _turn_scenario import FRAMEWORK, InstantOutput, ZeroLLM, ZeroTTS, start_kwargs
from livekit import rtc

if TYPE_CHECKING:  # type-checked against Voxlane; at run time the prefix decides
    from voxlane.agents import stt
    from voxlane.agents import voice as voice_mod
    from voxlane.agents.voice import io
    from voxlane.plugins import silero
else:
    stt = importlib.import_module(f"{FRAMEWORK}.agents.stt")
    voice_mod = importlib.import_module(f"{FRAMEWORK}.agents.voice")
    io = importlib.import_module(f"{FRAMEWORK}.agents.voice.io")
    silero = importlib.import_module(f"{FRAMEWORK}.plugins.silero")

FRAME_MS = 20


class Clock:
    """The shared real-time schedule: ``t0`` is set when every session has started."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.t0 = 0.0
        self.measure_from = 0.0
        self.measure_to = 0.0
        self.late_s = 0.05
        self.lateness: list[float] = []
        self.late_due: list[float] = []
        self.frames = 0
        self.late = 0


class WavLoopInput(io.AudioInput):
    """The WAV looped in real time from ``offset`` samples; records each frame's lateness."""

    def __init__(self, pcm: bytes, sample_rate: int, offset: int, clock: Clock) -> None:
        super().__init__(label="bench-wav")
        self._pcm = pcm
        self._rate = sample_rate
        self._spf = sample_rate * FRAME_MS // 1000
        self._total = len(pcm) // 2
        self._pos = offset % self._total
        self._clock = clock
        self._index = 0

    async def __anext__(self) -> rtc.AudioFrame:
        clock = self._clock
        if not clock.go.is_set():
            await clock.go.wait()
        due = clock.t0 + self._index * FRAME_MS / 1000.0
        self._index += 1
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.perf_counter()
        if clock.measure_from <= due < clock.measure_to:
            lateness = max(0.0, now - due)
            clock.frames += 1
            clock.lateness.append(lateness)
            if lateness > clock.late_s:
                clock.late += 1
                clock.late_due.append(due)
        start = self._pos
        end = start + self._spf
        if end <= self._total:
            chunk = self._pcm[start * 2 : end * 2]
        else:
            chunk = self._pcm[start * 2 :] + self._pcm[: (end - self._total) * 2]
        self._pos = end % self._total
        return rtc.AudioFrame(chunk, self._rate, 1, self._spf)


class TranscriptSTT(stt.STT):
    """A streaming STT that sends a final transcript each time the audio it received passes
    the end of the spoken sentence in the loop."""

    def __init__(self, period: float, speech_end: float, offset: float) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=False))
        self.period = period
        self.speech_end = speech_end
        self.offset = offset

    async def _recognize_impl(
        self, buffer: Any, *, language: Any = None, conn_options: Any = None
    ) -> Any:
        raise NotImplementedError("the benchmark only uses the streaming path")

    def stream(self, *, language: Any = None, conn_options: Any = None) -> Any:
        types = importlib.import_module(f"{FRAMEWORK}.agents.types")
        return TranscriptStream(
            stt=self, conn_options=conn_options or types.DEFAULT_API_CONNECT_OPTIONS
        )


class TranscriptStream(stt.RecognizeStream):
    async def _run(self) -> None:
        owner = self._stt
        assert isinstance(owner, TranscriptSTT)
        position = owner.offset
        async for item in self._input_ch:
            if not isinstance(item, rtc.AudioFrame):
                continue
            before = position % owner.period
            position += item.samples_per_channel / item.sample_rate
            after = position % owner.period
            crossed = before < owner.speech_end <= after or (
                after < before and owner.speech_end > before
            )
            if crossed:
                self._event_ch.send_nowait(
                    stt.SpeechEvent(
                        type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                        alternatives=[
                            stt.SpeechData(language="en", text="I would like a table for two.")
                        ],
                    )
                )


def session_kwargs(vad: Any, transcriber: TranscriptSTT) -> dict[str, Any]:
    common: dict[str, Any] = {
        "stt": transcriber,
        "vad": vad,
        "llm": ZeroLLM(),
        "tts": ZeroTTS(),
        "user_away_timeout": None,
    }
    if FRAMEWORK == "livekit":
        common["turn_handling"] = {
            "turn_detection": "vad",
            "preemptive_generation": {"enabled": False},
        }
    else:
        common["turn_detection"] = "vad"
    return common


def read_wav(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(f"{path}: need a mono 16-bit WAV")
        return w.readframes(w.getnframes()), w.getframerate()


class GcPauses:
    """Durations of the garbage collector's passes (a stall every session feels at once)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._start = 0.0
        self.recording = False

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif self.recording:
            self.pauses.append((int(info.get("generation", -1)), time.perf_counter() - self._start))


def stall_count(late_due: list[float], gap: float = 0.1) -> int:
    """Distinct moments with late frames (late frames within ``gap`` s are one stall)."""
    count = 0
    last = -1e9
    for due in sorted(late_due):
        if due - last > gap:
            count += 1
        last = due
    return count


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    pcm, rate = read_wav(Path(args.wav))
    period = len(pcm) / 2 / rate
    clock = Clock()
    clock.late_s = args.late_ms / 1000.0
    vad = silero.VAD.load()

    replies = [0] * args.sessions
    sessions: list[Any] = []
    inputs: list[WavLoopInput] = []
    for i in range(args.sessions):
        offset_s = period * i / args.sessions
        transcriber = TranscriptSTT(period, args.speech_end, offset_s)
        session = voice_mod.AgentSession(**session_kwargs(vad, transcriber))
        audio_in = WavLoopInput(pcm, rate, round(offset_s * rate), clock)
        session.input.audio = audio_in
        session.output.audio = InstantOutput()

        def count(ev: Any, i: int = i) -> None:
            if ev.new_state == "speaking":
                replies[i] += 1

        session.on("agent_state_changed", count)
        await session.start(agent=voice_mod.Agent(instructions="bench"), **start_kwargs())
        sessions.append(session)
        inputs.append(audio_in)

    settle = 1.0
    clock.t0 = time.perf_counter() + 0.05
    clock.measure_from = clock.t0 + settle
    clock.measure_to = clock.measure_from + args.duration
    clock.go.set()
    await asyncio.sleep(clock.measure_from - time.perf_counter())
    replies_before = sum(replies)
    gc_pauses = GcPauses()
    gc.callbacks.append(gc_pauses)
    gc_pauses.recording = True
    switches0 = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    await asyncio.sleep(max(0.0, clock.measure_to - time.perf_counter()))
    cpu1, wall1 = cpu_seconds(), time.perf_counter()
    switches1 = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    gc_pauses.recording = False
    gc.callbacks.remove(gc_pauses)
    replies_in_window = sum(replies) - replies_before
    rss = rss_mb()

    for session in sessions:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(session.aclose(), timeout=5.0)

    lat = sorted(clock.lateness)

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q / 100 * len(lat)))] * 1000 if lat else float("nan")

    # sentences whose end (plus 1 s of endpointing and slack) falls inside the window
    expected = args.sessions * args.duration / period
    return {
        "framework": FRAMEWORK,
        "sessions": args.sessions,
        "duration_s": args.duration,
        "late_threshold_ms": args.late_ms,
        "frames": clock.frames,
        "late_frames": clock.late,
        "late_fraction": clock.late / clock.frames if clock.frames else 1.0,
        "lateness_p50_ms": pct(50),
        "lateness_p99_ms": pct(99),
        "lateness_max_ms": lat[-1] * 1000 if lat else float("nan"),
        "cpu_s": cpu1 - cpu0,
        "wall_s": wall1 - wall0,
        "cpu_cores_used": (cpu1 - cpu0) / (wall1 - wall0),
        "replies_in_window": replies_in_window,
        "replies_expected": expected,
        "rss_mb": rss,
        "stalls": stall_count(clock.late_due),
        "gc_passes": len(gc_pauses.pauses),
        "gc_max_pause_ms": max((d for _, d in gc_pauses.pauses), default=0.0) * 1000,
        "gc_by_generation": {
            str(g): {
                "passes": sum(1 for gen, _ in gc_pauses.pauses if gen == g),
                "max_pause_ms": max((d for gen, d in gc_pauses.pauses if gen == g), default=0.0)
                * 1000,
            }
            for g in (0, 1, 2)
        },
        "gc_tracked_objects": len(gc.get_objects()),
        "involuntary_context_switches": switches1 - switches0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--framework", choices=["voxlane", "livekit"], required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--wav", required=True)
    parser.add_argument("--speech-end", type=float, required=True)
    parser.add_argument("--late-ms", type=float, default=50.0)
    args = parser.parse_args()
    if args.sessions < 1 or args.duration <= 0:
        parser.error("--sessions must be >= 1 and --duration > 0")
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
