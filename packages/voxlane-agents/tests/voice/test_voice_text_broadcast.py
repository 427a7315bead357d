"""TextBroadcast: the LLM text each reader (TTS, transcription) sees in full, with no tee task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from voxlane.agents.utils import aio
from voxlane.agents.voice.generation import TextBroadcast, tee_text


async def _read(ch: aio.Chan[str]) -> list[str]:
    return [text async for text in ch]


async def test_readers_get_what_was_sent_before_and_after_they_joined() -> None:
    text = TextBroadcast()
    text.send_nowait("Hello")
    early = text.reader()
    text.send_nowait(", world")
    late = text.reader()
    text.send_nowait("!")
    text.close()
    after_close = text.reader()
    assert await _read(early) == ["Hello", ", world", "!"]
    assert await _read(late) == ["Hello", ", world", "!"]
    assert await _read(after_close) == ["Hello", ", world", "!"]
    assert text.closed


async def test_tee_of_a_broadcast_starts_no_task_and_delivers_at_once() -> None:
    text = TextBroadcast()
    task, (a, b) = tee_text(text, 2)
    assert task is None
    text.send_nowait("first")
    # delivered when sent: no event-loop turn needed before a reader can take it
    assert a.recv_nowait() == "first" and b.recv_nowait() == "first"
    text.close()
    assert await _read(a) == [] and await _read(b) == []


async def test_tee_of_any_other_stream_still_works() -> None:
    async def source() -> AsyncIterator[str]:
        for piece in ("a", "b"):
            yield piece

    task, (a, b) = tee_text(source(), 2)
    assert task is not None
    await task
    assert await _read(a) == ["a", "b"] and await _read(b) == ["a", "b"]


async def test_sending_after_close_is_an_error_and_close_is_idempotent() -> None:
    text = TextBroadcast()
    reader = text.reader()
    text.close()
    text.close()
    with pytest.raises(aio.ChanClosed):
        text.send_nowait("late")
    assert await asyncio.wait_for(_read(reader), 1.0) == []
