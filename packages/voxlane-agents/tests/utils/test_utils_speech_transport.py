"""speech_transport: PCM over HTTP into an emitter, the websocket duplex, JSON frames."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web

from voxlane.agents._exceptions import APIConnectionError, APIStatusError, APITimeoutError
from voxlane.agents.tts import AudioEmitter
from voxlane.agents.utils.provider import ProviderAPI, WebSocket
from voxlane.agents.utils.speech_transport import (
    decode_b64_audio,
    receive_frame,
    run_duplex,
    stream_pcm_response,
)

API = ProviderAPI(
    name="Acme",
    api_key_env="ACME_API_KEY",
    default_base_url="https://acme.test",
    key_help_url="https://acme.test/keys",
    request_id_header="x-req",
)
PCM = bytes(range(256)) * 40  # 10240 bytes


class _Recorder:
    """Records what stream_pcm_response does with its emitter."""

    def __init__(self) -> None:
        self.init: dict[str, Any] = {}
        self.data = bytearray()
        self.flushed = False

    def initialize(self, **kwargs: Any) -> None:
        self.init = kwargs

    def push(self, data: bytes) -> None:
        self.data += data

    def flush(self) -> None:
        self.flushed = True


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def speak(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("fail"):
            return web.json_response({"message": "quota"}, status=429)
        resp = web.StreamResponse(headers={"x-req": "r-1"})
        await resp.prepare(request)
        for i in range(0, len(PCM), 1001):  # chunks that split samples
            await resp.write(PCM[i : i + 1001])
        await resp.write_eof()
        return resp

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        mode = request.query.get("mode", "")
        if mode == "policy":
            await ws.close(code=1008, message=b"bad voice")
            return ws
        if mode == "close":
            await ws.close(code=1011)
            return ws
        await ws.send_str("{not json")
        await ws.send_bytes(b"\x00")
        await ws.send_str('{"type": "chunk"}')
        if mode != "then-silent":
            await ws.close()
            return ws
        await ws.receive()  # waits for the client to go
        return ws

    app = web.Application()
    app.router.add_post("/speak", speak)
    app.router.add_get("/ws", ws_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_stream_pcm_response_pushes_all_audio(server: str) -> None:
    rec = _Recorder()
    async with aiohttp.ClientSession() as session:
        await stream_pcm_response(
            API,
            session,
            f"{server}/speak",
            emitter=cast(AudioEmitter, rec),
            json_body={"text": "hi"},
            headers={},
            timeout=5.0,
            what="TTS",
            provider_rate=16000,
            sample_rate=16000,
            request_id_prefix="ac_",
        )
    assert bytes(rec.data) == PCM and rec.flushed
    assert rec.init == {
        "request_id": "r-1",
        "sample_rate": 16000,
        "num_channels": 1,
        "mime_type": "audio/pcm",
    }


async def test_stream_pcm_response_maps_http_errors(server: str) -> None:
    rec = _Recorder()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(APIStatusError) as info:
            await stream_pcm_response(
                API,
                session,
                f"{server}/speak",
                emitter=cast(AudioEmitter, rec),
                json_body={"fail": True},
                headers={},
                timeout=5.0,
                what="TTS",
                provider_rate=24000,
                sample_rate=16000,
                request_id_prefix="ac_",
            )
    assert (
        info.value.status_code == 429
        and info.value.message == "Acme TTS failed with HTTP 429: quota"
    )
    assert not rec.flushed and not rec.data


async def test_run_duplex_waits_for_both_and_raises_sender_errors() -> None:
    order: list[str] = []

    async def send_ok() -> None:
        order.append("sent")

    async def receive() -> None:
        await asyncio.sleep(0)
        order.append("received")

    await run_duplex(send_ok, receive, name="t-send")
    assert sorted(order) == ["received", "sent"]

    async def send_fails() -> None:
        raise ConnectionResetError("socket gone")

    with pytest.raises(ConnectionResetError):
        await run_duplex(send_fails, receive, name="t-send")


async def test_run_duplex_cancels_the_sender_when_receiving_fails() -> None:
    cancelled = asyncio.Event()

    async def send_forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def receive_fails() -> None:
        await asyncio.sleep(0)
        raise APIConnectionError("closed")

    with pytest.raises(APIConnectionError):
        await run_duplex(send_forever, receive_fails, name="t-send")
    assert cancelled.is_set()


async def test_receive_frame_skips_junk_and_reports_closes(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("test.speech_transport")
    async with aiohttp.ClientSession() as session:
        ws: WebSocket = await session.ws_connect(f"{server}/ws")
        with caplog.at_level(logging.WARNING):
            assert await receive_frame(ws, 5.0, provider="Acme", what="TTS", logger=log) is None
        assert any("acme: ignoring a malformed TTS message" in r.message for r in caplog.records)
        assert await receive_frame(ws, 5.0, provider="Acme", what="TTS", logger=log) == b"\x00"
        assert await receive_frame(ws, 5.0, provider="Acme", what="TTS", logger=log) == {
            "type": "chunk"
        }
        with pytest.raises(APIConnectionError, match="Acme closed the TTS websocket"):
            await receive_frame(ws, 5.0, provider="Acme", what="TTS", logger=log)

        policy: WebSocket = await session.ws_connect(f"{server}/ws?mode=policy")
        with pytest.raises(APIStatusError, match="policy violation") as info:
            await receive_frame(
                policy,
                5.0,
                provider="Acme",
                what="TTS",
                logger=log,
                policy_violation_is_status=True,
            )
        assert info.value.status_code == 400 and not info.value.retryable

        silent: WebSocket = await session.ws_connect(f"{server}/ws?mode=then-silent")
        for _ in range(3):
            await receive_frame(silent, 5.0, provider="Acme", what="TTS", logger=log)
        with pytest.raises(APITimeoutError, match=r"Acme TTS: no answer for 0\.05 s"):
            await receive_frame(silent, 0.05, provider="Acme", what="TTS", logger=log)
        await silent.close()


def test_decode_b64_audio_skips_bad_chunks(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.speech_transport")
    assert decode_b64_audio("AAEC", provider="Acme", logger=log) == b"\x00\x01\x02"
    assert decode_b64_audio(None, provider="Acme", logger=log) == b""
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        assert decode_b64_audio("@@not base64@@", provider="Acme", logger=log) == b""
    assert any(
        "acme: ignoring a chunk with invalid base64 audio" in r.message for r in caplog.records
    )
