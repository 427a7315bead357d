"""The testing kit exposes the in-memory audio/text I/O: user audio in, agent audio out."""

from __future__ import annotations

import asyncio

import pytest

from voxlane.agents import testing
from voxlane.agents.voice import io_impl

pytestmark = pytest.mark.virtual_clock


def test_memory_io_is_part_of_the_testing_kit() -> None:
    for name in ("QueueAudioInput", "MemoryAudioOutput", "MemoryTextOutput", "PlayedSegment"):
        assert name in testing.__all__
    assert testing.QueueAudioInput is io_impl.QueueAudioInput
    assert testing.MemoryAudioOutput is io_impl.MemoryAudioOutput
    assert testing.MemoryTextOutput is io_impl.MemoryTextOutput


async def test_audio_through_queue_input_and_memory_output_on_the_virtual_clock() -> None:
    loop = asyncio.get_running_loop()
    frames = testing.split_frame(testing.tone(0.5, sample_rate=16000), 0.1)
    mic = testing.QueueAudioInput()
    speaker = testing.MemoryAudioOutput()
    mic.push(frames)
    mic.end_input()
    t0 = loop.time()
    async for frame in mic:  # paced like a live microphone, in virtual time
        await speaker.capture_frame(frame)
    speaker.flush()
    done = await speaker.wait_for_playout()
    assert not done.interrupted
    assert mic.pushed_duration == pytest.approx(0.5)
    # 0.5 s of input pacing, then the last frame's 0.1 s of playout
    assert loop.time() - t0 == pytest.approx(0.6, abs=1e-6)
    played = speaker.played_audio()
    assert played is not None and played.samples_per_channel == 8000
    await speaker.aclose()

    text = testing.MemoryTextOutput()
    await text.capture_text("hello ")
    await text.capture_text("there")
    text.flush()
    assert await text.wait_for_segments(1) == ["hello there"]
