"""Waiting on a session: idle detection, ``start(capture_run=True)`` and ``run()`` with a
timeout.

- :func:`wait_inactive` is ``AgentSession.wait_for_inactive()``, and so its LiveKit name
  ``wait_for_idle()``: no handoff under way, the agent's ``on_enter`` and user-turn hooks done
  (:func:`busy_hooks`), no speech queued, generating, playing or running tools, no end of turn
  pending, and the user not speaking.
- :func:`finish_user_input` ends the user's audio and waits for its last transcript.
- :func:`capture_start` records what ``on_enter`` produced while the session starts, as a
  :class:`~voxlane.agents.voice.run_result.RunResult`.
- :func:`run_with_timeout` is ``AgentSession.run()``: it first lets the speech already under way
  (typically the ``on_enter`` greeting) finish, so the greeting never sees the run's user input
  nor lands in the run's events, then runs the turn, and fails with :class:`RunTimeoutError`
  (saying what is still pending) instead of waiting forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .events import ConversationItemAddedEvent

if TYPE_CHECKING:
    from .agent_session import AgentSession
    from .run_result import RunResult

DEFAULT_RUN_TIMEOUT = 180.0
"""Seconds ``session.run()`` waits for a turn (and the speech before it) by default."""

_HOOK_TASKS = ("on_enter", "user_turn_completed")


class RunTimeoutError(TimeoutError):
    """``session.run()`` (or ``start(capture_run=True)``) did not complete in time."""


def busy_hooks(session: AgentSession[Any]) -> list[asyncio.Task[Any]]:
    """The agent's ``on_enter`` / user-turn hook tasks still running."""
    activity = session._activity
    if activity is None:
        return []
    return [t for t in activity._tasks if not t.done() and t.get_name() in _HOOK_TASKS]


async def wait_inactive(session: AgentSession[Any]) -> bool:
    """The body of ``AgentSession.wait_for_inactive()`` (and so of ``wait_for_idle()``)."""
    settled = False
    while True:
        if session._closing or session._closed or not session._started:
            return False
        activity = session._activity
        if session._pending_updates:
            await session._unless_closing(
                asyncio.gather(*session._pending_updates, return_exceptions=True)
            )
        elif activity is None:
            return False
        elif hooks := busy_hooks(session):
            await session._unless_closing(asyncio.wait(hooks))
        elif not activity.idle:
            await session._unless_closing(activity.wait_idle())
        elif activity.draining or activity._closed:
            # an agent task is handing back to its caller
            await session._unless_closing(asyncio.sleep(0.01))
        elif (pending := activity.pending_end_of_turn()) is not None:
            await session._unless_closing(asyncio.wait([pending]))
        elif session.user_state == "speaking":
            await session._unless_closing(session._wait_event("user_state_changed"))
        elif not settled:
            # a hook, a handoff or a callback may start a new speech in the same instant:
            # idle only when a second look, one loop iteration later, agrees
            settled = True
            await asyncio.sleep(0)
            continue
        else:
            return True
        settled = False


def describe_pending(session: AgentSession[Any]) -> str:
    """What a session is still busy with, for timeout messages."""
    parts: list[str] = []
    if session._pending_updates:
        parts.append("an agent handoff")
    for task in busy_hooks(session):
        parts.append(f"the agent's {task.get_name()} hook")
    speech = session.current_speech
    if speech is not None:
        parts.append(f"speech {speech.id} (agent state {session.agent_state!r})")
    activity = session._activity
    if activity is not None and activity.pending_end_of_turn() is not None:
        parts.append("the end of the user's turn (endpointing delay)")
    if session.user_state == "speaking":
        parts.append("the user, who is still speaking")
    return ", ".join(parts) or f"nothing visible (agent state {session.agent_state!r})"


async def finish_user_input(session: AgentSession[Any]) -> None:
    """The user's audio is over for good (e.g. the console's input file ended): let the
    current agent's VAD and STT finish what they heard, and return once their last transcript
    is in. The end of turn it triggers is then pending, which ``wait_for_inactive()`` waits
    for. Audio pushed afterwards is ignored. Without a VAD/STT (text only, realtime models)
    this returns at once."""
    activity = session._activity
    recognition = activity._recognition if activity is not None else None
    if recognition is None:
        return
    recognition.end_input()
    await recognition.wait_input_processed()


async def capture_start(
    session: AgentSession[Any], start: Callable[[], Awaitable[None]]
) -> RunResult[str]:
    """Run ``start()`` while recording what the agent's ``on_enter`` does; return it once
    everything it started is over."""
    from .run_result import RunResult, _active_runs

    result: RunResult[str] = RunResult(user_input=None)

    def on_item(ev: ConversationItemAddedEvent) -> None:
        result._on_item_added(session, ev)

    subscriptions: list[tuple[Any, Callable[..., None]]] = [
        ("conversation_item_added", on_item),
        ("function_tools_executed", result._on_tools_executed),
        ("speech_created", result._on_speech_created),
    ]
    for name, cb in subscriptions:
        session.on(name, cb)
    _active_runs[session] = result
    try:
        await start()
        result._last_agent = session.current_agent
        await result._wait_complete(session)
        result._finish()
    except BaseException as e:
        result._finish(e if isinstance(e, Exception) else RuntimeError("the start was cancelled"))
        raise
    finally:
        _active_runs.pop(session, None)
        for name, cb in subscriptions:
            session.off(name, cb)
    return await result


async def run_with_timeout(
    session: AgentSession[Any],
    *,
    user_input: str,
    output_type: type[Any] | None,
    timeout: float | None,
) -> RunResult[Any]:
    """The body of ``AgentSession.run()`` (see the module docstring)."""
    from .run_result import run_session

    if timeout is not None and not timeout > 0:
        raise ValueError(f"run() timeout must be > 0 seconds or None, got {timeout}")
    if session._activity is None:
        raise RuntimeError("the AgentSession is not running: call `await session.start(agent)`")
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout

    def remaining() -> float | None:
        return None if deadline is None else max(deadline - loop.time(), 0.0)

    try:
        await asyncio.wait_for(session.wait_for_inactive(), remaining())
    except asyncio.TimeoutError:
        raise RunTimeoutError(
            f"session.run(user_input={user_input!r}) could not start within {timeout:g} s: "
            f"the session is still busy with {describe_pending(session)} (the speech "
            "before the run, e.g. the on_enter greeting, never finished). Pass "
            "run(timeout=...) to wait longer, or check that the audio output reports "
            "playback as finished."
        ) from None
    try:
        return await asyncio.wait_for(
            run_session(session, user_input=user_input, output_type=output_type), remaining()
        )
    except asyncio.TimeoutError:
        raise RunTimeoutError(
            f"session.run(user_input={user_input!r}) did not complete within {timeout:g} s; "
            f"still pending: {describe_pending(session)}. A common cause is a tool awaiting "
            "an AgentTask that needs another user turn: a run only ends when its tool steps "
            "do, so drive such flows with session.generate_reply(user_input=...) and "
            "session.history. Pass run(timeout=...) to wait longer."
        ) from None


__all__ = [
    "DEFAULT_RUN_TIMEOUT",
    "RunTimeoutError",
    "busy_hooks",
    "capture_start",
    "describe_pending",
    "finish_user_input",
    "run_with_timeout",
    "wait_inactive",
]
