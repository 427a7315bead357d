"""testing.speech: espeak-ng speech, clips with measured spans, energy segmentation."""

from __future__ import annotations

import numpy as np
import pytest

from voxlane.agents.testing import speech


def test_espeak_speaks_at_22050_hz() -> None:
    pcm = speech.espeak_pcm("hello world")
    seconds = len(pcm) / 2 / speech.ESPEAK_RATE
    assert 0.4 < seconds < 3.0
    assert any(speech.loud_windows(pcm, speech.ESPEAK_RATE))
    assert speech.espeak_pcm("hello world") is pcm  # cached
    with pytest.raises(ValueError, match="some text"):
        speech.espeak_pcm("  ")


def test_a_clip_finds_one_span_per_text_where_the_speech_was_put() -> None:
    clip = speech.make_speech_clip(["one two three", "four five six"], lead=0.5, gap=1.0, tail=0.8)
    assert clip.sample_rate == speech.ESPEAK_RATE and clip.texts == [
        "one two three",
        "four five six",
    ]
    assert len(clip.spans) == 2
    (s1, e1), (s2, e2) = clip.spans
    assert 0.5 <= s1 < e1 < s2 < e2 < clip.duration
    assert s2 - e1 >= 0.9  # the silence between them is where it was put
    frames = clip.frames(frame_ms=20)
    assert sum(f.samples_per_channel for f in frames) == len(clip.pcm) // 2
    assert frames[0].samples_per_channel == speech.ESPEAK_RATE // 50


def test_a_too_short_gap_merges_utterances_and_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 2 utterances"):
        speech.make_speech_clip(["one", "two"], gap=0.05)
    with pytest.raises(ValueError, match="at least one"):
        speech.make_speech_clip([])


def test_speech_spans_on_synthetic_audio() -> None:
    rate = 16000
    tone = (np.sin(np.arange(rate // 2) * 0.2) * 3000).astype(np.int16).tobytes()  # 0.5 s loud
    pcm = speech.silence_pcm(0.2, rate) + tone + speech.silence_pcm(0.6, rate) + tone
    spans = speech.speech_spans(pcm, rate)
    assert len(spans) == 2
    assert spans[0][0] == pytest.approx(0.2, abs=0.021)
    assert spans[1][0] == pytest.approx(1.3, abs=0.021)
    # a pause shorter than min_gap keeps one span
    assert len(speech.speech_spans(pcm, rate, min_gap=1.0)) == 1
    assert speech.speech_spans(speech.silence_pcm(1.0, rate), rate) == []


def test_resample_and_spoken_pcm_keep_the_duration() -> None:
    pcm = speech.espeak_pcm("testing")
    at_16k = speech.spoken_pcm("testing", 16000)
    assert len(at_16k) // 2 == round(len(pcm) // 2 * 16000 / speech.ESPEAK_RATE)
    assert speech.resample_pcm(pcm, 22050, 22050) is pcm
    with pytest.raises(ValueError, match="positive"):
        speech.resample_pcm(pcm, 0, 16000)


def test_pcm_frames_cut_the_tail_short_and_refuse_bad_sizes() -> None:
    frames = speech.pcm_frames(b"\x01\x00" * 250, 10000, frame_ms=20)  # 200 samples per frame
    assert [f.samples_per_channel for f in frames] == [200, 50]
    with pytest.raises(ValueError, match="frame_ms"):
        speech.pcm_frames(b"", 16000, frame_ms=0)
    with pytest.raises(ValueError, match="seconds"):
        speech.silence_pcm(-1, 16000)
