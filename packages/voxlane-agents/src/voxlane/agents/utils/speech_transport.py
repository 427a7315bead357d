"""Transport loops hosted speech plugins repeat: PCM over HTTP, a websocket duplex, JSON frames.

- :func:`stream_pcm_response` pushes a streamed raw-PCM HTTP answer into a TTS ``AudioEmitter``
  (resampled to the output rate), mapping failures to the ``APIError`` family;
- :func:`run_duplex` sends on a websocket from one task while the caller receives, so a stream
  keeps reading audio while text is still being pushed;
- :func:`receive_frame` reads the next JSON object or binary frame (raw audio) from a
  websocket, with a timeout and the provider's name in every error, skipping (and logging)
  malformed frames;
- :func:`decode_b64_audio` decodes a base64 audio field, skipping (and logging) a bad one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from .._exceptions import APIConnectionError, APIStatusError, APITimeoutError
from .misc import shortuuid
from .pcm import PcmResampler
from .provider import ProviderAPI, WebSocket

if TYPE_CHECKING:
    from ..tts import AudioEmitter

__all__ = [
    "CLOSED_MESSAGE_TYPES",
    "WSFrame",
    "decode_b64_audio",
    "parse_json_object",
    "receive_frame",
    "run_duplex",
    "stream_pcm_response",
]

WSFrame = dict[str, Any] | bytes
"""A received websocket frame: a JSON object, or the bytes of a binary frame."""

CLOSED_MESSAGE_TYPES = (
    aiohttp.WSMsgType.CLOSE,
    aiohttp.WSMsgType.CLOSING,
    aiohttp.WSMsgType.CLOSED,
    aiohttp.WSMsgType.ERROR,
)
"""The websocket message types that mean the socket is closed (or failed)."""


async def stream_pcm_response(
    api: ProviderAPI,
    session: aiohttp.ClientSession,
    url: str,
    *,
    emitter: AudioEmitter,
    json_body: Mapping[str, Any],
    headers: Mapping[str, str],
    timeout: float,
    what: str,
    provider_rate: int,
    sample_rate: int,
    request_id_prefix: str,
    chunk_size: int = 4096,
) -> None:
    """POST ``json_body`` to ``url`` and push the raw 16-bit mono PCM answer into ``emitter``.

    The audio is resampled from ``provider_rate`` to ``sample_rate`` as it streams in; the
    emitter is initialized with the answer's request id (``api.request_id_header``) or a new
    ``request_id_prefix`` id, and flushed at the end. Connection and read stalls longer than
    ``timeout`` seconds, HTTP errors and transport failures raise ``APIError``s naming ``what``.
    """
    resampler = PcmResampler(provider_rate, sample_rate)
    try:
        async with session.post(
            url,
            json=dict(json_body),
            headers=dict(headers),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout),
        ) as resp:
            await api.raise_for_response(resp, what)
            request_id = None
            if api.request_id_header is not None:
                request_id = resp.headers.get(api.request_id_header)
            emitter.initialize(
                request_id=request_id or shortuuid(request_id_prefix),
                sample_rate=sample_rate,
                num_channels=1,
                mime_type="audio/pcm",
            )
            async for chunk in resp.content.iter_chunked(chunk_size):
                emitter.push(resampler.push(chunk))
            emitter.push(resampler.flush())
    except Exception as e:
        raise api.map_error(e, what, timeout) from e
    emitter.flush()


async def run_duplex(
    send: Callable[[], Coroutine[Any, Any, None]],
    receive: Callable[[], Awaitable[None]],
    *,
    name: str,
) -> None:
    """Run ``send()`` in a task named ``name`` while awaiting ``receive()``, then the sender.

    ``receive`` decides when the exchange is over; an error in either is raised, and the
    sender is always cancelled and awaited before this returns.
    """
    sender = asyncio.create_task(send(), name=name)
    try:
        await receive()
        await sender
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)


async def receive_frame(
    ws: WebSocket,
    timeout: float,
    *,
    provider: str,
    what: str,
    logger: logging.Logger,
    policy_violation_is_status: bool = False,
) -> WSFrame | None:
    """The next frame on a synthesis stream's ``ws``: a JSON object, or the bytes of a binary
    frame; ``None`` for any other frame and for malformed JSON (logged).

    Raises ``APITimeoutError`` when nothing arrives within ``timeout`` seconds and
    ``APIConnectionError`` when the socket closes; with ``policy_violation_is_status``, a close
    with code 1008 (the provider refused what it was sent) raises ``APIStatusError`` 400 instead,
    which is not retried.
    """
    try:
        msg = await asyncio.wait_for(ws.receive(), timeout)
    except asyncio.TimeoutError:
        raise APITimeoutError(f"{provider} {what}: no answer for {timeout} s") from None
    if msg.type in CLOSED_MESSAGE_TYPES:
        if policy_violation_is_status and ws.close_code == 1008:
            reason = msg.extra if isinstance(msg.extra, str) else ""
            raise APIStatusError(
                f"{provider} closed the {what} websocket (policy violation): {reason}",
                status_code=400,
            )
        raise APIConnectionError(
            f"{provider} closed the {what} websocket mid-synthesis (code {ws.close_code})"
        )
    if msg.type == aiohttp.WSMsgType.BINARY:
        return bytes(msg.data)
    if msg.type != aiohttp.WSMsgType.TEXT:
        return None
    return parse_json_object(msg.data, provider=provider, what=what, logger=logger)


def parse_json_object(
    text: str, *, provider: str, what: str, logger: logging.Logger
) -> dict[str, Any] | None:
    """``text`` as a JSON object; ``None`` (and a warning naming ``what``) when it is not one."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        logger.warning("%s: ignoring a malformed %s message: %.80r", provider.lower(), what, text)
        return None
    return data


def decode_b64_audio(data: object, *, provider: str, logger: logging.Logger) -> bytes:
    """The audio bytes of a base64 field; ``b""`` for a missing one, and for an invalid one
    (with a warning, so one bad chunk does not end a stream)."""
    if not isinstance(data, str) or not data:
        return b""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        logger.warning("%s: ignoring a chunk with invalid base64 audio", provider.lower())
        return b""
