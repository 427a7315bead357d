"""AudioEmitter: framing, is_final marking, segments, timed transcripts and decoding."""

from __future__ import annotations

import asyncio
import io
import struct
import sys

import numpy as np
import pytest

from voxlane.agents.tts import (
    TIMED_TRANSCRIPTS_KEY,
    AudioEmitter,
    SynthesizedAudio,
    TimedString,
)
from voxlane.agents.utils import aio


def sine_pcm(seconds: float, sample_rate: int, freq: float = 440.0, channels: int = 1) -> bytes:
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    mono = (np.sin(2 * np.pi * freq * t) * 12000).astype(np.int16)
    if channels == 1:
        return mono.tobytes()
    return np.repeat(mono[:, None], channels, axis=1).reshape(-1).tobytes()


def wav_bytes(
    pcm: bytes, sample_rate: int, channels: int = 1, data_size: int | None = None
) -> bytes:
    size = len(pcm) if data_size is None else data_size
    fmt = struct.pack(
        "<HHIIHH", 1, channels, sample_rate, sample_rate * channels * 2, channels * 2, 16
    )
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    header += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    header += b"LIST" + struct.pack("<I", 4) + b"INFO"  # an extra chunk the parser must skip
    header += b"data" + struct.pack("<I", size & 0xFFFFFFFF)
    return header + pcm


def encode_with_av(fmt: str, codec: str, seconds: float, rate: int) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        pcm = np.frombuffer(sine_pcm(seconds, rate), dtype=np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


async def drain(ch: aio.Chan[SynthesizedAudio]) -> list[SynthesizedAudio]:
    ch.close()
    return [ev async for ev in ch]


async def run_emitter(
    pushes: list[bytes], *, chunk: int = 1000, **init: object
) -> tuple[AudioEmitter, list[SynthesizedAudio]]:
    ch: aio.Chan[SynthesizedAudio] = aio.Chan()
    em = AudioEmitter(label="test", dst_ch=ch)
    em.initialize(request_id="req", **init)  # type: ignore[arg-type]
    for data in pushes:
        for i in range(0, len(data), chunk):
            em.push(data[i : i + chunk])
    em.end_input()
    await em.join()
    out = await drain(ch)
    await em.aclose()
    return em, out


async def test_pcm_is_cut_into_fixed_frames_with_last_one_final() -> None:
    pcm = sine_pcm(0.55, 24000)
    em, out = await run_emitter([pcm], chunk=777, sample_rate=24000, num_channels=1)
    sizes = [ev.frame.samples_per_channel for ev in out]
    assert sizes == [4800, 4800, 3600]  # 200 ms frames, short last frame
    assert [ev.is_final for ev in out] == [False, False, True]
    assert all(ev.request_id == "req" for ev in out)
    joined = b"".join(bytes(ev.frame.data.cast("B")) for ev in out)
    assert joined == pcm
    assert em.pushed_duration() == pytest.approx(0.55)
    assert em.num_segments == 1


async def test_frame_size_ms_and_stereo() -> None:
    pcm = sine_pcm(0.1, 16000, channels=2)
    _, out = await run_emitter([pcm], sample_rate=16000, num_channels=2, frame_size_ms=20)
    assert len(out) == 5
    assert all(ev.frame.samples_per_channel == 320 and ev.frame.num_channels == 2 for ev in out)
    assert out[-1].is_final and not any(ev.is_final for ev in out[:-1])


async def test_flush_emits_partial_frame_marked_final_without_ending() -> None:
    ch: aio.Chan[SynthesizedAudio] = aio.Chan()
    em = AudioEmitter(label="test", dst_ch=ch)
    em.initialize(request_id="r", sample_rate=10000, num_channels=1, frame_size_ms=100)
    em.push(sine_pcm(0.05, 10000))
    em.flush()
    em.push(sine_pcm(0.1, 10000))
    em.end_input()
    await em.join()
    out = await drain(ch)
    assert [ev.frame.samples_per_channel for ev in out] == [500, 1000]
    assert [ev.is_final for ev in out] == [True, True]  # each flush ends with a final frame


async def test_stream_segments_each_end_with_a_final_frame() -> None:
    ch: aio.Chan[SynthesizedAudio] = aio.Chan()
    em = AudioEmitter(label="test", dst_ch=ch)
    em.initialize(request_id="r", sample_rate=8000, num_channels=1, stream=True)
    em.start_segment(segment_id="s1")
    em.push(sine_pcm(0.3, 8000))
    em.end_segment()
    em.start_segment(segment_id="s2")
    em.push(sine_pcm(0.1, 8000))
    em.end_segment()
    em.start_segment(segment_id="s3")
    em.push(sine_pcm(0.2, 8000))
    em.end_input()  # ends the open segment
    await em.join()
    out = await drain(ch)
    assert [(ev.segment_id, ev.frame.samples_per_channel, ev.is_final) for ev in out] == [
        ("s1", 1600, False),
        ("s1", 800, True),
        ("s2", 800, True),
        ("s3", 1600, True),
    ]
    assert em.num_segments == 3
    assert em.pushed_duration(0) == pytest.approx(0.3)
    assert em.pushed_duration(1) == pytest.approx(0.1)
    assert em.pushed_duration() == pytest.approx(0.2)


async def test_timed_transcripts_are_attached_to_frames() -> None:
    ch: aio.Chan[SynthesizedAudio] = aio.Chan()
    em = AudioEmitter(label="test", dst_ch=ch)
    em.initialize(request_id="r", sample_rate=8000, num_channels=1, stream=True)
    em.start_segment(segment_id="seg")
    em.push_timed_transcript(TimedString("Hello ", start_time=0.0, end_time=0.2))
    em.push(sine_pcm(0.2, 8000))
    em.push_timed_transcript(
        [TimedString("big ", start_time=0.2, end_time=0.3), TimedString("world", start_time=0.3)]
    )
    em.push(sine_pcm(0.3, 8000))
    em.end_segment()
    em.end_input()
    await em.join()
    out = await drain(ch)
    texts = "".join(ev.delta_text for ev in out)
    assert texts == "Hello big world"
    attached = [t for ev in out for t in ev.frame.userdata.get(TIMED_TRANSCRIPTS_KEY, [])]
    assert [str(t) for t in attached] == ["Hello ", "big ", "world"]
    assert attached[1].start_time == 0.2 and attached[1].end_time == 0.3
    assert all(isinstance(t, TimedString) for t in attached)


async def test_wav_input_with_placeholder_size_and_resampling() -> None:
    pcm = sine_pcm(0.4, 16000)
    wav = wav_bytes(pcm, 16000, data_size=0xFFFFFFFF)
    _, same_rate = await run_emitter(
        [wav], chunk=37, sample_rate=16000, num_channels=1, mime_type="audio/wav"
    )
    assert b"".join(bytes(ev.frame.data.cast("B")) for ev in same_rate) == pcm

    _, resampled = await run_emitter(
        [wav], chunk=1001, sample_rate=24000, num_channels=1, mime_type="audio/x-wav"
    )
    total = sum(ev.frame.samples_per_channel for ev in resampled)
    assert abs(total - 9600) <= 200  # 0.4 s at 24 kHz, resampler delay tolerated
    assert all(ev.frame.sample_rate == 24000 for ev in resampled)
    assert resampled[-1].is_final


async def test_wav_with_wrong_channel_count_is_a_clear_error() -> None:
    wav = wav_bytes(sine_pcm(0.1, 16000, channels=2), 16000, channels=2)
    with pytest.raises(ValueError, match="2 channel"):
        await run_emitter([wav], sample_rate=16000, num_channels=1, mime_type="audio/wav")


async def test_wav_without_riff_header_is_rejected() -> None:
    with pytest.raises(ValueError, match="RIFF/WAVE"):
        await run_emitter(
            [b"ID3" + bytes(100)], sample_rate=16000, num_channels=1, mime_type="audio/wav"
        )


@pytest.mark.parametrize(
    ("mime", "fmt", "codec", "rate"),
    [
        ("audio/mpeg", "mp3", "libmp3lame", 24000),
        ("audio/ogg; codecs=opus", "ogg", "libopus", 48000),
        ("audio/flac", "flac", "flac", 22050),
    ],
)
async def test_encoded_input_is_decoded_with_pyav(
    mime: str, fmt: str, codec: str, rate: int
) -> None:
    encoded = encode_with_av(fmt, codec, 1.0, rate)
    _, out = await run_emitter(
        [encoded], chunk=500, sample_rate=16000, num_channels=1, mime_type=mime
    )
    total = sum(ev.frame.samples_per_channel for ev in out) / 16000
    assert 0.9 <= total <= 1.15  # codecs add a little padding
    assert all(ev.frame.samples_per_channel == 3200 for ev in out[:-1])
    assert out[-1].is_final and not any(ev.is_final for ev in out[:-1])
    samples = np.frombuffer(b"".join(bytes(ev.frame.data.cast("B")) for ev in out), np.int16)
    assert np.abs(samples).max() > 5000  # the tone survived decoding


async def test_garbage_encoded_input_fails_join() -> None:
    with pytest.raises(ValueError, match="encoded audio"):
        await run_emitter(
            [b"\x00\x01garbage" * 50], sample_rate=16000, num_channels=1, mime_type="audio/mpeg"
        )


async def test_missing_pyav_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    em = AudioEmitter(label="test", dst_ch=aio.Chan())
    with pytest.raises(ImportError, match="pip install av"):
        em.initialize(request_id="r", sample_rate=16000, num_channels=1, mime_type="audio/mpeg")
    await em.aclose()
    # PCM needs no extra package
    _, out = await run_emitter([sine_pcm(0.2, 16000)], sample_rate=16000, num_channels=1)
    assert len(out) == 1


async def test_misuse_gives_clear_errors() -> None:
    em = AudioEmitter(label="test", dst_ch=aio.Chan())
    with pytest.raises(RuntimeError, match="initialize"):
        em.push(b"\x00\x00")
    with pytest.raises(ValueError, match="sample_rate"):
        em.initialize(request_id="r", sample_rate=0, num_channels=1)
    with pytest.raises(ValueError, match="mime_type"):
        em.initialize(request_id="r", sample_rate=16000, num_channels=1, mime_type="pcm")
    em.initialize(request_id="r", sample_rate=16000, num_channels=1)
    with pytest.raises(RuntimeError, match="already"):
        em.initialize(request_id="r", sample_rate=16000, num_channels=1)
    with pytest.raises(RuntimeError, match="only for streams"):
        em.start_segment(segment_id="x")
    with pytest.raises(TypeError, match="bytes"):
        em.push("text")  # type: ignore[arg-type]
    em.end_input()
    with pytest.raises(RuntimeError, match="after end_input"):
        em.push(b"\x00\x00")
    await em.aclose()

    st = AudioEmitter(label="test", dst_ch=aio.Chan())
    st.initialize(request_id="r", sample_rate=16000, num_channels=1, stream=True)
    with pytest.raises(RuntimeError, match="start_segment"):
        st.push(b"\x00\x00")
    with pytest.raises(RuntimeError, match="without an open segment"):
        st.end_segment()
    st.start_segment(segment_id="a")
    with pytest.raises(RuntimeError, match="already open"):
        st.start_segment(segment_id="b")
    await st.aclose()


async def test_aclose_while_decoding_leaves_no_task() -> None:
    before = asyncio.all_tasks()
    ch: aio.Chan[SynthesizedAudio] = aio.Chan()
    em = AudioEmitter(label="test", dst_ch=ch)
    em.initialize(request_id="r", sample_rate=16000, num_channels=1, mime_type="audio/mpeg")
    em.push(encode_with_av("mp3", "libmp3lame", 0.5, 24000)[:700])  # decoder thread waits for more
    await asyncio.sleep(0)
    await em.aclose()
    assert em.task.done()
    assert asyncio.all_tasks() == before
