"""`ChatCLI`: talk to an `AgentSession` from a terminal.

- audio mode: microphone and speaker (sounddevice) with echo cancellation and a level meter;
- text mode: type a message and press Enter; the reply is printed (and played when a speaker
  exists);
- Ctrl+B switches between the two; Ctrl+D (or the end of the input) ends the console.

When no audio device exists (servers, CI), it starts in text mode and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from typing import Any, Literal, TextIO

from livekit import rtc

from ...utils.aio import Chan, ChanClosed, cancel_and_wait
from .text_io import StreamTextOutput

logger = logging.getLogger("voxlane.agents.console")

CTRL_B = "\x02"
CTRL_D = "\x04"
BACKSPACES = ("\x7f", "\x08")
METER_WIDTH = 30
PROMPT = "You: "
DRAIN_TIMEOUT = 60.0


class ChatCLI:
    """Binds an `AgentSession` to the terminal. Call :meth:`start`; :meth:`done` resolves when
    the user ends the console."""

    def __init__(
        self,
        agent_session: Any,
        *,
        mode: Literal["audio", "text"] = "audio",
        sync_transcription: bool = True,
        loop: asyncio.AbstractEventLoop | None = None,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self._session = agent_session
        self._requested_mode = mode
        self._mode: Literal["audio", "text"] = "text"
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._sync_transcription = sync_transcription
        self._text_out = StreamTextOutput(self._stdout, on_segment_end=self._after_agent_text)
        self._buf: list[str] = []
        self._keys: Chan[str] = Chan()
        self._done = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._devices: tuple[Any, Any] | None = None
        self._apm: rtc.AudioProcessingModule | None = None
        self._mic: Any = None
        self._speaker: Any = None
        self._tty_state: Any = None
        self._reader_fd: int | None = None
        self._interactive = False

    @property
    def mode(self) -> Literal["audio", "text"]:
        return self._mode

    async def start(self) -> None:
        from .devices import find_audio_devices

        found = find_audio_devices()
        if isinstance(found, str):
            self._devices = None
            if self._requested_mode == "audio":
                self._write(f"No audio device available ({found}): starting in text mode.\n")
        else:
            self._devices = found
        self._session.output.transcription = self._text_out
        if not self._sync_transcription:
            self._session.output.set_sync_transcription(False)
        self._start_reading()
        if self._requested_mode == "audio" and self._devices is not None:
            self._set_mode("audio")
        else:
            self._set_mode("text")
        self._tasks.append(asyncio.create_task(self._key_loop()))
        if self._devices is not None:
            self._tasks.append(asyncio.create_task(self._meter_loop()))

    async def wait_done(self) -> None:
        await self._done.wait()

    async def aclose(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._stop_reading()
        self._close_devices()
        self._done.set()

    # -- terminal ---------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        self._stdout.write(text)
        self._stdout.flush()

    def _start_reading(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            fd = self._stdin.fileno()
        except (AttributeError, OSError, ValueError):
            fd = -1
        if fd < 0:
            raise RuntimeError("the console needs a readable stdin")
        self._interactive = os.isatty(fd)
        if self._interactive and sys.platform != "win32":
            import termios
            import tty

            self._tty_state = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        self._reader_fd = fd
        os.set_blocking(fd, False)

        def on_readable() -> None:
            try:
                data = os.read(fd, 1024)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._keys.close()
                loop.remove_reader(fd)
                return
            for ch in data.decode("utf-8", errors="replace"):
                with contextlib.suppress(ChanClosed):
                    self._keys.send_nowait(ch)

        loop.add_reader(fd, on_readable)

    def _stop_reading(self) -> None:
        if self._reader_fd is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._reader_fd)
        with contextlib.suppress(Exception):
            os.set_blocking(self._reader_fd, True)
        if self._tty_state is not None:
            import termios

            with contextlib.suppress(Exception):
                termios.tcsetattr(self._reader_fd, termios.TCSADRAIN, self._tty_state)
        self._reader_fd = None

    def _prompt(self) -> None:
        if self._mode == "text":
            self._write("\r\033[K" + PROMPT + "".join(self._buf))

    def _after_agent_text(self, text: str) -> None:
        self._prompt()

    # -- modes ------------------------------------------------------------------------------

    def _set_mode(self, mode: Literal["audio", "text"]) -> None:
        from .devices import MicrophoneInput, SpeakerOutput

        self._mode = mode
        if self._devices is not None and self._speaker is None:
            self._apm = rtc.AudioProcessingModule(
                echo_cancellation=True,
                noise_suppression=True,
                high_pass_filter=True,
                auto_gain_control=True,
            )
            self._speaker = SpeakerOutput(self._apm, self._devices[1])
        if self._speaker is not None:
            self._session.output.audio = self._speaker
        else:
            self._session.output.audio = None
        if mode == "audio":
            assert self._devices is not None and self._apm is not None
            if self._mic is None:
                self._mic = MicrophoneInput(self._apm, self._devices[0])
            self._session.input.audio = self._mic
            self._text_out.enabled = True
            self._write("\r\033[K[audio mode: speak; Ctrl+B for text]\n")
        else:
            if self._mic is not None:
                self._session.input.audio = None
                self._mic.close()
                self._mic = None
            hint = " (Ctrl+B for audio)" if self._devices is not None else ""
            self._write(f"\r\033[K[text mode: type a message and press Enter{hint}]\n")
            self._prompt()

    def _close_devices(self) -> None:
        if self._mic is not None:
            self._mic.close()
            self._mic = None
        if self._speaker is not None:
            self._speaker.close()
            self._speaker = None

    async def _meter_loop(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            if self._mode != "audio" or self._mic is None or self._text_out.capturing:
                continue
            if self._speaker is not None:
                self._mic.output_delay = self._speaker.output_delay
            level = max(0.0, min(1.0, (self._mic.level_dbfs + 60) / 60))
            bars = round(level * METER_WIDTH)
            self._write(
                f"\r\033[K[mic {self._mic.level_dbfs:6.1f} dBFS] "
                + "#" * bars
                + "-" * (METER_WIDTH - bars)
            )

    async def _key_loop(self) -> None:
        async for ch in self._keys:
            if ch == CTRL_D:
                break
            if ch == CTRL_B:
                if self._mode == "text" and self._devices is not None:
                    self._set_mode("audio")
                elif self._mode == "audio":
                    self._set_mode("text")
                continue
            if self._mode != "text":
                continue
            if ch in ("\r", "\n"):
                text = "".join(self._buf).strip()
                self._buf = []
                if self._interactive:
                    self._write("\n")
                if text:
                    self._send(text)
                else:
                    self._prompt()
            elif ch in BACKSPACES:
                if self._buf:
                    self._buf.pop()
                    if self._interactive:
                        self._write("\b \b")
            elif ch.isprintable():
                self._buf.append(ch)
                if self._interactive:
                    self._write(ch)
        # end of input: let the replies already asked for finish before closing
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._session.drain(), DRAIN_TIMEOUT)
        self._write("\n")
        self._done.set()

    def _send(self, text: str) -> None:
        with contextlib.suppress(RuntimeError):
            self._session.interrupt()
        self._session.generate_reply(user_input=text)


__all__ = ["ChatCLI"]
