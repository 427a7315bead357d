"""One side of the per-turn overhead scenario, run in one framework's interpreter.

    python bench/_turn_scenario.py --framework voxlane|livekit --turns 1000

The same code runs against ``voxlane.agents`` and ``livekit.agents`` (only the import prefix
differs; the session options that differ are listed in ``session_kwargs``). It prints one JSON
object with the raw hop durations in nanoseconds. ``bench/turn_overhead.py`` drives both sides.

The scenario: an :class:`AgentSession` with STT turn detection and zero endpointing delay, a
zero-latency scripted STT (through an overridden ``stt_node``), LLM and streaming TTS, and an
in-memory audio output that plays instantly. Each turn, the driver makes the STT emit a user
utterance (start of speech, final transcript, end of speech) and waits until the agent is back
to listening. Timestamps (``time.perf_counter_ns``):

* ``eou``: the STT node yields END_OF_SPEECH (the end of the user turn);
* ``llm_request``: ``LLM.chat()`` is called;
* ``llm_first_token``: the LLM stream sends its first text chunk;
* ``tts_first_text``: the first ``push_text()`` into the TTS stream;
* ``tts_first_audio``: the TTS pushes its first audio bytes into the AudioEmitter;
* ``output_first_frame``: the first frame reaches ``AudioOutput.capture_frame``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import logging
import pathlib
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any


def _framework_from_argv() -> str:
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--framework" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--framework="):
            return arg.split("=", 1)[1]
    return "voxlane"


FRAMEWORK = _framework_from_argv()
if FRAMEWORK not in ("voxlane", "livekit"):
    raise SystemExit(f"--framework must be voxlane or livekit, got {FRAMEWORK!r}")

if TYPE_CHECKING:  # type-checked against Voxlane; at run time the prefix decides
    from voxlane.agents import llm, stt, tts
    from voxlane.agents import voice as voice_mod
    from voxlane.agents.voice import io
else:
    llm = importlib.import_module(f"{FRAMEWORK}.agents.llm")
    stt = importlib.import_module(f"{FRAMEWORK}.agents.stt")
    tts = importlib.import_module(f"{FRAMEWORK}.agents.tts")
    voice_mod = importlib.import_module(f"{FRAMEWORK}.agents.voice")
    io = importlib.import_module(f"{FRAMEWORK}.agents.voice.io")

from livekit import rtc  # noqa: E402  (shared by both frameworks)

SAMPLE_RATE = 24000
FRAME_MS = 20
REPLY_CHUNKS = ("Sure, ", "here ", "is ", "the ", "answer ", "you ", "asked ", "for.")


@dataclass
class Turn:
    """The timestamps of one turn (perf_counter_ns; 0 = not reached)."""

    eou: int = 0
    llm_request: int = 0
    llm_first_token: int = 0
    tts_first_text: int = 0
    tts_first_audio: int = 0
    output_first_frame: int = 0


@dataclass
class Recorder:
    turns: list[Turn] = field(default_factory=list)

    @property
    def current(self) -> Turn:
        return self.turns[-1]

    def mark(self, name: str) -> None:
        """Record ``name`` for the current turn, first occurrence only."""
        if not self.turns:
            return
        turn = self.turns[-1]
        if getattr(turn, name) == 0:
            setattr(turn, name, time.perf_counter_ns())


REC = Recorder()


# --- STT: scripted events delivered through an overridden stt_node ------------------------


class ScriptedSTT(stt.STT):
    """A streaming STT whose events come from ``BenchAgent.stt_node`` (never streamed itself)."""

    def __init__(self) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=False))

    async def _recognize_impl(
        self, buffer: Any, *, language: Any = None, conn_options: Any = None
    ) -> Any:
        raise NotImplementedError("the benchmark only uses the streaming path")


def speech_event(kind: str, text: str = "") -> stt.SpeechEvent:
    alternatives = [stt.SpeechData(language="en", text=text)] if text else []
    return stt.SpeechEvent(type=getattr(stt.SpeechEventType, kind), alternatives=alternatives)


# --- LLM ----------------------------------------------------------------------------------


class ZeroLLM(llm.LLM):
    """Replies instantly with ``REPLY_CHUNKS``."""

    def chat(self, *, chat_ctx: Any, tools: Any = None, conn_options: Any = None, **_: Any) -> Any:
        REC.mark("llm_request")
        return ZeroLLMStream(
            self,
            chat_ctx=chat_ctx,
            tools=list(tools or []),
            conn_options=conn_options or llm_conn_options(),
        )


def llm_conn_options() -> Any:
    types = importlib.import_module(f"{FRAMEWORK}.agents.types")
    return types.DEFAULT_API_CONNECT_OPTIONS


class ZeroLLMStream(llm.LLMStream):
    async def _run(self) -> None:
        # the reply is built before the first token is stamped: building 8 pydantic chunks is
        # the provider's work, not the framework's, and its allocation burst used to set off
        # most of the garbage collector's passes inside the measured token -> TTS hop
        chunks = [
            llm.ChatChunk(id="bench", delta=llm.ChoiceDelta(role="assistant", content=piece))
            for piece in REPLY_CHUNKS
        ]
        REC.mark("llm_first_token")
        for chunk in chunks:
            self._event_ch.send_nowait(chunk)


# --- TTS ----------------------------------------------------------------------------------

_FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2
_AUDIO = (b"\x10\x00\xf0\xff" * (_FRAME_BYTES // 4))[:_FRAME_BYTES]


class ZeroTTS(tts.TTS):
    """A streaming TTS that answers every text piece with one 20 ms frame of audio."""

    def __init__(self) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )

    def synthesize(self, text: str, *, conn_options: Any = None) -> Any:
        raise NotImplementedError("the benchmark only uses the streaming path")

    def stream(self, *, conn_options: Any = None) -> ZeroSynthesizeStream:
        return ZeroSynthesizeStream(tts=self, conn_options=conn_options or llm_conn_options())


class ZeroSynthesizeStream(tts.SynthesizeStream):
    def push_text(self, token: str) -> None:
        REC.mark("tts_first_text")
        super().push_text(token)

    async def _run(self, output_emitter: Any) -> None:
        output_emitter.initialize(
            request_id="bench",
            sample_rate=SAMPLE_RATE,
            num_channels=1,
            mime_type="audio/pcm",
            frame_size_ms=FRAME_MS,
            stream=True,
        )
        in_segment = False
        segments = 0
        async for item in self._input_ch:
            if isinstance(item, str):
                if not item.strip():
                    continue
                if not in_segment:
                    segments += 1
                    output_emitter.start_segment(segment_id=f"seg{segments}")
                    in_segment = True
                REC.mark("tts_first_audio")
                output_emitter.push(_AUDIO)
            elif in_segment:
                output_emitter.end_segment()
                in_segment = False
        if in_segment:
            output_emitter.end_segment()


# --- I/O ----------------------------------------------------------------------------------


class SilentInput(io.AudioInput):
    """An audio input that never produces a frame (the STT node is scripted)."""

    def __init__(self) -> None:
        super().__init__(label="bench-input")
        self._closed = asyncio.Event()

    async def __anext__(self) -> rtc.AudioFrame:
        await self._closed.wait()
        raise StopAsyncIteration


class InstantOutput(io.AudioOutput):
    """An audio output that "plays" everything the moment the segment is flushed."""

    def __init__(self) -> None:
        super().__init__(
            label="bench-output",
            capabilities=io.AudioOutputCapabilities(pause=False),
            sample_rate=None,
        )
        self._pushed = 0.0
        self._started = False

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        REC.mark("output_first_frame")
        await super().capture_frame(frame)
        if not self._started:
            self._started = True
            self.on_playback_started(created_at=time.time())
        self._pushed += frame.samples_per_channel / frame.sample_rate

    def flush(self) -> None:
        super().flush()
        self._finish(interrupted=False)

    def clear_buffer(self) -> None:
        self._finish(interrupted=True)

    def _finish(self, *, interrupted: bool) -> None:
        if not self._started:
            return
        position, self._pushed, self._started = self._pushed, 0.0, False
        asyncio.get_running_loop().call_soon(
            lambda: self.on_playback_finished(playback_position=position, interrupted=interrupted)
        )


# --- agent --------------------------------------------------------------------------------


class BenchAgent(voice_mod.Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a benchmark.")
        self.stt_events: asyncio.Queue[Any] = asyncio.Queue()

    async def stt_node(
        self, audio: AsyncIterable[rtc.AudioFrame], model_settings: Any
    ) -> AsyncIterator[Any]:
        while True:
            ev = await self.stt_events.get()
            if ev.type == stt.SpeechEventType.END_OF_SPEECH:
                REC.mark("eou")
            yield ev


def session_kwargs() -> dict[str, Any]:
    """The session options; the two APIs spell 'stt turn detection, no endpointing delay'
    differently (LiveKit 1.8 moved them into ``turn_handling``)."""
    common: dict[str, Any] = {
        "stt": ScriptedSTT(),
        "llm": ZeroLLM(),
        "tts": ZeroTTS(),
        "user_away_timeout": None,
    }
    if FRAMEWORK == "livekit":
        common["turn_handling"] = {
            "turn_detection": "stt",
            "endpointing": {"min_delay": 0.0},
            "preemptive_generation": {"enabled": False},
        }
    else:
        common["turn_detection"] = "stt"
        common["min_endpointing_delay"] = 0.0
    return common


def start_kwargs() -> dict[str, Any]:
    return {"record": False} if FRAMEWORK == "livekit" else {}


async def run(turns: int, warmup: int, profile: str | None) -> dict[str, Any]:
    session = voice_mod.AgentSession(**session_kwargs())
    agent = BenchAgent()
    session.input.audio = SilentInput()
    session.output.audio = InstantOutput()

    back_to_listening = asyncio.Event()
    spoke = False

    def on_state(ev: Any) -> None:
        nonlocal spoke
        if ev.new_state == "speaking":
            spoke = True
        elif ev.new_state == "listening" and spoke:
            spoke = False
            back_to_listening.set()

    session.on("agent_state_changed", on_state)
    await session.start(agent=agent, **start_kwargs())

    profiler: Any = None
    failures = 0
    cpu_start = wall_start = 0.0
    for i in range(warmup + turns):
        if i == warmup:
            REC.turns.clear()
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            if profile:
                import pyinstrument  # type: ignore[import-not-found,unused-ignore]

                profiler = pyinstrument.Profiler(async_mode="disabled", interval=0.0002)
                profiler.start()
        REC.turns.append(Turn())
        back_to_listening.clear()
        agent.stt_events.put_nowait(speech_event("START_OF_SPEECH"))
        agent.stt_events.put_nowait(speech_event("FINAL_TRANSCRIPT", f"question number {i}"))
        agent.stt_events.put_nowait(speech_event("END_OF_SPEECH"))
        try:
            await asyncio.wait_for(back_to_listening.wait(), timeout=10.0)
        except asyncio.TimeoutError as exc:
            failures += 1
            if failures > 5:
                msg = f"{FRAMEWORK}: 5 turns never finished; last {REC.current}"
                raise RuntimeError(msg) from exc
        # let the framework finish its end-of-turn bookkeeping before the next user turn
        for _ in range(3):
            await asyncio.sleep(0)

    cpu_per_turn_ms = (time.process_time() - cpu_start) / turns * 1000
    wall_per_turn_ms = (time.perf_counter() - wall_start) / turns * 1000
    report = ""
    if profiler is not None:
        profiler.stop()
        report = profiler.output_text(
            unicode=True,
            color=False,
            show_all=False,
            # show both frameworks' frames (pyinstrument folds site-packages by default)
            processor_options={"show_regex": r".*/(livekit|voxlane)/agents/.*"},
        )

    with contextlib.suppress(Exception):
        await asyncio.wait_for(session.aclose(), timeout=10.0)

    hops: dict[str, list[int]] = {
        "eou_to_llm_request": [],
        "llm_first_token_to_tts_text": [],
        "tts_first_audio_to_output_frame": [],
        "eou_to_output_frame": [],
    }
    incomplete = 0
    for t in REC.turns:
        if not all((t.eou, t.llm_request, t.llm_first_token, t.tts_first_text)) or not (
            t.tts_first_audio and t.output_first_frame
        ):
            incomplete += 1
            continue
        hops["eou_to_llm_request"].append(t.llm_request - t.eou)
        hops["llm_first_token_to_tts_text"].append(t.tts_first_text - t.llm_first_token)
        hops["tts_first_audio_to_output_frame"].append(t.output_first_frame - t.tts_first_audio)
        hops["eou_to_output_frame"].append(t.output_first_frame - t.eou)
    return {
        "framework": FRAMEWORK,
        "turns": turns,
        "warmup": warmup,
        "incomplete_turns": incomplete,
        "timeouts": failures,
        "hops_ns": hops,
        "cpu_per_turn_ms": cpu_per_turn_ms,
        "wall_per_turn_ms": wall_per_turn_ms,
        "profile_report": report,
    }


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--framework", choices=["voxlane", "livekit"], required=True)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--profile", default=None, help="write a pyinstrument text report here")
    args = parser.parse_args()
    if args.turns < 1 or args.warmup < 0:
        parser.error("--turns must be >= 1 and --warmup >= 0")
    logging.basicConfig(level=logging.ERROR)
    gc.collect()
    result = asyncio.run(run(args.turns, args.warmup, args.profile))
    report = result.pop("profile_report")
    if args.profile:
        pathlib.Path(args.profile).write_text(report, encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
