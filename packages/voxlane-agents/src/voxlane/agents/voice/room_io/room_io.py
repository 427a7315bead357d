"""`RoomIO`: binds an `AgentSession` to a LiveKit room (or to the console's room).

- subscribes to the linked participant's microphone and feeds it (resampled) to the session;
- publishes the agent's speech as an audio track;
- publishes user and agent transcriptions on ``lk.transcription`` (the agent's synchronised
  with its audio unless ``RoomOutputOptions(sync_transcription=False)``);
- turns chat messages on ``lk.chat`` into user turns;
- publishes the agent state as the participant attribute ``lk.agent.state``;
- closes the session when no human participant is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from typing import Any

from livekit import rtc

from ...types import NOT_GIVEN, NotGivenOr, is_given
from ...utils.aio import cancel_and_wait
from ...utils.misc import shortuuid
from ._input import AudioStreamFactory, FrameFilter, ParticipantAudioInput, default_audio_stream
from ._output import RoomAudioOutput, RoomTranscriptionOutput
from .options import (
    ATTRIBUTE_AGENT_STATE,
    ATTRIBUTE_SEGMENT_ID,
    ATTRIBUTE_TRANSCRIBED_TRACK_ID,
    ATTRIBUTE_TRANSCRIPTION_FINAL,
    TOPIC_CHAT,
    TOPIC_TRANSCRIPTION,
    RoomInputOptions,
    RoomOutputOptions,
    TextInputEvent,
)
from .room_options import RoomOptions, resolve_room_options

logger = logging.getLogger("voxlane.agents.room_io")


class RoomIO:
    """Connects a session's inputs and outputs to ``room``. Created by
    ``AgentSession.start(room=...)``; usable directly for custom setups.

    Options: ``options=RoomOptions(...)`` or the older ``input_options=`` /
    ``output_options=`` (not both)."""

    def __init__(
        self,
        agent_session: Any,
        room: Any,
        *,
        input_options: NotGivenOr[RoomInputOptions | None] = NOT_GIVEN,
        output_options: NotGivenOr[RoomOutputOptions | None] = NOT_GIVEN,
        audio_stream_factory: AudioStreamFactory | None = None,
        options: NotGivenOr[RoomOptions | None] = NOT_GIVEN,
    ) -> None:
        input_options, output_options = resolve_room_options(
            options if is_given(options) else None,
            input_options if is_given(input_options) else None,
            output_options if is_given(output_options) else None,
        )
        self._session = agent_session
        self._room = room
        self._in_opts: RoomInputOptions = input_options or RoomInputOptions()
        self._out_opts: RoomOutputOptions = output_options or RoomOutputOptions()
        self._stream_factory = audio_stream_factory or default_audio_stream
        self._audio_in: ParticipantAudioInput | None = None
        self._audio_out: RoomAudioOutput | None = None
        self._text_out: RoomTranscriptionOutput | None = None
        self._linked: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._console: Any = None
        self._console_watch: asyncio.Task[None] | None = None
        self._started = False
        self._closed = False
        self._user_segment: str | None = None
        self._job_ctx: Any = None

    @property
    def linked_participant(self) -> Any:
        return self._linked

    @property
    def audio_output(self) -> RoomAudioOutput | None:
        return self._audio_out

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        ctx = self._job_ctx = self._job_context()
        if ctx is not None:
            ctx.add_shutdown_callback(self._on_job_shutdown)
            # the job ends with its session (e.g. the agent closed it, or everyone left)
            self._session.on("close", self._on_session_close)

        from ..console.room import ConsoleRoom

        if ctx is not None and not self._room.isconnected():
            await ctx.connect()
        if isinstance(self._room, ConsoleRoom):
            await self._start_console(self._room)
            return

        room = self._room
        room.on("participant_connected", self._on_participant_connected)
        room.on("participant_disconnected", self._on_participant_disconnected)
        room.on("track_subscribed", self._on_track_subscribed)
        room.on("track_unsubscribed", self._on_track_unsubscribed)

        if self._in_opts.video_enabled:
            logger.warning(
                "RoomInputOptions(video_enabled=True): Voxlane's RoomIO has no video input "
                "yet; the participant's video is not forwarded to the session"
            )
        if self._in_opts.audio_enabled:
            self._audio_in = ParticipantAudioInput(
                sample_rate=self._in_opts.audio_sample_rate,
                num_channels=self._in_opts.audio_num_channels,
                stream_factory=self._stream_factory,
                frame_filter=self._noise_filter(),
            )
            self._session.input.audio = self._audio_in
        if self._out_opts.audio_enabled:
            self._audio_out = RoomAudioOutput(
                room,
                sample_rate=self._out_opts.audio_sample_rate,
                num_channels=self._out_opts.audio_num_channels,
                track_name=self._out_opts.audio_track_name,
            )
            await self._audio_out.publish()
            self._session.output.audio = self._audio_out
        self._session.output.set_sync_transcription(
            self._out_opts.sync_transcription and self._session.output.sync_transcription,
            speed=self._out_opts.transcription_speed_factor,
        )
        if self._out_opts.transcription_enabled:
            self._text_out = RoomTranscriptionOutput(room, track_sid=self._agent_track_sid)
            self._session.output.transcription = self._text_out
            self._session.on("user_input_transcribed", self._on_user_transcribed)
        if self._in_opts.text_enabled:
            room.register_text_stream_handler(TOPIC_CHAT, self._on_chat)
        self._session.on("agent_state_changed", self._on_agent_state)

        for p in list(room.remote_participants.values()):
            if self._linked is None and self._accepts(p):
                self._link(p)

    def _noise_filter(self) -> FrameFilter | None:
        nc = self._in_opts.noise_cancellation
        if nc is None:
            return None
        if isinstance(nc, rtc.NoiseCancellationOptions):
            logger.warning(
                "RoomInputOptions(noise_cancellation=%r): LiveKit Cloud's noise cancellation "
                "models are only available on LiveKit Cloud, not in Voxlane; the audio is used "
                "unfiltered. Pass an rtc.FrameProcessor or a frame -> frame callable to filter "
                "it locally.",
                nc,
            )
            return None
        if isinstance(nc, rtc.FrameProcessor):
            processor = nc

            def process(frame: rtc.AudioFrame) -> rtc.AudioFrame:
                return processor._process(frame) if processor.enabled else frame

            return process
        return nc

    def _job_context(self) -> Any:
        from ...job.context import get_job_context

        try:
            return get_job_context()
        except RuntimeError:
            return None

    def _agent_track_sid(self) -> str:
        return self._audio_out.track_sid if self._audio_out is not None else ""

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- participants -----------------------------------------------------------------------

    def _accepts(self, p: Any) -> bool:
        wanted = self._in_opts.participant_identity
        if wanted is not None:
            return bool(p.identity == wanted)
        return p.kind in self._in_opts.participant_kinds

    def _link(self, p: Any) -> None:
        self._linked = p
        logger.info("RoomIO linked to participant %s", p.identity)
        if self._audio_in is None:
            return
        for pub in list(p.track_publications.values()):
            track = getattr(pub, "track", None)
            if track is not None and pub.kind == rtc.TrackKind.KIND_AUDIO:
                self._audio_in.attach(track)
                break

    def _on_participant_connected(self, p: Any) -> None:
        if self._linked is None and self._accepts(p):
            self._link(p)

    def _on_participant_disconnected(self, p: Any) -> None:
        if self._linked is None or p.identity != self._linked.identity:
            return
        self._linked = None
        if self._audio_in is not None:
            # synchronously: the next participant's track may be attached right below
            self._audio_in.stop_reading()
        for other in list(self._room.remote_participants.values()):
            if other.identity != p.identity and self._accepts(other):
                self._link(other)
                return
        if self._in_opts.close_on_disconnect:
            logger.info("no participant left to talk to: closing the session")
            self._spawn(self._session.aclose())

    def _on_track_subscribed(self, track: Any, publication: Any, participant: Any) -> None:
        if self._audio_in is None or track.kind != rtc.TrackKind.KIND_AUDIO:
            return
        if self._linked is None and self._accepts(participant):
            self._linked = participant
        if self._linked is not None and participant.identity == self._linked.identity:
            self._audio_in.attach(track)

    def _on_track_unsubscribed(self, track: Any, publication: Any, participant: Any) -> None:
        if self._audio_in is not None and getattr(track, "sid", None) == self._audio_in.track_sid:
            self._audio_in.stop_reading()

    # -- text and state ---------------------------------------------------------------------

    def _on_chat(self, reader: Any, participant_identity: str) -> None:
        async def handle() -> None:
            text = await reader.read_all()
            if not text.strip():
                return
            participant = self._room.remote_participants.get(participant_identity)
            ev = TextInputEvent(
                text=text, info=getattr(reader, "info", None), participant=participant
            )
            try:
                result = self._in_opts.text_input_cb(self._session, ev)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("text_input_cb failed for a chat message")

        self._spawn(handle())

    def _on_user_transcribed(self, ev: Any) -> None:
        if self._linked is None:
            return
        if self._user_segment is None:
            self._user_segment = shortuuid("SG_")
        segment = self._user_segment
        if ev.is_final:
            self._user_segment = None
        identity = self._linked.identity
        track_sid = self._audio_in.track_sid if self._audio_in is not None else None

        async def publish() -> None:
            writer = await self._room.local_participant.stream_text(
                topic=TOPIC_TRANSCRIPTION,
                attributes={
                    ATTRIBUTE_SEGMENT_ID: segment,
                    ATTRIBUTE_TRANSCRIBED_TRACK_ID: track_sid or "",
                    ATTRIBUTE_TRANSCRIPTION_FINAL: "true" if ev.is_final else "false",
                },
                sender_identity=identity,
            )
            await writer.write(ev.transcript)
            await writer.aclose()

        self._spawn(publish())

    def _on_agent_state(self, ev: Any) -> None:
        async def publish() -> None:
            try:
                await self._room.local_participant.set_attributes(
                    {ATTRIBUTE_AGENT_STATE: str(ev.new_state)}
                )
            except Exception:
                logger.warning("could not publish the agent state", exc_info=True)

        self._spawn(publish())

    # -- console ------------------------------------------------------------------------------

    async def _start_console(self, room: Any) -> None:
        self._linked = room.console_user
        options = room.options
        if options.mode == "file":
            from ..console.file_mode import FileConsole

            self._console = FileConsole(self._session, options)
        else:
            from ..console.chat_cli import ChatCLI

            self._console = ChatCLI(
                self._session, mode=options.mode, sync_transcription=options.sync_transcription
            )
        await self._console.start()
        self._console_watch = asyncio.create_task(self._watch_console())

    async def _watch_console(self) -> None:
        await self._console.wait_done()
        error = getattr(self._console, "error", None)
        if error and self._is_console():
            self._room.error = error
        if self._job_ctx is not None:
            self._job_ctx.shutdown("console closed")
        else:
            await self._session.aclose()

    # -- closing ------------------------------------------------------------------------------

    def _on_session_close(self, ev: Any) -> None:
        if self._job_ctx is None:
            return
        if self._in_opts.delete_room_on_close and not self._is_console():
            self._spawn(self._delete_room(self._job_ctx))
        self._job_ctx.shutdown("the agent session closed")

    def _is_console(self) -> bool:
        from ..console.room import ConsoleRoom

        return isinstance(self._room, ConsoleRoom)

    async def _delete_room(self, ctx: Any) -> None:
        try:
            await ctx.delete_room()
            logger.info("deleted the room (RoomInputOptions.delete_room_on_close)")
        except Exception:
            logger.exception("could not delete the room on close")

    async def _on_job_shutdown(self) -> None:
        await self._session.aclose()
        await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._console is not None:
            if self._console_watch is not asyncio.current_task():
                await cancel_and_wait(self._console_watch)
            await self._console.aclose()
            return
        with contextlib.suppress(Exception):
            self._room.unregister_text_stream_handler(TOPIC_CHAT)
        for event, cb in (
            ("participant_connected", self._on_participant_connected),
            ("participant_disconnected", self._on_participant_disconnected),
            ("track_subscribed", self._on_track_subscribed),
            ("track_unsubscribed", self._on_track_unsubscribed),
        ):
            with contextlib.suppress(Exception):
                self._room.off(event, cb)
        with contextlib.suppress(Exception):
            self._session.off("agent_state_changed", self._on_agent_state)
        with contextlib.suppress(Exception):
            self._session.off("user_input_transcribed", self._on_user_transcribed)
        current = asyncio.current_task()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        if self._audio_in is not None:
            await self._audio_in.aclose()
        if self._audio_out is not None:
            await self._audio_out.aclose()
        if self._text_out is not None:
            await self._text_out.aclose()


__all__ = ["RoomIO"]
