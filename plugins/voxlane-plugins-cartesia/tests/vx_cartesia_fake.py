"""A local fake of the Cartesia API (127.0.0.1 only, served from its own thread).

- ``GET /tts/websocket``: the contexts API. Inputs on one ``context_id`` are concatenated until
  one arrives with ``continue: false``; then the context is spoken by espeak-ng and answered with
  ``timestamps`` (words spread over the audio), base64 ``chunk`` messages (0.1 s each) and
  ``done``.
- ``POST /tts/bytes``: the same audio as one raw PCM body.
- ``GET /stt/websocket``: finds speech by energy in the received PCM; interim ``transcript``
  messages while an utterance goes on, a final one after 0.4 s of silence, ``finalize`` ->
  final + ``flush_done``, ``close``/``done`` -> final + ``done`` and close. The n-th utterance
  says ``script[n]``; the position moves only when an utterance was finalized.
- ``POST /stt``: batch transcription of a multipart WAV upload.

Faults are queued per route ("tts", "stt") and consumed by the next connection or request.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import wave
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from voxlane.agents.testing import speech
from voxlane.agents.testing.fake_server import FakeProviderServer, Recorded, spread_words
from voxlane.agents.testing.fake_server import Fault as Fault  # tests use fake.Fault

API_KEY = "ct-test-key"
UTTERANCE_GAP = 0.4
INTERIM_EVERY = 0.3


Connection = Recorded


class FakeCartesia(FakeProviderServer):
    def __init__(self, script: list[str] | None = None) -> None:
        super().__init__(name="Cartesia", fault_routes=("tts", "stt"), base_path="")
        self.script = list(script or [])
        self.script_pos = 0
        self.connections: list[Connection] = []
        self.rest_requests: list[Connection] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/tts/websocket", self._tts_ws)
        app.router.add_post("/tts/bytes", self._tts_bytes)
        app.router.add_get("/stt/websocket", self._stt_ws)
        app.router.add_post("/stt", self._stt_batch)

    def _check(self, request: web.Request, route: str) -> tuple[Fault | None, web.Response | None]:
        return self.admit(
            request,
            route,
            authorized=(
                request.headers.get("X-API-Key") == API_KEY
                and bool(request.headers.get("Cartesia-Version"))
            ),
            refuse=_refuse,
        )

    def _record(self, request: web.Request, rest: bool) -> Recorded:
        conn = Recorded.of(request)
        (self.rest_requests if rest else self.connections).append(conn)
        return conn

    # -- TTS ------------------------------------------------------------------------------------

    async def _tts_ws(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "tts")
        if refusal is not None:
            return refusal
        conn = self._record(request, rest=False)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if fault is not None and fault.kind == "malformed":
            await ws.send_str("{{{ not json")
            await ws.send_str(json.dumps({"type": "chunk", "data": "@@@not-base64@@@"}))
        texts: dict[str, str] = {}
        chunks_sent = 0
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            conn.messages.append(data)
            ctx = data["context_id"]
            if data.get("cancel"):
                texts.pop(ctx, None)
                continue
            texts[ctx] = texts.get(ctx, "") + data.get("transcript", "")
            if data.get("continue"):
                continue
            if fault is not None and fault.kind == "hang":
                continue
            if fault is not None and fault.kind == "error":
                await ws.send_str(
                    json.dumps(
                        {
                            "type": "error",
                            "done": True,
                            "status_code": fault.status,
                            "error": "injected failure",
                            "context_id": ctx,
                        }
                    )
                )
                continue
            text = texts.pop(ctx)
            rate = int(data["output_format"]["sample_rate"])
            pcm = await asyncio.to_thread(speech.spoken_pcm, text, rate)
            duration = len(pcm) / 2 / rate
            if data.get("add_timestamps"):
                timed = spread_words(text.split(), 0.0, duration)
                await ws.send_str(
                    json.dumps(
                        {
                            "type": "timestamps",
                            "done": False,
                            "status_code": 206,
                            "context_id": ctx,
                            "word_timestamps": {
                                "words": [w["word"] for w in timed],
                                "start": [w["start"] for w in timed],
                                "end": [w["end"] for w in timed],
                            },
                        }
                    )
                )
            step = rate // 10 * 2
            for i in range(0, len(pcm), step):
                if fault is not None and fault.kind == "drop" and chunks_sent >= fault.chunks:
                    conn.closed_by_server = True
                    await ws.close(code=1011)
                    return ws
                await ws.send_str(
                    json.dumps(
                        {
                            "type": "chunk",
                            "data": base64.b64encode(pcm[i : i + step]).decode(),
                            "done": False,
                            "status_code": 206,
                            "step_time": 12.0,
                            "context_id": ctx,
                        }
                    )
                )
                chunks_sent += 1
            await ws.send_str(
                json.dumps({"type": "done", "done": True, "status_code": 206, "context_id": ctx})
            )
        return ws

    async def _tts_bytes(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "tts")
        conn = self._record(request, rest=True)
        if refusal is not None:
            return refusal
        if fault is not None and fault.kind == "hang":
            await self.stopping.wait()
        body = await request.json()
        conn.messages.append(body)
        rate = int(body["output_format"]["sample_rate"])
        pcm = await asyncio.to_thread(speech.spoken_pcm, body["transcript"], rate)
        resp = web.StreamResponse(headers={"Content-Type": "audio/pcm", "x-request-id": "ct-rq"})
        await resp.prepare(request)
        step = rate // 10 * 2
        for i in range(0, len(pcm), step):
            await resp.write(pcm[i : i + step])
        await resp.write_eof()
        return resp

    # -- STT ------------------------------------------------------------------------------------

    async def _stt_ws(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "stt")
        if refusal is not None:
            return refusal
        conn = self._record(request, rest=False)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if fault is not None and fault.kind == "malformed":
            await ws.send_str("garbage")
            await ws.send_str(json.dumps({"type": "transcript", "is_final": True}))
        live = _LiveSession(self, ws, int(request.query.get("sample_rate", "16000")))
        hang = fault is not None and fault.kind == "hang"
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                conn.audio_bytes += len(msg.data)
                if hang:
                    continue
                await live.feed(msg.data)
                if fault is not None and fault.kind == "drop" and live.position >= fault.seconds:
                    conn.closed_by_server = True
                    await ws.close(code=1011)
                    break
            elif msg.type == WSMsgType.TEXT:
                conn.messages.append(msg.data)
                if hang:
                    continue
                if msg.data == "finalize":
                    await live.finalize()
                    await live.send({"type": "flush_done", "request_id": "stt-req"})
                elif msg.data in ("close", "done"):
                    await live.finalize()
                    await live.send({"type": "done", "request_id": "stt-req"})
                    await ws.close()
                    break
        return ws

    async def _stt_batch(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "stt")
        conn = self._record(request, rest=True)
        if refusal is not None:
            return refusal
        if fault is not None and fault.kind == "hang":
            await self.stopping.wait()
        form = await request.post()
        conn.messages.append({k: v for k, v in form.items() if isinstance(v, str)})
        upload = form["file"]
        with wave.open(io.BytesIO(upload.file.read()), "rb") as w:  # type: ignore[union-attr]
            rate = w.getframerate()
            pcm = w.readframes(w.getnframes())
        words: list[dict[str, Any]] = []
        for i, (start, end) in enumerate(speech.speech_spans(pcm, rate, UTTERANCE_GAP)):
            text = self.script[i] if i < len(self.script) else ""
            words.extend(spread_words(text.split(), start, end))
        return web.json_response(
            {
                "text": " ".join(w["word"] for w in words),
                "language": form.get("language", "en"),
                "duration": len(pcm) / 2 / rate,
                "words": words,
            }
        )


class _LiveSession:
    def __init__(self, server: FakeCartesia, ws: Any, rate: int) -> None:
        self.server = server
        self.ws = ws
        self.rate = rate
        self.buf = b""
        self.position = 0.0
        self.in_speech = False
        self.speech_start = 0.0
        self.last_loud = 0.0
        self.last_interim = 0.0
        self.words_done = 0

    async def send(self, payload: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(payload))

    def _left(self) -> list[str]:
        pos = self.server.script_pos
        text = self.server.script[pos] if pos < len(self.server.script) else ""
        return text.split()[self.words_done :]

    async def _transcript(self, words: list[str], start: float, end: float, final: bool) -> None:
        timed = spread_words(words, start, end)
        await self.send(
            {
                "type": "transcript",
                "request_id": "stt-req",
                "is_final": final,
                "text": " ".join(words),
                "duration": round(self.position, 3),
                "language": "en",
                "words": timed,
            }
        )

    async def feed(self, data: bytes) -> None:
        self.buf += data
        step = int(self.rate * speech.ANALYSIS_WINDOW) * 2
        while len(self.buf) >= step:
            window, self.buf = self.buf[:step], self.buf[step:]
            x = np.frombuffer(window, dtype=np.int16).astype(np.float64)
            loud = math.sqrt(float(np.mean(x**2))) > speech.LOUD_RMS
            t = self.position
            if loud:
                self.last_loud = t + speech.ANALYSIS_WINDOW
                if not self.in_speech:
                    self.in_speech = True
                    self.speech_start = t
                    self.last_interim = t
            if self.in_speech:
                if t - self.last_loud >= UTTERANCE_GAP:
                    await self._final()
                elif t - self.last_interim >= INTERIM_EVERY:
                    self.last_interim = t
                    left = self._left()
                    k = min(len(left), max(1, int((t - self.speech_start) / INTERIM_EVERY)))
                    await self._transcript(left[:k], self.speech_start, t, final=False)
            self.position += speech.ANALYSIS_WINDOW

    async def _final(self) -> None:
        await self._transcript(self._left(), self.speech_start, self.last_loud, final=True)
        self.in_speech = False
        self.words_done = 0
        self.server.script_pos += 1

    async def finalize(self) -> None:
        if not self.in_speech:
            return
        left = self._left()
        k = min(len(left), max(1, int((self.position - self.speech_start) / INTERIM_EVERY)))
        if k >= len(left):
            await self._final()
            return
        await self._transcript(left[:k], self.speech_start, self.position, final=True)
        self.words_done += k
        self.speech_start = self.position


def _refuse(status: int, injected: bool) -> web.Response:
    message = f"injected {status}" if injected else "Invalid API key"
    return web.json_response({"error": message, "message": message}, status=status)
