"""A local fake of the Deepgram API (127.0.0.1 only) for the plugin tests.

- ``GET /v1/listen`` (websocket): live transcription. It finds speech in the received linear16
  audio by energy and answers like Deepgram: ``SpeechStarted``, interim ``Results`` while the
  utterance goes on, a final ``Results`` (``is_final``/``speech_final``) once 0.4 s of silence
  follows it, ``UtteranceEnd`` when ``utterance_end_ms`` is set, empty finals over silence,
  ``Finalize`` -> final ``from_finalize``, ``CloseStream`` -> last results, ``Metadata``, close.
  The words of the n-th utterance are the n-th entry of ``script`` (the texts the test spoke);
  the script position only moves when an utterance was finalized, so a reconnect that replays
  audio gets the same words again.
- ``POST /v1/listen``: pre-recorded transcription of a WAV body.
- ``GET /v1/speak`` (websocket) and ``POST /v1/speak``: Aura TTS, spoken by espeak-ng.

Faults are queued per route and consumed by the next connection/request: an HTTP status, a
socket dropped after some audio, a hang, malformed frames.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import wave
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from voxlane.agents.testing import speech
from voxlane.agents.testing.fake_server import FakeProviderServer
from voxlane.agents.testing.fake_server import Fault as Fault  # tests use fake.Fault

API_KEY = "dg-test-key"
UTTERANCE_GAP = 0.4
INTERIM_EVERY = 0.3
SILENCE_FINAL_EVERY = 1.0


@dataclass
class Connection:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    texts: list[dict[str, Any]] = field(default_factory=list)
    audio_bytes: int = 0
    closed_by_server: bool = False


class FakeDeepgram(FakeProviderServer):
    def __init__(self, script: list[str] | None = None) -> None:
        super().__init__(name="Deepgram", fault_routes=("listen", "speak"), base_path="/v1")
        self.script = list(script or [])
        self.script_pos = 0
        self.connections: list[Connection] = []
        self.rest_requests: list[Connection] = []
        self.idle_timeout: float | None = None

    # -- control ------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/listen", self._listen_ws)
        app.router.add_post("/v1/listen", self._listen_rest)
        app.router.add_get("/v1/speak", self._speak_ws)
        app.router.add_post("/v1/speak", self._speak_rest)

    # -- shared -------------------------------------------------------------------------------

    def _check(self, request: web.Request, route: str) -> tuple[Fault | None, web.Response | None]:
        return self.admit(
            request,
            route,
            authorized=request.headers.get("Authorization") == f"Token {API_KEY}",
            refuse=_refuse,
        )

    # -- live transcription ---------------------------------------------------------------------

    async def _listen_ws(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "listen")
        if refusal is not None:
            return refusal
        conn = Connection(
            path=request.path,
            query={k: request.query.getall(k) for k in request.query},
            headers=dict(request.headers),
        )
        self.connections.append(conn)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if fault is not None and fault.kind == "malformed":
            await ws.send_str("this is not json")
            await ws.send_str(json.dumps({"type": "Results", "is_final": True}))
            await ws.send_str(json.dumps(["not", "an", "object"]))
        session = _LiveSession(self, conn, ws, int(request.query.get("sample_rate", "16000")))
        session.utterance_end_ms = (
            int(request.query["utterance_end_ms"]) if "utterance_end_ms" in request.query else None
        )
        session.vad_events = request.query.get("vad_events") == "true"
        session.interim = request.query.get("interim_results") == "true"
        session.endpointing = request.query.get("endpointing") != "false"
        drop_after = fault.seconds if fault is not None and fault.kind == "drop" else None
        hang = fault is not None and fault.kind == "hang"
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), self.idle_timeout)
            except asyncio.TimeoutError:
                conn.closed_by_server = True
                await ws.close(code=1011, message=b"NET-0001: no audio received")
                break
            if msg.type == WSMsgType.BINARY:
                conn.audio_bytes += len(msg.data)
                if hang:
                    continue
                await session.feed(msg.data)
                if drop_after is not None and session.position >= drop_after:
                    conn.closed_by_server = True
                    await ws.close(code=1011, message=b"injected drop")
                    break
            elif msg.type == WSMsgType.TEXT:
                data = json.loads(msg.data)
                conn.texts.append(data)
                if hang:
                    continue
                kind = data.get("type")
                if kind == "Finalize":
                    await session.finalize()
                elif kind == "CloseStream":
                    await session.close_stream()
                    await ws.close()
                    break
            else:
                break
        return ws

    # -- pre-recorded ---------------------------------------------------------------------------

    async def _listen_rest(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "listen")
        conn = Connection(
            path=request.path,
            query={k: request.query.getall(k) for k in request.query},
            headers=dict(request.headers),
        )
        self.rest_requests.append(conn)
        if refusal is not None:
            return refusal
        if fault is not None and fault.kind == "hang":
            await self.stopping.wait()
        body = await request.read()
        with wave.open(io.BytesIO(body), "rb") as w:
            rate = w.getframerate()
            pcm = w.readframes(w.getnframes())
        if fault is not None and fault.kind == "malformed":
            return web.Response(text="{not json", content_type="application/json")
        spans = speech.speech_spans(pcm, rate, UTTERANCE_GAP)
        words: list[dict[str, Any]] = []
        for i, span in enumerate(spans):
            text = self.script[i] if i < len(self.script) else ""
            words.extend(_words(text.split(), span[0], span[1]))
        return web.json_response(
            {
                "metadata": {
                    "request_id": "req-rest",
                    "duration": len(pcm) / 2 / rate,
                    "channels": 1,
                },
                "results": {
                    "channels": [
                        {
                            "alternatives": [
                                {
                                    "transcript": " ".join(w["punctuated_word"] for w in words),
                                    "confidence": 0.97,
                                    "words": words,
                                }
                            ],
                            "detected_language": "en",
                        }
                    ]
                },
            }
        )

    # -- TTS ------------------------------------------------------------------------------------

    async def _speak_ws(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "speak")
        if refusal is not None:
            return refusal
        conn = Connection(
            path=request.path,
            query={k: request.query.getall(k) for k in request.query},
            headers=dict(request.headers),
        )
        self.connections.append(conn)
        rate = int(request.query.get("sample_rate", "24000"))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "Metadata", "request_id": f"spk-{id(conn)}"}))
        if fault is not None and fault.kind == "malformed":
            await ws.send_str("<<garbage>>")
        pending = ""
        sequence = 0
        chunks_sent = 0
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            conn.texts.append(data)
            kind = data.get("type")
            if kind == "Speak":
                pending += data.get("text", "")
            elif kind == "Flush":
                if fault is not None and fault.kind == "hang":
                    continue
                pcm = await asyncio.to_thread(speech.spoken_pcm, pending, rate)
                pending = ""
                for i in range(0, len(pcm), rate // 10 * 2):
                    if fault is not None and fault.kind == "drop" and chunks_sent >= fault.chunks:
                        conn.closed_by_server = True
                        await ws.close(code=1011)
                        return ws
                    await ws.send_bytes(pcm[i : i + rate // 10 * 2])
                    chunks_sent += 1
                await ws.send_str(json.dumps({"type": "Flushed", "sequence_id": sequence}))
                sequence += 1
            elif kind == "Close":
                await ws.close()
        return ws

    async def _speak_rest(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "speak")
        conn = Connection(
            path=request.path,
            query={k: request.query.getall(k) for k in request.query},
            headers=dict(request.headers),
        )
        self.rest_requests.append(conn)
        if refusal is not None:
            return refusal
        if fault is not None and fault.kind == "hang":
            await self.stopping.wait()
        body = await request.json()
        rate = int(request.query.get("sample_rate", "24000"))
        pcm = await asyncio.to_thread(speech.spoken_pcm, body["text"], rate)
        resp = web.StreamResponse(headers={"Content-Type": "audio/l16", "dg-request-id": "rq-1"})
        await resp.prepare(request)
        step = rate // 10 * 2
        for i in range(0, len(pcm), step):
            if fault is not None and fault.kind == "drop" and i // step >= fault.chunks:
                request.transport.close()  # type: ignore[union-attr]
                return resp
            await resp.write(pcm[i : i + step])
        await resp.write_eof()
        return resp


def _words(words: list[str], start: float, end: float) -> list[dict[str, Any]]:
    if not words:
        return []
    step = (end - start) / len(words)
    return [
        {
            "word": w.lower().strip(".,!?"),
            "punctuated_word": w,
            "start": round(start + i * step, 3),
            "end": round(start + (i + 1) * step, 3),
            "confidence": 0.95,
        }
        for i, w in enumerate(words)
    ]


class _LiveSession:
    """Speech detection and Deepgram-like results for one live connection."""

    def __init__(self, server: FakeDeepgram, conn: Connection, ws: Any, rate: int) -> None:
        self.server = server
        self.conn = conn
        self.ws = ws
        self.rate = rate
        self.buf = b""
        self.position = 0.0  # seconds of audio analysed on this connection
        self.in_speech = False
        self.speech_start = 0.0
        self.last_loud = 0.0
        self.final_end = 0.0  # end of the audio covered by the last final result
        self.last_interim = 0.0
        self.words_done = 0  # words of the current utterance already finalized
        self.utterance_end_ms: int | None = None
        self.utterance_end_pending = False
        self.vad_events = False
        self.interim = True
        self.endpointing = True

    def _words_left(self) -> list[str]:
        pos = self.server.script_pos
        text = self.server.script[pos] if pos < len(self.server.script) else ""
        return text.split()[self.words_done :]

    async def _send(self, payload: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(payload))

    async def _results(
        self,
        words: list[str],
        start: float,
        end: float,
        *,
        final: bool,
        speech_final: bool,
        from_finalize: bool = False,
    ) -> None:
        timed = _words(words, start, end)
        await self._send(
            {
                "type": "Results",
                "channel_index": [0, 1],
                "duration": round(end - start, 3),
                "start": round(start, 3),
                "is_final": final,
                "speech_final": speech_final,
                "from_finalize": from_finalize,
                "channel": {
                    "alternatives": [
                        {
                            "transcript": " ".join(w["punctuated_word"] for w in timed),
                            "confidence": 0.96 if words else 0.0,
                            "words": timed,
                        }
                    ]
                },
                "metadata": {"request_id": "live-req", "model_uuid": "fake"},
            }
        )

    async def feed(self, data: bytes) -> None:
        self.buf += data
        step = int(self.rate * speech.ANALYSIS_WINDOW) * 2
        while len(self.buf) >= step:
            window, self.buf = self.buf[:step], self.buf[step:]
            x = np.frombuffer(window, dtype=np.int16).astype(np.float64)
            loud = math.sqrt(float(np.mean(x**2))) > speech.LOUD_RMS
            await self._window(loud)
            self.position += speech.ANALYSIS_WINDOW

    async def _window(self, loud: bool) -> None:
        t = self.position
        if loud:
            self.last_loud = t + speech.ANALYSIS_WINDOW
            if not self.in_speech:
                self.in_speech = True
                self.speech_start = t
                self.last_interim = t
                self.utterance_end_pending = False
                if self.vad_events:
                    await self._send(
                        {"type": "SpeechStarted", "channel": [0, 1], "timestamp": round(t, 3)}
                    )
        if self.in_speech:
            if t - self.last_loud >= UTTERANCE_GAP:
                await self._end_utterance(speech_final=self.endpointing)
            elif self.interim and t - self.last_interim >= INTERIM_EVERY:
                self.last_interim = t
                left = self._words_left()
                k = min(len(left), max(1, int((t - self.speech_start) / INTERIM_EVERY)))
                await self._results(
                    left[:k],
                    max(self.final_end, self.speech_start),
                    t,
                    final=False,
                    speech_final=False,
                )
        else:
            end = t + speech.ANALYSIS_WINDOW
            if end - self.final_end >= SILENCE_FINAL_EVERY:
                await self._results([], self.final_end, end, final=True, speech_final=False)
                self.final_end = end
            if (
                self.utterance_end_pending
                and self.utterance_end_ms is not None
                and t - self.last_loud >= self.utterance_end_ms / 1000
            ):
                self.utterance_end_pending = False
                await self._send(
                    {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": self.last_loud}
                )

    async def _end_utterance(self, *, speech_final: bool, from_finalize: bool = False) -> None:
        start = max(self.final_end, self.speech_start)
        end = self.last_loud
        await self._results(
            self._words_left(),
            start,
            end,
            final=True,
            speech_final=speech_final,
            from_finalize=from_finalize,
        )
        self.final_end = end
        self.in_speech = False
        self.words_done = 0
        self.server.script_pos += 1
        self.utterance_end_pending = True

    async def finalize(self) -> None:
        if self.in_speech:
            left = self._words_left()
            k = min(len(left), max(1, int((self.position - self.speech_start) / INTERIM_EVERY)))
            if k >= len(left):
                await self._end_utterance(speech_final=False, from_finalize=True)
                return
            await self._results(
                left[:k],
                max(self.final_end, self.speech_start),
                self.position,
                final=True,
                speech_final=False,
                from_finalize=True,
            )
            self.words_done += k
            self.final_end = self.position
        elif self.position > self.final_end:
            await self._results(
                [],
                self.final_end,
                self.position,
                final=True,
                speech_final=False,
                from_finalize=True,
            )
            self.final_end = self.position

    async def close_stream(self) -> None:
        if self.in_speech:
            await self._end_utterance(speech_final=True)
        await self._send(
            {
                "type": "Metadata",
                "transaction_key": "deprecated",
                "request_id": "live-req",
                "duration": round(self.position, 3),
                "channels": 1,
            }
        )


def _refuse(status: int, injected: bool) -> web.Response:
    if not injected:
        body = {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."}
        return web.json_response(body, status=status)
    headers = {"Retry-After": "0"} if status == 429 else {}
    body = {"err_code": "INJECTED", "err_msg": f"injected {status}"}
    return web.json_response(body, status=status, headers=headers)
