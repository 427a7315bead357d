"""`console` subcommand: run one job locally, in a thread, against a `ConsoleRoom`."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from pathlib import Path

from ...job.types import JobExecutorType
from ...worker.options import WorkerOptions
from ..io_impl.wav import read_wav
from .room import ConsoleMode, ConsoleOptions, ConsoleRoom


def run_console(
    opts: WorkerOptions,
    *,
    text_mode: bool = False,
    input_audio: str | None = None,
    output_audio: str | None = None,
    transcript: str | None = None,
) -> int:
    """Run the agent in this terminal (or on WAV files); returns a process exit code."""
    if (output_audio or transcript) and not input_audio:
        print(
            "error: --output-audio and --transcript need --input-audio (file mode)",
            file=sys.stderr,
        )
        return 2
    mode: ConsoleMode = "file" if input_audio else ("text" if text_mode else "audio")
    if input_audio:
        if not Path(input_audio).is_file():
            print(f"error: input audio file not found: {input_audio}", file=sys.stderr)
            return 2
        try:
            read_wav(input_audio)
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    for flag, out_path in (("--output-audio", output_audio), ("--transcript", transcript)):
        problem = _unwritable(out_path) if out_path else None
        if problem:
            print(f"error: cannot write {flag} {out_path}: {problem}", file=sys.stderr)
            return 2
    options = ConsoleOptions(
        mode=mode, input_audio=input_audio, output_audio=output_audio, transcript=transcript
    )
    return asyncio.run(run_console_job(opts, options))


def _unwritable(path: str) -> str | None:
    """Why ``path`` cannot be written (its folder is created when missing), or None."""
    target = Path(path)
    if target.is_dir():
        return "it is a folder; give a file name"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab"):
            pass
    except OSError as e:
        return e.strerror or str(e)
    return None


async def run_console_job(opts: WorkerOptions, options: ConsoleOptions) -> int:
    """Run one console job and wait for it to end."""
    from ...worker.worker import Worker

    rooms: list[ConsoleRoom] = []

    def make_room() -> ConsoleRoom:
        room = ConsoleRoom(options)
        rooms.append(room)
        return room

    local_opts = dataclasses.replace(
        opts,
        job_executor_type=JobExecutorType.THREAD,
        num_idle_processes=0,
        room_factory=make_room,
    )
    worker = Worker(local_opts, devmode=True, register=False)
    run_task = asyncio.create_task(worker.run())
    await asyncio.sleep(0)
    try:
        ex = await worker.simulate_job(room="console", fake_job=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(
                    sig, lambda: asyncio.ensure_future(ex.aclose("console interrupted"))
                )
            except (NotImplementedError, RuntimeError):
                pass
        await ex.join()
        outcome = ex.outcome
        if outcome is not None and not outcome.success:
            print(f"\nthe agent failed: {outcome.error}", file=sys.stderr)
            return 1
        errors = [room.error for room in rooms if room.error]
        for error in errors:
            print(f"\nerror: {error}", file=sys.stderr)
        return 1 if errors else 0
    finally:
        await worker.aclose()
        await asyncio.gather(run_task, return_exceptions=True)


__all__ = ["run_console", "run_console_job"]
