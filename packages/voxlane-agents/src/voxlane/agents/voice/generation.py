"""Building blocks of one reply: run the LLM, TTS and transcription nodes and forward outputs.

Each ``perform_*`` function starts a task and returns it with a small data object that the
caller reads (what was generated, what was forwarded, when the first audio went out).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from livekit import rtc

from ..llm import FunctionCall
from ..llm.llm import ChatChunk
from ..utils import aio
from ..utils.audio import frame_duration
from ..utils.misc import shortuuid
from .io import AudioOutput, TextOutput

logger = logging.getLogger("voxlane.agents.voice")

_T = TypeVar("_T")


async def node_output(value: Any) -> AsyncIterator[Any]:
    """Iterate what a pipeline node returned.

    A node may return an async iterable, a coroutine resolving to one, a plain value (e.g. a
    ``str`` or a ``ChatChunk``) or ``None`` (nothing to produce).
    """
    if inspect.isawaitable(value) and not isinstance(value, AsyncIterable):
        value = await value
    if value is None:
        return
    if isinstance(value, AsyncIterable):
        async for item in value:
            yield item
        return
    if isinstance(value, (str, ChatChunk, rtc.AudioFrame)):
        yield value
        return
    raise TypeError(
        f"a pipeline node returned {type(value).__name__}; expected an async iterable, a "
        "coroutine of one, a str, a ChatChunk or None"
    )


async def _close_node(it: AsyncIterator[Any]) -> None:
    aclose: Callable[[], Any] | None = getattr(it, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            logger.debug("error while closing a pipeline node", exc_info=True)


class TextBroadcast:
    """A text stream that each reader iterates in full, copied as it is sent.

    The LLM's text feeds both the TTS and the transcription: copying it when it is sent saves
    a task (one event-loop hop) between the first token and the TTS. Every ``__aiter__`` is a
    new reader that also gets what was sent before it started.
    """

    def __init__(self) -> None:
        self._sent: list[str] = []
        self._readers: list[aio.Chan[str]] = []
        self._closed = False

    def send_nowait(self, text: str) -> None:
        if self._closed:
            raise aio.ChanClosed()
        self._sent.append(text)
        for reader in self._readers:
            reader.send_nowait(text)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for reader in self._readers:
            reader.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def reader(self) -> aio.Chan[str]:
        """A channel with everything sent so far and, until close, everything sent later."""
        ch: aio.Chan[str] = aio.Chan()
        for text in self._sent:
            ch.send_nowait(text)
        if self._closed:
            ch.close()
        else:
            self._readers.append(ch)
        return ch

    def __aiter__(self) -> AsyncIterator[str]:
        return self.reader()


def tee_text(
    source: AsyncIterable[str], n: int
) -> tuple[asyncio.Task[None] | None, list[aio.Chan[str]]]:
    """Copy a text stream into ``n`` channels (a :class:`TextBroadcast` needs no task)."""
    if isinstance(source, TextBroadcast):
        return None, [source.reader() for _ in range(n)]
    chans: list[aio.Chan[str]] = [aio.Chan() for _ in range(n)]

    async def _run() -> None:
        try:
            async for text in source:
                for ch in chans:
                    ch.send_nowait(text)
        finally:
            for ch in chans:
                ch.close()

    return asyncio.create_task(_run(), name="tee_text"), chans


@dataclass
class LLMGenerationData:
    """What the LLM node produced so far."""

    text_ch: TextBroadcast
    function_ch: aio.Chan[FunctionCall]
    id: str = field(default_factory=lambda: shortuuid("item_"))


def perform_llm_inference(node: Any) -> tuple[asyncio.Task[None], LLMGenerationData]:
    """Run the llm node: text goes to ``text_ch``, tool calls to ``function_ch``."""
    data = LLMGenerationData(text_ch=TextBroadcast(), function_ch=aio.Chan())

    def _text(text: str) -> None:
        if text:
            data.text_ch.send_nowait(text)

    async def _run() -> None:
        it = node_output(node)
        try:
            async for chunk in it:
                if isinstance(chunk, str):
                    _text(chunk)
                    continue
                if not isinstance(chunk, ChatChunk):
                    raise TypeError(
                        f"llm_node yielded {type(chunk).__name__}; expected str or ChatChunk"
                    )
                if chunk.delta is None:
                    continue
                if chunk.delta.content:
                    _text(chunk.delta.content)
                for tool in chunk.delta.tool_calls or []:
                    call = FunctionCall(
                        call_id=tool.call_id or shortuuid("call_"),
                        name=tool.name,
                        arguments=tool.arguments or "{}",
                    )
                    data.function_ch.send_nowait(call)
        finally:
            await _close_node(it)
            data.text_ch.close()
            data.function_ch.close()

    return asyncio.create_task(_run(), name="llm_inference"), data


@dataclass
class TTSGenerationData:
    audio_ch: aio.Chan[rtc.AudioFrame]


def perform_tts_inference(node: Any) -> tuple[asyncio.Task[None], TTSGenerationData]:
    """Run the tts node: frames go to ``audio_ch``."""
    data = TTSGenerationData(audio_ch=aio.Chan())

    async def _run() -> None:
        it = node_output(node)
        try:
            async for frame in it:
                if not isinstance(frame, rtc.AudioFrame):
                    raise TypeError(
                        f"tts_node yielded {type(frame).__name__}; expected rtc.AudioFrame"
                    )
                data.audio_ch.send_nowait(frame)
        finally:
            await _close_node(it)
            data.audio_ch.close()

    return asyncio.create_task(_run(), name="tts_inference"), data


@dataclass
class TextOutputData:
    """Text that went to the transcription output (the whole reply in text-only mode)."""

    text: str = ""
    first_text_fut: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_event_loop().create_future()
    )


def perform_text_forwarding(
    text_output: TextOutput | None, source: Any
) -> tuple[asyncio.Task[None], TextOutputData]:
    """Send the transcription node's text to the text output (if any), recording it."""
    data = TextOutputData()

    async def _run() -> None:
        it = node_output(source)
        try:
            async for text in it:
                if not isinstance(text, str):
                    raise TypeError(
                        f"transcription_node yielded {type(text).__name__}; expected str"
                    )
                data.text += text
                if text and not data.first_text_fut.done():
                    data.first_text_fut.set_result(None)
                if text_output is not None:
                    await text_output.capture_text(text)
        finally:
            await _close_node(it)
            if text_output is not None:
                text_output.flush()

    return asyncio.create_task(_run(), name="text_forwarding"), data


@dataclass
class AudioOutputData:
    """Audio sent to the audio output for one generation step."""

    pushed_duration: float = 0.0
    first_frame_fut: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_event_loop().create_future()
    )


def perform_audio_forwarding(
    audio_output: AudioOutput, frames: AsyncIterable[rtc.AudioFrame]
) -> tuple[asyncio.Task[None], AudioOutputData]:
    """Send frames to the audio output (one playback segment), recording their duration."""
    data = AudioOutputData()

    async def _run() -> None:
        try:
            async for frame in frames:
                await audio_output.capture_frame(frame)
                data.pushed_duration += frame_duration(frame)
                if not data.first_frame_fut.done():
                    data.first_frame_fut.set_result(None)
        finally:
            if data.pushed_duration > 0:
                audio_output.flush()

    return asyncio.create_task(_run(), name="audio_forwarding"), data


def played_text(text: str, played: float, total: float) -> str:
    """The prefix of ``text`` heard after ``played`` of ``total`` seconds, cut at a word end.

    Assumes speech is spread evenly over the characters (an estimate, used when the output
    does not report a synchronized transcript).
    """
    if total <= 0 or played <= 0 or not text:
        return ""
    if played >= total:
        return text
    cut = int(len(text) * (played / total))
    prefix = text[:cut]
    if cut < len(text) and not text[cut].isspace():
        # drop the partially spoken word
        space = prefix.rfind(" ")
        prefix = prefix[:space] if space >= 0 else ""
    return prefix.rstrip()


__all__ = [
    "AudioOutputData",
    "LLMGenerationData",
    "TTSGenerationData",
    "TextOutputData",
    "node_output",
    "perform_audio_forwarding",
    "perform_llm_inference",
    "perform_text_forwarding",
    "perform_tts_inference",
    "played_text",
    "tee_text",
]
