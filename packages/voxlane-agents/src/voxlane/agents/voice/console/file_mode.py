"""Console file mode: the user's turn(s) come from a WAV file; the agent's speech goes to a WAV
file and the conversation to a transcript. Runs a voice turn without any audio device.

The run ends deterministically, however slow the models are: once the input file (and the
silence fed after it) has been played, the user's audio is declared over, the VAD and the STT
finish what they heard, and the console waits until the session is idle (no end of turn
pending, no reply generating, no speech queued or playing). If that takes longer than
``finish_timeout`` seconds, the console ends anyway and reports what was still pending as
:attr:`FileConsole.error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
from pathlib import Path
from typing import Any, TextIO

from ...utils.aio import cancel_and_wait
from ..io_impl.wav import WavAudioInput, WavAudioOutput
from ..run_control import describe_pending, finish_user_input
from .room import ConsoleOptions
from .text_io import StreamTextOutput

logger = logging.getLogger("voxlane.agents.console")

FINISH_TIMEOUT = 300.0
"""Seconds the conversation may take, after the input ends, to reach idle."""
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
        self,
        agent_session: Any,
        options: ConsoleOptions,
        *,
        stdout: TextIO | None = None,
        finish_timeout: float = FINISH_TIMEOUT,
    ) -> None:
        if not options.input_audio:
            raise ValueError("file mode needs an input WAV (console --input-audio FILE)")
        if not (isinstance(finish_timeout, (int, float)) and math.isfinite(finish_timeout)) or (
            finish_timeout <= 0
        ):
            raise ValueError(
                f"finish_timeout must be a finite number of seconds > 0, got {finish_timeout!r}"
            )
        self._finish_timeout = float(finish_timeout)
        self.error: str | None = None
        """Set when the conversation did not finish in time (what was still pending)."""
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
        self._stage = "the input audio"

    async def start(self) -> None:
        if self._options.transcript:
            self._transcript = await asyncio.to_thread(_open_transcript, self._options.transcript)
        self._session.input.audio = self._input
        self._session.output.audio = self._output
        self._session.output.transcription = StreamTextOutput(self._stdout)
        if not self._options.sync_transcription:
            self._session.output.set_sync_transcription(False)
        self._session.on("conversation_item_added", self._on_item)
        self._session.on("close", self._on_close)
        self._task = asyncio.create_task(self._watch(), name="file_console_watch")

    def _on_close(self, ev: Any) -> None:
        # the session ended first (the agent hung up, an error): nothing more will be said
        self._done.set()

    def _on_item(self, ev: Any) -> None:
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

    async def _finish(self) -> None:
        self._stage = "the VAD and the STT finishing the user's last words"
        await finish_user_input(self._session)
        self._stage = "the conversation"
        await self._session.wait_for_inactive()

    async def _watch(self) -> None:
        await self._input.finished.wait()
        try:
            await asyncio.wait_for(self._finish(), self._finish_timeout)
        except asyncio.TimeoutError:
            self.error = (
                f"file mode: the conversation was still busy {self._finish_timeout:g} s after "
                f"the input audio ended, waiting for {self._stage} (pending: "
                f"{describe_pending(self._session)}); the "
                "output and the transcript stop there. A model is probably stuck or much "
                "slower than expected: check its logs, or pass a longer finish_timeout."
            )
            logger.error(self.error)
        self._done.set()

    async def wait_done(self) -> None:
        """Return once the conversation is over (see the module docstring)."""
        await self._done.wait()

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)
        self._session.off("conversation_item_added", self._on_item)
        self._session.off("close", self._on_close)
        if self._output is not None:
            await self._output.aclose()
        if self._transcript is not None:
            with contextlib.suppress(Exception):
                self._transcript.close()
        self._done.set()


__all__ = ["FileConsole"]
