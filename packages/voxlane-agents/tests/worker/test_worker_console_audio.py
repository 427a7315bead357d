"""The console's audio mode (ChatCLI) with a stand-in for sounddevice.

No audio device exists on test machines, so ``sounddevice`` is replaced by a small fake whose
streams call the real callbacks from their own threads, as PortAudio does: the microphone
stream delivers the audio the test queues (silence otherwise), the speaker stream records what
it is given. Everything else is real: the WebRTC audio processing module (echo cancellation),
the level meter, the session's voice turn, and Ctrl+B switching between audio and text.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
import pytest
from livekit import rtc

from voxlane.agents.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, ScriptedTranscript
from voxlane.agents.voice import Agent, AgentSession
from voxlane.agents.voice.console import devices
from voxlane.agents.voice.console.chat_cli import CTRL_B, CTRL_D, ChatCLI

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="reads keys from a POSIX pipe")

BLOCK_SECONDS = devices.BLOCK / devices.SAMPLE_RATE


class _FakeStream:
    """A PortAudio-like stream: ``callback`` runs in a thread, one block per BLOCK_SECONDS."""

    def __init__(
        self,
        *,
        samplerate: int,
        channels: int,
        dtype: str,
        blocksize: int,
        device: Any,
        callback: Callable[..., None],
    ) -> None:
        assert (samplerate, channels, dtype) == (devices.SAMPLE_RATE, 1, "int16")
        self.blocksize = blocksize
        self.device = device
        self.callback = callback
        self.closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(5)

    def close(self) -> None:
        self.closed = True

    def _run(self) -> None:
        while not self._stop.wait(BLOCK_SECONDS):
            self.step()

    def step(self) -> None:
        raise NotImplementedError


class FakeInputStream(_FakeStream):
    def __init__(self, sd: FakeSoundDevice, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sd = sd
        sd.inputs.append(self)

    def step(self) -> None:
        block = self._sd.next_mic_block(self.blocksize)
        now = time.monotonic()
        info = types.SimpleNamespace(currentTime=now, inputBufferAdcTime=now - 0.01)
        self.callback(block.reshape(-1, 1), self.blocksize, info, None)


class FakeOutputStream(_FakeStream):
    def __init__(self, sd: FakeSoundDevice, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sd = sd
        sd.outputs.append(self)

    def step(self) -> None:
        out = np.zeros((self.blocksize, 1), dtype=np.int16)
        now = time.monotonic()
        info = types.SimpleNamespace(currentTime=now, outputBufferDacTime=now + 0.02)
        self.callback(out, self.blocksize, info, None)
        with self._sd.lock:
            self._sd.played.append(out[:, 0].copy())


class FakeSoundDevice(types.ModuleType):
    """The part of the ``sounddevice`` module the console uses."""

    def __init__(self) -> None:
        super().__init__("sounddevice")
        self.default = types.SimpleNamespace(device=(0, 1))
        self.inputs: list[FakeInputStream] = []
        self.outputs: list[FakeOutputStream] = []
        self.lock = threading.Lock()
        self.mic_queue = np.zeros(0, dtype=np.int16)
        self.played: list[np.ndarray[Any, np.dtype[np.int16]]] = []

    def query_devices(self) -> list[dict[str, Any]]:
        return [
            {"name": "fake mic", "max_input_channels": 1, "max_output_channels": 0},
            {"name": "fake speaker", "max_input_channels": 0, "max_output_channels": 1},
        ]

    def InputStream(self, **kwargs: Any) -> FakeInputStream:
        return FakeInputStream(self, **kwargs)

    def OutputStream(self, **kwargs: Any) -> FakeOutputStream:
        return FakeOutputStream(self, **kwargs)

    def say(self, pcm: np.ndarray[Any, np.dtype[np.int16]]) -> None:
        with self.lock:
            self.mic_queue = np.concatenate([self.mic_queue, pcm])

    def next_mic_block(self, n: int) -> np.ndarray[Any, np.dtype[np.int16]]:
        with self.lock:
            block = np.zeros(n, dtype=np.int16)
            take = min(n, len(self.mic_queue))
            block[:take] = self.mic_queue[:take]
            self.mic_queue = self.mic_queue[take:]
            return block

    def played_audio(self) -> np.ndarray[Any, np.dtype[np.int16]]:
        with self.lock:
            return np.concatenate(self.played) if self.played else np.zeros(0, np.int16)


class RecordingAPM(rtc.AudioProcessingModule):
    """The real APM, counting what goes through it."""

    instances: ClassVar[list[RecordingAPM]] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = kwargs
        self.near_frames = 0
        self.far_peak = 0
        self.delays: list[int] = []
        RecordingAPM.instances.append(self)

    def process_stream(self, data: rtc.AudioFrame) -> None:
        self.near_frames += 1
        super().process_stream(data)

    def process_reverse_stream(self, data: rtc.AudioFrame) -> None:
        pcm = np.frombuffer(bytes(data.data), dtype=np.int16)
        self.far_peak = max(self.far_peak, int(np.abs(pcm).max()) if len(pcm) else 0)
        super().process_reverse_stream(data)

    def set_stream_delay_ms(self, delay_ms: int) -> None:
        self.delays.append(delay_ms)
        super().set_stream_delay_ms(delay_ms)


@pytest.fixture
def sd(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSoundDevice]:
    fake = FakeSoundDevice()
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    RecordingAPM.instances = []
    monkeypatch.setattr(rtc, "AudioProcessingModule", RecordingAPM)
    yield fake
    for stream in [*fake.inputs, *fake.outputs]:
        stream.stop()


def tone(seconds: float, amplitude: float = 0.3) -> np.ndarray[Any, np.dtype[np.int16]]:
    t = np.arange(int(devices.SAMPLE_RATE * seconds)) / devices.SAMPLE_RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


async def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := predicate()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
    return value


async def test_audio_mode_voice_turn_meter_echo_reference_and_ctrl_b(
    sd: FakeSoundDevice,
) -> None:
    assert devices.find_audio_devices() == (0, 1)
    llm = FakeLLM(default="I heard you.")
    llm.when("hello", "Hello there, how can I help?")
    session: AgentSession[None] = AgentSession(
        llm=llm,
        stt=FakeSTT([ScriptedTranscript("hello agent", start=0.1, end=0.6)]),
        vad=FakeVAD(segments=[(0.1, 0.6)]),
        tts=FakeTTS(seconds_per_char=0.01),
        min_endpointing_delay=0.2,
        user_away_timeout=None,
    )
    key_r, key_w = os.pipe()
    stdin = os.fdopen(key_r, "r")
    stdout = io.StringIO()
    cli = ChatCLI(session, mode="audio", stdin=stdin, stdout=stdout)
    try:
        await cli.start()
        await session.start(Agent(instructions="test"))
        assert cli.mode == "audio"
        assert "[audio mode" in stdout.getvalue()
        assert len(sd.inputs) == 1 and len(sd.outputs) == 1
        apm = RecordingAPM.instances[0]
        assert apm.options["echo_cancellation"] is True

        # the user speaks into the microphone
        sd.say(np.concatenate([tone(1.0), np.zeros(devices.SAMPLE_RATE // 2, np.int16)]))
        # the level meter shows the microphone's level
        await wait_until(lambda: "dBFS] #" in stdout.getvalue(), "a non-silent level meter")
        # the reply is printed and played through the speaker
        await wait_until(
            lambda: "Agent: Hello there, how can I help?" in stdout.getvalue(), "the reply"
        )
        await wait_until(
            lambda: np.abs(sd.played_audio()).max(initial=0) > 1000, "the reply's audio"
        )
        user_turns = [
            i.text_content
            for i in session.history.items
            if i.type == "message" and i.role == "user"
        ]
        assert user_turns == ["hello agent"]
        # the microphone went through the APM, with the speaker's audio as echo reference
        assert apm.near_frames > 0 and apm.delays
        await wait_until(lambda: apm.far_peak > 1000, "the echo reference")
        await session.drain()

        # Ctrl+B: text mode, the microphone is closed, typed text gets a spoken reply
        os.write(key_w, CTRL_B.encode())
        await wait_until(lambda: cli.mode == "text", "text mode")
        assert sd.inputs[0].closed and session.input.audio is None
        assert "[text mode: type a message and press Enter (Ctrl+B for audio)]" in (
            stdout.getvalue()
        )
        played_before = len(sd.played_audio())
        os.write(key_w, b"what now\n")
        await wait_until(lambda: "Agent: I heard you." in stdout.getvalue(), "the typed reply")
        await session.drain()
        assert np.abs(sd.played_audio()[played_before:]).max(initial=0) > 1000

        # Ctrl+B again: back to audio mode with a new microphone stream
        os.write(key_w, CTRL_B.encode())
        await wait_until(lambda: cli.mode == "audio", "audio mode again")
        assert len(sd.inputs) == 2 and not sd.inputs[1].closed
        assert session.input.audio is not None

        # Ctrl+D ends the console
        os.write(key_w, CTRL_D.encode())
        await asyncio.wait_for(cli.wait_done(), 30)
    finally:
        await cli.aclose()
        await session.aclose()
        os.close(key_w)
        stdin.close()
    assert sd.inputs[1].closed and sd.outputs[0].closed


async def test_device_problems_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSoundDevice()
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    fake.default = types.SimpleNamespace(device=(-1, 1))
    assert devices.find_audio_devices() == "no microphone found"
    fake.default = types.SimpleNamespace(device=(0, -1))
    assert devices.find_audio_devices() == "no speaker found"
    monkeypatch.setattr(fake, "query_devices", lambda: [])
    assert devices.find_audio_devices() == "no audio device found"
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    reason = devices.find_audio_devices()
    assert isinstance(reason, str) and "console" in reason
