"""One live conversation over the OpenAI Realtime API websocket (aiohttp)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import aiohttp
import numpy as np
from livekit import rtc

from voxlane.agents import llm
from voxlane.agents._exceptions import APIConnectionError, APIError, APIStatusError
from voxlane.agents.llm import ChatContext, ChatMessage, FunctionCall
from voxlane.agents.llm.realtime import Modality
from voxlane.agents.llm.tool_context import Tool, ToolChoice, ToolContext
from voxlane.agents.metrics import RealtimeModelMetrics
from voxlane.agents.metrics.base import Metadata
from voxlane.agents.types import NOT_GIVEN, NotGivenOr, is_given
from voxlane.agents.utils import aio
from voxlane.agents.utils.audio import AudioByteStream
from voxlane.agents.utils.misc import shortuuid

from ..log import logger
from . import _items
from .realtime_model import (
    DEFAULT_TURN_DETECTION,
    NUM_CHANNELS,
    SAMPLE_RATE,
    RealtimeModel,
    RealtimeOptions,
)

if TYPE_CHECKING:
    _WS = aiohttp.ClientWebSocketResponse[bool]

_CHUNK_SAMPLES = SAMPLE_RATE // 20  # 50 ms of input audio per input_audio_buffer.append
# state updates a reconnect's full session.update + conversation replay already carry
_SUPERSEDED_BY_RECONNECT = frozenset(
    {"session.update", "conversation.item.create", "conversation.item.delete"}
)


class _ConnectionLost(Exception):
    pass


@dataclass
class _MessageGen:
    message_id: str
    text_ch: aio.Chan[str] = field(default_factory=aio.Chan)
    audio_ch: aio.Chan[rtc.AudioFrame] = field(default_factory=aio.Chan)
    modalities: asyncio.Future[list[Modality]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    text: list[str] = field(default_factory=list)

    def close(self, default_modalities: list[Modality]) -> None:
        self.text_ch.close()
        self.audio_ch.close()
        if not self.modalities.done():
            self.modalities.set_result(default_modalities)


@dataclass
class _Generation:
    response_id: str
    message_ch: aio.Chan[llm.MessageGeneration] = field(default_factory=aio.Chan)
    function_ch: aio.Chan[FunctionCall] = field(default_factory=aio.Chan)
    messages: dict[str, _MessageGen] = field(default_factory=dict)
    started_at: float = field(default_factory=time.perf_counter)
    first_output_at: float | None = None

    def close(self, default_modalities: list[Modality]) -> None:
        for msg in self.messages.values():
            msg.close(default_modalities)
        self.message_ch.close()
        self.function_ch.close()


class RealtimeSession(llm.RealtimeSession):
    """A Realtime API conversation: push audio in, receive generations and events."""

    def __init__(self, realtime_model: RealtimeModel) -> None:
        super().__init__(realtime_model)
        self._model = realtime_model
        self._opts: RealtimeOptions = copy.copy(realtime_model.options)
        self._instructions: str | None = None
        self._tools = ToolContext.empty()
        self._remote_ctx = ChatContext.empty()
        self._send_ch: aio.Chan[dict[str, Any]] = aio.Chan()
        self._bstream = AudioByteStream(SAMPLE_RATE, NUM_CHANNELS, _CHUNK_SAMPLES)
        self._resampler: rtc.AudioResampler | None = None
        self._resampler_rate = 0
        self._pending_replies: dict[str, asyncio.Future[llm.GenerationCreatedEvent]] = {}
        self._reply_event_ids: dict[str, str] = {}
        self._gen: _Generation | None = None
        self._truncated: dict[str, str] = {}
        self._ws: _WS | None = None
        self._closing = False
        self._connected = asyncio.Event()
        self._main_atask = asyncio.create_task(self._main_task(), name="openai.RealtimeSession")

    # -- state ------------------------------------------------------------------------------

    @property
    def chat_ctx(self) -> ChatContext:
        """A copy of the conversation as the server knows it."""
        return self._remote_ctx.copy()

    @property
    def tools(self) -> ToolContext:
        return self._tools.copy()

    async def wait_connected(self) -> None:
        """Wait until the websocket is open and configured."""
        await self._connected.wait()

    # -- configuration ----------------------------------------------------------------------

    def _session_config(self) -> dict[str, Any]:
        o = self._opts
        audio_in: dict[str, Any] = {
            "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
            "turn_detection": o.turn_detection,
            "transcription": o.input_audio_transcription,
        }
        if o.input_audio_noise_reduction is not None:
            audio_in["noise_reduction"] = o.input_audio_noise_reduction
        audio_out: dict[str, Any] = {
            "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
            "voice": o.voice,
        }
        if o.speed is not None:
            audio_out["speed"] = o.speed
        session: dict[str, Any] = {
            "type": "realtime",
            "output_modalities": ["audio"] if "audio" in o.modalities else ["text"],
            "audio": {"input": audio_in, "output": audio_out},
            "tools": self._tools.parse_function_tools("openai.responses"),
        }
        if o.tool_choice is not None:
            session["tool_choice"] = _realtime_tool_choice(o.tool_choice)
        if o.max_output_tokens is not None:
            session["max_output_tokens"] = o.max_output_tokens
        if self._instructions is not None:
            session["instructions"] = self._instructions
        return session

    def _send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", shortuuid("evt_"))
        if self._closing:
            return
        self._send_ch.send_nowait(event)

    async def update_instructions(self, instructions: str) -> None:
        self._instructions = instructions
        self._send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "instructions": instructions},
            }
        )

    async def update_tools(self, tools: list[Tool]) -> None:
        self._tools = ToolContext(tools)
        self._send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "tools": self._tools.parse_function_tools("openai.responses"),
                },
            }
        )

    def update_options(self, *, tool_choice: NotGivenOr[ToolChoice | None] = NOT_GIVEN) -> None:
        if is_given(tool_choice):
            self._opts.tool_choice = tool_choice
            self._send(
                {
                    "type": "session.update",
                    "session": {
                        "type": "realtime",
                        "tool_choice": _realtime_tool_choice(tool_choice or "auto"),
                    },
                }
            )

    def update_turn_detection(self, *, enabled: bool) -> bool:
        """Switch the server's turn detection: off sends ``turn_detection: null`` (the client
        then commits turns with ``commit_audio()`` + ``generate_reply()``); on restores the
        model's ``turn_detection`` config, or the default ``server_vad`` one when the model was
        built without. The choice survives reconnections. Always applied (returns True)."""
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
        if enabled:
            config = self._model.options.turn_detection or DEFAULT_TURN_DETECTION
            self._opts.turn_detection = copy.deepcopy(config)
        else:
            self._opts.turn_detection = None
        # the whole input-audio block, so that no server merges it with a stale one
        audio_in = self._session_config()["audio"]["input"]
        self._send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": audio_in}},
            }
        )
        return True

    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        """Delete server items missing from ``chat_ctx`` and create the new ones, in order.

        Instructions are not synced here (use :meth:`update_instructions`).
        """
        wanted = [it for it in chat_ctx.items if _items.to_realtime_item(it) is not None]
        wanted_ids = {it.id for it in wanted}
        for item in list(self._remote_ctx.items):
            if item.id not in wanted_ids:
                self._send({"type": "conversation.item.delete", "item_id": item.id})
                self._remote_ctx.remove(item)
        previous: str | None = None
        for item in wanted:
            if self._remote_ctx.get_by_id(item.id) is None:
                payload = _items.to_realtime_item(item)
                assert payload is not None
                event: dict[str, Any] = {"type": "conversation.item.create", "item": payload}
                event["previous_item_id"] = previous if previous is not None else "root"
                self._send(event)
                _items.upsert(self._remote_ctx, item, previous_item_id=previous)
            previous = item.id

    # -- audio ------------------------------------------------------------------------------

    def push_audio(self, frame: rtc.AudioFrame) -> None:
        """Send user audio (any rate/channels; converted to 24 kHz mono PCM16)."""
        for f in self._to_model_format(frame):
            for chunk in self._bstream.push(f.data):
                self._send_audio(bytes(chunk.data))

    def _send_audio(self, pcm: bytes) -> None:
        self._send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode("ascii")}
        )

    def _to_model_format(self, frame: rtc.AudioFrame) -> list[rtc.AudioFrame]:
        if frame.num_channels != 1:
            samples = np.frombuffer(bytes(frame.data), dtype=np.int16).reshape(
                -1, frame.num_channels
            )
            mono = samples.mean(axis=1).astype(np.int16)
            frame = rtc.AudioFrame(
                data=mono.tobytes(),
                sample_rate=frame.sample_rate,
                num_channels=1,
                samples_per_channel=len(mono),
            )
        if frame.sample_rate == SAMPLE_RATE:
            return [frame]
        if self._resampler is None or self._resampler_rate != frame.sample_rate:
            self._resampler = rtc.AudioResampler(
                input_rate=frame.sample_rate, output_rate=SAMPLE_RATE, num_channels=1
            )
            self._resampler_rate = frame.sample_rate
        return list(self._resampler.push(frame))

    def commit_audio(self) -> None:
        for chunk in self._bstream.flush():
            self._send_audio(bytes(chunk.data))
        self._send({"type": "input_audio_buffer.commit"})

    def clear_audio(self) -> None:
        self._bstream.flush()
        self._send({"type": "input_audio_buffer.clear"})

    # -- responses --------------------------------------------------------------------------

    def generate_reply(
        self,
        *,
        instructions: NotGivenOr[str] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        tools: NotGivenOr[list[Tool]] = NOT_GIVEN,
    ) -> asyncio.Future[llm.GenerationCreatedEvent]:
        """Ask for a response; the future resolves on ``response.created``."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[llm.GenerationCreatedEvent] = loop.create_future()
        request_id = shortuuid("reply_")
        event_id = shortuuid("evt_")
        response: dict[str, Any] = {"metadata": {"client_event_id": request_id}}
        if is_given(instructions):
            response["instructions"] = instructions
        if is_given(tool_choice):
            response["tool_choice"] = _realtime_tool_choice(cast(ToolChoice, tool_choice))
        if is_given(tools):
            response["tools"] = ToolContext(tools).parse_function_tools("openai.responses")
        self._pending_replies[request_id] = fut
        self._reply_event_ids[event_id] = request_id
        self._send({"type": "response.create", "event_id": event_id, "response": response})

        def _expire() -> None:
            self._pending_replies.pop(request_id, None)
            if not fut.done():
                fut.set_exception(
                    llm.RealtimeError(
                        f"generate_reply: no response.created within "
                        f"{self._opts.generate_reply_timeout} s"
                    )
                )

        handle = loop.call_later(self._opts.generate_reply_timeout, _expire)
        fut.add_done_callback(lambda _: handle.cancel())
        return fut

    def interrupt(self) -> None:
        """Cancel the response being generated (no-op when idle)."""
        if self._gen is not None:
            self._send({"type": "response.cancel"})

    def truncate(
        self,
        *,
        message_id: str,
        modalities: list[Modality],
        audio_end_ms: int,
        audio_transcript: NotGivenOr[str] = NOT_GIVEN,
    ) -> None:
        """Cut an assistant audio message at ``audio_end_ms`` (what the user heard)."""
        if "audio" in modalities:
            self._send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": message_id,
                    "content_index": 0,
                    "audio_end_ms": max(int(audio_end_ms), 0),
                }
            )
        if is_given(audio_transcript):
            self._truncated[message_id] = audio_transcript
            item = self._remote_ctx.get_by_id(message_id)
            if isinstance(item, ChatMessage):
                item.content = [audio_transcript] if audio_transcript else []
                item.interrupted = True

    async def aclose(self) -> None:
        if self._closing:
            await aio.cancel_and_wait(self._main_atask)
            return
        self._closing = True
        self._send_ch.close()
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(Exception):
                await self._ws.close()
        await aio.cancel_and_wait(self._main_atask)
        self._finish_generation()
        for fut in self._pending_replies.values():
            if not fut.done():
                fut.set_exception(llm.RealtimeError("the realtime session was closed"))
        self._pending_replies.clear()
        self._model._forget(self)

    # -- connection -------------------------------------------------------------------------

    async def _connect(self) -> _WS:
        url = f"{self._opts.ws_url}?model={self._opts.model}"
        headers = {"Authorization": f"Bearer {self._opts.api_key}"}
        session = self._model._ensure_http_session()

        async def _open() -> _WS:
            return await session.ws_connect(url, headers=headers, heartbeat=None, max_msg_size=0)

        try:
            return await asyncio.wait_for(_open(), timeout=self._opts.conn_options.timeout)
        except aiohttp.WSServerHandshakeError as e:
            raise APIStatusError(
                f"OpenAI Realtime: websocket handshake refused with HTTP {e.status}: {e.message}",
                status_code=e.status,
            ) from e
        except asyncio.TimeoutError as e:
            raise APIConnectionError("OpenAI Realtime: timed out opening the websocket") from e
        except aiohttp.ClientError as e:
            raise APIConnectionError(f"OpenAI Realtime: cannot connect ({e})") from e

    async def _main_task(self) -> None:
        attempt = 0
        connected_once = False
        max_retry = self._opts.conn_options.max_retry
        while not self._closing:
            try:
                ws = await self._connect()
            except APIError as e:
                if not e.retryable or attempt >= max_retry:
                    self._emit_error(e, recoverable=False)
                    logger.error("OpenAI Realtime: giving up connecting: %s", e)
                    self.emit("close", e)
                    return
                self._emit_error(e, recoverable=True)
                await asyncio.sleep(self._opts.conn_options._interval_for_retry(attempt))
                attempt += 1
                continue
            attempt = 0
            self._ws = ws
            try:
                await ws.send_str(
                    json.dumps({"type": "session.update", "session": self._session_config()})
                )
                if connected_once:
                    self._drop_superseded_events()
                    await self._replay_conversation(ws)
                self._connected.set()
                if connected_once:
                    self.emit("session_reconnected", llm.RealtimeSessionReconnectedEvent())
                connected_once = True
                await self._run_ws(ws)
                return
            except (_ConnectionLost, aiohttp.ClientError, ConnectionError) as e:
                self._connected.clear()
                self._finish_generation()
                if self._closing:
                    return
                logger.warning("OpenAI Realtime: connection lost (%s), reconnecting", e)
                self._emit_error(
                    APIConnectionError(f"OpenAI Realtime: connection lost ({e})"), recoverable=True
                )
            finally:
                if not ws.closed:
                    with contextlib.suppress(Exception):
                        await ws.close()

    def _drop_superseded_events(self) -> None:
        """Forget the state updates queued while the connection was down (or not yet sent when
        it broke): the new connection's session.update and replay already carry that state, and
        sending them again would create an item twice or delete one the new server never had.
        Audio, commits, responses, cancels and truncations stay queued, in order."""
        if self._send_ch.closed:
            return  # closing: nothing more is sent
        kept: list[dict[str, Any]] = []
        while True:
            try:
                event = self._send_ch.recv_nowait()
            except (aio.ChanEmpty, aio.ChanClosed):
                break
            if event.get("type") not in _SUPERSEDED_BY_RECONNECT:
                kept.append(event)
        for event in kept:
            self._send_ch.send_nowait(event)

    async def _replay_conversation(self, ws: _WS) -> None:
        previous = "root"
        for item in self._remote_ctx.items:
            payload = _items.to_realtime_item(item)
            if payload is None:
                continue
            event = {
                "type": "conversation.item.create",
                "event_id": shortuuid("evt_"),
                "previous_item_id": previous,
                "item": payload,
            }
            await ws.send_str(json.dumps(event))
            previous = item.id

    async def _run_ws(self, ws: _WS) -> None:
        async def send_loop() -> None:
            async for event in self._send_ch:
                await ws.send_str(json.dumps(event))

        async def recv_loop() -> None:
            while True:
                msg = await ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    try:
                        event = json.loads(msg.data)
                    except ValueError:
                        logger.warning(
                            "OpenAI Realtime: ignoring a malformed server event: %.200s", msg.data
                        )
                        continue
                    if isinstance(event, dict):
                        self._handle_event(event)
                elif msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                ):
                    if self._closing:
                        return
                    raise _ConnectionLost(f"websocket closed by the server (code {ws.close_code})")
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    if self._closing:
                        return
                    raise _ConnectionLost(f"websocket error: {ws.exception()}")

        send_task = asyncio.create_task(send_loop(), name="openai.realtime.send")
        recv_task = asyncio.create_task(recv_loop(), name="openai.realtime.recv")
        try:
            done, _ = await asyncio.wait(
                [send_task, recv_task], return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                task.result()
        finally:
            await aio.cancel_and_wait(send_task, recv_task)

    # -- server events ----------------------------------------------------------------------

    def _handle_event(self, event: dict[str, Any]) -> None:
        etype = event.get("type")
        handler = _HANDLERS.get(str(etype))
        if handler is not None:
            handler(self, event)

    def _on_error(self, event: dict[str, Any]) -> None:
        err = event.get("error") or {}
        message = str(err.get("message") or "unknown error")
        code = err.get("code")
        error = llm.RealtimeError(f"OpenAI Realtime error ({code or err.get('type')}): {message}")
        request_id = self._reply_event_ids.pop(str(err.get("event_id") or ""), None)
        if request_id is not None:
            fut = self._pending_replies.pop(request_id, None)
            if fut is not None and not fut.done():
                fut.set_exception(error)
        if code == "response_cancel_not_active":
            return  # interrupt() raced with the end of the response
        logger.warning("%s", error)
        self._emit_error(error, recoverable=True)

    def _on_speech_started(self, _event: dict[str, Any]) -> None:
        self.emit("input_speech_started", llm.InputSpeechStartedEvent())

    def _on_speech_stopped(self, _event: dict[str, Any]) -> None:
        self.emit(
            "input_speech_stopped",
            llm.InputSpeechStoppedEvent(
                user_transcription_enabled=self._opts.input_audio_transcription is not None
            ),
        )

    def _on_item_added(self, event: dict[str, Any]) -> None:
        data = event.get("item") or {}
        item = _items.from_realtime_item(data)
        if item is None:
            return
        existing = self._remote_ctx.get_by_id(item.id)
        if existing is not None:
            return  # created by us (update_chat_ctx / replay): keep our richer copy
        _items.upsert(self._remote_ctx, item, previous_item_id=event.get("previous_item_id"))
        self.emit(
            "remote_item_added", {"item": item, "previous_item_id": event.get("previous_item_id")}
        )

    def _on_item_deleted(self, event: dict[str, Any]) -> None:
        item_id = str(event.get("item_id") or "")
        if self._remote_ctx.get_by_id(item_id) is not None:
            self._remote_ctx.remove(item_id)

    def _on_transcription_delta(self, event: dict[str, Any]) -> None:
        item_id = str(event.get("item_id") or "")
        delta = str(event.get("delta") or "")
        if not delta:
            return
        self.emit(
            "input_audio_transcription_completed",
            llm.InputTranscriptionCompleted(item_id=item_id, transcript=delta, is_final=False),
        )

    def _on_transcription_completed(self, event: dict[str, Any]) -> None:
        item_id = str(event.get("item_id") or "")
        transcript = str(event.get("transcript") or "")
        item = self._remote_ctx.get_by_id(item_id)
        if isinstance(item, ChatMessage):
            item.content = [transcript] if transcript else []
        self.emit(
            "input_audio_transcription_completed",
            llm.InputTranscriptionCompleted(item_id=item_id, transcript=transcript, is_final=True),
        )

    def _on_transcription_failed(self, event: dict[str, Any]) -> None:
        err = event.get("error") or {}
        self._emit_error(
            llm.RealtimeError(f"OpenAI Realtime: input transcription failed: {err.get('message')}"),
            recoverable=True,
        )

    def _on_response_created(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        response_id = str(response.get("id") or shortuuid("resp_"))
        self._finish_generation()
        gen = _Generation(response_id=response_id)
        self._gen = gen
        metadata = response.get("metadata") or {}
        request_id = metadata.get("client_event_id") if isinstance(metadata, dict) else None
        fut = self._pending_replies.pop(str(request_id), None) if request_id else None
        created = llm.GenerationCreatedEvent(
            message_stream=gen.message_ch,
            function_stream=gen.function_ch,
            user_initiated=fut is not None,
            response_id=response_id,
        )
        if fut is not None and not fut.done():
            fut.set_result(created)
        self.emit("generation_created", created)

    def _on_output_item_added(self, event: dict[str, Any]) -> None:
        gen = self._gen
        item = event.get("item") or {}
        if gen is None or item.get("type") != "message":
            return
        msg = _MessageGen(message_id=str(item.get("id") or shortuuid("item_")))
        gen.messages[msg.message_id] = msg
        gen.message_ch.send_nowait(
            llm.MessageGeneration(
                message_id=msg.message_id,
                text_stream=msg.text_ch,
                audio_stream=msg.audio_ch,
                modalities=msg.modalities,
            )
        )

    def _message(self, event: dict[str, Any]) -> _MessageGen | None:
        if self._gen is None:
            return None
        return self._gen.messages.get(str(event.get("item_id") or ""))

    def _on_content_part_added(self, event: dict[str, Any]) -> None:
        msg = self._message(event)
        part = event.get("part") or {}
        if msg is None or msg.modalities.done():
            return
        if part.get("type") in ("audio", "output_audio"):
            msg.modalities.set_result(["audio", "text"])
        elif part.get("type") in ("text", "output_text"):
            msg.modalities.set_result(["text"])

    def _on_text_delta(self, event: dict[str, Any]) -> None:
        msg = self._message(event)
        delta = event.get("delta")
        if msg is None or not isinstance(delta, str) or not delta:
            return
        self._mark_output()
        msg.text.append(delta)
        msg.text_ch.send_nowait(delta)

    def _on_audio_delta(self, event: dict[str, Any]) -> None:
        msg = self._message(event)
        delta = event.get("delta")
        if msg is None or not isinstance(delta, str) or not delta:
            return
        try:
            pcm = base64.b64decode(delta, validate=True)
        except ValueError:
            logger.warning("OpenAI Realtime: ignoring audio delta that is not base64")
            return
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        if not pcm:
            return
        self._mark_output()
        msg.audio_ch.send_nowait(
            rtc.AudioFrame(
                data=pcm,
                sample_rate=SAMPLE_RATE,
                num_channels=NUM_CHANNELS,
                samples_per_channel=len(pcm) // 2,
            )
        )

    def _mark_output(self) -> None:
        if self._gen is not None and self._gen.first_output_at is None:
            self._gen.first_output_at = time.perf_counter()

    def _on_output_item_done(self, event: dict[str, Any]) -> None:
        gen = self._gen
        data = event.get("item") or {}
        if gen is None:
            return
        item = _items.from_realtime_item(data)
        if isinstance(item, FunctionCall):
            self._mark_output()
            _items.upsert(self._remote_ctx, item, previous_item_id=None)
            gen.function_ch.send_nowait(item)
            return
        msg = gen.messages.get(str(data.get("id") or ""))
        if msg is not None:
            msg.close(self._default_modalities())
            truncated = self._truncated.pop(msg.message_id, None)
            text = truncated if truncated is not None else "".join(msg.text)
            _items.upsert(
                self._remote_ctx,
                ChatMessage(
                    id=msg.message_id,
                    role="assistant",
                    content=[text] if text else [],
                    interrupted=truncated is not None,
                ),
                previous_item_id=None,
            )

    def _on_response_done(self, event: dict[str, Any]) -> None:
        gen = self._gen
        response = event.get("response") or {}
        status = response.get("status")
        if status == "failed":
            details = response.get("status_details") or {}
            self._emit_error(
                llm.RealtimeError(
                    f"OpenAI Realtime: the response failed: {details.get('error') or details}"
                ),
                recoverable=True,
            )
        self._finish_generation()
        if gen is None:
            return
        usage = response.get("usage") or {}
        now = time.perf_counter()
        duration = now - gen.started_at
        output_tokens = int(usage.get("output_tokens") or 0)
        self.emit(
            "metrics_collected",
            RealtimeModelMetrics(
                label=self._model.label,
                request_id=gen.response_id,
                timestamp=time.time(),
                duration=duration,
                ttft=(gen.first_output_at - gen.started_at) if gen.first_output_at else -1.0,
                cancelled=status == "cancelled",
                input_tokens=int(usage.get("input_tokens") or 0),
                output_tokens=output_tokens,
                total_tokens=int(usage.get("total_tokens") or 0),
                tokens_per_second=output_tokens / duration if duration > 0 else 0.0,
                metadata=Metadata(model_name=self._opts.model, model_provider="openai"),
            ),
        )

    def _default_modalities(self) -> list[Modality]:
        return ["audio", "text"] if "audio" in self._opts.modalities else ["text"]

    def _finish_generation(self) -> None:
        if self._gen is not None:
            self._gen.close(self._default_modalities())
            self._gen = None

    def _emit_error(self, error: Exception, *, recoverable: bool) -> None:
        self.emit(
            "error",
            llm.RealtimeModelError(
                timestamp=time.time(), label=self._model.label, error=error, recoverable=recoverable
            ),
        )


def _realtime_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    if isinstance(choice, str):
        if choice not in ("auto", "required", "none"):
            raise ValueError(
                f"tool_choice must be 'auto', 'required', 'none' or a named function, "
                f"got {choice!r}"
            )
        return choice
    name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if not name:
        raise ValueError(f"a named tool_choice needs function.name, got {choice!r}")
    return {"type": "function", "name": name}


_TRANSCRIPTION = "conversation.item.input_audio_transcription."

_HANDLERS: dict[str, Any] = {
    "error": RealtimeSession._on_error,
    "input_audio_buffer.speech_started": RealtimeSession._on_speech_started,
    "input_audio_buffer.speech_stopped": RealtimeSession._on_speech_stopped,
    "conversation.item.added": RealtimeSession._on_item_added,
    "conversation.item.created": RealtimeSession._on_item_added,
    "conversation.item.deleted": RealtimeSession._on_item_deleted,
    _TRANSCRIPTION + "delta": RealtimeSession._on_transcription_delta,
    _TRANSCRIPTION + "completed": RealtimeSession._on_transcription_completed,
    _TRANSCRIPTION + "failed": RealtimeSession._on_transcription_failed,
    "response.created": RealtimeSession._on_response_created,
    "response.output_item.added": RealtimeSession._on_output_item_added,
    "response.content_part.added": RealtimeSession._on_content_part_added,
    "response.output_text.delta": RealtimeSession._on_text_delta,
    "response.text.delta": RealtimeSession._on_text_delta,
    "response.output_audio_transcript.delta": RealtimeSession._on_text_delta,
    "response.audio_transcript.delta": RealtimeSession._on_text_delta,
    "response.output_audio.delta": RealtimeSession._on_audio_delta,
    "response.audio.delta": RealtimeSession._on_audio_delta,
    "response.output_item.done": RealtimeSession._on_output_item_done,
    "response.done": RealtimeSession._on_response_done,
}

__all__ = ["RealtimeSession"]
