"""A local fake of the OpenAI HTTP API for the plugin tests (127.0.0.1 only).

It speaks the wire formats the real SDK expects: Server-Sent Events of ``chat.completion.chunk``
objects (tool-call deltas split across frames, a final usage chunk, ``data: [DONE]``), multipart
uploads for transcriptions, and chunked raw PCM for speech. Each endpoint plays a queue of
scripted behaviours; a fault (status, hang, dropped connection, malformed frame) can be queued
before a normal answer. Imported by the tests as a top-level module (its folder is put on
``sys.path``), hence the unique name.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# -- scripted behaviours ---------------------------------------------------------------------


@dataclass
class ToolCallSpec:
    name: str
    arguments: str
    call_id: str


@dataclass
class ChatReply:
    """A normal streamed completion: text pieces, then tool calls, then the usage chunk."""

    text: list[str] = field(default_factory=list)
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    prompt_tokens: int = 12
    completion_tokens: int = 7
    cached_tokens: int = 0
    interleave_tool_calls: bool = False


@dataclass
class Fault:
    """A failure to play instead of (or in the middle of) an answer.

    kind: ``"status"`` (HTTP ``status`` with a JSON error body and optional ``retry_after``),
    ``"hang"`` (never answer), ``"drop"`` (send ``after`` frames of ``reply`` then cut the TCP
    connection), ``"malformed"`` (send ``after`` frames then a frame that is not JSON),
    ``"truncate"`` (send ``after`` frames then end the body cleanly without finishing),
    ``"error_event"`` (a 200 stream whose first frame is an error object).
    """

    kind: str
    status: int = 500
    retry_after: str | None = None
    after: int = 0
    reply: ChatReply | None = None
    message: str = "injected failure"


Behaviour = ChatReply | Fault


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


class FakeOpenAI:
    """The server: ``await start()``, ``base_url``, queue behaviours, ``await stop()``."""

    def __init__(self) -> None:
        self.chat_queue: deque[Behaviour] = deque()
        self.stt_queue: deque[str | Fault] = deque()
        self.tts_queue: deque[bytes | Fault] = deque()
        self.requests: list[Recorded] = []
        # answers used when a queue is empty (None: answer 500 "no scripted reply")
        self.chat_default: Callable[[dict[str, Any]], ChatReply] | None = None
        self.stt_default: str | None = None
        self.tts_default: Callable[[dict[str, Any]], bytes] | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self._chat)
        self.app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        self.app.router.add_post("/v1/audio/speech", self._speech)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.1)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        server = self._site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    # -- chat completions ---------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        if self.chat_queue:
            behaviour: Behaviour = self.chat_queue.popleft()
        elif self.chat_default is not None:
            behaviour = self.chat_default(body)
        else:
            return _error_response(500, "the fake server has no scripted reply left")
        if isinstance(behaviour, Fault):
            if behaviour.kind == "status":
                return _error_response(behaviour.status, behaviour.message, behaviour.retry_after)
            if behaviour.kind == "hang":
                await asyncio.sleep(3600)
        reply = behaviour if isinstance(behaviour, ChatReply) else (behaviour.reply or ChatReply())
        frames = _chat_frames(reply, model=body.get("model", ""), include_usage=_wants_usage(body))
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "x-request-id": "req_fake"}
        )
        await resp.prepare(request)
        if isinstance(behaviour, Fault) and behaviour.kind == "error_event":
            err = {"error": {"message": behaviour.message, "type": "server_error", "code": None}}
            await resp.write(f"data: {json.dumps(err)}\n\n".encode())
            await resp.write_eof()
            return resp
        limit = behaviour.after if isinstance(behaviour, Fault) else len(frames)
        for frame in frames[:limit]:
            await resp.write(f"data: {json.dumps(frame)}\n\n".encode())
        if isinstance(behaviour, Fault):
            if behaviour.kind == "drop":
                await asyncio.sleep(0.01)
                assert request.transport is not None
                request.transport.close()
                return resp
            if behaviour.kind == "malformed":
                await resp.write(b'data: {"id": "chatcmpl-x", "choices": [\n\n')
                await resp.write_eof()
                return resp
            if behaviour.kind == "truncate":
                await resp.write_eof()
                return resp
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    # -- transcriptions -----------------------------------------------------------------

    async def _transcriptions(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        fields: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                fields[key] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "data": value.file.read(),
                }
            else:
                fields[key] = value
        self.requests.append(Recorded(request.path, dict(request.headers), fields))
        if self.stt_queue:
            item: str | Fault = self.stt_queue.popleft()
        elif self.stt_default is not None:
            item = self.stt_default
        else:
            return _error_response(500, "no scripted transcript left")
        if isinstance(item, Fault):
            if item.kind == "hang":
                await asyncio.sleep(3600)
            return _error_response(item.status, item.message, item.retry_after)
        return web.json_response({"text": item}, headers={"x-request-id": "req_stt"})

    # -- speech -------------------------------------------------------------------------

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        if self.tts_queue:
            item: bytes | Fault = self.tts_queue.popleft()
        elif self.tts_default is not None:
            item = self.tts_default(body)
        else:
            return _error_response(500, "no scripted audio left")
        pcm = b""
        if isinstance(item, Fault):
            if item.kind == "hang":
                await asyncio.sleep(3600)
            if item.kind == "status":
                return _error_response(item.status, item.message, item.retry_after)
        else:
            pcm = item
        resp = web.StreamResponse(
            headers={"Content-Type": "application/octet-stream", "x-request-id": "req_tts"}
        )
        await resp.prepare(request)
        step = 4800  # 100 ms of 24 kHz 16-bit mono per chunk
        if isinstance(item, Fault) and item.kind == "drop":
            await resp.write(b"\x01\x00" * 2400)
            await asyncio.sleep(0.01)
            assert request.transport is not None
            request.transport.close()
            return resp
        for i in range(0, len(pcm), step):
            await resp.write(pcm[i : i + step])
        await resp.write_eof()
        return resp


def _wants_usage(body: dict[str, Any]) -> bool:
    opts = body.get("stream_options") or {}
    return bool(opts.get("include_usage"))


def _error_response(status: int, message: str, retry_after: str | None = None) -> web.Response:
    headers = {"x-request-id": "req_err"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    kind = (
        "rate_limit_exceeded"
        if status == 429
        else "server_error"
        if status >= 500
        else "invalid_request_error"
    )
    return web.json_response(
        {"error": {"message": message, "type": kind, "param": None, "code": None}},
        status=status,
        headers=headers,
    )


def _chunk(
    model: str, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": choices,
        "usage": usage,
    }


def _chat_frames(reply: ChatReply, *, model: str, include_usage: bool) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = [
        _chunk(
            model,
            [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        )
    ]
    for piece in reply.text:
        frames.append(
            _chunk(model, [{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
        )
    starts: list[dict[str, Any]] = []
    rests: list[list[dict[str, Any]]] = []
    for i, call in enumerate(reply.tool_calls):
        half = len(call.arguments) // 2
        starts.append(
            {
                "index": i,
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
        )
        rests.append(
            [
                {"index": i, "function": {"arguments": call.arguments[:half]}},
                {"index": i, "function": {"arguments": call.arguments[half:]}},
            ]
        )
    if reply.interleave_tool_calls:
        order = [*starts, *[d for pair in zip(*rests, strict=True) for d in pair]]
    else:
        order = [d for s, r in zip(starts, rests, strict=True) for d in (s, *r)]
    for delta in order:
        frames.append(
            _chunk(model, [{"index": 0, "delta": {"tool_calls": [delta]}, "finish_reason": None}])
        )
    finish = "tool_calls" if reply.tool_calls else "stop"
    frames.append(_chunk(model, [{"index": 0, "delta": {}, "finish_reason": finish}]))
    if include_usage:
        frames.append(
            _chunk(
                model,
                [],
                {
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                    "prompt_tokens_details": {
                        "cached_tokens": reply.cached_tokens,
                        "audio_tokens": 0,
                    },
                    "completion_tokens_details": {"reasoning_tokens": 0},
                },
            )
        )
    return frames


class ServerThread:
    """Runs a fake server on its own event loop in a daemon thread.

    Used by the conformance suites, which check that no task of the code under test is left
    running: the server's own tasks then live on another loop.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-server", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
