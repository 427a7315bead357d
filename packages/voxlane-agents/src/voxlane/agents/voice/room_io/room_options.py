"""``RoomOptions``: LiveKit's newer single options object of the room binding.

``session.start(room=..., room_options=RoomOptions(...))`` is the newer spelling of
``room_input_options=RoomInputOptions(...)`` / ``room_output_options=RoomOutputOptions(...)``;
:meth:`RoomOptions.to_legacy` maps one onto the other, field by field. Each of ``text_input``,
``audio_input``, ``video_input``, ``audio_output`` and ``text_output`` is ``True`` (enabled with
the defaults), ``False`` (disabled) or an options object (enabled with those options).

What Voxlane does not do: ``video_input`` (no video input: True logs a warning),
``AudioInputOptions.frame_size_ms`` (frames keep the room's size; another value logs a warning)
and ``auto_gain_control`` (not applied).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc

from .options import (
    DEFAULT_PARTICIPANT_KINDS,
    NoiseCancellation,
    RoomInputOptions,
    RoomOutputOptions,
    TextInputCallback,
    default_text_input_cb,
)

logger = logging.getLogger("voxlane.agents.room_io")

DEFAULT_FRAME_SIZE_MS = 50


@dataclass
class AudioInputOptions:
    """How the linked participant's microphone is read."""

    sample_rate: int = 24000
    num_channels: int = 1
    frame_size_ms: int = DEFAULT_FRAME_SIZE_MS
    """Accepted for compatibility; Voxlane keeps the frame size the room delivers."""
    noise_cancellation: NoiseCancellation | None = None
    """See ``RoomInputOptions.noise_cancellation``."""
    auto_gain_control: bool = True
    """Accepted for compatibility; Voxlane applies no gain control."""
    pre_connect_audio: bool = True
    """See ``RoomInputOptions.pre_connect_audio`` (no effect yet)."""
    pre_connect_audio_timeout: float = 3.0

    def __post_init__(self) -> None:
        _check_positive_int("AudioInputOptions", "sample_rate", self.sample_rate)
        _check_positive_int("AudioInputOptions", "num_channels", self.num_channels)
        _check_positive_int("AudioInputOptions", "frame_size_ms", self.frame_size_ms)
        if self.frame_size_ms != DEFAULT_FRAME_SIZE_MS:
            logger.warning(
                "AudioInputOptions(frame_size_ms=%d): Voxlane's RoomIO keeps the frame size "
                "the room delivers",
                self.frame_size_ms,
            )


@dataclass
class AudioOutputOptions:
    """How the agent's speech is published."""

    sample_rate: int = 24000
    num_channels: int = 1
    track_name: str = "roomio_audio"

    def __post_init__(self) -> None:
        _check_positive_int("AudioOutputOptions", "sample_rate", self.sample_rate)
        _check_positive_int("AudioOutputOptions", "num_channels", self.num_channels)


@dataclass
class TextInputOptions:
    """Chat messages on ``lk.chat``."""

    text_input_cb: TextInputCallback = default_text_input_cb
    """Called for each message (default: interrupt and reply)."""


@dataclass
class TextOutputOptions:
    """The transcriptions published on ``lk.transcription``."""

    sync_transcription: bool = True
    """Release the agent's text word by word as its audio plays."""
    transcription_speed_factor: float = 1.0
    """Speaking-rate factor used to pace the text when the TTS gives no word timings."""


@dataclass
class RoomOptions:
    """Everything RoomIO reads from and publishes to the room (LiveKit's newer spelling)."""

    text_input: TextInputOptions | bool = True
    audio_input: AudioInputOptions | bool = True
    video_input: bool = False
    """Voxlane has no video input: True logs a warning and is otherwise ignored."""
    audio_output: AudioOutputOptions | bool = True
    text_output: TextOutputOptions | bool = True
    participant_kinds: Sequence[rtc.ParticipantKind.ValueType] = field(
        default_factory=lambda: list(DEFAULT_PARTICIPANT_KINDS)
    )
    participant_identity: str | None = None
    """Link to this participant (default: the first human participant that joins)."""
    close_on_disconnect: bool = True
    """Close the session when no human participant is left."""
    delete_room_on_close: bool = False
    """Delete the room on the server when the session closes (in a job with a real room)."""

    def __post_init__(self) -> None:
        for name, cls in (
            ("text_input", TextInputOptions),
            ("audio_input", AudioInputOptions),
            ("audio_output", AudioOutputOptions),
            ("text_output", TextOutputOptions),
        ):
            value = getattr(self, name)
            if not isinstance(value, (bool, cls)):
                raise TypeError(
                    f"RoomOptions({name}=...) must be True, False or a {cls.__name__}, "
                    f"got {value!r}"
                )
        if not isinstance(self.video_input, bool):
            raise TypeError(
                f"RoomOptions(video_input=...) must be True or False, got {self.video_input!r}"
            )

    def to_legacy(self) -> tuple[RoomInputOptions, RoomOutputOptions]:
        """The same options as ``RoomInputOptions`` and ``RoomOutputOptions``."""
        audio_in = _options(self.audio_input, AudioInputOptions)
        text_in = _options(self.text_input, TextInputOptions)
        audio_out = _options(self.audio_output, AudioOutputOptions)
        text_out = _options(self.text_output, TextOutputOptions)
        input_options = RoomInputOptions(
            text_enabled=self.text_input is not False,
            audio_enabled=self.audio_input is not False,
            audio_sample_rate=audio_in.sample_rate,
            audio_num_channels=audio_in.num_channels,
            participant_identity=self.participant_identity,
            participant_kinds=list(self.participant_kinds),
            close_on_disconnect=self.close_on_disconnect,
            video_enabled=self.video_input,
            noise_cancellation=audio_in.noise_cancellation,
            text_input_cb=text_in.text_input_cb,
            pre_connect_audio=audio_in.pre_connect_audio,
            pre_connect_audio_timeout=audio_in.pre_connect_audio_timeout,
            delete_room_on_close=self.delete_room_on_close,
        )
        output_options = RoomOutputOptions(
            transcription_enabled=self.text_output is not False,
            audio_enabled=self.audio_output is not False,
            audio_sample_rate=audio_out.sample_rate,
            audio_num_channels=audio_out.num_channels,
            audio_track_name=audio_out.track_name,
            sync_transcription=text_out.sync_transcription,
            transcription_speed_factor=text_out.transcription_speed_factor,
        )
        return input_options, output_options


def _options(value: Any, cls: type[Any]) -> Any:
    return value if isinstance(value, cls) else cls()


def _check_positive_int(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}({name}=...) must be an integer > 0, got {value!r}")


def resolve_room_options(
    room_options: Any, room_input_options: Any, room_output_options: Any
) -> tuple[Any, Any]:
    """The (input, output) options for RoomIO from either spelling (``None``: not given).

    Raises when ``room_options`` is given together with one of the older two.
    """
    if room_options is None:
        return room_input_options, room_output_options
    if room_input_options is not None or room_output_options is not None:
        raise ValueError(
            "pass either room_options=RoomOptions(...) or the older room_input_options= / "
            "room_output_options=, not both"
        )
    if not isinstance(room_options, RoomOptions):
        raise TypeError(
            "room_options must be a voxlane.agents.voice.room_io.RoomOptions, "
            f"got {type(room_options).__name__}"
            + (
                " (pass it as room_input_options= / room_output_options=, or build a RoomOptions)"
                if isinstance(room_options, (RoomInputOptions, RoomOutputOptions))
                else ""
            )
        )
    return room_options.to_legacy()


__all__ = [
    "AudioInputOptions",
    "AudioOutputOptions",
    "RoomOptions",
    "TextInputOptions",
    "TextOutputOptions",
    "resolve_room_options",
]
