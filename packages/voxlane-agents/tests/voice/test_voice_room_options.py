"""``RoomOptions`` / ``start(room=..., room_options=...)``: LiveKit's newer spelling of the room
binding's options, mapped onto ``RoomInputOptions`` / ``RoomOutputOptions``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents.testing.room import MemoryRoom, TextReader, track_frames
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.room_io import (
    TOPIC_CHAT,
    AudioInputOptions,
    AudioOutputOptions,
    RoomInputOptions,
    RoomIO,
    RoomOptions,
    RoomOutputOptions,
    TextInputEvent,
    TextInputOptions,
    TextOutputOptions,
)

SIP = rtc.ParticipantKind.PARTICIPANT_KIND_SIP


def _level_frame(value: int) -> rtc.AudioFrame:
    data = np.full(240, value, dtype=np.int16).tobytes()
    return rtc.AudioFrame(data=data, sample_rate=24000, num_channels=1, samples_per_channel=240)


def _levels(frame: rtc.AudioFrame) -> set[int]:
    return set(np.frombuffer(bytes(frame.data), dtype=np.int16).tolist())


# -- mapping ---------------------------------------------------------------------------------


def test_defaults_map_onto_the_legacy_defaults() -> None:
    input_options, output_options = RoomOptions().to_legacy()
    assert input_options == RoomInputOptions()
    assert output_options == RoomOutputOptions()


def test_every_field_reaches_the_legacy_options() -> None:
    def on_text(session: Any, ev: TextInputEvent) -> None:
        pass

    def denoise(frame: rtc.AudioFrame) -> rtc.AudioFrame:
        return frame

    input_options, output_options = RoomOptions(
        text_input=TextInputOptions(text_input_cb=on_text),
        audio_input=AudioInputOptions(
            sample_rate=16000,
            num_channels=2,
            noise_cancellation=denoise,
            pre_connect_audio=False,
            pre_connect_audio_timeout=1.5,
        ),
        video_input=False,
        audio_output=AudioOutputOptions(sample_rate=48000, num_channels=2, track_name="voice"),
        text_output=TextOutputOptions(sync_transcription=False, transcription_speed_factor=1.2),
        participant_kinds=[SIP],
        participant_identity="caller",
        close_on_disconnect=False,
        delete_room_on_close=True,
    ).to_legacy()
    assert input_options == RoomInputOptions(
        text_enabled=True,
        audio_enabled=True,
        audio_sample_rate=16000,
        audio_num_channels=2,
        participant_identity="caller",
        participant_kinds=[SIP],
        close_on_disconnect=False,
        video_enabled=False,
        noise_cancellation=denoise,
        text_input_cb=on_text,
        pre_connect_audio=False,
        pre_connect_audio_timeout=1.5,
        delete_room_on_close=True,
    )
    assert output_options == RoomOutputOptions(
        transcription_enabled=True,
        audio_enabled=True,
        audio_sample_rate=48000,
        audio_num_channels=2,
        audio_track_name="voice",
        sync_transcription=False,
        transcription_speed_factor=1.2,
    )


def test_false_disables_a_direction() -> None:
    input_options, output_options = RoomOptions(
        text_input=False, audio_input=False, audio_output=False, text_output=False
    ).to_legacy()
    assert (input_options.text_enabled, input_options.audio_enabled) == (False, False)
    assert (output_options.audio_enabled, output_options.transcription_enabled) == (False, False)


def test_bad_values_are_explained(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(TypeError, match=r"audio_input=...\) must be True, False or a Audio"):
        RoomOptions(audio_input="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be True, False or a TextOutputOptions"):
        RoomOptions(text_output=RoomOutputOptions())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="video_input"):
        RoomOptions(video_input=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"AudioInputOptions\(sample_rate=...\) must be an int"):
        AudioInputOptions(sample_rate=0)
    with pytest.raises(ValueError, match=r"AudioOutputOptions\(num_channels=...\)"):
        AudioOutputOptions(num_channels=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pre_connect_audio_timeout"):
        RoomOptions(audio_input=AudioInputOptions(pre_connect_audio_timeout=0)).to_legacy()
    with caplog.at_level(logging.WARNING, logger="voxlane.agents.room_io"):
        AudioInputOptions(frame_size_ms=20)
    assert "keeps the frame size the room delivers" in caplog.text


# -- RoomIO and AgentSession.start -----------------------------------------------------------


async def test_roomio_reads_the_room_with_room_options() -> None:
    def halve(frame: rtc.AudioFrame) -> rtc.AudioFrame:
        data = (np.frombuffer(bytes(frame.data), dtype=np.int16) // 2).astype(np.int16)
        return rtc.AudioFrame(
            data=data.tobytes(),
            sample_rate=frame.sample_rate,
            num_channels=frame.num_channels,
            samples_per_channel=frame.samples_per_channel,
        )

    room = MemoryRoom()
    session: AgentSession[None] = AgentSession()
    room_io = RoomIO(
        session,
        room,
        options=RoomOptions(
            audio_input=AudioInputOptions(noise_cancellation=halve),
            text_input=False,
            audio_output=False,
            text_output=False,
        ),
        audio_stream_factory=track_frames,
    )
    await room_io.start()
    assert TOPIC_CHAT not in room.handlers  # text input disabled
    assert session.output.audio is None and session.output.transcription is None
    track = room.join("alice")
    await track.frames.put(_level_frame(1000))
    source = session.input.audio
    assert source is not None
    frame = await asyncio.wait_for(source.__anext__(), 5)
    assert _levels(frame) == {500}  # the options' noise filter ran
    await room_io.aclose()


async def test_start_with_room_options_binds_the_room() -> None:
    room = MemoryRoom()
    seen: list[str] = []
    got_text = asyncio.Event()

    def on_text(session: Any, ev: TextInputEvent) -> None:
        seen.append(ev.text)
        got_text.set()

    session: AgentSession[None] = AgentSession()
    await session.start(
        Agent(instructions="x"),
        room=room,
        room_options=RoomOptions(
            text_input=TextInputOptions(text_input_cb=on_text),
            audio_input=False,
            audio_output=False,
            text_output=False,
            participant_identity="bob",
        ),
    )
    room.join("alice")
    room.join("bob")
    assert session._room_io is not None
    assert session._room_io.linked_participant.identity == "bob"
    room.handlers[TOPIC_CHAT](TextReader("hello there"), "bob")
    await asyncio.wait_for(got_text.wait(), 5)
    assert seen == ["hello there"]
    await session.aclose()


async def test_both_spellings_at_once_are_an_error() -> None:
    session: AgentSession[None] = AgentSession()
    with pytest.raises(ValueError, match="either room_options=RoomOptions"):
        await session.start(
            Agent(instructions="x"),
            room=MemoryRoom(),
            room_options=RoomOptions(),
            room_input_options=RoomInputOptions(),
        )
    with pytest.raises(ValueError, match="either room_options=RoomOptions"):
        RoomIO(session, MemoryRoom(), options=RoomOptions(), output_options=RoomOutputOptions())
    with pytest.raises(TypeError, match="pass it as room_input_options="):
        RoomIO(session, MemoryRoom(), options=RoomInputOptions())  # type: ignore[arg-type]
    # the session did not start: it still can, with one spelling
    await session.start(
        Agent(instructions="x"),
        room=MemoryRoom(),
        room_options=RoomOptions(audio_input=False, audio_output=False, text_output=False),
    )
    await session.aclose()


async def test_legacy_room_options_keep_working() -> None:
    room = MemoryRoom()
    session: AgentSession[None] = AgentSession()
    await session.start(
        Agent(instructions="x"),
        room=room,
        room_input_options=RoomInputOptions(audio_enabled=False, text_enabled=False),
        room_output_options=RoomOutputOptions(audio_enabled=False, transcription_enabled=False),
    )
    assert TOPIC_CHAT not in room.handlers
    assert session.input.audio is None
    await session.aclose()
