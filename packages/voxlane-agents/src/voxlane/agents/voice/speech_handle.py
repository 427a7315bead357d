"""SpeechHandle: one utterance of the agent, from scheduling to the end of its playout.

A handle is created by ``session.say``/``session.generate_reply`` (and by the runtime for user
turns). The session's speech queue plays one handle at a time, highest priority first. A handle
can span several generation steps: when the LLM calls tools, the reply after the tool outputs is
a new step of the same handle (``num_steps`` grows).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from ..utils.misc import shortuuid

if TYPE_CHECKING:
    from ..llm import ChatItem, ChatMessage

# the speech handle whose tool is currently running in this task (guards circular waits)
_running_tool_speech: contextvars.ContextVar[SpeechHandle | None] = contextvars.ContextVar(
    "voxlane_running_tool_speech", default=None
)


class SpeechHandle:
    """Handle on one scheduled utterance of the agent."""

    SPEECH_PRIORITY_LOW = 0
    """Played after every other queued speech."""
    SPEECH_PRIORITY_NORMAL = 5
    """Default priority of say/generate_reply and of replies to the user."""
    SPEECH_PRIORITY_HIGH = 10
    """Played before every other queued speech."""

    def __init__(
        self,
        *,
        speech_id: str,
        allow_interruptions: bool,
        step_index: int = 0,
        parent: SpeechHandle | None = None,
    ) -> None:
        loop = asyncio.get_event_loop()
        self._id = speech_id
        self._allow_interruptions = allow_interruptions
        self._step_index = step_index
        self._num_steps = 1
        self._parent = parent
        self._priority = SpeechHandle.SPEECH_PRIORITY_NORMAL
        self._interrupt_fut: asyncio.Future[None] = loop.create_future()
        self._done_fut: asyncio.Future[None] = loop.create_future()
        self._authorize_fut: asyncio.Future[None] = loop.create_future()
        self._generation_fut: asyncio.Future[None] = loop.create_future()
        self._step_futs: dict[int, asyncio.Future[None]] = {0: loop.create_future()}
        self._chat_items: list[ChatItem] = []
        self._chat_message: ChatMessage | None = None
        self._exception: BaseException | None = None
        self._done_callbacks: list[Callable[[SpeechHandle], None]] = []
        self._interrupt_callbacks: list[Callable[[SpeechHandle], None]] = []

    @staticmethod
    def create(
        allow_interruptions: bool = True,
        step_index: int = 0,
        parent: SpeechHandle | None = None,
    ) -> SpeechHandle:
        """Create a handle with a fresh ``speech_...`` id."""
        return SpeechHandle(
            speech_id=shortuuid("speech_"),
            allow_interruptions=allow_interruptions,
            step_index=step_index,
            parent=parent,
        )

    # -- public API -------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def priority(self) -> int:
        return self._priority

    @property
    def step_index(self) -> int:
        return self._step_index

    @property
    def num_steps(self) -> int:
        """How many generation steps this speech ran (1 + one per tool-reply step)."""
        return self._num_steps

    @property
    def allow_interruptions(self) -> bool:
        return self._allow_interruptions

    @allow_interruptions.setter
    def allow_interruptions(self, value: bool) -> None:
        if not value and self.interrupted:
            raise RuntimeError(
                "cannot disallow interruptions: this speech has already been interrupted"
            )
        self._allow_interruptions = value

    @property
    def interrupted(self) -> bool:
        return self._interrupt_fut.done()

    @property
    def parent(self) -> SpeechHandle | None:
        """The handle given as ``parent`` to :meth:`create`, if any.

        The runtime never sets it: the reply to tool outputs is a further step of the same
        handle (see ``num_steps``), not a child handle.
        """
        return self._parent

    @property
    def chat_message(self) -> ChatMessage | None:
        """The assistant message this speech produced (set when its playout ends)."""
        return self._chat_message

    @property
    def chat_items(self) -> list[ChatItem]:
        """Every chat item this speech produced: messages, function calls and their outputs."""
        return list(self._chat_items)

    def done(self) -> bool:
        return self._done_fut.done()

    def exception(self) -> BaseException | None:
        """The error that ended this speech, if any."""
        return self._exception

    def interrupt(self, *, force: bool = False) -> SpeechHandle:
        """Interrupt this speech (stop its generation and playout).

        Raises RuntimeError when the speech does not allow interruptions, unless ``force``.
        """
        if not force and not self._allow_interruptions:
            raise RuntimeError(
                "this speech does not allow interruptions (allow_interruptions=False); "
                "pass force=True to interrupt it anyway"
            )
        self._cancel()
        return self

    async def wait_for_playout(self) -> None:
        """Wait until the speech has been fully played out (or interrupted)."""
        if _running_tool_speech.get() is self:
            raise RuntimeError(
                f"cannot call `SpeechHandle.wait_for_playout()` on {self._id} from inside one of "
                "its own function tools: the speech waits for the tool, so this would never end. "
                "Use `RunContext.wait_for_playout()` to wait for the audio said before the "
                "tool call"
            )
        await asyncio.shield(self._done_fut)

    def __await__(self) -> Generator[Any, None, SpeechHandle]:
        async def _wait() -> SpeechHandle:
            await self.wait_for_playout()
            return self

        return _wait().__await__()

    def add_done_callback(self, callback: Callable[[SpeechHandle], None]) -> None:
        """Call ``callback(handle)`` once the speech is done (right away if already done)."""
        if self.done():
            asyncio.get_event_loop().call_soon(callback, self)
            return
        self._done_callbacks.append(callback)

    def remove_done_callback(self, callback: Callable[[SpeechHandle], None]) -> None:
        with contextlib.suppress(ValueError):
            self._done_callbacks.remove(callback)

    async def wait_if_not_interrupted(self, aw: list[asyncio.Future[Any]]) -> None:
        """Wait for ``aw`` to finish, or return early if the speech gets interrupted."""
        gathered: asyncio.Future[Any] = asyncio.gather(*aw, return_exceptions=True)
        waitables: list[asyncio.Future[Any]] = [gathered, self._interrupt_fut]
        await asyncio.wait(waitables, return_when=asyncio.FIRST_COMPLETED)

    def __repr__(self) -> str:
        return (
            f"SpeechHandle(id={self._id!r}, priority={self._priority}, "
            f"interrupted={self.interrupted}, done={self.done()})"
        )

    # -- runtime internals ------------------------------------------------------------------

    def _cancel(self) -> None:
        if self.done() or self._interrupt_fut.done():
            return
        self._interrupt_fut.set_result(None)
        for cb in list(self._interrupt_callbacks):
            cb(self)

    def _on_interrupt(self, callback: Callable[[SpeechHandle], None]) -> None:
        self._interrupt_callbacks.append(callback)

    async def _wait_interrupted(self) -> None:
        await asyncio.shield(self._interrupt_fut)

    def _authorize_generation(self) -> None:
        """The scheduler lets the next generation step run."""
        if not self._authorize_fut.done():
            self._authorize_fut.set_result(None)

    def _clear_authorization(self) -> None:
        if self._authorize_fut.done():
            self._authorize_fut = asyncio.get_event_loop().create_future()

    async def _wait_for_authorization(self) -> None:
        await asyncio.shield(self._authorize_fut)

    def _begin_step(self) -> int:
        """Start the next generation step (a reply to tool outputs); returns its index."""
        loop = asyncio.get_event_loop()
        self._generation_fut = loop.create_future()
        idx = len(self._step_futs)
        self._step_futs[idx] = loop.create_future()
        self._num_steps = idx + 1
        return idx

    def _mark_step_played(self) -> None:
        """The audio/text of the current step was played out (tools may still be running)."""
        if self._step_futs:
            last = self._step_futs[len(self._step_futs) - 1]
            if not last.done():
                last.set_result(None)

    def _mark_generation_done(self) -> None:
        """The current generation step finished (played out or interrupted, tools done)."""
        self._clear_authorization()
        self._mark_step_played()
        if not self._generation_fut.done():
            self._generation_fut.set_result(None)

    async def _wait_for_generation(self, step: int | None = None) -> None:
        """Wait for the current step to finish, or for step ``step`` to be played out."""
        if step is None:
            await asyncio.shield(self._generation_fut)
            return
        fut = self._step_futs.get(step)
        if fut is None:
            return
        await asyncio.shield(fut)

    def _current_step(self) -> int:
        return max(0, len(self._step_futs) - 1)

    def _add_item(self, item: ChatItem) -> None:
        self._chat_items.append(item)
        if getattr(item, "type", None) == "message" and getattr(item, "role", None) == "assistant":
            self._chat_message = item  # type: ignore[assignment]

    def _mark_done(self, exception: BaseException | None = None) -> None:
        """The whole speech is over; resolve waiters and run done callbacks."""
        if self._done_fut.done():
            return
        self._exception = exception
        for fut in self._step_futs.values():
            if not fut.done():
                fut.set_result(None)
        if not self._generation_fut.done():
            self._generation_fut.set_result(None)
        self._done_fut.set_result(None)
        for cb in self._done_callbacks:
            cb(self)
        self._done_callbacks.clear()


__all__ = ["SpeechHandle"]
