"""One side of the memory benchmark (sessions part), run in one framework's interpreter.

    python bench/_memory_scenario.py --framework voxlane|livekit --mode idle|active --sessions K
        --wav bench/results/speech16k.wav --speech-end 3.5

Loads the framework's Silero VAD once, starts one warm-up session, measures RSS, then starts
``K`` more sessions with the sessions-per-process configuration (VAD turn detection, fake
STT/LLM/TTS, instant audio output) and measures RSS again:

* ``idle``: the audio input never produces a frame (a connected user who says nothing);
* ``active``: the audio input plays the WAV in real time and the sessions are measured after
  one full loop of it (so every session heard a sentence and answered it).

Prints one JSON object with the RSS before/after and the growth per session.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _sessions_scenario import (
    Clock,
    TranscriptSTT,
    WavLoopInput,
    read_wav,
    rss_mb,
    session_kwargs,
)
from _turn_scenario import FRAMEWORK, InstantOutput, SilentInput, start_kwargs

if TYPE_CHECKING:  # type-checked against Voxlane; at run time the prefix decides
    from voxlane.agents import voice as voice_mod
    from voxlane.plugins import silero
else:
    voice_mod = importlib.import_module(f"{FRAMEWORK}.agents.voice")
    silero = importlib.import_module(f"{FRAMEWORK}.plugins.silero")


async def settle_rss() -> float:
    gc.collect()
    await asyncio.sleep(1.0)
    gc.collect()
    return rss_mb()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    pcm, rate = read_wav(Path(args.wav))
    period = len(pcm) / 2 / rate
    clock = Clock()
    vad = silero.VAD.load()
    sessions: list[Any] = []
    replies = [0]

    async def start_one(i: int, active: bool) -> None:
        offset_s = period * i / max(1, args.sessions)
        session = voice_mod.AgentSession(
            **session_kwargs(vad, TranscriptSTT(period, args.speech_end, offset_s))
        )
        if active:
            session.input.audio = WavLoopInput(pcm, rate, round(offset_s * rate), clock)
        else:
            session.input.audio = SilentInput()
        session.output.audio = InstantOutput()

        def count(ev: Any) -> None:
            if ev.new_state == "speaking":
                replies[0] += 1

        session.on("agent_state_changed", count)
        await session.start(agent=voice_mod.Agent(instructions="bench"), **start_kwargs())
        sessions.append(session)

    await start_one(0, active=False)  # warm-up: lazy imports, first-use caches
    before = await settle_rss()
    active = args.mode == "active"
    for i in range(args.sessions):
        await start_one(i + 1, active=active)
    if active:
        clock.t0 = time.perf_counter()
        clock.measure_from = clock.measure_to = clock.t0
        clock.go.set()
        await asyncio.sleep(period + 1.5)
    after = await settle_rss()
    for session in sessions:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(session.aclose(), timeout=5.0)
    return {
        "framework": FRAMEWORK,
        "mode": args.mode,
        "sessions": args.sessions,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "per_session_mb": (after - before) / args.sessions,
        "replies": replies[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--framework", choices=["voxlane", "livekit"], required=True)
    parser.add_argument("--mode", choices=["idle", "active"], required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--wav", required=True)
    parser.add_argument("--speech-end", type=float, required=True)
    args = parser.parse_args()
    if args.sessions < 1:
        parser.error("--sessions must be >= 1")
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
