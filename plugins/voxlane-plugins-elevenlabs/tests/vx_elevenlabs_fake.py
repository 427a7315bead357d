"""A local fake of the ElevenLabs API (127.0.0.1 only, served from its own thread).

- ``GET /v1/text-to-speech/{voice}/multi-stream-input``: the multi-context input-streaming
  websocket. Text of a context accumulates until ``flush``/``close_context``; then espeak-ng
  speaks it and the server answers with base64 PCM chunks (0.1 s) carrying per-character
  ``alignment`` relative to each chunk, and ``{"isFinal": true, "contextId"}`` once the context
  is closed.
- ``POST /v1/text-to-speech/{voice}/stream``: raw PCM for ``output_format=pcm_<rate>``.
- ``POST /v1/speech-to-text``: Scribe; finds speech by energy in the uploaded WAV and answers
  the script texts with word timings.
- ``GET /v1/speech-to-text/realtime`` (websocket): realtime Scribe. It finds speech by energy in
  the ``input_audio_chunk`` audio, sends ``partial_transcript`` while an utterance goes on and,
  after 0.4 s of silence (its VAD) or on ``commit: true``, ``committed_transcript`` then
  ``committed_transcript_with_timestamps`` (word times from the connection's first sample). The
  words of the n-th committed utterance are ``script[n]``; the position only moves on a commit,
  so audio replayed after a reconnect gets the same words. A commit with no speech pending is
  answered with an empty committed transcript.

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
from voxlane.agents.testing.fake_server import FakeProviderServer, Recorded
from voxlane.agents.testing.fake_server import Fault as Fault  # tests use fake.Fault

API_KEY = "el-test-key"


Connection = Recorded


class FakeElevenLabs(FakeProviderServer):
    def __init__(self, script: list[str] | None = None) -> None:
        super().__init__(name="ElevenLabs", fault_routes=("tts", "stt"), base_path="/v1")
        self.script = list(script or [])
        self.script_pos = 0
        self.connections: list[Connection] = []
        self.rest_requests: list[Connection] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/text-to-speech/{voice}/multi-stream-input", self._tts_ws)
        app.router.add_post("/v1/text-to-speech/{voice}/stream", self._tts_rest)
        app.router.add_post("/v1/speech-to-text", self._stt)
        app.router.add_get("/v1/speech-to-text/realtime", self._stt_realtime)

    def _check(self, request: web.Request, route: str) -> tuple[Fault | None, web.Response | None]:
        return self.admit(
            request, route, authorized=request.headers.get("xi-api-key") == API_KEY, refuse=_refuse
        )

    def _record(self, request: web.Request, rest: bool) -> Recorded:
        conn = Recorded.of(request)
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
                pcm = await asyncio.to_thread(speech.spoken_pcm, text, rate)
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
            await self.stopping.wait()
        body = await request.json()
        conn.messages.append(body)
        rate = int(request.query.get("output_format", "mp3_44100_128").split("_")[1])
        pcm = await asyncio.to_thread(speech.spoken_pcm, body["text"], rate)
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
            await self.stopping.wait()
        form = await request.post()
        conn.messages.append({k: v for k, v in form.items() if isinstance(v, str)})
        if fault is not None and fault.kind == "malformed":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        upload = form["file"]
        with wave.open(io.BytesIO(upload.file.read()), "rb") as w:  # type: ignore[union-attr]
            rate = w.getframerate()
            pcm = w.readframes(w.getnframes())
        words: list[dict[str, Any]] = []
        for i, (start, end) in enumerate(speech.speech_spans(pcm, rate)):
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

    # -- realtime Scribe ------------------------------------------------------------------------

    async def _stt_realtime(self, request: web.Request) -> web.StreamResponse:
        fault, refusal = self._check(request, "stt")
        if refusal is not None:
            return refusal
        conn = self._record(request, rest=False)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        rate = int(request.query.get("audio_format", "pcm_16000").split("_")[1])
        live = _LiveScribe(self, ws, rate)
        await live.send({"message_type": "session_started", "session_id": f"sess-{id(conn)}"})
        if fault is not None and fault.kind == "malformed":
            await ws.send_str("{{ not json")
            await ws.send_str(json.dumps(["not", "an", "object"]))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            audio = base64.b64decode(data.get("audio_base_64") or "")
            conn.messages.append({k: v for k, v in data.items() if k != "audio_base_64"})
            conn.messages[-1]["audio_bytes"] = len(audio)
            if fault is not None and fault.kind == "hang":
                continue
            if fault is not None and fault.kind == "error":
                await live.send({"message_type": "rate_limited", "error": "injected rate limit"})
                continue
            await live.feed(audio)
            if fault is not None and fault.kind == "drop" and live.position >= fault.seconds:
                conn.closed_by_server = True
                await ws.close(code=1011)
                break
            if data.get("commit"):
                await live.commit()
        return ws


_UTTERANCE_GAP = 0.4
_PARTIAL_EVERY = 0.3


class _LiveScribe:
    """Energy-based utterances and Scribe-like messages for one realtime connection."""

    def __init__(self, server: FakeElevenLabs, ws: web.WebSocketResponse, rate: int) -> None:
        self.server = server
        self.ws = ws
        self.rate = rate
        self.buf = b""
        self.position = 0.0
        self.in_speech = False
        self.speech_start = 0.0
        self.last_loud = 0.0
        self.last_partial = 0.0
        self.words_done = 0

    async def send(self, payload: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(payload))

    def _script_words(self) -> list[str]:
        """The words of the current utterance not committed yet."""
        pos = self.server.script_pos
        text = self.server.script[pos] if pos < len(self.server.script) else ""
        return text.split()[self.words_done :]

    async def feed(self, data: bytes) -> None:
        self.buf += data
        step = int(self.rate * speech.ANALYSIS_WINDOW) * 2
        while len(self.buf) >= step:
            window, self.buf = self.buf[:step], self.buf[step:]
            x = np.frombuffer(window, dtype=np.int16).astype(np.float64)
            t = self.position
            self.position += speech.ANALYSIS_WINDOW
            if math.sqrt(float(np.mean(x**2))) > speech.LOUD_RMS:
                self.last_loud = self.position
                if not self.in_speech:
                    self.in_speech, self.speech_start, self.last_partial = True, t, t
            if not self.in_speech:
                continue
            if t - self.last_loud >= _UTTERANCE_GAP:
                await self._commit(self._script_words(), self.last_loud, done=True)
            elif t - self.last_partial >= _PARTIAL_EVERY:
                self.last_partial = t
                words = self._script_words()
                k = min(len(words), max(1, int((t - self.speech_start) / _PARTIAL_EVERY)))
                await self.send({"message_type": "partial_transcript", "text": " ".join(words[:k])})

    async def _commit(self, words: list[str], end: float, *, done: bool) -> None:
        """Commit ``words`` spread over ``speech_start..end``; ``done`` ends the utterance."""
        text = " ".join(words)
        step = (end - self.speech_start) / max(1, len(words))
        timed: list[dict[str, Any]] = []
        for i, word in enumerate(words):
            if timed:
                timed.append(
                    {
                        "text": " ",
                        "start": timed[-1]["end"],
                        "end": timed[-1]["end"],
                        "type": "spacing",
                    }
                )
            start = round(self.speech_start + i * step, 3)
            timed.append(
                {"text": word, "start": start, "end": round(start + step, 3), "type": "word"}
            )
        if done:
            self.in_speech = False
            self.words_done = 0
            self.server.script_pos += 1
        else:
            self.words_done += len(words)
            self.speech_start = end
        await self.send({"message_type": "committed_transcript", "text": text})
        await self.send(
            {"message_type": "committed_transcript_with_timestamps", "text": text, "words": timed}
        )

    async def commit(self) -> None:
        """A manual commit: the words spoken so far (the rest of the utterance continues)."""
        if not self.in_speech:
            await self._commit([], self.position, done=False)
            return
        left = self._script_words()
        k = min(len(left), max(1, int((self.position - self.speech_start) / _PARTIAL_EVERY)))
        if k >= len(left):
            await self._commit(left, self.last_loud, done=True)
        else:
            await self._commit(left[:k], self.position, done=False)


def _refuse(status: int, injected: bool) -> web.Response:
    if injected:
        detail = {"status": "injected", "message": f"injected {status}"}
    else:
        detail = {"status": "invalid_api_key", "message": "Invalid API key"}
    return web.json_response({"detail": detail}, status=status)
