"""Gap A7: LiveKit's ``RoomInputOptions`` fields (noise_cancellation, video_enabled,
text_input_cb, pre_connect_audio(_timeout), delete_room_on_close) are accepted and act where
they can here."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
import pytest
from livekit import rtc
from livekit.protocol import agent, models

from voxlane.agents.job import JobAcceptArguments, JobContext, JobProcess, RunningJobInfo
from voxlane.agents.job.context import _job_context_var
from voxlane.agents.testing import FakeLLM
from voxlane.agents.testing.room import MemoryRoom, TextReader, track_frames
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.room_io import (
    TOPIC_CHAT,
    RoomInputOptions,
    RoomIO,
    RoomOutputOptions,
    TextInputEvent,
)

NO_OUTPUT = RoomOutputOptions(audio_enabled=False, transcription_enabled=False)


def _chat(text: str) -> TextReader:
    info = rtc.TextStreamInfo(
        stream_id="S1",
        mime_type="text/plain",
        topic=TOPIC_CHAT,
        timestamp=0,
        size=None,
        attributes={},
        attachments=[],
    )
    return TextReader(text, info)


def _frame(value: int, n: int = 240) -> rtc.AudioFrame:
    data = np.full(n, value, dtype=np.int16).tobytes()
    return rtc.AudioFrame(data=data, sample_rate=24000, num_channels=1, samples_per_channel=n)


def _samples(frame: rtc.AudioFrame) -> list[int]:
    return sorted(set(np.frombuffer(bytes(frame.data), dtype=np.int16).tolist()))


async def _heard(options: RoomInputOptions, value: int, *, frames: int = 1) -> list[rtc.AudioFrame]:
    """Start RoomIO with ``options``, let a user speak frames of ``value``, return what the
    session's audio input yields."""
    room = MemoryRoom()
    session: AgentSession[None] = AgentSession()
    room_io = RoomIO(
        session,
        room,
        input_options=options,
        output_options=NO_OUTPUT,
        audio_stream_factory=track_frames,
    )
    await room_io.start()
    track = room.join("alice")
    for _ in range(frames):
        await track.frames.put(_frame(value))
    source = session.input.audio
    assert source is not None
    try:
        return [await asyncio.wait_for(source.__anext__(), 5) for _ in range(frames)]
    finally:
        await room_io.aclose()


# -- fields and validation ---------------------------------------------------------------------


def test_livekit_fields_with_their_defaults() -> None:
    opts = RoomInputOptions()
    assert opts.video_enabled is False
    assert opts.noise_cancellation is None
    assert callable(opts.text_input_cb)
    assert opts.pre_connect_audio is True
    assert opts.pre_connect_audio_timeout == 3.0
    assert opts.delete_room_on_close is False


def test_bad_values_are_explained() -> None:
    with pytest.raises(ValueError, match="pre_connect_audio_timeout"):
        RoomInputOptions(pre_connect_audio_timeout=0)
    with pytest.raises(TypeError, match="text_input_cb"):
        RoomInputOptions(text_input_cb="reply")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="noise_cancellation"):
        RoomInputOptions(noise_cancellation="BVC")  # type: ignore[arg-type]


# -- noise cancellation ------------------------------------------------------------------------


async def test_callable_noise_cancellation_filters_the_users_audio() -> None:
    def halve(frame: rtc.AudioFrame) -> rtc.AudioFrame:
        data = (np.frombuffer(bytes(frame.data), dtype=np.int16) // 2).astype(np.int16)
        return rtc.AudioFrame(
            data=data.tobytes(),
            sample_rate=frame.sample_rate,
            num_channels=frame.num_channels,
            samples_per_channel=frame.samples_per_channel,
        )

    [frame] = await _heard(RoomInputOptions(noise_cancellation=halve), 1000)
    assert _samples(frame) == [500]
    [plain] = await _heard(RoomInputOptions(), 1000)
    assert _samples(plain) == [1000]


class _Gate(rtc.FrameProcessor[rtc.AudioFrame]):
    """Zeroes quiet audio (a toy local noise gate)."""

    def __init__(self) -> None:
        self._enabled = True
        self.processed = 0

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled = value

    def _process(self, frame: rtc.AudioFrame) -> rtc.AudioFrame:
        self.processed += 1
        data = np.frombuffer(bytes(frame.data), dtype=np.int16)
        gated = np.where(np.abs(data) < 100, 0, data).astype(np.int16)
        return rtc.AudioFrame(gated.tobytes(), frame.sample_rate, 1, frame.samples_per_channel)

    def _close(self) -> None:
        pass


async def test_frame_processor_is_applied_while_enabled() -> None:
    gate = _Gate()
    [frame] = await _heard(RoomInputOptions(noise_cancellation=gate), 50)
    assert _samples(frame) == [0] and gate.processed == 1
    gate.enabled = False
    [frame] = await _heard(RoomInputOptions(noise_cancellation=gate), 50)
    assert _samples(frame) == [50] and gate.processed == 1


async def test_livekit_cloud_noise_cancellation_warns_and_passes_audio(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bvc = rtc.NoiseCancellationOptions(module_id="livekit_noise_cancellation", options={})
    with caplog.at_level(logging.WARNING, logger="voxlane.agents.room_io"):
        [frame] = await _heard(RoomInputOptions(noise_cancellation=bvc), 700)
    assert _samples(frame) == [700]
    assert any("only available on LiveKit Cloud" in r.getMessage() for r in caplog.records)


async def test_a_failing_filter_never_silences_the_user(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    def broken(frame: rtc.AudioFrame) -> rtc.AudioFrame:
        nonlocal calls
        calls += 1
        raise RuntimeError("model crashed")

    with caplog.at_level(logging.ERROR, logger="voxlane.agents.room_io"):
        frames = await _heard(RoomInputOptions(noise_cancellation=broken), 300, frames=3)
    assert [_samples(f) for f in frames] == [[300]] * 3
    assert calls == 1  # disabled after the first failure, logged once
    assert sum("noise_cancellation" in r.getMessage() for r in caplog.records) == 1


# -- video, text input -------------------------------------------------------------------------


async def test_video_enabled_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="voxlane.agents.room_io"):
        await _heard(RoomInputOptions(video_enabled=True), 1)
    assert any("no video input" in r.getMessage() for r in caplog.records)


async def test_text_input_cb_receives_chat_messages() -> None:
    got: list[TextInputEvent] = []

    async def on_text(session: AgentSession[Any], ev: TextInputEvent) -> None:
        got.append(ev)

    room = MemoryRoom()
    session: AgentSession[None] = AgentSession(llm=FakeLLM(default="reply"))
    room_io = RoomIO(
        session,
        room,
        input_options=RoomInputOptions(text_input_cb=on_text),
        output_options=NO_OUTPUT,
        audio_stream_factory=track_frames,
    )
    await room_io.start()
    await session.start(Agent(instructions="x"))
    room.join("alice")
    room.handlers[TOPIC_CHAT](_chat("turn the lights on"), "alice")
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.01)
    [ev] = got
    assert ev.text == "turn the lights on"
    assert ev.participant is room.remote_participants["alice"]
    assert ev.info.stream_id == "S1"
    # the custom callback replaced the default reply
    assert [m.role for m in session.history.messages()] == []
    await session.aclose()
    await room_io.aclose()


async def test_default_text_input_cb_replies() -> None:
    room = MemoryRoom()
    session: AgentSession[None] = AgentSession(llm=FakeLLM(default="the lights are on"))
    room_io = RoomIO(session, room, output_options=NO_OUTPUT, audio_stream_factory=track_frames)
    await room_io.start()
    await session.start(Agent(instructions="x"))
    room.handlers[TOPIC_CHAT](_chat("lights please"), "alice")
    for _ in range(200):
        if len(session.history.messages()) >= 2:
            break
        await asyncio.sleep(0.01)
    texts = [(m.role, m.text_content) for m in session.history.messages()]
    assert texts == [("user", "lights please"), ("assistant", "the lights are on")]
    await session.aclose()
    await room_io.aclose()


# -- delete_room_on_close ----------------------------------------------------------------------


def _job(room: Any) -> tuple[JobContext, list[str]]:
    info = RunningJobInfo(
        accept_arguments=JobAcceptArguments(name="", identity="agent", metadata=""),
        job=agent.Job(id="J", room=models.Room(name="room")),
        url="",
        token="",
        worker_id="W",
    )
    ctx = JobContext(proc=JobProcess(), info=info, room=room)
    deleted: list[str] = []

    async def delete_room() -> None:  # the server API call, recorded
        deleted.append(ctx.job.room.name)

    ctx.delete_room = delete_room  # type: ignore[method-assign]
    return ctx, deleted


@pytest.mark.parametrize("delete", [True, False])
async def test_delete_room_on_close(delete: bool) -> None:
    room = MemoryRoom()
    ctx, deleted = _job(room)
    token = _job_context_var.set(ctx)
    try:
        ctx._connected = True  # the room is already joined
        session: AgentSession[None] = AgentSession(llm=FakeLLM(default="bye"))
        await session.start(
            Agent(instructions="x"),
            room=room,
            room_input_options=RoomInputOptions(delete_room_on_close=delete),
            room_output_options=NO_OUTPUT,
        )
        await session.aclose()
        for _ in range(50):
            await asyncio.sleep(0)
        assert deleted == (["room"] if delete else [])
        assert ctx.shutdown_reason == "the agent session closed"
    finally:
        _job_context_var.reset(token)
