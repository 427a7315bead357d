"""RunContext: what a function tool sees of the running session."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

if TYPE_CHECKING:
    from ..llm import FunctionCall
    from .agent_session import AgentSession
    from .speech_handle import SpeechHandle

Userdata_T = TypeVar("Userdata_T")


class RunContext(Generic[Userdata_T]):
    """Passed to a function tool that declares a ``RunContext`` parameter.

    The parameter is hidden from the tool's JSON schema and injected by the runtime. It gives
    the tool the ``session``, the ``speech_handle`` of the reply that called it, the
    ``function_call`` being executed and the session's ``userdata``.
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


__all__ = ["RunContext", "Userdata_T"]
