"""Helpers for the voice runtime tests: a scripted LLM, in-memory audio/text I/O, event recording.

Tests get them through the ``vh`` fixture (``vh.ScriptedLLM``, ``vh.MemoryAudioOutput``...).
Every test runs on the virtual clock (``pytest.mark.virtual_clock``) so timings are exact.
"""

from __future__ import annotations

import asyncio
import json
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from livekit import rtc

from voxlane.agents.llm import ChatContext
from voxlane.agents.llm.llm import LLM, ChatChunk, ChoiceDelta, FunctionToolCall, LLMStream
from voxlane.agents.testing.pytest_plugin import (  # noqa: F401
    pytest_asyncio_loop_factories,
    pytest_configure,
)
from voxlane.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions
from voxlane.agents.utils.audio import frame_duration
from voxlane.agents.voice.io import AudioInput, AudioOutput, AudioOutputCapabilities, TextOutput


@dataclass
class Call:
    """A tool call the scripted LLM should make."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None


@dataclass
class Reply:
    """One scripted LLM answer: text and/or tool calls, or an error to raise."""

    text: str = ""
    calls: Sequence[Call] = ()
    error: BaseException | None = None
    fail_attempts: int | None = None
    """With ``error``: fail only the first N attempts (None: every attempt)."""
    chunk_delay: float = 0.0
    ttft: float = 0.0


@dataclass
class ChatRecord:
    chat_ctx: ChatContext
    tools: list[Any]
    tool_choice: Any


class ScriptedLLM(LLM):
    """Answers each chat() with the next scripted :class:`Reply` (a str is a text reply)."""

    def __init__(self, replies: Sequence[Reply | str] = ()) -> None:
        super().__init__()
        self.replies: list[Reply] = [Reply(text=r) if isinstance(r, str) else r for r in replies]
        self.calls: list[ChatRecord] = []

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[Any] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: Any = NOT_GIVEN,
        tool_choice: Any = NOT_GIVEN,
        extra_kwargs: Any = NOT_GIVEN,
    ) -> LLMStream:
        self.calls.append(ChatRecord(chat_ctx.copy(), list(tools or []), tool_choice))
        if not self.replies:
            raise AssertionError("ScriptedLLM ran out of replies")
        reply = self.replies.pop(0)
        return _ScriptedStream(
            self, reply, chat_ctx=chat_ctx, tools=list(tools or []), conn_options=conn_options
        )


class _ScriptedStream(LLMStream):
    def __init__(self, llm: ScriptedLLM, reply: Reply, **kwargs: Any) -> None:
        self._reply = reply
        self._attempts = 0
        super().__init__(llm, **kwargs)

    async def _run(self) -> None:
        r = self._reply
        if r.ttft:
            await asyncio.sleep(r.ttft)
        self._attempts += 1
        if r.error is not None and (r.fail_attempts is None or self._attempts <= r.fail_attempts):
            raise r.error
        words = r.text.split(" ") if r.text else []
        for i, w in enumerate(words):
            piece = w if i == 0 else " " + w
            self._event_ch.send_nowait(
                ChatChunk(id="c", delta=ChoiceDelta(role="assistant", content=piece))
            )
            if r.chunk_delay:
                await asyncio.sleep(r.chunk_delay)
        if r.calls:
            tool_calls = [
                FunctionToolCall(
                    name=c.name,
                    arguments=json.dumps(c.arguments),
                    call_id=c.call_id or f"call_{c.name}_{i}",
                )
                for i, c in enumerate(r.calls)
            ]
            self._event_ch.send_nowait(
                ChatChunk(id="c", delta=ChoiceDelta(role="assistant", tool_calls=tool_calls))
            )


class MemoryAudioOutput(AudioOutput):
    """Plays captured frames in (virtual) real time; supports pause/resume when ``can_pause``."""

    def __init__(self, *, can_pause: bool = False) -> None:
        super().__init__(label="memory", capabilities=AudioOutputCapabilities(pause=can_pause))
        self.frames: list[rtc.AudioFrame] = []
        self.segments: list[float] = []
        self.finished: list[tuple[float, bool]] = []
        self._queue: asyncio.Queue[rtc.AudioFrame | None] = asyncio.Queue()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._task: asyncio.Task[None] | None = None
        self._position = 0.0
        self._clear = False
        self.pauses = 0

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._task is None or self._task.done():
            self._position = 0.0
            self._clear = False
            self._task = asyncio.create_task(self._play())
        self.frames.append(frame)
        self._queue.put_nowait(frame)

    def flush(self) -> None:
        super().flush()
        self._queue.put_nowait(None)

    def clear_buffer(self) -> None:
        self._clear = True
        self._queue.put_nowait(None)

    def pause(self) -> None:
        self.pauses += 1
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    async def _play(self) -> None:
        started = False
        while True:
            frame = await self._queue.get()
            if self._clear:
                break
            if frame is None:
                break
            if not started:
                started = True
                self.on_playback_started(created_at=asyncio.get_running_loop().time())
            await self._resumed.wait()
            if self._clear:
                break
            await asyncio.sleep(frame_duration(frame))
            self._position += frame_duration(frame)
            if self._clear:
                break
        interrupted = self._clear
        while not self._queue.empty():
            self._queue.get_nowait()
        self.finished.append((self._position, interrupted))
        self.on_playback_finished(playback_position=self._position, interrupted=interrupted)


class MemoryTextOutput(TextOutput):
    def __init__(self) -> None:
        super().__init__(label="memory-text")
        self.segments: list[str] = []
        self._current = ""

    async def capture_text(self, text: str) -> None:
        self._current += text

    def flush(self) -> None:
        self.segments.append(self._current)
        self._current = ""


class QueueAudioInput(AudioInput):
    """User audio pushed by the test, frame by frame, paced in (virtual) real time."""

    def __init__(self) -> None:
        super().__init__(label="queue")
        self._q: asyncio.Queue[rtc.AudioFrame | None] = asyncio.Queue()

    def push(self, frames: Sequence[rtc.AudioFrame]) -> None:
        for f in frames:
            self._q.put_nowait(f)

    def close(self) -> None:
        self._q.put_nowait(None)

    async def __anext__(self) -> rtc.AudioFrame:
        frame = await self._q.get()
        if frame is None:
            raise StopAsyncIteration
        await asyncio.sleep(frame_duration(frame))
        return frame


class EventLog:
    """Records session events in order: ``log.names()``, ``log.of("type")``."""

    NAMES = (
        "user_state_changed",
        "agent_state_changed",
        "user_input_transcribed",
        "conversation_item_added",
        "agent_false_interruption",
        "function_tools_executed",
        "metrics_collected",
        "speech_created",
        "error",
        "close",
    )

    def __init__(self, session: Any) -> None:
        self.events: list[tuple[str, Any, float]] = []
        for name in self.NAMES:
            session.on(name, self._make(name))

    def _make(self, name: str) -> Any:
        def _cb(ev: Any) -> None:
            self.events.append((name, ev, asyncio.get_running_loop().time()))

        return _cb

    def names(self, *, skip: tuple[str, ...] = ("metrics_collected",)) -> list[str]:
        return [n for n, _, _ in self.events if n not in skip]

    def of(self, name: str) -> list[Any]:
        return [ev for n, ev, _ in self.events if n == name]

    def times(self, name: str) -> list[float]:
        return [t for n, _, t in self.events if n == name]


def history_summary(ctx: ChatContext) -> list[tuple[str, ...]]:
    """A compact view of a history: ("user", text), ("assistant", text, interrupted), ..."""
    out: list[tuple[str, ...]] = []
    for item in ctx.items:
        if item.type == "message":
            if item.role in ("system", "developer"):
                continue
            text = item.text_content or ""
            if item.role == "assistant":
                out.append(("assistant", text, "interrupted" if item.interrupted else "complete"))
            else:
                out.append((item.role, text))
        elif item.type == "function_call":
            out.append(("call", item.name, item.arguments))
        elif item.type == "function_call_output":
            out.append(("output", item.name, item.output, "error" if item.is_error else "ok"))
        elif item.type == "agent_handoff":
            out.append(("handoff", item.old_agent_id or "", item.new_agent_id))
    return out


@pytest.fixture
def vh() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        Call=Call,
        Reply=Reply,
        ScriptedLLM=ScriptedLLM,
        MemoryAudioOutput=MemoryAudioOutput,
        MemoryTextOutput=MemoryTextOutput,
        QueueAudioInput=QueueAudioInput,
        EventLog=EventLog,
        history=history_summary,
    )
