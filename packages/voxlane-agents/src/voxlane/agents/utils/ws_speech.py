"""Base classes for hosted speech plugins that stream over a websocket.

Hosted TTS and STT providers (Deepgram, ElevenLabs, Cartesia, ...) stream over a websocket with
the same hard parts; they live here once, and a plugin only says what is provider-specific: the
endpoint, how text or audio is encoded, and what each server message means.

Text to speech (:class:`WebSocketTTS` and :class:`WebSocketSynthesizeStream`):

- websockets come from a :class:`~voxlane.agents.utils.ws_pool.WSPool` and are reused by the
  next stream when a stream ended cleanly;
- text is sent from one task while audio is received in another, one segment at a time: a
  plugin encodes the start, the text and the end of a segment, and decodes each received frame
  into a :class:`SegmentOutput` (resampled to the output rate, with word timings);
- frames of a later segment (multi-context APIs) are kept until that segment's turn;
- a silent socket is a stall (``APITimeoutError``) only once the segment's text has ended,
  since before that the text may still be on its way from a slow LLM;
- close codes, timeouts and transport failures become the ``APIError`` family.

Speech to text (:class:`WebSocketRecognizeStream`):

- 16-bit mono PCM is sent in fixed chunks; audio no final transcript covers yet is kept and sent
  again after a reconnect, so a dropped socket loses and repeats nothing, and times stay on the
  stream's clock (:attr:`WebSocketRecognizeStream._ws_origin`);
- usage events, START/END_OF_SPEECH bookkeeping, keepalive messages, reconnects on request
  (new options) and the end of the stream (the server's last answer) are handled here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import aiohttp
from livekit import rtc

from .. import stt, tts
from .._exceptions import APIConnectionError, APIError, APIStatusError, APITimeoutError
from ..types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from .audio import AudioByteStream
from .misc import shortuuid
from .pcm import PcmResampler, mono_pcm, pick_sample_rate
from .provider import ProviderClient, WebSocket
from .speech_transport import (
    CLOSED_MESSAGE_TYPES,
    WSFrame,
    parse_json_object,
    receive_frame,
    run_duplex,
)
from .speech_transport import stream_pcm_response as _stream_pcm_response
from .ws_pool import WSPool

__all__ = [
    "SegmentOutput",
    "WebSocketRecognizeStream",
    "WebSocketSynthesizeStream",
    "WebSocketTTS",
]

# -- text to speech ------------------------------------------------------------------------------


class WebSocketTTS(tts.TTS):
    """A hosted TTS that streams over a pooled websocket and answers REST requests with raw PCM.

    Subclasses implement :meth:`_ws_endpoint` (and ``synthesize`` / ``stream``), and may set:

    Attributes:
        _what: names the operation in errors (``"TTS"``, ``"speak"``).
        _request_prefix: prefix of the request ids made up for streams (``"ct_"``).

    Args:
        capabilities: the engine's capabilities.
        sample_rate: the output rate; audio at another provider rate is resampled to it.
        provider_rates: the rates the provider offers, increasing; the one asked for is chosen
            by :func:`~voxlane.agents.utils.pcm.pick_sample_rate`.
        client: the provider client (key, base URL, session).
    """

    _what: ClassVar[str] = "TTS"
    _request_prefix: ClassVar[str] = "tts_"

    def __init__(
        self,
        *,
        capabilities: tts.TTSCapabilities,
        sample_rate: int,
        provider_rates: Sequence[int],
        client: ProviderClient,
    ) -> None:
        super().__init__(capabilities=capabilities, sample_rate=sample_rate, num_channels=1)
        self._client = client
        self._provider_rate = pick_sample_rate(sample_rate, provider_rates)
        self._pool = WSPool(self._connect_ws)

    @property
    def pool(self) -> WSPool:
        """The websocket pool (reused connections)."""
        return self._pool

    @property
    def provider_rate(self) -> int:
        """The rate (Hz) audio is asked for from the provider."""
        return self._provider_rate

    @abstractmethod
    def _ws_endpoint(self) -> tuple[str, Mapping[str, Any] | None]:
        """The streaming websocket's path (below the base URL) and query parameters."""

    async def _connect_ws(self, timeout: float) -> WebSocket:
        path, params = self._ws_endpoint()
        return await self._client.open_websocket(
            path, params, timeout, f"{self._what} websocket connect"
        )

    async def _stream_pcm(
        self,
        emitter: tts.AudioEmitter,
        url: str,
        json_body: Mapping[str, Any],
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> None:
        """POST ``json_body`` to ``url`` and push the raw PCM answer into ``emitter``."""
        await _stream_pcm_response(
            self._client.api,
            self._client.session.get(),
            url,
            emitter=emitter,
            json_body=json_body,
            headers=self._client.headers(),
            timeout=conn_options.timeout,
            what=self._what,
            provider_rate=self._provider_rate,
            sample_rate=self.sample_rate,
            request_id_prefix=self._request_prefix,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
        await self._client.aclose()


class SegmentOutput:
    """One segment's audio on its way into the emitter: resampled, with word timings.

    The stream ends the segment (flushing the resampler) when :meth:`_handle` says it is done.
    """

    def __init__(
        self, emitter: tts.AudioEmitter, segment_id: str, provider_rate: int, sample_rate: int
    ) -> None:
        self.segment_id = segment_id
        self._emitter = emitter
        self._provider_rate = provider_rate
        self._resampler = PcmResampler(provider_rate, sample_rate)
        self.seconds = 0.0
        """Seconds of audio pushed into this segment so far."""

    def push_audio(self, pcm: bytes) -> None:
        """Push 16-bit mono PCM at the provider rate."""
        self._emitter.push(self._resampler.push(pcm))
        self.seconds += len(pcm) / 2 / self._provider_rate

    def push_words(self, words: Sequence[tts.TimedString]) -> None:
        """Attach timed words (times from the segment's start) to the audio."""
        if words:
            self._emitter.push_timed_transcript(list(words))

    def _finish(self) -> None:
        self._emitter.push(self._resampler.flush())
        self._emitter.end_segment()


@dataclass
class _Segment:
    segment_id: str
    # no more text will come (its end was sent, or the sender stopped): from then on a silent
    # socket is a stall; before, the text may still be on its way (a slow LLM)
    text_ended: bool = False
    backlog: deque[WSFrame] = field(default_factory=deque)


class WebSocketSynthesizeStream(tts.SynthesizeStream):
    """Streaming synthesis over a pooled websocket of a :class:`WebSocketTTS`, segment by segment.

    Subclasses implement :meth:`_send_text`, :meth:`_end_segment` and :meth:`_handle`, set
    :attr:`_logger`, and may override :meth:`_begin_segment`, :meth:`_segment_id_of` and
    :meth:`_segment_started`.

    Attributes:
        _logger: where malformed frames are reported.
        _segment_prefix: prefix of the segment ids (sent as context ids by multi-context APIs).
        _policy_violation_is_status: a close with code 1008 is a non-retryable 400.
    """

    _logger: ClassVar[logging.Logger]
    _segment_prefix: ClassVar[str] = "ctx_"
    _policy_violation_is_status: ClassVar[bool] = False

    def __init__(self, *, tts: WebSocketTTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._ws_tts = tts

    # -- for subclasses -----------------------------------------------------------------------

    async def _begin_segment(self, ws: WebSocket, segment_id: str) -> None:
        """Send what opens a segment, before its first text (nothing by default)."""

    @abstractmethod
    async def _send_text(self, ws: WebSocket, segment_id: str, text: str) -> None:
        """Send one piece of a segment's text."""

    @abstractmethod
    async def _end_segment(self, ws: WebSocket, segment_id: str) -> None:
        """Send what makes the provider speak the rest of the segment and finish it."""

    def _segment_id_of(self, frame: Mapping[str, Any]) -> str | None:
        """The segment a JSON frame belongs to (``None``: the current one)."""
        return None

    def _segment_started(self, out: SegmentOutput) -> None:
        """Called when the receiver starts on a segment (reset per-segment decoding state)."""

    @abstractmethod
    def _handle(self, frame: WSFrame, out: SegmentOutput) -> bool:
        """Apply one received frame of the current segment; True when the segment is done.

        Raise an ``APIError`` for an error the provider reported.
        """

    # -- the attempt --------------------------------------------------------------------------

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        owner = self._ws_tts
        output_emitter.initialize(
            request_id=shortuuid(owner._request_prefix),
            sample_rate=owner.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            stream=True,
        )
        timeout = self._conn_options.timeout
        segments: asyncio.Queue[_Segment | None] = asyncio.Queue()
        by_id: dict[str, _Segment] = {}
        api = owner._client.api
        try:
            async with owner.pool.connection(timeout) as ws:
                await run_duplex(
                    lambda: self._send_loop(ws, segments, by_id),
                    lambda: self._receive_loop(ws, segments, by_id, output_emitter, timeout),
                    name=f"{api.name.lower()}-tts-send",
                )
        except APIError:
            raise
        except Exception as e:
            raise api.map_error(e, f"{owner._what} websocket", timeout) from e

    async def _send_loop(
        self,
        ws: WebSocket,
        segments: asyncio.Queue[_Segment | None],
        by_id: dict[str, _Segment],
    ) -> None:
        current: _Segment | None = None
        try:
            async for item in self._input_ch:
                if isinstance(item, str):
                    if current is None:
                        current = _Segment(shortuuid(self._segment_prefix))
                        by_id[current.segment_id] = current
                        segments.put_nowait(current)
                        await self._begin_segment(ws, current.segment_id)
                    await self._send_text(ws, current.segment_id, item)
                elif current is not None:
                    current.text_ended = True
                    await self._end_segment(ws, current.segment_id)
                    current = None
            if current is not None:
                current.text_ended = True
                await self._end_segment(ws, current.segment_id)
            segments.put_nowait(None)
        finally:
            if current is not None:
                current.text_ended = True

    async def _receive_loop(
        self,
        ws: WebSocket,
        segments: asyncio.Queue[_Segment | None],
        by_id: dict[str, _Segment],
        emitter: tts.AudioEmitter,
        timeout: float,
    ) -> None:
        owner = self._ws_tts
        while True:
            segment = await segments.get()
            if segment is None:
                return
            emitter.start_segment(segment_id=segment.segment_id)
            out = SegmentOutput(emitter, segment.segment_id, owner.provider_rate, owner.sample_rate)
            self._segment_started(out)
            while True:
                frame = segment.backlog.popleft() if segment.backlog else None
                if frame is None:
                    try:
                        frame = await receive_frame(
                            ws,
                            timeout,
                            provider=owner._client.api.name,
                            what=owner._what,
                            logger=self._logger,
                            policy_violation_is_status=self._policy_violation_is_status,
                        )
                    except APITimeoutError:
                        if not segment.text_ended:
                            continue  # the text is still coming: nothing is owed yet
                        raise
                    if frame is None:
                        continue
                    key = self._segment_id_of(frame) if isinstance(frame, dict) else None
                    other = by_id.get(key) if key is not None else None
                    if other is not None and other is not segment:
                        other.backlog.append(frame)  # a later segment's: kept in order
                        continue
                if self._handle(frame, out):
                    out._finish()
                    by_id.pop(segment.segment_id, None)
                    break


# -- speech to text ------------------------------------------------------------------------------


class WebSocketRecognizeStream(stt.RecognizeStream):
    """A streaming transcription over one provider websocket, reconnected on failure.

    Subclasses implement :meth:`_connect`, :meth:`_send_flush`, :meth:`_send_end` and
    :meth:`_handle`, set :attr:`_logger` and :attr:`_what`, and may override
    :meth:`_send_audio_data` (audio as JSON), :meth:`_send_keepalive`, :meth:`_before_connect`
    and :meth:`_on_linger_end`. Events are sent with the helpers (:meth:`_start_of_speech`,
    :meth:`_transcript`, :meth:`_end_of_speech`); a final result calls :meth:`_trim_replay`.

    Attributes:
        _what: names the stream in errors and logs (``"STT"``, ``"live transcription"``).
        _chunk_ms: milliseconds of audio per sent chunk.
        _usage_every: seconds of audio between RECOGNITION_USAGE events.
        _max_replay: seconds of unacknowledged audio kept for a reconnect.
        _end_linger: with a value, once the input ended and the server answered after the last
            audio, a quiet socket for this many seconds ends the stream (providers that do not
            say when they are done); ``None`` waits for :meth:`_handle` or a close.
        _normal_close_ends: a close with code 1000 after the input ended is the normal end.
        _policy_violation_is_status: a close with code 1008 is a non-retryable 400.

    Args:
        stt: the engine.
        client: the provider client (used for the provider's name in errors).
        conn_options: retries and timeouts.
        sample_rate: the rate audio is streamed at (pushed audio is resampled to it).
        keepalive_interval: seconds between :meth:`_send_keepalive` calls; ``None`` for none.
    """

    _logger: ClassVar[logging.Logger]
    _what: ClassVar[str] = "STT"
    _chunk_ms: ClassVar[int] = 50
    _usage_every: ClassVar[float] = 5.0
    _max_replay: ClassVar[float] = 30.0
    _end_linger: ClassVar[float | None] = None
    _normal_close_ends: ClassVar[bool] = True
    _policy_violation_is_status: ClassVar[bool] = False

    def __init__(
        self,
        *,
        stt: stt.STT,
        client: ProviderClient,
        conn_options: APIConnectOptions,
        sample_rate: int,
        keepalive_interval: float | None = None,
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options, sample_rate=sample_rate)
        self._provider = client.api.name
        self._ws_rate = sample_rate
        self._bps = sample_rate * 2
        self._keepalive_interval = keepalive_interval
        self._speaking = False
        self._request_id = ""
        # audio sent (or about to be) that no final result covers yet: replayed on reconnect
        self._replay = bytearray()
        self._replay_start = 0.0
        self._ws_origin = 0.0
        """Stream time of the current connection's audio t=0 (add it to provider times)."""
        self._ws_sent = 0.0
        """Seconds of audio sent on the current connection."""
        self._pending_usage = 0.0
        self._last_audio_sent = 0.0
        self._last_message = 0.0
        self._ws_closing = asyncio.Event()
        """Set once the input ended (as the last flush goes out): the server owes its last
        answers."""
        self._reconnect = asyncio.Event()

    # -- for subclasses -----------------------------------------------------------------------

    @abstractmethod
    async def _connect(self) -> WebSocket:
        """Open the websocket (with the current options)."""

    async def _send_audio_data(self, ws: WebSocket, data: bytes) -> None:
        """Send one chunk of 16-bit mono PCM (a binary frame by default)."""
        await ws.send_bytes(data)

    @abstractmethod
    async def _send_flush(self, ws: WebSocket) -> None:
        """Ask the provider to finalize what it heard so far (``flush()``)."""

    @abstractmethod
    async def _send_end(self, ws: WebSocket, *, flushed: bool) -> None:
        """Tell the provider the audio ended (``flushed``: nothing was sent since a flush)."""

    async def _send_keepalive(self, ws: WebSocket) -> None:
        """Send a keepalive message (every ``keepalive_interval`` seconds)."""

    def _before_connect(self) -> None:
        """Called before each connection (reset per-connection decoding state)."""

    def _on_linger_end(self) -> None:
        """Called when :attr:`_end_linger` ended the stream (emit what is still pending)."""

    @abstractmethod
    def _handle(self, data: dict[str, Any]) -> bool:
        """Apply one JSON message; True when the stream is complete.

        Raise an ``APIError`` for an error the provider reported.
        """

    # -- helpers for subclasses ---------------------------------------------------------------

    def _request_reconnect(self) -> None:
        """Reconnect now (e.g. with new options); unacknowledged audio is replayed."""
        self._reconnect.set()

    def _input_finished(self) -> bool:
        """True once ``end_input()`` was called and every pushed item was consumed."""
        return self._input_ch.closed and self._input_ch.empty()

    def _send_event(self, ev: stt.SpeechEvent) -> None:
        with contextlib.suppress(Exception):
            self._event_ch.send_nowait(ev)

    def _flush_usage(self) -> None:
        if self._pending_usage > 0:
            self._send_event(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.RECOGNITION_USAGE,
                    request_id=self._request_id,
                    recognition_usage=stt.RecognitionUsage(audio_duration=self._pending_usage),
                )
            )
            self._pending_usage = 0.0

    def _start_of_speech(self, start: float | None) -> None:
        """START_OF_SPEECH, unless the user is already speaking."""
        if not self._speaking:
            self._speaking = True
            self._send_event(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.START_OF_SPEECH,
                    request_id=self._request_id,
                    speech_start_time=start,
                )
            )

    def _end_of_speech(self) -> None:
        """END_OF_SPEECH, if the user was speaking."""
        if self._speaking:
            self._speaking = False
            self._send_event(
                stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH, request_id=self._request_id)
            )

    def _transcript(self, alternatives: list[stt.SpeechData], *, final: bool) -> None:
        """An INTERIM or FINAL transcript event."""
        self._send_event(
            stt.SpeechEvent(
                type=stt.SpeechEventType.FINAL_TRANSCRIPT
                if final
                else stt.SpeechEventType.INTERIM_TRANSCRIPT,
                request_id=self._request_id,
                alternatives=alternatives,
            )
        )

    def _trim_replay(self, until: float) -> None:
        """Drop the replay audio before stream time ``until`` (a final result covers it)."""
        drop = int((until - self._replay_start) * self._bps)
        drop = min(drop - drop % 2, len(self._replay))
        if drop > 0:
            del self._replay[:drop]
            self._replay_start += drop / self._bps

    def _keep(self, data: bytes) -> None:
        self._replay += data
        excess = len(self._replay) - int(self._max_replay * self._bps)
        if excess > 0:
            excess += excess % 2
            del self._replay[:excess]
            self._replay_start += excess / self._bps

    # -- the attempt --------------------------------------------------------------------------

    async def _run(self) -> None:
        # the base class counted every consumed frame; the replay buffer ends at that point
        self._replay_start = self.start_time_offset - len(self._replay) / self._bps
        while True:
            self._reconnect.clear()
            self._before_connect()
            ws = await self._connect()
            self._ws_origin = self._replay_start
            self._ws_sent = 0.0
            self._ws_closing = asyncio.Event()
            name = self._provider.lower()
            send = asyncio.create_task(self._send_loop(ws), name=f"{name}-stt-send")
            recv = asyncio.create_task(self._recv_loop(ws), name=f"{name}-stt-recv")
            helpers: list[asyncio.Task[Any]] = [
                asyncio.create_task(self._reconnect.wait(), name=f"{name}-stt-reconnect")
            ]
            if self._keepalive_interval is not None:
                helpers.append(
                    asyncio.create_task(
                        self._keepalive_loop(ws, self._keepalive_interval),
                        name=f"{name}-stt-keepalive",
                    )
                )
            try:
                done, _ = await asyncio.wait(
                    [send, recv, helpers[0]], return_when=asyncio.FIRST_COMPLETED
                )
                if helpers[0] in done and not recv.done():
                    self._logger.debug("%s: reconnecting the %s stream", name, self._what)
                    continue
                if send.done() and send.exception() is None and not recv.done():
                    await recv  # the input ended: wait for the last results
                for t in (send, recv):
                    exc = t.exception() if t.done() else None
                    if exc is not None:
                        raise exc
                return
            finally:
                tasks: list[asyncio.Task[Any]] = [send, recv, *helpers]
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                with contextlib.suppress(Exception):
                    await ws.close()
                self._flush_usage()

    async def _send_audio(self, ws: WebSocket, data: bytes) -> None:
        await self._send_audio_data(ws, data)
        seconds = len(data) / self._bps
        self._ws_sent += seconds
        self._pending_usage += seconds
        self._last_audio_sent = asyncio.get_running_loop().time()
        if self._pending_usage >= self._usage_every:
            self._flush_usage()

    async def _send_loop(self, ws: WebSocket) -> None:
        sr = self._ws_rate
        try:
            step = sr * 2 * self._chunk_ms // 1000
            replay = bytes(self._replay)
            for i in range(0, len(replay), step):
                await self._send_audio(ws, replay[i : i + step])
            chunker = AudioByteStream(sr, 1, samples_per_channel=sr * self._chunk_ms // 1000)
            flushed = False  # nothing was sent since the last flush
            async for item in self._input_ch:
                if isinstance(item, rtc.AudioFrame):
                    data = mono_pcm(item)
                    self._keep(data)
                    for chunk in chunker.push(data):
                        await self._send_audio(ws, bytes(chunk.data.cast("B")))
                        flushed = False
                else:
                    for chunk in chunker.flush():
                        await self._send_audio(ws, bytes(chunk.data.cast("B")))
                    if self._input_finished():
                        # end_input()'s flush: the answer to it may be the server's last
                        self._ws_closing.set()
                    await self._send_flush(ws)
                    flushed = True
            for chunk in chunker.flush():
                await self._send_audio(ws, bytes(chunk.data.cast("B")))
                flushed = False
            self._ws_closing.set()
            await self._send_end(ws, flushed=flushed)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as e:
            raise APIConnectionError(f"{self._provider} {self._what}: sending failed: {e}") from e

    async def _keepalive_loop(self, ws: WebSocket, interval: float) -> None:
        with contextlib.suppress(Exception):
            while not ws.closed:
                await asyncio.sleep(interval)
                await self._send_keepalive(ws)

    async def _recv_loop(self, ws: WebSocket) -> None:
        loop = asyncio.get_running_loop()
        timeout = self._conn_options.timeout
        linger = self._end_linger
        self._last_message = loop.time()
        while True:
            answered = (
                linger is not None
                and self._ws_closing.is_set()
                and self._last_message >= self._last_audio_sent
            )
            try:
                msg = await asyncio.wait_for(
                    ws.receive(), min(timeout, linger) if answered and linger else timeout
                )
            except asyncio.TimeoutError:
                if answered:
                    # the input ended and the server answered after it, then went quiet: done
                    self._on_linger_end()
                    return
                if self._ws_closing.is_set() or self._last_audio_sent > self._last_message:
                    raise APITimeoutError(
                        f"{self._provider} {self._what}: no answer for {timeout} s"
                    ) from None
                continue
            self._last_message = loop.time()
            if msg.type in CLOSED_MESSAGE_TYPES:
                self._on_closed(ws, msg.extra)
                return
            if msg.type != aiohttp.WSMsgType.TEXT:
                self._logger.debug("%s: ignoring a %s frame", self._provider.lower(), msg.type)
                continue
            data = parse_json_object(
                msg.data, provider=self._provider, what=self._what, logger=self._logger
            )
            if data is not None and self._handle(data):
                return

    def _on_closed(self, ws: WebSocket, extra: object) -> None:
        """Return for the normal end of the stream, else raise the error the close means."""
        code = ws.close_code
        if self._normal_close_ends and self._ws_closing.is_set() and code == 1000:
            return
        reason = extra if isinstance(extra, str) else ""
        if self._policy_violation_is_status and code == 1008:
            raise APIStatusError(
                f"{self._provider} rejected the audio (close code 1008): {reason}",
                status_code=400,
                request_id=self._request_id or None,
            )
        raise APIConnectionError(
            f"{self._provider} closed the {self._what} websocket unexpectedly (code {code}) "
            f"{reason}".rstrip()
        )
