"""PCM helpers: resampling byte streams, down-mixing, WAV files and provider rates."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents.utils.pcm import PcmResampler, mono_pcm, pick_sample_rate, wav_bytes


def _sine(rate: int, seconds: float, hz: float = 440.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * hz * t) * 10000).astype(np.int16).tobytes()


def test_same_rate_passes_bytes_through() -> None:
    r = PcmResampler(16000, 16000)
    assert r.push(b"\x01\x02\x03") == b"\x01\x02\x03"
    assert r.flush() == b""


def test_resampling_keeps_the_duration_across_odd_chunks() -> None:
    src = _sine(24000, 1.0)
    r = PcmResampler(24000, 16000)
    out = bytearray()
    # chunks of 1001 bytes split samples in half: the odd byte is carried to the next push
    for i in range(0, len(src), 1001):
        out += r.push(src[i : i + 1001])
    out += r.flush()
    assert len(out) % 2 == 0
    assert abs(len(out) // 2 - 16000) <= 16  # one second at the new rate, within a few samples
    # the tone survives: its loudness is about the source's
    rms_in = np.sqrt(np.mean(np.frombuffer(src, np.int16).astype(np.float64) ** 2))
    rms_out = np.sqrt(np.mean(np.frombuffer(bytes(out), np.int16).astype(np.float64) ** 2))
    assert rms_out == pytest.approx(rms_in, rel=0.05)


def test_a_lone_byte_yields_nothing_yet() -> None:
    r = PcmResampler(48000, 16000)
    assert r.push(b"\x00") == b""


def test_bad_resampler_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        PcmResampler(0, 16000)
    with pytest.raises(ValueError, match="num_channels"):
        PcmResampler(16000, 8000, num_channels=0)


def test_mono_pcm_averages_channels() -> None:
    stereo = np.array([[100, 300], [-50, -150], [7, 9]], dtype=np.int16)
    frame = rtc.AudioFrame(stereo.tobytes(), 16000, 2, 3)
    assert np.frombuffer(mono_pcm(frame), np.int16).tolist() == [200, -100, 8]
    mono = rtc.AudioFrame(b"\x01\x00\x02\x00", 16000, 1, 2)
    assert mono_pcm(mono) == b"\x01\x00\x02\x00"


def test_wav_bytes_is_a_readable_wav_file() -> None:
    pcm = _sine(8000, 0.25)
    frame = rtc.AudioFrame(pcm, 8000, 1, len(pcm) // 2)
    with wave.open(io.BytesIO(wav_bytes(frame)), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert w.readframes(w.getnframes()) == pcm


def test_pick_sample_rate() -> None:
    offered = (8000, 16000, 24000, 48000)
    assert pick_sample_rate(16000, offered) == 16000
    assert pick_sample_rate(22050, offered) == 24000
    assert pick_sample_rate(96000, offered) == 48000
    with pytest.raises(ValueError, match="positive"):
        pick_sample_rate(0, offered)
    with pytest.raises(ValueError, match="at least one"):
        pick_sample_rate(16000, ())
