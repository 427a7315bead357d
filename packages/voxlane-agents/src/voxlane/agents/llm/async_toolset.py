"""Long-running tools that keep working in the background: ``AsyncToolset`` and ``AsyncRunContext``.

A tool of an :class:`AsyncToolset` whose context parameter is typed :class:`AsyncRunContext`
runs as a background task. Its first ``await ctx.update(...)`` answers the pending tool call,
so the agent can speak while the tool keeps working; later updates and the final return value
are added to the chat context and delivered as a new reply once the agent is idle (several
pending updates, even from different tools, give one reply). The reply is skipped when the agent
already spoke with those updates in its context.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..utils import aio
from ..voice.run_context import RunContext, Userdata_T
from ..voice.speech_handle import _running_tool_speech
from .chat_context import ChatItem, FunctionCall
from .tool_context import (
    FunctionTool,
    RawFunctionTool,
    StopResponse,
    Tool,
    ToolError,
    Toolset,
    function_tool,
)
from .tool_execution import ToolArgumentsError, make_tool_output, prepare_function_arguments
from .tool_schema import UnresolvedHintsError, _resolve_hints

if TYPE_CHECKING:
    from ..voice.agent_session import AgentSession
    from ..voice.speech_handle import SpeechHandle

logger = logging.getLogger("voxlane.agents.llm")

DuplicateCallMode = Literal["allow", "replace", "reject", "confirm"]

CONFIRM_DUPLICATE_PARAM = "voxlane_confirm_duplicate"
"""Boolean argument added to every async tool in ``confirm`` mode."""

UPDATE_TEMPLATE = "[`{function_name}` (call {call_id}) keeps running in the background] {message}"
"""How a text update is shown to the model."""

REPLY_INSTRUCTIONS = (
    "Background tasks you started earlier reported news (tool outputs {call_ids}). "
    "Tell the user what changed, briefly and naturally. Do not call any tool."
)
"""Instructions of the reply that delivers pending updates."""

DUPLICATE_REJECT = (
    "`{function_name}` was not started: the same function is already running in the "
    "background ({running}). Wait for its result, or cancel it with `cancel_task` first."
)

DUPLICATE_CONFIRM = (
    "`{function_name}` was not started: the same function is already running in the "
    "background ({running}). Ask the user whether they really want to run it a second time; "
    "if they confirm, call it again with `{param}` set to true."
)

CANCELLED_OUTPUT = "The task was cancelled before it reported anything."


class AsyncRunContext(RunContext[Userdata_T]):
    """The run context of a background tool of an :class:`AsyncToolset`.

    ``await ctx.update(message)`` reports progress: the first update answers the tool call (the
    agent can talk while the tool keeps working), later ones are delivered as new replies.
    """

    _voxlane_async_run_context: ClassVar[bool] = True

    def __init__(self, *, run_ctx: RunContext[Userdata_T], toolset: AsyncToolset) -> None:
        super().__init__(
            session=run_ctx.session,
            speech_handle=run_ctx.speech_handle,
            function_call=run_ctx.function_call,
        )
        self._toolset = toolset
        self._pending: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._update_count = 0

    @property
    def answered(self) -> bool:
        """True once the pending tool call was answered (first update, or the tool ended)."""
        return self._pending.done()

    async def update(self, message: str | Any) -> None:
        """Report progress (e.g. "Found 3 flights, picking the best one...").

        A ``str`` is wrapped in a short note naming the tool; any other value is serialized
        like a tool return value.
        """
        if isinstance(message, str):
            message = UPDATE_TEMPLATE.format(
                function_name=self.function_call.name,
                call_id=self.function_call.call_id,
                message=message,
            )
        if not self._pending.done():
            self._pending.set_result(message)
            # from now on the tool no longer blocks its speech: waiting on it is allowed
            _running_tool_speech.set(None)
            return
        self._update_count += 1
        await self._toolset._deliver_later(
            self, message, call_id=f"{self.function_call.call_id}/update_{self._update_count}"
        )

    def _items_for(self, output: Any, *, call_id: str) -> list[ChatItem] | None:
        exception = output if isinstance(output, BaseException) else None
        call = FunctionCall(
            call_id=call_id,
            name=self.function_call.name,
            arguments=self.function_call.arguments,
        )
        result = make_tool_output(
            fnc_call=call, output=None if exception else output, exception=exception
        )
        if result.agent_handoff is not None:
            logger.warning(
                "`%s` returned an Agent after reporting progress; a handoff is only possible "
                "before the first update(), so it is ignored",
                call.name,
            )
        if result.fnc_call_out is None:
            return None
        return [call, result.fnc_call_out]


@dataclass
class _RunningTask:
    ctx: AsyncRunContext[Any]
    task: asyncio.Task[None]


@dataclass
class _PendingUpdate:
    items: list[ChatItem]
    seq: int


def _takes_async_context(tool: FunctionTool | RawFunctionTool) -> bool:
    params = tool.signature.context_params
    if not params:
        return False
    try:
        hints = _resolve_hints(tool.fnc, tool.info.name)
    except UnresolvedHintsError:
        return False
    for name in params:
        hint: Any = hints.get(name)
        while hasattr(hint, "__origin__") and not isinstance(hint, type):
            hint = hint.__origin__
        if isinstance(hint, type) and getattr(hint, "_voxlane_async_run_context", False):
            return True
    return False


def _raw_schema_of(tool: FunctionTool | RawFunctionTool) -> dict[str, Any]:
    if isinstance(tool, RawFunctionTool):
        schema = dict(tool.info.raw_schema)
        schema["parameters"] = tool.parameters_schema
        return schema
    schema = {"name": tool.info.name, "parameters": tool.parameters_schema}
    if tool.info.description:
        schema["description"] = tool.info.description
    return schema


def _run_detached(coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
    """A task that does not inherit the caller's context (no tool/speech scope)."""
    return contextvars.Context().run(asyncio.get_running_loop().create_task, coro, name=name)


async def wait_for_inactive(session: AgentSession[Any]) -> bool:
    """Wait until the session is idle (see ``AgentSession.wait_for_inactive``). False when the
    session closed instead."""
    return await session.wait_for_inactive()


class AsyncToolset(Toolset):
    """A toolset whose tools may run in the background.

    Tools taking an :class:`AsyncRunContext` are wrapped to run as background tasks (other
    tools run normally). ``on_duplicate_call`` says what happens when the model calls a function
    that is already running: ``"allow"`` starts another one, ``"replace"`` cancels the running
    ones first, ``"reject"`` refuses with a message to the model, and ``"confirm"`` (default)
    refuses unless the model passes ``voxlane_confirm_duplicate=true`` (an argument added to
    the tool's schema in this mode), which it should do only after the user confirmed.

    The toolset also gives the model ``get_running_tasks`` and ``cancel_task``. Its tasks are not
    tied to the agent that started them: they keep running across handoffs and are cancelled
    by :meth:`aclose` (called when the session closes). Use one toolset per session (create it
    with the agent), not one shared by concurrent sessions.
    """

    DuplicateMode = DuplicateCallMode

    def __init__(
        self,
        *,
        id: str,
        tools: Sequence[Tool] | None = None,
        on_duplicate_call: DuplicateCallMode = "confirm",
    ) -> None:
        if on_duplicate_call not in ("allow", "replace", "reject", "confirm"):
            raise ValueError(
                f"on_duplicate_call must be 'allow', 'replace', 'reject' or 'confirm', "
                f"got {on_duplicate_call!r}"
            )
        super().__init__(id=id, tools=tools)
        self._on_duplicate_call: DuplicateCallMode = on_duplicate_call
        self._wrapped: dict[Tool, RawFunctionTool] = {}
        self._tools = [self._wrap_if_async(t) for t in self._tools]
        self._running: dict[str, _RunningTask] = {}
        self._pending_updates: list[_PendingUpdate] = []
        self._reply_task: asyncio.Task[None] | None = None
        self._seq = 0
        self._speeches: list[tuple[int, SpeechHandle]] = []
        self._watched: list[tuple[AgentSession[Any], Callable[[Any], None]]] = []

    @property
    def on_duplicate_call(self) -> DuplicateCallMode:
        return self._on_duplicate_call

    @property
    def tools(self) -> list[Tool]:
        out: list[Tool] = []
        for t in super().tools:
            if isinstance(t, (FunctionTool, RawFunctionTool)) and t.bound_to is self:
                t = self._wrap_if_async(t)
            out.append(t)
        return out

    @property
    def running_call_ids(self) -> list[str]:
        """The call ids of the background tasks still running."""
        return list(self._running)

    # -- built-in tools --------------------------------------------------------------------

    @function_tool
    async def get_running_tasks(self) -> list[dict[str, Any]]:
        """List the background tool calls that are still running."""
        return [
            {
                "call_id": r.ctx.function_call.call_id,
                "name": r.ctx.function_call.name,
                "arguments": r.ctx.function_call.arguments,
            }
            for r in self._running.values()
        ]

    @function_tool
    async def cancel_task(self, call_id: str) -> str:
        """Cancel a running background tool call.

        Args:
            call_id: The call_id of the task to cancel (see get_running_tasks).
        """
        if await self.cancel(call_id):
            return f"Task {call_id} was cancelled."
        return f"No running task has call_id {call_id} (it may have finished already)."

    # -- control ---------------------------------------------------------------------------

    async def cancel(self, call_id: str) -> bool:
        """Cancel the background call ``call_id``; False when no such call is running."""
        running = self._running.get(call_id)
        if running is None:
            return False
        await aio.cancel_and_wait(running.task)
        return True

    async def aclose(self) -> None:
        """Cancel every background call and any pending reply."""
        await super().aclose()
        tasks: list[asyncio.Task[Any]] = [r.task for r in self._running.values()]
        if self._reply_task is not None:
            tasks.append(self._reply_task)
        await aio.cancel_and_wait(*tasks)
        self._running.clear()
        self._pending_updates.clear()
        self._unwatch()

    # -- wrapping --------------------------------------------------------------------------

    def _wrap_if_async(self, tool: Tool) -> Tool:
        if not isinstance(tool, (FunctionTool, RawFunctionTool)):
            return tool
        if tool.bound_to is self and tool.info.name in ("get_running_tasks", "cancel_task"):
            return tool
        cached = self._wrapped.get(tool)
        if cached is not None:
            return cached
        if not _takes_async_context(tool):
            return tool
        wrapped = self._wrap(tool)
        self._wrapped[tool] = wrapped
        return wrapped

    def _wrap(self, tool: FunctionTool | RawFunctionTool) -> RawFunctionTool:
        schema = _raw_schema_of(tool)
        confirm_mode = self._on_duplicate_call == "confirm"
        if confirm_mode:
            params = dict(schema["parameters"])
            props = dict(params.get("properties") or {})
            if CONFIRM_DUPLICATE_PARAM in props:
                raise ValueError(
                    f"tool {tool.info.name!r} already has a parameter named "
                    f"{CONFIRM_DUPLICATE_PARAM!r}, which confirm mode adds; rename it"
                )
            props[CONFIRM_DUPLICATE_PARAM] = {
                "type": "boolean",
                "description": (
                    "Set to true only when the user confirmed that this function should run "
                    "again while a previous call is still running."
                ),
                "default": False,
            }
            params["properties"] = props
            schema["parameters"] = params

        async def run_in_background(context: RunContext[Any], raw_arguments: dict[str, Any]) -> Any:
            arguments = dict(raw_arguments)
            confirmed = bool(arguments.pop(CONFIRM_DUPLICATE_PARAM, False))
            return await self._start(tool, context, arguments, confirmed=confirmed)

        return function_tool(run_in_background, raw_schema=schema, flags=tool.info.flags)

    async def _start(
        self,
        tool: FunctionTool | RawFunctionTool,
        context: RunContext[Any],
        arguments: dict[str, Any],
        *,
        confirmed: bool,
    ) -> Any:
        call = context.function_call
        refused = await self._check_duplicate(call.name, confirmed=confirmed)
        if refused is not None:
            logger.debug("duplicate call of %s refused (call %s)", call.name, call.call_id)
            return refused
        if call.call_id in self._running:
            raise ToolError(f"a call with id {call.call_id} is already running")
        actx: AsyncRunContext[Any] = AsyncRunContext(run_ctx=context, toolset=self)
        try:
            args, kwargs = prepare_function_arguments(tool, arguments, context=actx)
        except ToolArgumentsError as e:
            raise ToolError(str(e)) from e

        task = asyncio.create_task(
            self._execute(tool, actx, args, kwargs), name=f"async_tool_{call.name}"
        )
        self._running[call.call_id] = _RunningTask(ctx=actx, task=task)

        def _forget(_: asyncio.Task[None], call_id: str = call.call_id) -> None:
            running = self._running.get(call_id)
            if running is not None and running.task is task:
                del self._running[call_id]

        task.add_done_callback(_forget)
        # cancelling this wait (an interrupted reply) leaves the task running: its next update
        # is then delivered as a new reply
        return await actx._pending

    async def _execute(
        self,
        tool: FunctionTool | RawFunctionTool,
        actx: AsyncRunContext[Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        call = actx.function_call
        output: Any
        try:
            output = tool(*args, **kwargs)
            if inspect.isawaitable(output):
                output = await output
        except asyncio.CancelledError:
            logger.debug("async tool %s (call %s) cancelled", call.name, call.call_id)
            if not actx._pending.done():
                actx._pending.set_result(CANCELLED_OUTPUT)
            raise
        except (ToolError, StopResponse) as e:
            output = e
        except Exception as e:
            logger.exception(
                "async tool %s raised an exception",
                call.name,
                extra={"call_id": call.call_id, "function": call.name},
            )
            output = e

        if not actx._pending.done():
            # no update was reported: the tool behaves like a normal one
            if isinstance(output, BaseException):
                actx._pending.set_exception(output)
            else:
                actx._pending.set_result(output)
            return
        if output is None:
            return
        await self._deliver_later(actx, output, call_id=f"{call.call_id}/finished")

    async def _check_duplicate(self, name: str, *, confirmed: bool) -> str | None:
        if self._on_duplicate_call == "allow":
            return None
        running = [
            r.ctx.function_call for r in self._running.values() if r.ctx.function_call.name == name
        ]
        if not running:
            return None
        if self._on_duplicate_call == "replace":
            await asyncio.gather(*(self.cancel(c.call_id) for c in running))
            return None
        described = "; ".join(f"call_id {c.call_id} with arguments {c.arguments}" for c in running)
        if self._on_duplicate_call == "reject":
            return DUPLICATE_REJECT.format(function_name=name, running=described)
        if not confirmed:
            return DUPLICATE_CONFIRM.format(
                function_name=name, running=described, param=CONFIRM_DUPLICATE_PARAM
            )
        return None

    # -- delivery --------------------------------------------------------------------------

    async def _deliver_later(
        self, actx: AsyncRunContext[Any], output: Any, *, call_id: str
    ) -> None:
        items = actx._items_for(output, call_id=call_id)
        if items is None:
            return
        session = actx.session
        agent = session.current_agent
        for item in items:
            if agent._chat_ctx.get_by_id(item.id) is None:
                agent._chat_ctx.insert(item)
            session._conversation_item_added(item)
        self._watch(session)
        self._seq += 1
        self._pending_updates.append(_PendingUpdate(items=items, seq=self._seq))
        if self._reply_task is None or self._reply_task.done():
            self._reply_task = _run_detached(
                self._reply_when_idle(session), name="async_toolset_reply"
            )

    def _watch(self, session: AgentSession[Any]) -> None:
        if any(s is session for s, _ in self._watched):
            return

        def _on_speech(ev: Any) -> None:
            self._seq += 1
            self._speeches.append((self._seq, ev.speech_handle))

        session.on("speech_created", _on_speech)
        self._watched.append((session, _on_speech))

    def _unwatch(self) -> None:
        for session, cb in self._watched:
            session.off("speech_created", cb)
        self._watched.clear()
        self._speeches.clear()

    async def _reply_when_idle(self, session: AgentSession[Any]) -> None:
        # let updates reported in the same instant (e.g. by parallel tools) join this reply
        for _ in range(3):
            await asyncio.sleep(0)
        if not await wait_for_inactive(session):
            return
        # no await below: nothing can slip in between the snapshot and the reply
        updates, self._pending_updates = self._pending_updates, []
        if not updates:
            return
        last_seq = updates[-1].seq
        spoke_since = any(
            seq > last_seq and speech.chat_message is not None for seq, speech in self._speeches
        )
        # every later update gets a higher number: these speeches no longer matter
        self._speeches.clear()
        if spoke_since:
            logger.debug("async toolset %s: the agent already answered the updates", self.id)
            return
        call_ids = [
            item.call_id for u in updates for item in u.items if item.type == "function_call_output"
        ]
        try:
            session.generate_reply(
                instructions=REPLY_INSTRUCTIONS.format(call_ids=", ".join(call_ids)),
                tool_choice="none",
            )
        except RuntimeError as e:
            logger.warning("could not deliver the updates of %s: %s", self.id, e)


__all__ = [
    "CONFIRM_DUPLICATE_PARAM",
    "AsyncRunContext",
    "AsyncToolset",
    "DuplicateCallMode",
    "wait_for_inactive",
]
