"""Console file mode: the user's turn(s) come from a WAV file; the agent's speech goes to a WAV
file and the conversation to a transcript. Runs a voice turn without any audio device."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ...utils.aio import cancel_and_wait
from ..io_impl.wav import WavAudioInput, WavAudioOutput
from .room import ConsoleOptions
from .text_io import StreamTextOutput

logger = logging.getLogger("voxlane.agents.console")

SETTLE_SECONDS = 2.0
"""After the input ends, the conversation counts as over once it was quiet this long."""
MAX_WAIT_SECONDS = 300.0
TRAILING_SILENCE = 1.5
"""Silence fed after the input file, so the turn detector hears the user stop."""
OUTPUT_SAMPLE_RATE = 24000


def _open_transcript(path_str: str) -> TextIO:
    path = Path(path_str)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8")  # closed in FileConsole.aclose


class FileConsole:
    """Binds an `AgentSession` to WAV files; :meth:`wait_done` resolves when the turns are over."""

    def __init__(
        self, agent_session: Any, options: ConsoleOptions, *, stdout: TextIO | None = None
    ) -> None:
        if not options.input_audio:
            raise ValueError("file mode needs an input WAV (console --input-audio FILE)")
        self._session = agent_session
        self._options = options
        self._stdout = stdout or sys.stdout
        self._input = WavAudioInput(
            options.input_audio,
            realtime=options.realtime_input,
            trailing_silence=TRAILING_SILENCE,
            num_channels=1,
        )
        self._output = (
            WavAudioOutput(
                options.output_audio,
                sample_rate=OUTPUT_SAMPLE_RATE,
                num_channels=1,
                realtime=options.realtime_input,
            )
            if options.output_audio
            else None
        )
        self._transcript: TextIO | None = None
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_activity = time.monotonic()

    async def start(self) -> None:
        if self._options.transcript:
            self._transcript = await asyncio.to_thread(_open_transcript, self._options.transcript)
        self._session.input.audio = self._input
        self._session.output.audio = self._output
        self._session.output.transcription = StreamTextOutput(self._stdout)
        if not self._options.sync_transcription:
            self._session.output.set_sync_transcription(False)
        self._session.on("conversation_item_added", self._on_item)
        self._session.on("agent_state_changed", self._on_state)
        self._session.on("user_state_changed", self._on_state)
        self._task = asyncio.create_task(self._watch())

    def _on_state(self, ev: Any) -> None:
        self._last_activity = time.monotonic()

    def _on_item(self, ev: Any) -> None:
        self._last_activity = time.monotonic()
        item = ev.item
        role = getattr(item, "role", None)
        text = getattr(item, "text_content", None)
        if role not in ("user", "assistant") or not text:
            return
        line = f"{'user' if role == 'user' else 'agent'}: {text}"
        if role == "user":
            self._stdout.write(f"\r\033[KYou: {text}\n")
            self._stdout.flush()
        if self._transcript is not None:
            self._transcript.write(line + "\n")
            self._transcript.flush()

    def _quiet(self) -> bool:
        return (
            self._session.agent_state in ("listening", "idle")
            and self._session.user_state != "speaking"
        )

    async def _watch(self) -> None:
        await self._input.finished.wait()
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if self._quiet() and time.monotonic() - self._last_activity >= SETTLE_SECONDS:
                break
        else:
            logger.warning("file mode: the conversation did not settle; ending anyway")
        self._done.set()

    async def wait_done(self) -> None:
        await self._done.wait()

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)
        if self._output is not None:
            await self._output.aclose()
        if self._transcript is not None:
            with contextlib.suppress(Exception):
                self._transcript.close()
        self._done.set()


__all__ = ["FileConsole"]
