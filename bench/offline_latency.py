"""Offline voice latency: end of the user's speech to the agent's first audio, split by stage.

The pipeline of ``examples/offline_agent.py`` (silero -> whisper tiny.en -> llama.cpp
SmolLM2-135M -> piper) answers spoken questions made with piper. The user's audio is played into
the session like a live microphone (real time, silence between questions); for each turn:

* ``vad_end``: end of speech in the audio -> the VAD reports it (includes min_silence_duration);
* ``stt``: VAD end -> whisper's final transcript;
* ``endpointing``: final transcript -> the user turn is committed (min_endpointing_delay);
* ``llm_first_token``: the LLM request -> its first token (LLMMetrics.ttft);
* ``tts_first_audio``: the first text sent to piper -> its first audio (TTSMetrics.ttfb);
* ``total``: end of speech -> the agent starts playing its answer.

    uv run --all-packages python bench/offline_latency.py [--quick]

Prints a table and writes ``bench/results/offline_latency.json``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from _common import common_parser, fmt, percentile, print_table, write_result
from livekit import rtc

from voxlane.agents.metrics import LLMMetrics, TTSMetrics
from voxlane.agents.voice import AgentSession
from voxlane.agents.voice.io import AudioInput
from voxlane.agents.voice.io_impl import MemoryAudioOutput

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "offline_agent.py"
QUESTIONS = (
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What color is the sky?",
    "Can you tell me a fun fact about cats?",
)
FRAME_SECONDS = 0.02
STAGES = ("vad_end", "stt", "endpointing", "llm_first_token", "tts_first_audio", "total")


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("offline_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class LiveInput(AudioInput):
    """A fake microphone: queued utterances in real time, silence in between.

    Frames follow an absolute schedule (no drift); ``speech_ended`` receives the wall time
    (perf_counter) at which the last frame of each utterance was delivered.
    """

    def __init__(self, sample_rate: int) -> None:
        super().__init__(label="bench-mic")
        self._rate = sample_rate
        self._step = round(sample_rate * FRAME_SECONDS)
        self._pending: list[np.ndarray[Any, np.dtype[np.int16]]] = []
        self._start: float | None = None
        self._delivered = 0
        self._closed = False
        self.speech_ended: asyncio.Queue[float] = asyncio.Queue()

    def say(self, pcm: np.ndarray[Any, np.dtype[np.int16]]) -> None:
        self._pending.extend(pcm[i : i + self._step] for i in range(0, pcm.size, self._step))
        self._pending.append(np.zeros(0, dtype=np.int16))  # marks the end of the utterance

    def close(self) -> None:
        self._closed = True

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        if self._start is None:
            self._start = time.perf_counter()
        chunk = self._pending.pop(0) if self._pending else np.zeros(self._step, np.int16)
        if chunk.size == 0:
            self.speech_ended.put_nowait(time.perf_counter())
            chunk = np.zeros(self._step, np.int16)
        self._delivered += chunk.size
        due = self._start + self._delivered / self._rate
        await asyncio.sleep(max(due - time.perf_counter(), 0.0))
        return rtc.AudioFrame(chunk.tobytes(), self._rate, 1, chunk.size)


@dataclass
class Turn:
    question: str
    eos: float = 0.0
    vad_end: float | None = None
    stt_final: float | None = None
    committed: float | None = None
    speaking: float | None = None
    ttft: float | None = None
    ttfb: float | None = None
    transcript: str = ""
    answer: str = ""
    stages: dict[str, float] = field(default_factory=dict)

    def finish(self) -> None:
        def ms(a: float | None, b: float | None) -> float:
            return (b - a) * 1000 if a is not None and b is not None else float("nan")

        self.stages = {
            "vad_end": ms(self.eos, self.vad_end),
            "stt": ms(self.vad_end, self.stt_final),
            "endpointing": ms(self.stt_final, self.committed),
            "llm_first_token": self.ttft * 1000 if self.ttft is not None else float("nan"),
            "tts_first_audio": self.ttfb * 1000 if self.ttfb is not None else float("nan"),
            "total": ms(self.eos, self.speaking),
        }


async def run(rounds: int, questions: Iterable[str]) -> list[Turn]:
    ex = _load_example()
    models: dict[str, Any] = ex.build_models()
    for key in ("stt", "tts", "llm"):
        models[key].engine.load()  # measure the turns, not the model loading
    voice = models["tts"].engine
    spoken = {q: np.frombuffer(b"".join(voice.synthesize(q)), dtype=np.int16) for q in questions}
    session: AgentSession[None] = ex.make_session(models)
    mic = LiveInput(voice.sample_rate)
    session.input.audio = mic
    session.output.audio = MemoryAudioOutput()
    turns: list[Turn] = []
    state_changed = asyncio.Event()

    def current() -> Turn | None:
        return turns[-1] if turns else None

    def on_user_state(ev: Any) -> None:
        turn = current()
        if turn and ev.new_state == "listening" and turn.vad_end is None and turn.eos:
            turn.vad_end = time.perf_counter()

    def on_transcribed(ev: Any) -> None:
        turn = current()
        if turn and ev.is_final and turn.stt_final is None:
            turn.stt_final = time.perf_counter()
            turn.transcript = ev.transcript

    def on_item(ev: Any) -> None:
        turn = current()
        if turn is None:
            return
        if ev.item.role == "user" and turn.committed is None:
            turn.committed = time.perf_counter()
        elif ev.item.role == "assistant":
            turn.answer = ev.item.text_content or ""

    def on_agent_state(ev: Any) -> None:
        turn = current()
        if turn and ev.new_state == "speaking" and turn.speaking is None and turn.committed:
            turn.speaking = time.perf_counter()
        state_changed.set()

    def on_metrics(ev: Any) -> None:
        turn = current()
        if turn is None or turn.committed is None:
            return
        if isinstance(ev.metrics, LLMMetrics) and turn.ttft is None:
            turn.ttft = ev.metrics.ttft
        elif isinstance(ev.metrics, TTSMetrics) and turn.ttfb is None:
            turn.ttfb = ev.metrics.ttfb

    session.on("user_state_changed", on_user_state)
    session.on("user_input_transcribed", on_transcribed)
    session.on("conversation_item_added", on_item)
    session.on("agent_state_changed", on_agent_state)
    session.on("metrics_collected", on_metrics)
    await session.start(ex.OfflineAssistant())
    try:
        for _ in range(rounds):
            for question in spoken:
                turn = Turn(question=question)
                turns.append(turn)
                mic.say(spoken[question])
                turn.eos = await mic.speech_ended.get()
                # wait until the answer was played and the agent listens again
                deadline = time.perf_counter() + 120
                while time.perf_counter() < deadline:
                    state_changed.clear()
                    if turn.speaking is not None and session.agent_state == "listening":
                        break
                    try:
                        await asyncio.wait_for(state_changed.wait(), timeout=1.0)
                    except asyncio.TimeoutError:
                        pass
                turn.finish()
                await asyncio.sleep(0.5)
    finally:
        mic.close()
        await session.aclose()
    return turns


def main() -> None:
    parser = common_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked")
    args = parser.parse_args()
    rounds = 1 if args.quick else max(1, args.rounds)
    turns = asyncio.run(run(rounds, QUESTIONS))

    summary: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        values = [t.stages[stage] for t in turns if t.stages[stage] == t.stages[stage]]
        summary[stage] = {
            "n": len(values),
            "p50_ms": percentile(values, 50),
            "p90_ms": percentile(values, 90),
            "max_ms": max(values) if values else float("nan"),
        }
    print("end of user speech -> first agent audio, offline pipeline (per stage, ms)")
    print_table(
        ["stage", "n", "p50", "p90", "max"],
        [
            [
                s,
                str(summary[s]["n"]),
                fmt(summary[s]["p50_ms"], 0),
                fmt(summary[s]["p90_ms"], 0),
                fmt(summary[s]["max_ms"], 0),
            ]
            for s in STAGES
        ],
    )
    print("\nturns:")
    for t in turns:
        print(f"  {t.transcript!r} -> {t.answer!r} (total {fmt(t.stages['total'], 0)} ms)")
    write_result(
        "offline_latency",
        {
            "pipeline": "silero + whisper tiny.en + llama.cpp SmolLM2-135M + piper joe-medium",
            "stages_ms": summary,
            "turns": [
                {
                    "question": t.question,
                    "transcript": t.transcript,
                    "answer": t.answer,
                    "stages_ms": t.stages,
                }
                for t in turns
            ],
        },
    )


if __name__ == "__main__":
    main()
