"""A local fake of the OpenAI Realtime API websocket (GA event names) for the plugin tests.

It keeps a conversation, merges ``session.update`` configs, and simulates server VAD on the
appended PCM16 audio (energy above a threshold is speech; 300 ms of quiet ends the turn, then
the turn is committed, transcribed from a scripted transcript and answered when
``create_response`` is set). Responses are scripted: text/transcript deltas, 24 kHz audio
deltas paced by ``chunk_delay`` (so they can be cancelled), and function calls. Imported as a
top-level module by the tests.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

SAMPLE_RATE = 24000


@dataclass
class ScriptedResponse:
    text: str = ""
    audio_ms: int = 0
    function_calls: list[tuple[str, str, str]] = field(default_factory=list)  # name, args, call_id
    chunk_delay: float = 0.0
    ignore: bool = False  # never answer this response.create
    reject: str | None = None  # answer response.create with an error event carrying this code


@dataclass
class _Conn:
    ws: web.WebSocketResponse
    request: web.Request
    speaking: bool = False
    quiet_ms: float = 0.0
    response_task: asyncio.Task[None] | None = None
    cancel: asyncio.Event = field(default_factory=asyncio.Event)


class FakeRealtimeServer:
    def __init__(self) -> None:
        self.responses: deque[ScriptedResponse] = deque()
        self.transcripts: deque[str] = deque()
        self.received: list[dict[str, Any]] = []
        self.handshakes: list[dict[str, str]] = []
        self.session: dict[str, Any] = {}
        self.items: list[dict[str, Any]] = []
        self.reject_status: int | None = None
        self._conn: _Conn | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._counter = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.app = web.Application()
        self.app.router.add_get("/v1/realtime", self._handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._conn is not None and self._conn.response_task is not None:
            self._conn.response_task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- test helpers ---------------------------------------------------------------------

    def of_type(self, etype: str) -> list[dict[str, Any]]:
        return [e for e in self.received if e.get("type") == etype]

    async def wait_for(
        self, etype: str, count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        async def _cond() -> list[dict[str, Any]]:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.of_type(etype)) >= count)
            return self.of_type(etype)

        return await asyncio.wait_for(_cond(), timeout)

    async def drop(self) -> None:
        """Cut the current connection without a close handshake."""
        conn = self._conn
        assert conn is not None and conn.request.transport is not None
        if conn.response_task is not None:
            conn.response_task.cancel()
        conn.request.transport.close()

    async def send_raw(self, text: str) -> None:
        """Send a text frame as-is on the current connection."""
        assert self._conn is not None
        await self._conn.ws.send_str(text)

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter:04d}"

    # -- websocket ------------------------------------------------------------------------

    async def _handler(self, request: web.Request) -> web.StreamResponse:
        self.handshakes.append(
            {
                "auth": request.headers.get("Authorization", ""),
                "model": request.query.get("model", ""),
            }
        )
        if self.reject_status is not None:
            return web.json_response({"error": {"message": "rejected"}}, status=self.reject_status)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = _Conn(ws=ws, request=request)
        self._conn = conn
        await self._send(
            conn,
            {"type": "session.created", "session": {"type": "realtime", "id": self._id("sess")}},
        )
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            event = json.loads(msg.data)
            async with self._changed:
                self.received.append(event)
                self._changed.notify_all()
            await self._on_event(conn, event)
        return ws

    async def _send(self, conn: _Conn, event: dict[str, Any]) -> None:
        event.setdefault("event_id", self._id("event"))
        if not conn.ws.closed:
            await conn.ws.send_str(json.dumps(event))

    async def _on_event(self, conn: _Conn, ev: dict[str, Any]) -> None:
        etype = ev.get("type")
        if etype == "session.update":
            for key, value in ev["session"].items():
                if isinstance(value, dict) and isinstance(self.session.get(key), dict):
                    self.session[key] = {**self.session[key], **value}
                else:
                    self.session[key] = value
            await self._send(conn, {"type": "session.updated", "session": self.session})
        elif etype == "input_audio_buffer.append":
            await self._vad(conn, base64.b64decode(ev["audio"]))
        elif etype == "input_audio_buffer.commit":
            await self._commit(conn)
        elif etype == "input_audio_buffer.clear":
            await self._send(conn, {"type": "input_audio_buffer.cleared"})
        elif etype == "conversation.item.create":
            item = dict(ev["item"])
            item.setdefault("id", self._id("item"))
            await self._add_item(conn, item)
        elif etype == "conversation.item.delete":
            self.items = [i for i in self.items if i["id"] != ev["item_id"]]
            await self._send(conn, {"type": "conversation.item.deleted", "item_id": ev["item_id"]})
        elif etype == "conversation.item.truncate":
            await self._send(
                conn,
                {
                    "type": "conversation.item.truncated",
                    "item_id": ev["item_id"],
                    "content_index": ev["content_index"],
                    "audio_end_ms": ev["audio_end_ms"],
                },
            )
        elif etype == "response.create":
            self._start_response(conn, ev.get("response") or {}, ev.get("event_id"))
        elif etype == "response.cancel":
            if conn.response_task is None or conn.response_task.done():
                await self._send(
                    conn,
                    {
                        "type": "error",
                        "error": {
                            "type": "invalid_request_error",
                            "code": "response_cancel_not_active",
                            "message": "Cancellation failed: no active response found",
                            "event_id": ev.get("event_id"),
                        },
                    },
                )
            else:
                conn.cancel.set()

    async def _add_item(self, conn: _Conn, item: dict[str, Any]) -> None:
        previous = self.items[-1]["id"] if self.items else None
        self.items.append(item)
        await self._send(
            conn, {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        await self._send(
            conn, {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
        )

    async def _vad(self, conn: _Conn, pcm: bytes) -> None:
        td = self.session.get("audio", {}).get("input", {}).get("turn_detection")
        if not td:
            return
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
        rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
        ms = 1000.0 * len(samples) / SAMPLE_RATE
        if rms > 500:
            conn.quiet_ms = 0.0
            if not conn.speaking:
                conn.speaking = True
                await self._send(
                    conn,
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": 0,
                        "item_id": "pending",
                    },
                )
                if (
                    td.get("interrupt_response")
                    and conn.response_task is not None
                    and not conn.response_task.done()
                ):
                    conn.cancel.set()
        elif conn.speaking:
            conn.quiet_ms += ms
            if conn.quiet_ms >= 300:
                conn.speaking = False
                await self._send(
                    conn,
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": 0,
                        "item_id": "pending",
                    },
                )
                await self._commit(conn)
                if td.get("create_response"):
                    self._start_response(conn, {}, None)

    async def _commit(self, conn: _Conn) -> None:
        item_id = self._id("item")
        previous = self.items[-1]["id"] if self.items else None
        await self._send(
            conn,
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            },
        )
        item = {
            "id": item_id,
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self._add_item(conn, item)
        if self.session.get("audio", {}).get("input", {}).get("transcription") and self.transcripts:
            text = self.transcripts.popleft()
            half = len(text) // 2
            for piece in (text[:half], text[half:]):
                await self._send(
                    conn,
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": item_id,
                        "content_index": 0,
                        "delta": piece,
                    },
                )
            item["content"][0]["transcript"] = text
            await self._send(
                conn,
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": text,
                },
            )

    def _start_response(self, conn: _Conn, params: dict[str, Any], event_id: Any) -> None:
        script = (
            self.responses.popleft() if self.responses else ScriptedResponse(text="(no script)")
        )
        if script.ignore:
            return
        if script.reject is not None:
            err = {
                "type": "invalid_request_error",
                "code": script.reject,
                "message": "rejected",
                "event_id": event_id,
            }
            self._background.add(
                asyncio.create_task(self._send(conn, {"type": "error", "error": err}))
            )
            return
        conn.cancel = asyncio.Event()
        conn.response_task = asyncio.create_task(self._play(conn, script, params))

    async def _play(self, conn: _Conn, script: ScriptedResponse, params: dict[str, Any]) -> None:
        rid = self._id("resp")
        metadata = params.get("metadata")
        audio_out = "audio" in (self.session.get("output_modalities") or ["audio"])
        await self._send(
            conn,
            {
                "type": "response.created",
                "response": {
                    "id": rid,
                    "object": "realtime.response",
                    "status": "in_progress",
                    "output": [],
                    "metadata": metadata,
                },
            },
        )
        output: list[dict[str, Any]] = []
        status = "completed"
        base = {"response_id": rid}
        if script.text or script.audio_ms:
            item_id = self._id("item")
            item: dict[str, Any] = {
                "id": item_id,
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            await self._send(
                conn,
                {"type": "response.output_item.added", **base, "output_index": 0, "item": item},
            )
            await self._add_item(conn, item)
            part_type = "audio" if audio_out else "text"
            where = {**base, "item_id": item_id, "output_index": 0, "content_index": 0}
            await self._send(
                conn,
                {
                    "type": "response.content_part.added",
                    **where,
                    "part": {"type": part_type, "transcript": ""},
                },
            )
            words = script.text.split(" ") if script.text else []
            n_chunks = max(script.audio_ms // 100, 1) if audio_out else len(words)
            sent_words = 0
            for i in range(n_chunks):
                if conn.cancel.is_set():
                    status = "cancelled"
                    break
                if audio_out and script.audio_ms:
                    t = np.arange(2400) / SAMPLE_RATE
                    pcm = (np.sin(2 * np.pi * 440 * t) * 5000).astype(np.int16).tobytes()
                    await self._send(
                        conn,
                        {
                            "type": "response.output_audio.delta",
                            **where,
                            "delta": base64.b64encode(pcm).decode(),
                        },
                    )
                target = round(len(words) * (i + 1) / n_chunks)
                while sent_words < target:
                    piece = words[sent_words] if sent_words == 0 else " " + words[sent_words]
                    dtype = (
                        "response.output_audio_transcript.delta"
                        if audio_out
                        else "response.output_text.delta"
                    )
                    await self._send(conn, {"type": dtype, **where, "delta": piece})
                    sent_words += 1
                if script.chunk_delay:
                    await asyncio.sleep(script.chunk_delay)
            spoken = " ".join(words[:sent_words])
            item["status"] = "completed" if status == "completed" else "incomplete"
            item["content"] = [{"type": part_type, "transcript" if audio_out else "text": spoken}]
            await self._send(
                conn, {"type": "response.output_item.done", **base, "output_index": 0, "item": item}
            )
            output.append(item)
        if status == "completed":
            for name, args, call_id in script.function_calls:
                fc = {
                    "id": self._id("item"),
                    "object": "realtime.item",
                    "type": "function_call",
                    "status": "in_progress",
                    "call_id": call_id,
                    "name": name,
                    "arguments": "",
                }
                await self._send(
                    conn,
                    {
                        "type": "response.output_item.added",
                        **base,
                        "output_index": len(output),
                        "item": fc,
                    },
                )
                await self._send(
                    conn,
                    {
                        "type": "response.function_call_arguments.delta",
                        **base,
                        "item_id": fc["id"],
                        "call_id": call_id,
                        "delta": args,
                    },
                )
                await self._send(
                    conn,
                    {
                        "type": "response.function_call_arguments.done",
                        **base,
                        "item_id": fc["id"],
                        "call_id": call_id,
                        "arguments": args,
                    },
                )
                fc = {**fc, "status": "completed", "arguments": args}
                self.items.append(fc)
                await self._send(
                    conn,
                    {
                        "type": "response.output_item.done",
                        **base,
                        "output_index": len(output),
                        "item": fc,
                    },
                )
                output.append(fc)
        await self._send(
            conn,
            {
                "type": "response.done",
                "response": {
                    "id": rid,
                    "object": "realtime.response",
                    "status": status,
                    "output": output,
                    "metadata": metadata,
                    "usage": {"total_tokens": 30, "input_tokens": 20, "output_tokens": 10},
                },
            },
        )
