"""Text-only testing: ``await session.run(user_input=...)`` and the :class:`RunResult` it returns.

A run feeds one user turn as text and waits until everything it caused is over: the reply, the
tool steps, handoffs and the replies of the agents handed to. Its ``events`` list what the agents
did, in order (assistant messages, function calls, their outputs, handoffs); ``expect`` asserts
on them step by step::

    result = await session.run(user_input="a burger please")
    result.expect.next_event().is_function_call(name="order_item", arguments={"item": "burger"})
    result.expect.next_event().is_function_call_output()
    result.expect.next_event().is_message(role="assistant")
    result.expect.no_more_events()

:func:`mock_tools` replaces tool implementations while the LLM still sees the real schemas.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, Union, overload

from pydantic import TypeAdapter, ValidationError

from .. import llm as llm_mod
from ..llm import AgentHandoff, ChatMessage, FunctionCall, FunctionCallOutput
from .agent import Agent
from .events import ConversationItemAddedEvent, FunctionToolsExecutedEvent, SpeechCreatedEvent
from .speech_handle import SpeechHandle
from .tool_mocks import find_tool_mock, mock_tools

if TYPE_CHECKING:
    from .agent_session import AgentSession

Run_T = TypeVar("Run_T")


# -- events ------------------------------------------------------------------------------------


@dataclass
class ChatMessageEvent:
    """An agent's message (or a message a tool added) during the run."""

    item: ChatMessage
    type: Literal["message"] = "message"


@dataclass
class FunctionCallEvent:
    """The LLM called a tool."""

    item: FunctionCall
    type: Literal["function_call"] = "function_call"


@dataclass
class FunctionCallOutputEvent:
    """A tool returned (or failed: ``item.is_error``)."""

    item: FunctionCallOutput
    type: Literal["function_call_output"] = "function_call_output"


@dataclass
class AgentHandoffEvent:
    """The conversation was handed from ``old_agent`` to ``new_agent``."""

    item: AgentHandoff
    old_agent: Agent | None
    new_agent: Agent
    type: Literal["agent_handoff"] = "agent_handoff"


RunEvent = Union[  # noqa: UP007 (runtime alias, py3.10)
    ChatMessageEvent, FunctionCallEvent, FunctionCallOutputEvent, AgentHandoffEvent
]
EventType = Literal["message", "function_call", "function_call_output", "agent_handoff"]


def _short(text: str | None, limit: int = 70) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_event(ev: RunEvent) -> str:
    """One line describing ``ev`` (used in assertion messages)."""
    if isinstance(ev, ChatMessageEvent):
        flag = " (interrupted)" if ev.item.interrupted else ""
        return f"message {ev.item.role}: {_short(ev.item.text_content)!r}{flag}"
    if isinstance(ev, FunctionCallEvent):
        return f"function_call {ev.item.name}({_short(ev.item.arguments)})"
    if isinstance(ev, FunctionCallOutputEvent):
        flag = " (error)" if ev.item.is_error else ""
        return f"function_call_output {ev.item.name} -> {_short(ev.item.output)!r}{flag}"
    old = type(ev.old_agent).__name__ if ev.old_agent is not None else "None"
    return f"agent_handoff {old} -> {type(ev.new_agent).__name__}"


def format_events(events: list[RunEvent], *, mark: int | None = None) -> str:
    """The run's event timeline, one line per event; ``mark`` points at one of them."""
    if not events:
        return "  (the run produced no events)"
    lines = []
    for i, ev in enumerate(events):
        prefix = ">>" if i == mark else "  "
        lines.append(f"{prefix} [{i}] {describe_event(ev)}")
    return "\n".join(lines)


# -- result ------------------------------------------------------------------------------------


class RunResult(Generic[Run_T]):
    """What one :meth:`AgentSession.run` produced (see the module docstring).

    Await it (or the ``run`` call) to wait for completion; ``events`` grows while it runs.
    """

    def __init__(self, *, user_input: str | None = None, output_type: type[Run_T] | None = None):
        self._user_input = user_input
        self._output_type = output_type
        self._events: list[RunEvent] = []
        self._handles: list[SpeechHandle] = []
        self._done = asyncio.get_running_loop().create_future()
        self._skip_user_message = user_input is not None
        self._last_agent: Agent | None = None
        self._expect: RunAssert | None = None

    @property
    def events(self) -> list[RunEvent]:
        """Everything the agents did during the run, in order."""
        return self._events

    @property
    def expect(self) -> RunAssert:
        """Step-by-step assertions over ``events`` (one cursor per result)."""
        if self._expect is None:
            self._expect = RunAssert(self)
        return self._expect

    @property
    def final_output(self) -> Run_T:
        """The last assistant message of the run, parsed as ``output_type`` when one was given.

        Raises RuntimeError while the run is in progress or when no assistant message was said,
        and ValueError when the message does not parse as ``output_type``.
        """
        if not self._done.done():
            raise RuntimeError("the run is still in progress: await it before reading final_output")
        self._done.result()
        messages = [
            e.item
            for e in self._events
            if isinstance(e, ChatMessageEvent) and e.item.role == "assistant"
        ]
        if not messages:
            raise RuntimeError(
                "the run has no final output: no assistant message was said\n"
                + format_events(self._events)
            )
        text = messages[-1].text_content or ""
        if self._output_type is None or self._output_type is str:
            return text  # type: ignore[return-value]
        try:
            return TypeAdapter(self._output_type).validate_json(text)
        except ValidationError as e:
            raise ValueError(
                f"the final assistant message is not a valid {self._output_type!r}: {e}\n"
                f"message: {text!r}"
            ) from e

    def done(self) -> bool:
        return self._done.done()

    def __await__(self) -> Generator[Any, None, RunResult[Run_T]]:
        async def _wait() -> RunResult[Run_T]:
            await asyncio.shield(self._done)
            return self

        return _wait().__await__()

    # -- recording (called by the session's event handlers) ----------------------------------

    def _watch(self, handle: SpeechHandle) -> None:
        if handle not in self._handles:
            self._handles.append(handle)

    def _on_speech_created(self, ev: SpeechCreatedEvent) -> None:
        if isinstance(ev.speech_handle, SpeechHandle):
            self._watch(ev.speech_handle)

    def _on_item_added(self, session: AgentSession[Any], ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if isinstance(item, AgentHandoff):
            new_agent = session.current_agent
            self._events.append(
                AgentHandoffEvent(item=item, old_agent=self._last_agent, new_agent=new_agent)
            )
            self._last_agent = new_agent
            return
        if (
            self._skip_user_message
            and item.role == "user"
            and (item.text_content or "") == self._user_input
        ):
            self._skip_user_message = False  # the run's own input is not an event
            return
        if self._owns(item.id):
            self._events.append(ChatMessageEvent(item=item))

    def _owns(self, item_id: str) -> bool:
        """Whether a speech of this run produced the item (not an older, still queued one)."""
        return any(i.id == item_id for h in self._handles for i in h.chat_items)

    def _on_tools_executed(self, ev: FunctionToolsExecutedEvent) -> None:
        if ev.function_calls and not self._owns(ev.function_calls[0].id):
            return
        for call in ev.function_calls:
            self._events.append(FunctionCallEvent(item=call))
        for out in ev.function_call_outputs:
            if out is not None:
                self._events.append(FunctionCallOutputEvent(item=out))

    async def _wait_complete(self, session: AgentSession[Any]) -> None:
        """Wait until every speech, tool step and handoff caused by the run is over."""
        quiet = 0
        while quiet < 3:
            pending = [h for h in self._handles if not h.done()]
            if pending:
                await asyncio.gather(*(h.wait_for_playout() for h in pending))
                quiet = 0
                continue
            updates = list(session._pending_updates)
            if updates:
                await asyncio.gather(*updates, return_exceptions=True)
                quiet = 0
                continue
            activity = session._activity
            busy = [
                t
                for t in (activity._tasks if activity is not None else ())
                if not t.done() and t.get_name() in ("on_enter", "user_turn_completed")
            ]
            if busy:
                await asyncio.wait(busy)
                quiet = 0
                continue
            quiet += 1
            await asyncio.sleep(0)

    def _finish(self, error: BaseException | None = None) -> None:
        if self._done.done():
            return
        failed = [h for h in self._handles if h.exception() is not None]
        if error is None and failed:
            exc = failed[0].exception()
            error = RuntimeError(f"a speech of the run failed: {exc!r}")
            error.__cause__ = exc
        if error is not None:
            self._done.set_exception(error)
            # retrieved by whoever awaits; avoid "exception never retrieved" otherwise
            self._done.exception()
        else:
            self._done.set_result(None)


_active_runs: weakref.WeakKeyDictionary[Any, RunResult[Any]] = weakref.WeakKeyDictionary()


async def run_session(
    session: AgentSession[Any],
    *,
    user_input: str,
    output_type: type[Run_T] | None = None,
) -> RunResult[Run_T]:
    """The body of :meth:`AgentSession.run`."""
    if not isinstance(user_input, str) or not user_input.strip():
        raise ValueError("run() needs a non-empty user_input string")
    if session._activity is None:
        raise RuntimeError("the AgentSession is not running: call `await session.start(agent)`")
    if session in _active_runs:
        raise RuntimeError("a run is already in progress on this session; await it first")
    result: RunResult[Run_T] = RunResult(user_input=user_input, output_type=output_type)
    result._last_agent = session.current_agent

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
        handle = session.generate_reply(user_input=user_input)
        result._watch(handle)
        await result._wait_complete(session)
        result._finish()
    except BaseException as e:
        result._finish(e if isinstance(e, Exception) else RuntimeError("the run was cancelled"))
        raise
    finally:
        _active_runs.pop(session, None)
        for name, cb in subscriptions:
            session.off(name, cb)
    return await result


# -- assertions ---------------------------------------------------------------------------------


def _fail(message: str, events: list[RunEvent], mark: int | None) -> AssertionError:
    return AssertionError(f"{message}\nrun events:\n{format_events(events, mark=mark)}")


def _args_match(expected: Mapping[str, Any], actual_json: str) -> bool:
    try:
        actual = json.loads(actual_json or "{}")
    except json.JSONDecodeError:
        return False
    return isinstance(actual, dict) and all(
        k in actual and actual[k] == v for k, v in expected.items()
    )


def _message_mismatch(ev: RunEvent, role: str | None) -> str | None:
    if not isinstance(ev, ChatMessageEvent):
        return "is not a message"
    if role is not None and ev.item.role != role:
        return f"has role {ev.item.role!r}, not {role!r}"
    return None


def _call_mismatch(
    ev: RunEvent, name: str | None, arguments: Mapping[str, Any] | None
) -> str | None:
    if not isinstance(ev, FunctionCallEvent):
        return "is not a function call"
    if name is not None and ev.item.name != name:
        return f"calls {ev.item.name!r}, not {name!r}"
    if arguments is not None and not _args_match(arguments, ev.item.arguments):
        return f"has arguments {ev.item.arguments}, which do not include {dict(arguments)!r}"
    return None


def _output_mismatch(ev: RunEvent, output: str | None, is_error: bool | None) -> str | None:
    if not isinstance(ev, FunctionCallOutputEvent):
        return "is not a function call output"
    if output is not None and ev.item.output != output:
        return f"has output {ev.item.output!r}, not {output!r}"
    if is_error is not None and ev.item.is_error != is_error:
        return "is an error output" if ev.item.is_error else "is not an error output"
    return None


def _handoff_mismatch(ev: RunEvent, new_agent_type: type[Agent] | None) -> str | None:
    if not isinstance(ev, AgentHandoffEvent):
        return "is not an agent handoff"
    if new_agent_type is not None and not isinstance(ev.new_agent, new_agent_type):
        return f"hands off to {type(ev.new_agent).__name__}, not to a {new_agent_type.__name__}"
    return None


@dataclass
class _EventAssertBase:
    _event: RunEvent
    _index: int
    _events: list[RunEvent] = field(repr=False)

    def _check(self, mismatch: str | None, wanted: str) -> None:
        if mismatch is not None:
            raise _fail(
                f"expected {wanted} at event [{self._index}], but it {mismatch}",
                self._events,
                self._index,
            )


class ChatMessageAssert(_EventAssertBase):
    """A message event that passed ``is_message``."""

    def event(self) -> ChatMessageEvent:
        assert isinstance(self._event, ChatMessageEvent)
        return self._event

    def contains_text(self, text: str) -> ChatMessageAssert:
        """Check the message text contains ``text`` (case-insensitive)."""
        content = self.event().item.text_content or ""
        if text.lower() not in content.lower():
            raise _fail(
                f"expected message [{self._index}] to contain {text!r}, got {content!r}",
                self._events,
                self._index,
            )
        return self

    async def judge(self, llm: llm_mod.LLM, *, intent: str) -> ChatMessageAssert:
        """Ask ``llm`` whether the message fulfils ``intent``; fail with its reason if not."""
        ok, reason = await _judge_message(llm, self.event().item, intent=intent)
        if not ok:
            raise _fail(
                f"the judge says message [{self._index}] does not fulfil {intent!r}: {reason}",
                self._events,
                self._index,
            )
        return self


class FunctionCallAssert(_EventAssertBase):
    def event(self) -> FunctionCallEvent:
        assert isinstance(self._event, FunctionCallEvent)
        return self._event


class FunctionCallOutputAssert(_EventAssertBase):
    def event(self) -> FunctionCallOutputEvent:
        assert isinstance(self._event, FunctionCallOutputEvent)
        return self._event


class AgentHandoffAssert(_EventAssertBase):
    def event(self) -> AgentHandoffEvent:
        assert isinstance(self._event, AgentHandoffEvent)
        return self._event


class EventAssert(_EventAssertBase):
    """One event of the run; check its kind with the ``is_*`` methods."""

    def event(self) -> RunEvent:
        return self._event

    def is_message(self, *, role: str | None = None) -> ChatMessageAssert:
        wanted = f"a {role} message" if role else "a message"
        self._check(_message_mismatch(self._event, role), wanted)
        return ChatMessageAssert(self._event, self._index, self._events)

    def is_function_call(
        self, *, name: str | None = None, arguments: Mapping[str, Any] | None = None
    ) -> FunctionCallAssert:
        """``arguments``: the keys given must be present with these values (others ignored)."""
        wanted = f"a call of {name!r}" if name else "a function call"
        self._check(_call_mismatch(self._event, name, arguments), wanted)
        return FunctionCallAssert(self._event, self._index, self._events)

    def is_function_call_output(
        self, *, output: str | None = None, is_error: bool | None = None
    ) -> FunctionCallOutputAssert:
        self._check(_output_mismatch(self._event, output, is_error), "a function call output")
        return FunctionCallOutputAssert(self._event, self._index, self._events)

    def is_agent_handoff(self, *, new_agent_type: type[Agent] | None = None) -> AgentHandoffAssert:
        wanted = f"a handoff to {new_agent_type.__name__}" if new_agent_type else "a handoff"
        self._check(_handoff_mismatch(self._event, new_agent_type), wanted)
        return AgentHandoffAssert(self._event, self._index, self._events)


class EventRangeAssert:
    """Assertions over a range of events (``result.expect[a:b]`` or the whole run)."""

    def __init__(self, events: list[RunEvent], indices: list[int], all_events: list[RunEvent]):
        self._events = events
        self._indices = indices
        self._all = all_events

    def _find(
        self, mismatch: Callable[[RunEvent], str | None], wanted: str
    ) -> tuple[RunEvent, int]:
        for ev, idx in zip(self._events, self._indices, strict=True):
            if mismatch(ev) is None:
                return ev, idx
        where = (
            f"events [{self._indices[0]}..{self._indices[-1]}]" if self._indices else "no events"
        )
        raise _fail(f"expected {wanted} in {where}, found none", self._all, None)

    def contains_message(self, *, role: str | None = None) -> ChatMessageAssert:
        ev, i = self._find(lambda e: _message_mismatch(e, role), f"a {role or 'any'} message")
        return ChatMessageAssert(ev, i, self._all)

    def contains_function_call(
        self, *, name: str | None = None, arguments: Mapping[str, Any] | None = None
    ) -> FunctionCallAssert:
        wanted = f"a call of {name!r}" if name else "a function call"
        if arguments is not None:
            wanted += f" with arguments including {dict(arguments)!r}"
        ev, i = self._find(lambda e: _call_mismatch(e, name, arguments), wanted)
        return FunctionCallAssert(ev, i, self._all)

    def contains_function_call_output(
        self, *, output: str | None = None, is_error: bool | None = None
    ) -> FunctionCallOutputAssert:
        wanted = "a function call output"
        if output is not None:
            wanted += f" {output!r}"
        ev, i = self._find(lambda e: _output_mismatch(e, output, is_error), wanted)
        return FunctionCallOutputAssert(ev, i, self._all)

    def contains_agent_handoff(
        self, *, new_agent_type: type[Agent] | None = None
    ) -> AgentHandoffAssert:
        wanted = f"a handoff to {new_agent_type.__name__}" if new_agent_type else "a handoff"
        ev, i = self._find(lambda e: _handoff_mismatch(e, new_agent_type), wanted)
        return AgentHandoffAssert(ev, i, self._all)


class RunAssert(EventRangeAssert):
    """A cursor over the run's events: ``next_event``, ``skip_next``, ``no_more_events``...

    ``contains_*`` search the whole run; ``expect[i]`` / ``expect[a:b]`` pick events by index.
    """

    def __init__(self, result: RunResult[Any]) -> None:
        events = result.events
        super().__init__(events, list(range(len(events))), events)
        self._cursor = 0

    def _refresh(self) -> None:
        self._indices = list(range(len(self._all)))

    def contains_message(self, *, role: str | None = None) -> ChatMessageAssert:
        self._refresh()
        return super().contains_message(role=role)

    def contains_function_call(
        self, *, name: str | None = None, arguments: Mapping[str, Any] | None = None
    ) -> FunctionCallAssert:
        self._refresh()
        return super().contains_function_call(name=name, arguments=arguments)

    def contains_function_call_output(
        self, *, output: str | None = None, is_error: bool | None = None
    ) -> FunctionCallOutputAssert:
        self._refresh()
        return super().contains_function_call_output(output=output, is_error=is_error)

    def contains_agent_handoff(
        self, *, new_agent_type: type[Agent] | None = None
    ) -> AgentHandoffAssert:
        self._refresh()
        return super().contains_agent_handoff(new_agent_type=new_agent_type)

    def next_event(self, *, type: EventType | None = None) -> EventAssert:
        """The next event (with ``type``: the next event of that type, skipping others)."""
        while True:
            if self._cursor >= len(self._all):
                what = f"another {type} event" if type else "another event"
                raise _fail(
                    f"expected {what} after event [{self._cursor - 1}], but the run has no more",
                    self._all,
                    None,
                )
            ev = self._all[self._cursor]
            idx = self._cursor
            self._cursor += 1
            if type is None or ev.type == type:
                return EventAssert(ev, idx, self._all)

    def skip_next(self, count: int = 1) -> RunAssert:
        """Skip ``count`` events."""
        if count < 0:
            raise ValueError(f"skip_next() needs count >= 0, got {count}")
        if self._cursor + count > len(self._all):
            raise _fail(
                f"cannot skip {count} event(s) from event [{self._cursor}]: only "
                f"{len(self._all) - self._cursor} left",
                self._all,
                None,
            )
        self._cursor += count
        return self

    def skip_next_event_if(
        self,
        *,
        type: EventType,
        role: str | None = None,
        name: str | None = None,
        new_agent_type: type[Agent] | None = None,
    ) -> EventAssert | None:
        """Consume the next event only if it matches; return it (or None, cursor unchanged)."""
        if self._cursor >= len(self._all):
            return None
        ev = self._all[self._cursor]
        mismatch: str | None
        if type == "message":
            mismatch = _message_mismatch(ev, role)
        elif type == "function_call":
            mismatch = _call_mismatch(ev, name, None)
        elif type == "function_call_output":
            mismatch = _output_mismatch(ev, None, None)
            if mismatch is None and name is not None and ev.item.name != name:  # type: ignore[union-attr]
                mismatch = "other tool"
        else:
            mismatch = _handoff_mismatch(ev, new_agent_type)
        if mismatch is not None:
            return None
        self._cursor += 1
        return EventAssert(ev, self._cursor - 1, self._all)

    def no_more_events(self) -> None:
        """Fail if events remain after the cursor."""
        if self._cursor < len(self._all):
            raise _fail(
                f"expected no more events, but {len(self._all) - self._cursor} remain from "
                f"event [{self._cursor}]",
                self._all,
                self._cursor,
            )

    @overload
    def __getitem__(self, key: int) -> EventAssert: ...

    @overload
    def __getitem__(self, key: slice) -> EventRangeAssert: ...

    def __getitem__(self, key: int | slice) -> EventAssert | EventRangeAssert:
        n = len(self._all)
        if isinstance(key, slice):
            indices = list(range(n))[key]
            return EventRangeAssert([self._all[i] for i in indices], indices, self._all)
        if not -n <= key < n:
            raise _fail(f"event index {key} is out of range ({n} events)", self._all, None)
        idx = key % n
        return EventAssert(self._all[idx], idx, self._all)


_JUDGE_INSTRUCTIONS = (
    "You check whether a message written by an AI assistant fulfils an intent. Read the intent "
    "and the message, then call check_intent exactly once: success=true only if the message "
    "clearly fulfils the intent, and a one-sentence reason."
)


async def _judge_message(
    llm: llm_mod.LLM, message: ChatMessage, *, intent: str
) -> tuple[bool, str]:
    """Ask ``llm`` (forced to call ``check_intent``) whether ``message`` fulfils ``intent``."""
    if not isinstance(llm, llm_mod.LLM):
        raise TypeError(f"judge() needs an llm.LLM, got {type(llm).__name__}")

    async def check_intent(success: bool, reason: str) -> None:
        """Report the verdict.

        Args:
            success: whether the message fulfils the intent.
            reason: why, in one sentence.
        """

    tool = llm_mod.function_tool(check_intent)
    ctx = llm_mod.ChatContext()
    ctx.add_message(role="system", content=_JUDGE_INSTRUCTIONS)
    ctx.add_message(
        role="user",
        content=f"Intent: {intent}\n\nMessage ({message.role}): {message.text_content or ''}",
    )
    async with llm.chat(
        chat_ctx=ctx,
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "check_intent"}},
    ) as stream:
        response = await stream.collect()
    for call in response.tool_calls:
        if call.name != "check_intent":
            continue
        try:
            args = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as e:
            raise AssertionError(f"the judge sent invalid check_intent arguments: {e}") from e
        if not isinstance(args, dict) or not isinstance(args.get("success"), bool):
            raise AssertionError(f"the judge sent invalid check_intent arguments: {args!r}")
        return args["success"], str(args.get("reason", ""))
    raise AssertionError(f"the judge LLM did not call check_intent (it answered {response.text!r})")


__all__ = [
    "AgentHandoffAssert",
    "AgentHandoffEvent",
    "ChatMessageAssert",
    "ChatMessageEvent",
    "EventAssert",
    "EventRangeAssert",
    "FunctionCallAssert",
    "FunctionCallEvent",
    "FunctionCallOutputAssert",
    "FunctionCallOutputEvent",
    "RunAssert",
    "RunEvent",
    "RunResult",
    "describe_event",
    "find_tool_mock",
    "format_events",
    "mock_tools",
    "run_session",
]
