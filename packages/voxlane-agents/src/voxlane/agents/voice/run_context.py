"""RunContext: what a function tool sees of the running session."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from .filler import FillerScheduler, FillerSource

if TYPE_CHECKING:
    from ..llm import FunctionCall
    from .agent_session import AgentSession
    from .speech_handle import SpeechHandle

Userdata_T = TypeVar("Userdata_T")

logger = logging.getLogger("voxlane.agents.voice")


class RunContext(Generic[Userdata_T]):
    """Passed to a function tool that declares a ``RunContext`` parameter.

    The parameter is hidden from the tool's JSON schema and injected by the runtime. It gives
    the tool the ``session``, the ``speech_handle`` of the reply that called it, the
    ``function_call`` being executed and the session's ``userdata``. A slow tool can say filler
    lines while it works (:meth:`with_filler`).
    """

    # llm tools detect context parameters by this marker (no import of the voice runtime)
    _voxlane_run_context: ClassVar[bool] = True

    def __init__(
        self,
        *,
        session: AgentSession[Userdata_T],
        speech_handle: SpeechHandle,
        function_call: FunctionCall,
    ) -> None:
        self._session = session
        self._speech_handle = speech_handle
        self._function_call = function_call
        self._updates: list[Any] = []

    @property
    def session(self) -> AgentSession[Userdata_T]:
        return self._session

    @property
    def speech_handle(self) -> SpeechHandle:
        return self._speech_handle

    @property
    def function_call(self) -> FunctionCall:
        return self._function_call

    @property
    def userdata(self) -> Userdata_T:
        """The session's userdata (raises ValueError when the session has none)."""
        return self._session.userdata

    def disallow_interruptions(self) -> None:
        """Make the current speech (and the rest of this tool call) uninterruptible."""
        self._speech_handle.allow_interruptions = False

    async def wait_for_playout(self) -> None:
        """Wait until the audio generated before this tool call has been played out."""
        await self._speech_handle._wait_played()

    @property
    def updates(self) -> list[Any]:
        """The messages this ordinary tool passed to :meth:`update` (in order; a background
        tool's ``AsyncRunContext`` delivers its updates instead of keeping them here)."""
        return list(self._updates)

    async def update(self, message: str | Any) -> None:
        """Report progress. Only a background tool's progress reaches the conversation.

        In a tool of an ``llm.AsyncToolset`` whose context parameter is typed
        ``llm.AsyncRunContext``, the update is given to the model, which can tell the user
        while the tool keeps running (see ``AsyncRunContext.update``). This ordinary tool
        instead holds up the reply until it returns, and its return value is what the model
        will answer with, so an update here is neither said nor added to the chat context:
        it is kept in :attr:`updates` and logged at debug level. To say something while a
        slow ordinary tool runs, use :meth:`with_filler`.
        """
        self._updates.append(message)
        logger.debug(
            "`%s` (call %s) reported progress %r; it is not a background tool, so the update "
            "is not delivered to the model (use an AsyncToolset tool taking an "
            "AsyncRunContext for that, or ctx.with_filler() to speak while it runs)",
            self._function_call.name,
            self._function_call.call_id,
            message,
        )

    def with_filler(
        self,
        source: FillerSource,
        *,
        delay: float = 0,
        interval: float | None = None,
        max_steps: int | None = None,
    ) -> FillerScheduler:
        """Speak filler lines while the ``async with`` block runs::

            async with ctx.with_filler("Still looking, one moment.", delay=2):
                result = await slow_lookup()

        After ``delay`` seconds of quiet (nobody speaking, no other speech queued) a line from
        ``source`` is said; with ``interval`` another may follow every ``interval`` seconds
        (None: once), at most ``max_steps`` times. ``source`` is a str, a list of str (said
        in turn, cycled), a callable ``fn(step) -> str | SpeechHandle | None`` (sync or
        async; None skips the step) or an async iterator of str. Fillers are interruptible
        and never added to the chat context. Leaving the block stops pending fillers. See
        :mod:`voxlane.agents.voice.filler`.
        """
        return FillerScheduler(
            self._session, source, delay=delay, interval=interval, max_steps=max_steps
        )


__all__ = ["RunContext", "Userdata_T"]
