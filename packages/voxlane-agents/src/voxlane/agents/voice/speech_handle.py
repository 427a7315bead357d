"""SpeechHandle: one utterance of the agent, from scheduling to the end of its playout.

A handle is created by ``session.say``/``session.generate_reply`` (and by the runtime for user
turns). The session's speech queue plays one handle at a time, highest priority first. A handle
runs one generation step: when the LLM calls tools and their outputs need an answer, the reply is
a new child handle (``parent`` is the handle that called the tools, ``step_index`` is one more),
announced with a ``speech_created`` event whose ``source`` is ``"tool_response"``.
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
        self._parent = parent
        self._children: list[SpeechHandle] = []
        self._priority = SpeechHandle.SPEECH_PRIORITY_NORMAL
        self._interrupt_fut: asyncio.Future[None] = loop.create_future()
        self._done_fut: asyncio.Future[None] = loop.create_future()
        self._authorize_fut: asyncio.Future[None] = loop.create_future()
        self._generation_fut: asyncio.Future[None] = loop.create_future()
        self._played_fut: asyncio.Future[None] = loop.create_future()
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
        """0 for a new speech; the parent's ``step_index`` + 1 for a reply to tool outputs."""
        return self._step_index

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
        """The handle whose tool calls led to this speech, if any.

        When the LLM calls tools and their outputs need an answer, the runtime creates a new
        handle for that answer with the handle that called the tools as its parent.
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

        The reply to its tool outputs, if one was already scheduled (a child handle, see
        ``parent``), is interrupted too. Raises RuntimeError when the speech does not allow
        interruptions, unless ``force``.
        """
        if not force and not self._allow_interruptions:
            raise RuntimeError(
                "this speech does not allow interruptions (allow_interruptions=False); "
                "pass force=True to interrupt it anyway"
            )
        self._cancel()
        for child in list(self._children):
            if not child.done() and (force or child.allow_interruptions):
                child.interrupt(force=force)
        return self

    async def wait_for_playout(self) -> None:
        """Wait until this speech has been fully played out (or interrupted) and its tools ran.

        The reply to the tool outputs is another handle (a child, see ``parent``): wait on it
        separately.
        """
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

    def _add_child(self, child: SpeechHandle) -> None:
        """Remember the tool-reply handle created from this one (interrupted with it)."""
        self._children.append(child)

    def _mark_played(self) -> None:
        """The audio/text of this speech was played out (its tools may still be running)."""
        if not self._played_fut.done():
            self._played_fut.set_result(None)

    def _mark_generation_done(self) -> None:
        """The generation finished (played out or interrupted); the queue may move on."""
        self._clear_authorization()
        self._mark_played()
        if not self._generation_fut.done():
            self._generation_fut.set_result(None)

    async def _wait_for_generation(self) -> None:
        """Wait until the generation of this speech finished (see _mark_generation_done)."""
        await asyncio.shield(self._generation_fut)

    async def _wait_played(self) -> None:
        """Wait until the audio/text of this speech was played out (or interrupted)."""
        await asyncio.shield(self._played_fut)

    def _add_item(self, item: ChatItem) -> None:
        self._chat_items.append(item)
        if getattr(item, "type", None) == "message" and getattr(item, "role", None) == "assistant":
            self._chat_message = item  # type: ignore[assignment]

    def _mark_done(self, exception: BaseException | None = None) -> None:
        """The whole speech is over; resolve waiters and run done callbacks."""
        if self._done_fut.done():
            return
        self._exception = exception
        self._mark_played()
        if not self._generation_fut.done():
            self._generation_fut.set_result(None)
        self._done_fut.set_result(None)
        for cb in self._done_callbacks:
            cb(self)
        self._done_callbacks.clear()


__all__ = ["SpeechHandle"]
