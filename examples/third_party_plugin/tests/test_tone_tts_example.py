"""The example third-party plugin: real synthesis, streaming, and discovery via its entry point."""

from __future__ import annotations

import numpy as np
import pytest
from voxlane_tone_tts import SynthOptions, ToneTTS, synthesize_pcm

from voxlane.agents.metrics import TTSMetrics
from voxlane.agents.plugin import (
    ModelNotFoundError,
    list_plugins,
    reset_plugin_manager,
    resolve_provider,
)
from voxlane.agents.tts import SynthesizedAudio

CHAR = 0.08  # default seconds per character


def samples(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<i2").astype(np.float64)


def dominant_hz(pcm: bytes, sample_rate: int) -> float:
    x = samples(pcm)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1.0 / sample_rate)[int(np.argmax(spectrum))])


async def test_synthesize_gives_audible_16bit_pcm() -> None:
    tts = ToneTTS()
    text = "Hello from a third party plugin."
    frame = await tts.synthesize(text).collect()
    assert (frame.sample_rate, frame.num_channels) == (16000, 1)
    assert frame.duration == pytest.approx(len(text) * CHAR)
    x = samples(frame.data)
    rms = float(np.sqrt(np.mean(x**2)))
    assert rms > 1000, f"audio too quiet (rms={rms:.0f})"
    assert np.max(np.abs(x)) < 32767


@pytest.mark.parametrize("text", ["a", "hi", "Hello world", "A much longer sentence, with commas!"])
async def test_duration_is_proportional_to_text(text: str) -> None:
    tts = ToneTTS(char_duration=0.05, sample_rate=8000)
    frame = await tts.synthesize(text).collect()
    assert frame.samples_per_channel == len(text) * 400


async def test_synthesis_is_deterministic_and_text_dependent() -> None:
    tts = ToneTTS()
    first = (await tts.synthesize("same text").collect()).data
    second = (await tts.synthesize("same text").collect()).data
    other = (await tts.synthesize("some text").collect()).data
    assert bytes(first) == bytes(second)
    assert bytes(first) != bytes(other)


def test_spaces_and_punctuation_are_silent() -> None:
    opts = SynthOptions()
    assert not samples(synthesize_pcm(" ,.!", opts)).any()
    assert samples(synthesize_pcm("o", opts)).any()


def test_vowels_and_fricatives_have_their_formant_energy() -> None:
    opts = SynthOptions(sample_rate=16000, char_duration=0.2)
    assert 600 <= dominant_hz(synthesize_pcm("a", opts), 16000) <= 900  # F1 of /a/ ~730 Hz
    assert dominant_hz(synthesize_pcm("i", opts), 16000) <= 400  # F1 of /i/ ~270 Hz
    assert dominant_hz(synthesize_pcm("s", opts), 16000) >= 3500  # /s/ noise near 5 kHz


def test_sine_model_follows_the_pitch() -> None:
    opts = SynthOptions(model="sine", pitch_hz=220.0, char_duration=0.5)
    assert dominant_hz(synthesize_pcm("a", opts), 16000) == pytest.approx(220.0, abs=2.0)
    assert dominant_hz(synthesize_pcm("m", opts), 16000) == pytest.approx(
        220.0 * 2 ** (12 / 12), abs=3.0
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pitch_hz": 5.0}, "pitch_hz must be between"),
        ({"sample_rate": 12345}, "sample_rate 12345 is not supported"),
        ({"char_duration": 0.0}, "char_duration must be between"),
        ({"model": "opera"}, "unknown tone model 'opera'"),
    ],
)
def test_bad_options_are_explained(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ToneTTS(**kwargs)  # type: ignore[arg-type]


async def test_stream_makes_one_segment_per_flush_with_word_timings() -> None:
    tts = ToneTTS()
    stream = tts.stream()
    stream.push_text("Hi ")
    stream.push_text("there")
    stream.flush()
    stream.push_text("again")
    stream.end_input()
    events: list[SynthesizedAudio] = [ev async for ev in stream]
    segments: dict[str, list[SynthesizedAudio]] = {}
    for ev in events:
        segments.setdefault(ev.segment_id, []).append(ev)
    assert len(segments) == 2
    first, second = segments.values()
    assert sum(e.frame.duration for e in first) == pytest.approx(len("Hi there") * CHAR)
    assert sum(e.frame.duration for e in second) == pytest.approx(len("again") * CHAR)
    assert [e.is_final for e in first][-1] and not any(e.is_final for e in first[:-1])
    assert "".join(e.delta_text for e in first) == "Hi there"
    assert "".join(e.delta_text for e in second) == "again"


async def test_metrics_are_reported() -> None:
    tts = ToneTTS()
    collected: list[TTSMetrics] = []
    tts.on("metrics_collected", collected.append)
    await tts.synthesize("metrics please").collect()
    assert len(collected) == 1
    assert collected[0].characters_count == len("metrics please")
    assert collected[0].audio_duration == pytest.approx(len("metrics please") * CHAR)


def test_discovered_through_its_entry_point() -> None:
    reset_plugin_manager()
    try:
        status = {s.name: s for s in list_plugins()}["tone"]
        assert status.status == "ok", status.error
        assert status.distribution == "voxlane-example-tone-tts"
        assert status.entry_point == "voxlane_tone_tts.hooks"
        assert status.models == {"tts": ["tone/formant", "tone/sine"]}
        assert status.core_requirement.startswith(">=0.1.0")

        default = resolve_provider("tts", "tone")
        assert isinstance(default, ToneTTS) and default.model == "formant"
        sine = resolve_provider("tts", "tone/sine:220", sample_rate=8000)
        assert isinstance(sine, ToneTTS)
        assert (sine.model, sine.options.pitch_hz, sine.sample_rate) == ("sine", 220.0, 8000)

        with pytest.raises(ModelNotFoundError, match="formant, sine"):
            resolve_provider("tts", "tone/whisper")
        with pytest.raises(ValueError, match="variant is the voice pitch in Hz"):
            resolve_provider("tts", "tone/formant:loud")
    finally:
        reset_plugin_manager()


async def test_resolved_tone_tts_synthesizes() -> None:
    reset_plugin_manager()
    try:
        tts = resolve_provider("tts", "tone/formant:150")
        frame = await tts.synthesize("ok").collect()
        assert frame.duration == pytest.approx(2 * CHAR)
    finally:
        reset_plugin_manager()
