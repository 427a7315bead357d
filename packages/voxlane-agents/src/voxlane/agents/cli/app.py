"""``cli.run_app(server)``: the command line of an agent program.

``server`` is an `AgentServer` (with its ``@server.rtc_session()`` entrypoint) or a
`WorkerOptions`/`ServerOptions`; every subcommand works the same with both.

python agent.py start            # production worker, registers with LiveKit
python agent.py dev              # development worker, reloads when files change
python agent.py connect --room R # run one job in an existing room
python agent.py console          # talk to the agent in this terminal (no server)
python agent.py download-files   # prepare plugin model files for offline use
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..worker.options import WorkerOptions
from ..worker.server import AgentServer, MissingRtcSessionError

logger = logging.getLogger("voxlane.agents.cli")

DEV_CHILD_ENV = "VOXLANE_DEV_WORKER"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``run_app``."""
    parser = argparse.ArgumentParser(prog=prog, description="Run a Voxlane agent.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def server_args(p: argparse.ArgumentParser, default_level: str) -> None:
        p.add_argument("--url", help="LiveKit server URL (default: $LIVEKIT_URL)")
        p.add_argument("--api-key", help="LiveKit API key (default: $LIVEKIT_API_KEY)")
        p.add_argument("--api-secret", help="LiveKit API secret (default: $LIVEKIT_API_SECRET)")
        p.add_argument("--log-level", default=default_level, choices=LOG_LEVELS, type=str.upper)

    start = sub.add_parser("start", help="run the worker in production mode")
    server_args(start, "INFO")
    start.add_argument("--drain-timeout", type=float, help="seconds running jobs may finish")

    dev = sub.add_parser("dev", help="run the worker in development mode with reload")
    server_args(dev, "DEBUG")
    dev.add_argument("--no-reload", action="store_true", help="do not restart on file changes")
    dev.add_argument(
        "--watch",
        action="append",
        default=[],
        metavar="PATH",
        help="file or folder to watch (default: the folder of the agent program)",
    )

    connect = sub.add_parser("connect", help="run one job in an existing room")
    server_args(connect, "DEBUG")
    connect.add_argument("--room", required=True, help="name of the room to join")
    connect.add_argument("--participant-identity", default="", help="participant to serve")

    console = sub.add_parser("console", help="talk to the agent in this terminal")
    console.add_argument("--log-level", default="WARNING", choices=LOG_LEVELS, type=str.upper)
    console.add_argument("--text", action="store_true", help="start in text mode")
    console.add_argument("--input-audio", metavar="WAV", help="read the user's speech from a WAV")
    console.add_argument("--output-audio", metavar="WAV", help="write the agent's speech to a WAV")
    console.add_argument(
        "--transcript", metavar="FILE", help="where file mode writes the transcript"
    )

    dl = sub.add_parser("download-files", help="prepare the model files of installed plugins")
    dl.add_argument("--log-level", default="INFO", choices=LOG_LEVELS, type=str.upper)
    return parser


def run_app(server: AgentServer | WorkerOptions, *, argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run the chosen subcommand; exits the process when done."""
    if not isinstance(server, (AgentServer, WorkerOptions)):
        raise TypeError(
            "run_app() needs an AgentServer or a WorkerOptions (ServerOptions), got "
            f"{type(server).__name__}"
        )
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    _setup_logging(args.log_level)
    if args.command == "download-files":
        sys.exit(download_files())  # needs no entrypoint
    if isinstance(server, AgentServer):
        try:
            opts = server.to_server_options()
        except MissingRtcSessionError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
    else:
        opts = server
    code = _dispatch(opts, args)
    sys.exit(code)


def _dispatch(opts: WorkerOptions, args: argparse.Namespace) -> int:
    if args.command in ("start", "dev", "connect"):
        if args.url:
            opts.ws_url = args.url
        if args.api_key:
            opts.api_key = args.api_key
        if args.api_secret:
            opts.api_secret = args.api_secret
        try:
            opts.resolve_url()
            opts.resolve_credentials()
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    if args.command == "start":
        if args.drain_timeout is not None:
            opts.drain_timeout = args.drain_timeout
        return asyncio.run(serve(opts, devmode=False, log_level=args.log_level))
    if args.command == "dev":
        if args.no_reload or os.environ.get(DEV_CHILD_ENV) == "1":
            return asyncio.run(serve(opts, devmode=True, log_level=args.log_level))
        return _dev_with_reload(args)
    if args.command == "connect":
        return asyncio.run(_connect(opts, args.room, args.participant_identity, args.log_level))
    if args.command == "console":
        from ..voice.console import run_console

        return run_console(
            opts,
            text_mode=args.text,
            input_audio=args.input_audio,
            output_audio=args.output_audio,
            transcript=args.transcript,
        )
    raise AssertionError(f"unhandled command {args.command}")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


async def serve(opts: WorkerOptions, *, devmode: bool, log_level: str = "INFO") -> int:
    """Run a registered worker until SIGTERM/SIGINT: the first signal drains, a second closes."""
    from ..worker.worker import UnpicklableJobFunctionError, Worker, WorkerConnectionError

    try:
        worker = Worker(opts, devmode=devmode, log_level=getattr(logging, log_level))
    except UnpicklableJobFunctionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    signals_seen = 0
    tasks: set[asyncio.Task[Any]] = set()

    async def drain_then_close() -> None:
        if devmode:
            await worker.aclose()  # a reload should not wait for jobs
            return
        await worker.drain()
        await worker.aclose()

    def on_signal(name: str) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            logger.info("%s received: draining (no new jobs; running jobs finish)", name)
            task = asyncio.ensure_future(drain_then_close())
        else:
            logger.warning("%s received again: closing now", name)
            task = asyncio.ensure_future(worker.aclose())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal, sig.name)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    try:
        await worker.run()
    except WorkerConnectionError as e:
        logger.error("%s", e)
        return 1
    finally:
        for task in list(tasks):
            await asyncio.gather(task, return_exceptions=True)
    return 0


def _dev_with_reload(args: argparse.Namespace) -> int:
    from .watcher import run_with_reload

    main = Path(sys.argv[0]).resolve()
    roots = [Path(p).resolve() for p in args.watch] or [main.parent]
    env = dict(os.environ)
    env[DEV_CHILD_ENV] = "1"
    cmd = [sys.executable, *sys.argv]
    print(f"[voxlane dev] watching {', '.join(map(str, roots))}", file=sys.stderr, flush=True)
    return run_with_reload(cmd, roots, env=env)


async def _connect(opts: WorkerOptions, room: str, identity: str, log_level: str) -> int:
    from ..job.types import JobExecutorType
    from ..worker.worker import UnpicklableJobFunctionError, Worker

    opts.job_executor_type = JobExecutorType.PROCESS
    try:
        worker = Worker(opts, devmode=True, register=False, log_level=getattr(logging, log_level))
    except UnpicklableJobFunctionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    run_task = asyncio.create_task(worker.run())
    await asyncio.sleep(0)
    try:
        ex = await worker.simulate_job(room=room, participant_identity=identity, fake_job=False)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(
                    sig, lambda: asyncio.ensure_future(ex.aclose("interrupted"))
                )
            except (NotImplementedError, RuntimeError):
                pass
        await ex.join()
        return 0 if ex.outcome is not None and ex.outcome.success else 1
    finally:
        await worker.aclose()
        await asyncio.gather(run_task, return_exceptions=True)


def download_files() -> int:
    """Run every installed plugin's ``download_files`` hook, showing progress as it goes."""
    try:
        from ..plugin import manager
    except ImportError as e:
        print(f"error: the plugin manager is not available ({e})", file=sys.stderr)
        return 1
    print("Preparing model files of the installed plugins...", flush=True)

    def on_start(index: int, total: int, name: str, distribution: str | None) -> None:
        label = name + (f" ({distribution})" if distribution else "")
        print(f"  [{index}/{total}] {label} ...", end=" ", flush=True)

    def on_result(index: int, total: int, result: Any) -> None:
        if result.ok:
            print("ok", flush=True)
        else:
            print(f"FAILED: {result.error}", flush=True)

    results = manager.run_download_files(on_start=on_start, on_result=on_result)
    if not results:
        print("No installed plugin has files to prepare.")
        return 0
    failed = [r for r in results if not r.ok]
    print(f"Done: {len(results) - len(failed)} ok, {len(failed)} failed.")
    if failed:
        print(
            "Fix the problems above (network access, disk space, the plugin's own "
            "requirements) and run download-files again.",
            file=sys.stderr,
        )
    return 1 if failed else 0


__all__ = ["build_parser", "download_files", "run_app", "serve"]
