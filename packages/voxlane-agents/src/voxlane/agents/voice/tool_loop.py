"""The reply pipeline of one speech step and the tool loop around it.

``run_reply_step`` waits until the speech queue authorizes the speech, streams the LLM node's
text through the transcription/TTS nodes to the outputs, runs the tool calls concurrently,
records what was really said (only the played part when interrupted), then finishes the speech,
after scheduling a child speech (``parent`` = this one) that answers the tool outputs if they
need an answer. ``speak`` plays a fixed text
(``session.say``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any

from livekit import rtc

from .. import llm as llm_mod
from ..llm import ChatContext, ChatMessage, StopResponse
from ..llm.tool_execution import ToolExecutionOutput, execute_function_call
from ..utils import aio
from .agent import ModelSettings, _task_scope
from .events import FunctionToolsExecutedEvent, SpeechCreatedEvent
from .generation import (
    perform_llm_inference,
)
from .playback import PlayOutcome, play_speech
from .run_context import RunContext
from .speech_handle import SpeechHandle, _running_tool_speech

if TYPE_CHECKING:
    from .agent_activity import AgentActivity
    from .preemptive import PreemptiveGeneration

logger = logging.getLogger("voxlane.agents.voice")


async def _wait_authorized(speech: SpeechHandle) -> bool:
    """Wait for the queue to authorize ``speech``; False if it was interrupted first."""
    auth = asyncio.ensure_future(speech._wait_for_authorization())
    intr = asyncio.ensure_future(speech._wait_interrupted())
    try:
        await asyncio.wait([auth, intr], return_when=asyncio.FIRST_COMPLETED)
    finally:
        await aio.cancel_and_wait(auth, intr)
    return not speech.interrupted


async def _one_text(text: str) -> AsyncIterator[str]:
    yield text


async def _play(
    activity: AgentActivity,
    speech: SpeechHandle,
    text_source: AsyncIterable[str],
    audio_source: AsyncIterable[rtc.AudioFrame] | None,
) -> PlayOutcome:
    """Send one step's text (and audio) to the outputs (see :class:`PlayOutcome`)."""
    return await play_speech(
        activity,
        speech,
        text_source,
        audio_source=audio_source,
        synthesize=activity.tts is not None,
    )


def _execute_tools(
    activity: AgentActivity,
    speech: SpeechHandle,
    tool_ctx: llm_mod.ToolContext,
    calls: AsyncIterable[llm_mod.FunctionCall],
) -> tuple[asyncio.Task[None], list[ToolExecutionOutput]]:
    """Run each tool call as soon as it arrives; outputs keep the order of the calls."""
    outputs: list[ToolExecutionOutput] = []

    async def _one(call: llm_mod.FunctionCall) -> ToolExecutionOutput:
        _running_tool_speech.set(speech)
        _task_scope.set(activity)
        ctx: RunContext[Any] = RunContext(
            session=activity.session, speech_handle=speech, function_call=call
        )
        mocked = activity.session._mocked_tool(activity.agent, call.name)
        if mocked is not None:
            tool_ctx_ = llm_mod.ToolContext([mocked])
            return await execute_function_call(tool_ctx_, call, context=ctx)
        return await execute_function_call(tool_ctx, call, context=ctx)

    async def _run() -> None:
        tasks: list[asyncio.Task[ToolExecutionOutput]] = []
        try:
            async for call in calls:
                tasks.append(asyncio.create_task(_one(call), name=f"tool_{call.name}"))
            results = await asyncio.gather(*tasks)
            outputs.extend(results)
        finally:
            await aio.cancel_and_wait(*tasks)

    return asyncio.create_task(_run(), name="tool_execution"), outputs


async def run_reply_step(
    activity: AgentActivity,
    speech: SpeechHandle,
    *,
    chat_ctx: ChatContext,
    user_message: ChatMessage | None,
    tool_choice: Any,
    preemptive: PreemptiveGeneration | None = None,
) -> None:
    """One generation step of ``speech`` (see module docstring).

    ``preemptive``: an LLM request already running for this turn (its output is used instead
    of starting a new one)."""
    session = activity.session
    agent = activity.agent
    llm_task: asyncio.Task[None] | None = None
    exec_task: asyncio.Task[None] | None = None
    try:
        if user_message is not None:
            # recorded before the LLM runs: a failing LLM never loses the user's turn
            activity._add_item(user_message)
            if chat_ctx.get_by_id(user_message.id) is None:
                chat_ctx.insert(user_message)
        if preemptive is not None:
            llm_task = preemptive.task
        if not await _wait_authorized(speech):
            await aio.cancel_and_wait(llm_task)
            speech._mark_generation_done()
            speech._mark_done()
            return
        session._update_agent_state("thinking")
        # the reply's text streams before its tool calls are recorded: stamp the assistant
        # message with the generation's start so history keeps the order the model produced
        generation_created_at = time.time()
        if preemptive is not None:
            tools = preemptive.tools
            llm_data = preemptive.data
        else:
            tools = activity.tools
            llm_task, llm_data = perform_llm_inference(
                agent.llm_node(chat_ctx, tools, ModelSettings(tool_choice=tool_choice))
            )
        exec_task, outputs = _execute_tools(
            activity, speech, llm_mod.ToolContext(tools), llm_data.function_ch
        )
        outcome = await _play(activity, speech, llm_data.text_ch, None)
        text, interrupted = outcome.text, outcome.interrupted
        if interrupted:
            await aio.cancel_and_wait(llm_task)
        elif llm_task is not None:
            await llm_task  # surfaces LLM errors
        new_items: list[Any] = []
        if text:
            msg = ChatMessage(
                id=llm_data.id,
                role="assistant",
                content=[text],
                interrupted=interrupted,
                created_at=generation_created_at,
            )
            activity._add_item(msg, speech=speech)
            new_items.append(msg)
        if outcome.error is not None:
            raise outcome.error  # after recording what the user heard
        speech._mark_generation_done()
        if interrupted:
            if exec_task.done() and not exec_task.cancelled() and outputs:
                # the tools finished before the interruption: keep their items (a handoff
                # becomes an error output, see _after_tools)
                await _after_tools(activity, speech, chat_ctx, outputs, new_items, tool_choice)
            await aio.cancel_and_wait(exec_task)
            speech._mark_done()
            return
        await exec_task
        if not outputs:
            speech._mark_done()
            return
        await _after_tools(activity, speech, chat_ctx, outputs, new_items, tool_choice)
    except asyncio.CancelledError:
        if llm_task is not None:
            llm_task.cancel()
        speech._mark_generation_done()
        speech._mark_done()
        raise
    except Exception as e:
        logger.exception("the reply of speech %s failed", speech.id)
        await aio.cancel_and_wait(llm_task, exec_task)
        activity._on_reply_error(e)
        speech._mark_generation_done()
        speech._mark_done(e)


def record_tool_outputs(
    activity: AgentActivity, speech: SpeechHandle, outputs: list[ToolExecutionOutput]
) -> tuple[FunctionToolsExecutedEvent, list[Any], Any]:
    """Record one step's tool calls and outputs and start its handoff, if any.

    The calls and outputs go to the agent's context and the history (an interrupted handoff
    becomes an error output), ``function_tools_executed`` is emitted, and a single handoff
    request is passed to ``session.update_agent``. Returns the event, the new chat items and
    the agent handed off to (or None).
    """
    if speech.interrupted:
        outputs = [interrupted_handoff_output(o) for o in outputs]
    ev = FunctionToolsExecutedEvent(
        function_calls=[o.fnc_call for o in outputs],
        function_call_outputs=[o.fnc_call_out for o in outputs],
    )
    new_items: list[Any] = []
    for o in outputs:
        activity._add_item(o.fnc_call, speech=speech)
        new_items.append(o.fnc_call)
        if o.fnc_call_out is not None:
            activity._add_item(o.fnc_call_out, speech=speech)
            new_items.append(o.fnc_call_out)
    activity._emit_tools_executed(ev)

    handoffs = [o.agent_handoff for o in outputs if o.agent_handoff is not None]
    new_agent = None
    if len(handoffs) > 1:
        logger.error(
            "%d tools asked for a handoff in the same step; a step may hand off to one agent "
            "only, so none was done",
            len(handoffs),
        )
    elif handoffs and not ev._handoff_cancelled:
        new_agent = handoffs[0]
        activity.session.update_agent(new_agent)
    return ev, new_items, new_agent


def reply_required(outputs: list[ToolExecutionOutput], ev: FunctionToolsExecutedEvent) -> bool:
    """Whether the tool outputs ask for another LLM step (no StopResponse, not cancelled)."""
    if ev._reply_cancelled or any(isinstance(o.raw_exception, StopResponse) for o in outputs):
        return False
    return any(o.reply_required for o in outputs)


def tool_steps_exhausted(activity: AgentActivity, speech: SpeechHandle) -> bool:
    """Whether ``speech`` was the last step allowed by ``max_tool_steps``.

    Steps are counted along the chain of tool replies (``speech.step_index``). The last step
    ran with tool_choice="none"; a model that called tools anyway gets no further step (its
    outputs stay recorded), so a model ignoring tool_choice cannot loop forever.
    """
    max_steps = activity.session.options.max_tool_steps
    if speech.step_index < max_steps:
        return False
    logger.warning(
        "speech %s: the LLM called tools after max_tool_steps (%d) was reached; the tool "
        "outputs are recorded but not answered (raise AgentSession(max_tool_steps=...) if the "
        "agent needs more steps)",
        speech.id,
        max_steps,
    )
    return True


async def _after_tools(
    activity: AgentActivity,
    speech: SpeechHandle,
    chat_ctx: ChatContext,
    outputs: list[ToolExecutionOutput],
    new_items: list[Any],
    tool_choice: Any,
) -> None:
    session = activity.session
    ev, tool_items, new_agent = record_tool_outputs(activity, speech, outputs)
    new_items = [*new_items, *tool_items]
    if not reply_required(outputs, ev) or activity._closed or speech.interrupted:
        speech._mark_done()
        return
    if tool_steps_exhausted(activity, speech):
        speech._mark_done()
        return
    next_step = speech.step_index + 1
    next_choice = tool_choice
    if (
        next_step >= session.options.max_tool_steps
        or activity.draining
        or new_agent is not None
        or tool_choice == "none"
    ):
        next_choice = "none"
    elif next_choice == "required":
        next_choice = "auto"
    new_ctx = chat_ctx.copy()
    for item in new_items:
        if new_ctx.get_by_id(item.id) is None:
            new_ctx.insert(item)
    # the child is announced (speech_created) before the parent is done, so whoever follows
    # the parent (RunResult, async toolsets) sees the reply
    schedule_tool_reply(activity, speech, chat_ctx=new_ctx, tool_choice=next_choice)
    speech._mark_done()


def create_tool_reply_handle(activity: AgentActivity, parent: SpeechHandle) -> SpeechHandle:
    """A new handle answering the tool outputs of ``parent`` (announced as tool_response).

    It is queued with the parent's priority even while the agent drains, so the answer to
    tools that ran (e.g. a handoff tool) is still said.
    """
    child = SpeechHandle.create(
        allow_interruptions=parent.allow_interruptions,
        step_index=parent.step_index + 1,
        parent=parent,
    )
    parent._add_child(child)
    activity.session.emit(
        "speech_created",
        SpeechCreatedEvent(speech_handle=child, user_initiated=False, source="tool_response"),
    )
    return child


def schedule_tool_reply(
    activity: AgentActivity, parent: SpeechHandle, *, chat_ctx: ChatContext, tool_choice: Any
) -> SpeechHandle:
    """Create, announce and queue the reply to ``parent``'s tool outputs."""
    child = create_tool_reply_handle(activity, parent)
    activity._spawn(
        run_reply_step(
            activity, child, chat_ctx=chat_ctx, user_message=None, tool_choice=tool_choice
        ),
        name=f"speech_tool_reply_{child.id}",
    )
    activity._schedule(child, parent.priority, force=True)
    return child


INTERRUPTED_HANDOFF_MESSAGE = "the agent handoff was interrupted and did not happen"


def interrupted_handoff_output(out: ToolExecutionOutput) -> ToolExecutionOutput:
    """For an interrupted speech: a handoff request becomes an error output, not a handoff."""
    if out.agent_handoff is None:
        return out
    error = llm_mod.FunctionCallOutput(
        call_id=out.fnc_call.call_id,
        name=out.fnc_call.name,
        output=INTERRUPTED_HANDOFF_MESSAGE,
        is_error=True,
    )
    return ToolExecutionOutput(
        fnc_call=out.fnc_call,
        fnc_call_out=error,
        raw_output=out.raw_output,
        raw_exception=None,
        agent_handoff=None,
    )


async def speak(
    activity: AgentActivity,
    speech: SpeechHandle,
    *,
    text: str | AsyncIterable[str],
    audio: AsyncIterable[rtc.AudioFrame] | None,
    add_to_chat_ctx: bool,
) -> None:
    """Play a fixed text (and optional pre-made audio): the body of ``session.say``."""
    try:
        if not await _wait_authorized(speech):
            speech._mark_generation_done()
            speech._mark_done()
            return
        source = _one_text(text) if isinstance(text, str) else text
        # stamped when the speech starts: a user turn that cuts it in (after a pause) comes
        # after it in the history
        created_at = time.time()
        outcome = await _play(activity, speech, source, audio)
        if add_to_chat_ctx and outcome.text:
            msg = ChatMessage(
                role="assistant",
                content=[outcome.text],
                interrupted=outcome.interrupted,
                created_at=created_at,
            )
            activity._add_item(msg, speech=speech)
        if outcome.error is not None:
            raise outcome.error  # after recording what the user heard
        speech._mark_generation_done()
        speech._mark_done()
    except asyncio.CancelledError:
        speech._mark_generation_done()
        speech._mark_done()
        raise
    except Exception as e:
        logger.exception("say() of speech %s failed", speech.id)
        activity._on_reply_error(e)
        speech._mark_generation_done()
        speech._mark_done(e)


__all__ = [
    "record_tool_outputs",
    "reply_required",
    "run_reply_step",
    "speak",
    "tool_steps_exhausted",
]
