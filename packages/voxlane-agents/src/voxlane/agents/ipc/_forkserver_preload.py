"""Run inside the multiprocessing forkserver only (named in ``set_forkserver_preload``).

The forkserver imports this module once; every job process is then forked from it and starts
with the framework already imported, sharing those pages copy-on-write. Never import it anywhere
else: it changes the signal disposition of the importing process.
"""

from __future__ import annotations

import importlib
import os
import signal

PRELOADED_MODULES = (
    "voxlane.agents.ipc.job_runtime",
    "voxlane.agents.voice",
)
"""What job processes almost always import: the job runtime, and the voice runtime that agent
programs use (it pulls in llm, stt, tts, vad and tokenize)."""


def _preload() -> None:
    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the job process imports it again and reports the error there
            pass
    # The forkserver is a child of the worker: SIGTERM sent to the worker's process group
    # (a drain) must not end it, or the worker would lose track of its running jobs. It still
    # exits when the worker does (multiprocessing closes its "alive" pipe).
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # ... but what it forks starts with the default, as from any other parent: job processes
        # choose their own disposition (proc_main), other forkserver children keep SIGTERM
        os.register_at_fork(after_in_child=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
    try:
        from .job_runtime import freeze_startup_objects
    except Exception:  # as above: the job process reports it
        return
    # keep the collector from touching (and so un-sharing) the preloaded objects in children
    freeze_startup_objects()


_preload()
