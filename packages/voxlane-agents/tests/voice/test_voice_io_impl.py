"""In-memory and WAV-file implementations of the voice I/O contracts, on the virtual clock."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents.testing.fakes import split_frame, tone
from voxlane.agents.voice.io_impl import (
    MemoryAudioOutput,
    MemoryTextOutput,
    QueueAudioInput,
    WavAudioInput,
    WavAudioOutput,
    read_wav,
    write_wav,
)

pytestmark = pytest.mark.virtual_clock


def _frames(seconds: float, *, rate: int = 24000, step: float = 0.1) -> list[rtc.AudioFrame]:
    return split_frame(tone(seconds, sample_rate=rate), step)


async def _play(out: MemoryAudioOutput | WavAudioOutput, frames: list[rtc.AudioFrame]) -> None:
    for f in frames:
        await out.capture_frame(f)
    out.flush()


async def test_memory_output_plays_in_real_time() -> None:
    loop = asyncio.get_running_loop()
    out = MemoryAudioOutput()
    started: list[float] = []
    out.on("playback_started", lambda ev: started.append(ev.created_at))
    t0 = loop.time()
    await _play(out, _frames(1.0))
    ev = await out.wait_for_playout()
    assert loop.time() - t0 == pytest.approx(1.0, abs=1e-6)
    assert started == [pytest.approx(t0)]
    assert ev.playback_position == pytest.approx(1.0, abs=1e-6)
    assert not ev.interrupted
    seg = out.segments[0]
    assert seg.done and not seg.interrupted
    assert seg.captured_duration == pytest.approx(1.0)
    assert seg.played_duration == pytest.approx(1.0)
    played = out.played_audio()
    assert played is not None and played.samples_per_channel == 24000
    await out.aclose()


async def test_clear_buffer_cuts_inside_a_frame() -> None:
    out = MemoryAudioOutput(can_pause=False)
    await _play(out, _frames(1.0))
    await asyncio.sleep(0.35)
    out.clear_buffer()
    ev = await out.wait_for_playout()
    assert ev.interrupted
    assert ev.playback_position == pytest.approx(0.35, abs=1e-6)
    # the played audio stops at the same sample
    assert out.segments[0].played_duration == pytest.approx(0.35, abs=1 / 24000)
    assert not out.can_pause
    with pytest.raises(NotImplementedError, match="cannot pause"):
        out.pause()
    await out.aclose()


async def test_pause_and_resume_delay_the_end() -> None:
    loop = asyncio.get_running_loop()
    out = MemoryAudioOutput()
    t0 = loop.time()
    await _play(out, _frames(1.0))
    await asyncio.sleep(0.2)
    out.pause()
    assert out.paused
    await asyncio.sleep(0.5)
    out.resume()
    ev = await out.wait_for_playout()
    assert loop.time() - t0 == pytest.approx(1.5, abs=1e-6)
    assert ev.playback_position == pytest.approx(1.0, abs=1e-6)
    await out.aclose()


async def test_clear_buffer_ends_queued_segments_too() -> None:
    out = MemoryAudioOutput()
    finished: list[tuple[float, bool]] = []
    out.on("playback_finished", lambda ev: finished.append((ev.playback_position, ev.interrupted)))
    await _play(out, _frames(0.5))
    await _play(out, _frames(0.5))
    await asyncio.sleep(0.1)
    out.clear_buffer()
    await out.wait_for_playout()
    assert finished == [(pytest.approx(0.1, abs=1e-6), True), (0.0, True)]
    assert out.segments[1].started_at is None
    # a new segment after the clear plays normally
    await _play(out, _frames(0.3))
    ev = await out.wait_for_playout()
    assert ev.playback_position == pytest.approx(0.3, abs=1e-6)
    assert not ev.interrupted
    await out.aclose()


async def test_output_resamples_and_non_realtime_is_instant() -> None:
    loop = asyncio.get_running_loop()
    out = MemoryAudioOutput(sample_rate=16000, realtime=False)
    t0 = loop.time()
    await _play(out, _frames(0.5, rate=48000))
    ev = await out.wait_for_playout()
    assert loop.time() == t0
    assert {f.sample_rate for f in out.segments[0].captured} == {16000}
    assert ev.playback_position == pytest.approx(0.5, abs=0.002)
    await out.aclose()


async def test_output_rejects_bad_input_and_closed_use() -> None:
    out = MemoryAudioOutput()
    with pytest.raises(TypeError, match=r"rtc\.AudioFrame"):
        await out.capture_frame(b"pcm")  # type: ignore[arg-type]
    await out.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await out.capture_frame(tone(0.1))


async def test_aclose_reports_unfinished_segment_and_leaves_no_task() -> None:
    out = MemoryAudioOutput()
    await _play(out, _frames(2.0))
    await asyncio.sleep(0.5)
    task = out._task
    assert task is not None and not task.done()
    await out.aclose()
    assert out.segments[0].interrupted
    assert out.segments[0].playback_position == pytest.approx(0.5, abs=1e-6)
    assert task.done()


async def test_queue_input_is_paced_and_ends() -> None:
    loop = asyncio.get_running_loop()
    inp = QueueAudioInput()
    inp.push(_frames(1.0, rate=16000))
    inp.push(tone(0.2, sample_rate=16000))
    inp.end_input()
    with pytest.raises(RuntimeError, match="end_input"):
        inp.push(tone(0.1))
    t0 = loop.time()
    got = [f async for f in inp]
    assert len(got) == 11
    assert loop.time() - t0 == pytest.approx(1.2, abs=1e-6)
    assert inp.pushed_duration == pytest.approx(1.2)
    with pytest.raises(StopAsyncIteration):
        await inp.__anext__()


async def test_memory_text_output_records_segments() -> None:
    out = MemoryTextOutput()
    waiter = asyncio.create_task(out.wait_for_segments(2))
    await out.capture_text("hello ")
    await out.capture_text("there")
    out.flush()
    await out.capture_text("bye")
    assert out.current == "bye"
    out.flush()
    assert await waiter == ["hello there", "bye"]
    assert out.deltas == ["hello ", "there", "bye"]


def _write_raw_wav(path: Path, raw: bytes, *, width: int, rate: int, channels: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)


async def test_wav_input_reads_resamples_and_pads(tmp_path: Path) -> None:
    path = tmp_path / "user.wav"
    write_wav(path, [tone(1.0, sample_rate=8000, num_channels=2)])
    loop = asyncio.get_running_loop()
    inp = WavAudioInput(path, sample_rate=16000, frame_duration=0.05, trailing_silence=0.5)
    t0 = loop.time()
    frames = [f async for f in inp]
    assert {(f.sample_rate, f.num_channels) for f in frames} == {(16000, 2)}
    total = sum(f.samples_per_channel for f in frames) / 16000
    assert total == pytest.approx(1.5, abs=0.01)
    assert loop.time() - t0 == pytest.approx(total, abs=1e-6)
    # the padding is silence, the file's audio is not
    last = np.frombuffer(frames[-1].data, dtype=np.int16)
    first = np.frombuffer(frames[2].data, dtype=np.int16)
    assert not last.any() and first.any()


async def test_wav_input_converts_other_sample_widths(tmp_path: Path) -> None:
    values = np.array([0, 1000, -1000, 32767, -32768], dtype=np.int32)
    path24 = tmp_path / "s24.wav"
    raw24 = b"".join(int(v << 8).to_bytes(3, "little", signed=True) for v in values)
    _write_raw_wav(path24, raw24, width=3, rate=16000, channels=1)
    path32 = tmp_path / "s32.wav"
    _write_raw_wav(path32, (values << 16).astype("<i4").tobytes(), width=4, rate=16000, channels=1)
    path8 = tmp_path / "u8.wav"
    _write_raw_wav(path8, bytes([128, 255, 0]), width=1, rate=16000, channels=1)
    for p in (path24, path32):
        data = await asyncio.to_thread(read_wav, p)
        assert np.frombuffer(data.pcm, dtype="<i2").tolist() == values.tolist()
    data8 = await asyncio.to_thread(read_wav, path8)
    assert np.frombuffer(data8.pcm, dtype="<i2").tolist() == [0, 127 << 8, -128 << 8]


async def test_wav_input_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="WAV file not found"):
        await WavAudioInput(tmp_path / "missing.wav").__anext__()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file at all")
    with pytest.raises(ValueError, match="not a PCM WAV file"):
        await WavAudioInput(bad).__anext__()
    with pytest.raises(ValueError, match="frame_duration"):
        WavAudioInput(bad, frame_duration=0)
    with pytest.raises(ValueError, match="sample_rate"):
        WavAudioInput(bad, sample_rate=-1)


async def test_wav_output_writes_only_what_was_played(tmp_path: Path) -> None:
    path = tmp_path / "agent.wav"
    out = WavAudioOutput(path, sample_rate=16000)
    await _play(out, _frames(0.5))
    await out.wait_for_playout()
    await _play(out, _frames(1.0))
    await asyncio.sleep(0.25)
    out.clear_buffer()
    ev = await out.wait_for_playout()
    assert ev.interrupted and ev.playback_position == pytest.approx(0.25, abs=1e-3)
    await out.aclose()
    data = await asyncio.to_thread(read_wav, path)
    assert (data.sample_rate, data.num_channels) == (16000, 1)
    assert data.duration == pytest.approx(0.75, abs=0.005)
    assert out.written_duration == pytest.approx(data.duration, abs=1e-6)


async def test_wav_output_without_audio_leaves_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    out = WavAudioOutput(path)
    await out.aclose()
    data = await asyncio.to_thread(read_wav, path)
    assert data.pcm == b"" and data.sample_rate == 24000
