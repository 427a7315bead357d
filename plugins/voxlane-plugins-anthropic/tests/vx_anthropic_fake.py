"""A local fake of the Anthropic Messages API (SSE streaming) for the plugin tests.

Streams the documented event sequence: ``message_start``, per block ``content_block_start`` /
``content_block_delta`` (``text_delta`` or ``input_json_delta``) / ``content_block_stop``,
``ping`` events, ``message_delta`` (stop reason, output tokens) and ``message_stop``. Faults:
HTTP status with an error body (and ``retry-after``), hang, dropped connection, malformed frame,
truncated stream and an ``error`` event inside a 200 stream. Imported as a top-level module.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class ToolUseSpec:
    name: str
    input_json: str
    tool_id: str


@dataclass
class MessageReply:
    text: list[str] = field(default_factory=list)
    tool_uses: list[ToolUseSpec] = field(default_factory=list)
    input_tokens: int = 20
    output_tokens: int = 9
    cache_creation: int = 0
    cache_read: int = 0


@dataclass
class Fault:
    """``status`` | ``hang`` | ``drop`` | ``malformed`` | ``truncate`` | ``error_event``.

    ``after`` counts SSE events sent before the fault (for drop/malformed/truncate/error_event).
    """

    kind: str
    status: int = 500
    error_type: str = "api_error"
    retry_after: str | None = None
    after: int = 0
    reply: MessageReply | None = None
    message: str = "injected failure"


@dataclass
class Recorded:
    headers: dict[str, str]
    body: Any


_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}


class FakeAnthropic:
    def __init__(self) -> None:
        self.queue: deque[MessageReply | Fault] = deque()
        self.requests: list[Recorded] = []
        # the answer used when the queue is empty (None: answer 500)
        self.default: Callable[[dict[str, Any]], MessageReply] | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.app = web.Application()
        self.app.router.add_post("/v1/messages", self._messages)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(dict(request.headers), body))
        if self.queue:
            item: MessageReply | Fault = self.queue.popleft()
        elif self.default is not None:
            item = self.default(body)
        else:
            return _error(500, "api_error", "no scripted reply left")
        if isinstance(item, Fault):
            if item.kind == "status":
                etype = _ERROR_TYPES.get(item.status, "api_error")
                if item.status == 529:
                    etype = "overloaded_error"
                return _error(item.status, etype, item.message, item.retry_after)
            if item.kind == "hang":
                await asyncio.sleep(3600)
        reply = item if isinstance(item, MessageReply) else (item.reply or MessageReply())
        events = _events(reply, body.get("model", ""))
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "request-id": "req_fake_anthropic"}
        )
        await resp.prepare(request)
        limit = item.after if isinstance(item, Fault) else len(events)
        for name, data in events[:limit]:
            await resp.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        if isinstance(item, Fault):
            if item.kind == "drop":
                await asyncio.sleep(0.01)
                assert request.transport is not None
                request.transport.close()
                return resp
            if item.kind == "malformed":
                await resp.write(b'event: content_block_delta\ndata: {"type": "content_bl\n\n')
            elif item.kind == "error_event":
                err = {"type": "error", "error": {"type": item.error_type, "message": item.message}}
                await resp.write(f"event: error\ndata: {json.dumps(err)}\n\n".encode())
            await resp.write_eof()
            return resp
        await resp.write_eof()
        return resp


def _error(status: int, etype: str, message: str, retry_after: str | None = None) -> web.Response:
    headers = {"request-id": "req_err_anthropic"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return web.json_response(
        {"type": "error", "error": {"type": etype, "message": message}},
        status=status,
        headers=headers,
    )


def _events(reply: MessageReply, model: str) -> list[tuple[str, dict[str, Any]]]:
    ev: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake01",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": reply.input_tokens,
                        "output_tokens": 1,
                        "cache_creation_input_tokens": reply.cache_creation,
                        "cache_read_input_tokens": reply.cache_read,
                    },
                },
            },
        )
    ]
    index = 0
    if reply.text:
        ev.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
        ev.append(("ping", {"type": "ping"}))
        for piece in reply.text:
            ev.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
            )
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    for tool in reply.tool_uses:
        ev.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": tool.tool_id,
                        "name": tool.name,
                        "input": {},
                    },
                },
            )
        )
        third = max(len(tool.input_json) // 3, 1)
        pieces = [tool.input_json[i : i + third] for i in range(0, len(tool.input_json), third)]
        for piece in ["", *pieces]:
            ev.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
            )
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    ev.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": "tool_use" if reply.tool_uses else "end_turn",
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": reply.output_tokens},
            },
        )
    )
    ev.append(("message_stop", {"type": "message_stop"}))
    return ev


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
