"""A local fake of the ElevenLabs API (127.0.0.1 only, served from its own thread).

- ``GET /v1/text-to-speech/{voice}/multi-stream-input``: the multi-context input-streaming
  websocket. Text of a context accumulates until ``flush``/``close_context``; then espeak-ng
  speaks it and the server answers with base64 PCM chunks (0.1 s) carrying per-character
  ``alignment`` relative to each chunk, and ``{"isFinal": true, "contextId"}`` once the context
  is closed.
- ``POST /v1/text-to-speech/{voice}/stream``: raw PCM for ``output_format=pcm_<rate>``.
- ``POST /v1/speech-to-text``: Scribe; finds speech by energy in the uploaded WAV and answers
  the script texts with word timings.

Faults are queued per route ("tts", "stt") and consumed by the next connection or request.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import wave
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import vx_el_speech as speech
from aiohttp import WSMsgType, web

API_KEY = "el-test-key"


@dataclass
class Fault:
    """``kind``: "status", "drop" (after ``chunks`` chunks), "hang", "malformed", "error"."""

    kind: str
    status: int = 500
    chunks: int = 0


@dataclass
class Connection:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    messages: list[Any] = field(default_factory=list)
    closed_by_server: bool = False


async def tts_audio(text: str, rate: int) -> bytes:
    pcm = await asyncio.to_thread(speech.espeak_pcm, text)
    return speech.resample(pcm, speech.ESPEAK_RATE, rate)


class FakeElevenLabs:
    def __init__(self, script: list[str] | None = None) -> None:
        self.script = list(script or [])
        self.faults: dict[str, deque[Fault]] = {"tts": deque(), "stt": deque()}
        self.connections: list[Connection] = []
        self.rest_requests: list[Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread
        self._ready = threading.Event()
        self._stopping = asyncio.Event()
        self.port = 0

    def fail_next(self, route: str, fault: Fault, times: int = 1) -> None:
        for _ in range(times):
            self.faults[route].append(fault)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="fake-elevenlabs", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._ready.wait, 10)
        if not self.port:
            raise RuntimeError("the fake ElevenLabs server did not start")

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/text-to-speech/{voice}/multi-stream-input", self._tts_ws)
        app.router.add_post("/v1/text-to-speech/{voice}/stream", self._tts_rest)
        app.router.add_post("/v1/speech-to-text", self._stt)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    async def stop(self) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 10)

    def _check(self, request: web.Request, route: str) -> tuple[Fault | None, web.Response | None]:
        if request.headers.get("xi-api-key") != API_KEY:
            return None, web.json_response(
                {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}},
                status=401,
            )
        fault = self.faults[route].popleft() if self.faults[route] else None
        if fault is not None and fault.kind == "status":
            return None, web.json_response(
                {"detail": {"status": "injected", "message": f"injected {fault.status}"}},
                status=fault.status,
            )
        return fault, None

    def _record(self, request: web.Request, rest: bool) -> Connection:
        conn = Connection(
            path=request.path, query=dict(request.query), headers=dict(request.headers)
        )
        (self.rest_requests if rest else self.connections).append(conn)
        return conn

    async def _tts_ws(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "tts")
        if refusal is not None:
            return refusal
        conn = self._record(request, rest=False)
        rate = int(request.query.get("output_format", "pcm_24000").split("_")[1])
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if fault is not None and fault.kind == "malformed":
            await ws.send_str("]]] not json")
            await ws.send_str(json.dumps({"audio": "%%%", "contextId": "nobody"}))
        texts: dict[str, str] = {}
        chunks_sent = 0
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            conn.messages.append(data)
            if data.get("close_socket"):
                await ws.close()
                break
            ctx = data.get("context_id", "default")
            if "text" in data:
                texts[ctx] = texts.get(ctx, "") + data["text"]
            if fault is not None and fault.kind == "hang":
                continue
            if fault is not None and fault.kind == "error" and data.get("flush"):
                await ws.send_str(
                    json.dumps(
                        {"message": "injected failure", "error": "quota_exceeded", "code": 429}
                    )
                )
                continue
            if data.get("flush") and texts.get(ctx, "").strip():
                text = texts.pop(ctx).strip()
                pcm = await tts_audio(text, rate)
                step = rate // 10 * 2
                n = len(pcm) // 2
                # spread the characters evenly over the audio
                char_t = [i * (n / rate) / len(text) for i in range(len(text))]
                char_d = (n / rate) / len(text)
                for i in range(0, len(pcm), step):
                    if fault is not None and fault.kind == "drop" and chunks_sent >= fault.chunks:
                        conn.closed_by_server = True
                        await ws.close(code=1011)
                        return ws
                    t0, t1 = i / 2 / rate, (i + step) / 2 / rate
                    idx = [k for k, t in enumerate(char_t) if t0 <= t < t1]
                    alignment = {
                        "chars": [text[k] for k in idx],
                        "charStartTimesMs": [round((char_t[k] - t0) * 1000) for k in idx],
                        "charDurationsMs": [round(char_d * 1000) for _ in idx],
                    }
                    await ws.send_str(
                        json.dumps(
                            {
                                "audio": base64.b64encode(pcm[i : i + step]).decode(),
                                "isFinal": None,
                                "alignment": alignment,
                                "normalizedAlignment": alignment,
                                "contextId": ctx,
                            }
                        )
                    )
                    chunks_sent += 1
            if data.get("close_context"):
                await ws.send_str(json.dumps({"isFinal": True, "contextId": ctx}))
        return ws

    async def _tts_rest(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "tts")
        conn = self._record(request, rest=True)
        if refusal is not None:
            return refusal
        if fault is not None and fault.kind == "hang":
            await self._stopping.wait()
        body = await request.json()
        conn.messages.append(body)
        rate = int(request.query.get("output_format", "mp3_44100_128").split("_")[1])
        pcm = await tts_audio(body["text"], rate)
        resp = web.StreamResponse(headers={"Content-Type": "audio/pcm", "request-id": "el-rq"})
        await resp.prepare(request)
        for i in range(0, len(pcm), rate // 10 * 2):
            await resp.write(pcm[i : i + rate // 10 * 2])
        await resp.write_eof()
        return resp

    async def _stt(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "stt")
        conn = self._record(request, rest=True)
        if refusal is not None:
            return refusal
        if fault is not None and fault.kind == "hang":
            await self._stopping.wait()
        form = await request.post()
        conn.messages.append({k: v for k, v in form.items() if isinstance(v, str)})
        if fault is not None and fault.kind == "malformed":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        upload = form["file"]
        with wave.open(io.BytesIO(upload.file.read()), "rb") as w:  # type: ignore[union-attr]
            rate = w.getframerate()
            pcm = w.readframes(w.getnframes())
        words: list[dict[str, Any]] = []
        for i, (start, end) in enumerate(speech.segments(pcm, rate)):
            text = self.script[i] if i < len(self.script) else ""
            parts = text.split()
            step = (end - start) / max(1, len(parts))
            for k, word in enumerate(parts):
                if words:
                    words.append({"text": " ", "start": start, "end": start, "type": "spacing"})
                words.append(
                    {
                        "text": word,
                        "start": round(start + k * step, 3),
                        "end": round(start + (k + 1) * step, 3),
                        "type": "word",
                        "speaker_id": "speaker_0",
                    }
                )
        return web.json_response(
            {
                "language_code": form.get("language_code", "eng"),
                "language_probability": 0.98,
                "text": "".join(w["text"] for w in words),
                "words": words,
            }
        )
