"""Silero voice activity detection as a Voxlane :class:`~voxlane.agents.vad.VAD`.

Inference runs on onnxruntime (never torch) on one worker thread per process that batches the
windows of concurrent streams (``batching.py``), so the event loop never blocks on the model.
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from livekit import rtc

from voxlane.agents import vad as agents_vad
from voxlane.agents.types import NOT_GIVEN, NotGivenOr, is_given

from .batching import inference_batcher
from .onnx_model import SUPPORTED_SAMPLE_RATES, SileroOnnxModel, new_session

logger = logging.getLogger("voxlane.plugins.silero")

SLOW_INFERENCE_THRESHOLD = 0.2
"""Seconds of inference backlog (compute time beyond the audio's own duration) before warning."""
_SLOW_WARNING_INTERVAL = 5.0


@dataclass
class VADOptions:
    """Tuning of the speech/silence decision (seconds and probabilities)."""

    min_speech_duration: float
    min_silence_duration: float
    prefix_padding_duration: float
    max_buffered_speech: float
    activation_threshold: float
    deactivation_threshold: float
    sample_rate: int
    force_cpu: bool


def _validate(opts: VADOptions) -> None:
    for name in ("min_speech_duration", "min_silence_duration", "prefix_padding_duration"):
        value = getattr(opts, name)
        if value < 0:
            raise ValueError(f"{name} must be >= 0 seconds, got {value}")
    if opts.max_buffered_speech <= 0:
        raise ValueError(
            "max_buffered_speech must be a positive number of seconds, "
            f"got {opts.max_buffered_speech}"
        )
    if not 0.0 < opts.activation_threshold < 1.0:
        raise ValueError(
            "activation_threshold must be between 0 and 1 (exclusive), "
            f"got {opts.activation_threshold}"
        )
    if not 0.0 < opts.deactivation_threshold <= opts.activation_threshold:
        raise ValueError(
            "deactivation_threshold must be > 0 and <= activation_threshold "
            f"({opts.activation_threshold}), got {opts.deactivation_threshold}"
        )
    if opts.sample_rate not in SUPPORTED_SAMPLE_RATES:
        raise ValueError(
            f"sample_rate must be 8000 or 16000 Hz, got {opts.sample_rate}; "
            "input audio at any rate is resampled to it"
        )


class VAD(agents_vad.VAD):
    """Silero VAD. Build it with :meth:`VAD.load` (loading takes a few tens of milliseconds)."""

    def __init__(self, *, session: object, opts: VADOptions) -> None:
        window = 512 if opts.sample_rate == 16000 else 256
        super().__init__(
            capabilities=agents_vad.VADCapabilities(update_interval=window / opts.sample_rate)
        )
        _validate(opts)
        self._session = session
        self._opts = opts
        self._streams: weakref.WeakSet[VADStream] = weakref.WeakSet()

    @classmethod
    def load(
        cls,
        *,
        min_speech_duration: float = 0.05,
        min_silence_duration: float = 0.55,
        prefix_padding_duration: float = 0.5,
        max_buffered_speech: float = 60.0,
        activation_threshold: float = 0.5,
        deactivation_threshold: NotGivenOr[float] = NOT_GIVEN,
        sample_rate: int = 16000,
        force_cpu: bool = True,
        model_path: str | Path | None = None,
    ) -> VAD:
        """Load the bundled Silero model (or ``model_path``) into a new onnxruntime session.

        ``deactivation_threshold`` (default ``activation_threshold - 0.15``, at least 0.01) is
        the probability below which a window counts as silence again.
        """
        deact = (
            deactivation_threshold
            if is_given(deactivation_threshold)
            else max(activation_threshold - 0.15, 0.01)
        )
        opts = VADOptions(
            min_speech_duration=min_speech_duration,
            min_silence_duration=min_silence_duration,
            prefix_padding_duration=prefix_padding_duration,
            max_buffered_speech=max_buffered_speech,
            activation_threshold=activation_threshold,
            deactivation_threshold=deact,
            sample_rate=sample_rate,
            force_cpu=force_cpu,
        )
        _validate(opts)
        session = new_session(model_path=model_path, force_cpu=force_cpu)
        # one throw-away window, so the first real one does not pay onnxruntime's warm-up
        warm = SileroOnnxModel(session, sample_rate=sample_rate)
        warm(np.zeros(warm.window_size_samples, dtype=np.float32))
        return cls(session=session, opts=opts)

    @property
    def model(self) -> str:
        return "silero"

    @property
    def provider(self) -> str:
        return "silero"

    @property
    def options(self) -> VADOptions:
        """A copy of the current options."""
        return replace(self._opts)

    def stream(self) -> VADStream:
        """Open a detection stream; frames may be at any sample rate (resampled internally)."""
        stream = VADStream(self, self._session, replace(self._opts))
        self._streams.add(stream)
        return stream

    def update_options(
        self,
        *,
        min_speech_duration: NotGivenOr[float] = NOT_GIVEN,
        min_silence_duration: NotGivenOr[float] = NOT_GIVEN,
        prefix_padding_duration: NotGivenOr[float] = NOT_GIVEN,
        max_buffered_speech: NotGivenOr[float] = NOT_GIVEN,
        activation_threshold: NotGivenOr[float] = NOT_GIVEN,
        deactivation_threshold: NotGivenOr[float] = NOT_GIVEN,
    ) -> None:
        """Change the decision options of this VAD and of its open streams."""
        new = replace(self._opts)
        if is_given(min_speech_duration):
            new.min_speech_duration = min_speech_duration
        if is_given(min_silence_duration):
            new.min_silence_duration = min_silence_duration
        if is_given(prefix_padding_duration):
            new.prefix_padding_duration = prefix_padding_duration
        if is_given(max_buffered_speech):
            new.max_buffered_speech = max_buffered_speech
        if is_given(activation_threshold):
            new.activation_threshold = activation_threshold
            if not is_given(deactivation_threshold):
                new.deactivation_threshold = max(activation_threshold - 0.15, 0.01)
        if is_given(deactivation_threshold):
            new.deactivation_threshold = deactivation_threshold
        _validate(new)
        self._opts = new
        for stream in self._streams:
            stream._update_options(replace(new))


class _PcmBuffer:
    """A growable int16 buffer with cheap appends and trims at the front."""

    def __init__(self) -> None:
        self._chunks: list[npt.NDArray[np.int16]] = []
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def append(self, data: npt.NDArray[np.int16]) -> None:
        if data.size:
            self._chunks.append(data)
            self._len += int(data.size)

    def take(self, n: int) -> npt.NDArray[np.int16]:
        """Remove and return the first ``n`` samples (fewer if not enough)."""
        data = self.array()
        head, tail = data[:n], data[n:]
        self._chunks = [tail] if tail.size else []
        self._len = int(tail.size)
        return head

    def keep_last(self, n: int) -> None:
        if self._len > n:
            data = self.array()[self._len - n :] if n > 0 else np.zeros(0, np.int16)
            self._chunks = [data] if data.size else []
            self._len = int(data.size)

    def array(self) -> npt.NDArray[np.int16]:
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0]

    def clear(self) -> None:
        self._chunks = []
        self._len = 0


def _to_mono(frame: rtc.AudioFrame) -> npt.NDArray[np.int16]:
    data: npt.NDArray[np.int16] = np.frombuffer(frame.data, dtype=np.int16).copy()
    if frame.num_channels == 1:
        return data
    mixed = data.reshape(-1, frame.num_channels).astype(np.int32).mean(axis=1)
    out: npt.NDArray[np.int16] = mixed.astype(np.int16)
    return out


def _frame(pcm: npt.NDArray[np.int16], sample_rate: int) -> rtc.AudioFrame:
    return rtc.AudioFrame(
        data=pcm.tobytes(),
        sample_rate=sample_rate,
        num_channels=1,
        samples_per_channel=int(pcm.size),
    )


class VADStream(agents_vad.VADStream):
    """One stream of Silero decisions. Emits INFERENCE_DONE for every 32 ms window.

    ``frames`` in events are mono, at the sample rate of the pushed audio. When the input ends
    while speech is ongoing, a final END_OF_SPEECH carries the buffered speech.
    """

    def __init__(self, vad: VAD, session: object, opts: VADOptions) -> None:
        self._opts = opts
        self._model = SileroOnnxModel(session, sample_rate=opts.sample_rate)
        super().__init__(vad)

    def _update_options(self, opts: VADOptions) -> None:
        self._opts = opts

    async def _main_task(self) -> None:
        model_rate = self._opts.sample_rate
        window = self._model.window_size_samples
        window_dur = self._model.window_duration

        input_rate = 0
        resampler: rtc.AudioResampler | None = None
        model_buf = _PcmBuffer()  # audio at the model rate, waiting for inference
        input_buf = _PcmBuffer()  # the same audio at the input rate, for the events' frames
        model_consumed = 0  # model-rate samples already analysed
        input_consumed = 0  # input-rate samples already attributed to analysed windows

        pre_speech = _PcmBuffer()  # recent audio while not speaking (prefix padding)
        speech = _PcmBuffer()  # audio of the current utterance
        speaking = False
        raw_speech = False
        acc_speech = 0.0
        acc_silence = 0.0
        speech_duration = 0.0
        overflow_warned = False
        backlog = 0.0
        last_slow_warning = -_SLOW_WARNING_INTERVAL

        def emit_end(timestamp: float, samples_index: int, prob: float, inf: float) -> None:
            frames = [_frame(speech.array(), input_rate)] if len(speech) else []
            self._event_ch.send_nowait(
                agents_vad.VADEvent(
                    type=agents_vad.VADEventType.END_OF_SPEECH,
                    samples_index=samples_index,
                    timestamp=timestamp,
                    speech_duration=max(speech_duration - acc_silence, 0.0),
                    silence_duration=acc_silence,
                    frames=frames,
                    probability=prob,
                    inference_duration=inf,
                    speaking=False,
                    raw_accumulated_silence=acc_silence,
                    raw_accumulated_speech=acc_speech,
                )
            )

        async def analyse() -> None:
            nonlocal model_consumed, input_consumed, speaking, raw_speech, acc_speech
            nonlocal acc_silence, speech_duration, overflow_warned, backlog, last_slow_warning
            usable = (len(model_buf) // window) * window
            if usable == 0:
                return
            pcm = model_buf.take(usable)
            t0 = time.perf_counter()
            results = await inference_batcher().submit(self._model, pcm)
            hop_overhead = max(time.perf_counter() - t0 - sum(r[1] for r in results), 0.0)

            for idx, (prob, inf) in enumerate(results):
                opts = self._opts
                inference_duration = inf + (hop_overhead if idx == 0 else 0.0)
                backlog = max(backlog + inference_duration - window_dur, 0.0)
                now = time.perf_counter()
                if (
                    backlog > SLOW_INFERENCE_THRESHOLD
                    and now - last_slow_warning > _SLOW_WARNING_INTERVAL
                ):
                    last_slow_warning = now
                    logger.warning(
                        "Silero VAD inference is slower than real time (%.0f ms behind); "
                        "the machine may be overloaded",
                        backlog * 1000,
                    )

                model_consumed += window
                target = round(model_consumed * input_rate / model_rate)
                chunk = input_buf.take(max(target - input_consumed, 0))
                input_consumed += int(chunk.size)
                timestamp = input_consumed / input_rate

                if prob >= opts.activation_threshold:
                    raw_speech = True
                elif prob < opts.deactivation_threshold:
                    raw_speech = False
                if raw_speech:
                    acc_speech += window_dur
                    acc_silence = 0.0
                else:
                    acc_silence += window_dur
                    acc_speech = 0.0

                if speaking:
                    speech_duration += window_dur
                    if len(speech) + chunk.size <= opts.max_buffered_speech * input_rate:
                        speech.append(chunk)
                    elif not overflow_warned:
                        overflow_warned = True
                        logger.warning(
                            "speech longer than max_buffered_speech (%.1f s): later audio of "
                            "this utterance is dropped from the END_OF_SPEECH frames",
                            opts.max_buffered_speech,
                        )
                else:
                    pre_speech.append(chunk)
                    keep = round((opts.prefix_padding_duration + acc_speech) * input_rate)
                    pre_speech.keep_last(keep)

                self._event_ch.send_nowait(
                    agents_vad.VADEvent(
                        type=agents_vad.VADEventType.INFERENCE_DONE,
                        samples_index=input_consumed,
                        timestamp=timestamp,
                        speech_duration=speech_duration if speaking else acc_speech,
                        silence_duration=acc_silence,
                        frames=[_frame(chunk, input_rate)],
                        probability=prob,
                        inference_duration=inference_duration,
                        speaking=speaking,
                        raw_accumulated_silence=acc_silence,
                        raw_accumulated_speech=acc_speech,
                    )
                )

                if not speaking and raw_speech and acc_speech >= opts.min_speech_duration:
                    speaking = True
                    overflow_warned = False
                    speech_duration = acc_speech
                    speech.clear()
                    speech.append(pre_speech.array())
                    pre_speech.clear()
                    self._event_ch.send_nowait(
                        agents_vad.VADEvent(
                            type=agents_vad.VADEventType.START_OF_SPEECH,
                            samples_index=input_consumed,
                            timestamp=timestamp,
                            speech_duration=speech_duration,
                            silence_duration=0.0,
                            frames=[_frame(speech.array(), input_rate)],
                            probability=prob,
                            inference_duration=inference_duration,
                            speaking=True,
                            raw_accumulated_silence=acc_silence,
                            raw_accumulated_speech=acc_speech,
                        )
                    )
                elif speaking and not raw_speech and acc_silence >= opts.min_silence_duration:
                    speaking = False
                    emit_end(timestamp, input_consumed, prob, inference_duration)
                    # the trailing silence may serve as the prefix of the next utterance
                    pre_speech.clear()
                    pre_speech.append(speech.array())
                    pre_speech.keep_last(round(opts.prefix_padding_duration * input_rate))
                    speech.clear()
                    speech_duration = 0.0

        async for item in self._input_ch:
            if isinstance(item, agents_vad.VADStream._FlushSentinel):
                continue
            frame = item
            if input_rate == 0:
                input_rate = frame.sample_rate
                if input_rate != model_rate:
                    resampler = rtc.AudioResampler(
                        input_rate,
                        model_rate,
                        num_channels=1,
                        quality=rtc.AudioResamplerQuality.QUICK,
                    )
            elif frame.sample_rate != input_rate:
                raise ValueError(
                    f"a VAD stream's sample rate must stay constant: got {frame.sample_rate} Hz "
                    f"after {input_rate} Hz; open a new stream for audio at another rate"
                )
            mono = _to_mono(frame)
            if mono.size == 0:
                continue
            input_buf.append(mono)
            if resampler is None:
                model_buf.append(mono)
            else:
                for out in resampler.push(_frame(mono, input_rate)):
                    model_buf.append(np.frombuffer(out.data, dtype=np.int16).copy())
            await analyse()

        if resampler is not None:
            for out in resampler.flush():
                model_buf.append(np.frombuffer(out.data, dtype=np.int16).copy())
        await analyse()
        if speaking:
            # the input ended mid-utterance: hand over what was heard
            emit_end(input_consumed / input_rate, input_consumed, 0.0, 0.0)
