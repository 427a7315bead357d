"""Ready-made implementations of the voice I/O contracts (``voice.io``).

- :class:`QueueAudioInput`, :class:`MemoryAudioOutput`, :class:`MemoryTextOutput`: in-memory I/O
  for tests and embedding (the audio output plays in real time on the loop clock and records
  what was played);
- :class:`WavAudioInput`, :class:`WavAudioOutput`: read the user's audio from a WAV file, record
  the agent's speech into one;
- :class:`PacedAudioOutput`: the real-time playout engine to build other outputs on.

Transcripts synchronised with playout: see ``voice.transcription.TranscriptSynchronizer``.
"""

from ._playout import PacedAudioOutput
from .memory import MemoryAudioOutput, MemoryTextOutput, PlayedSegment, QueueAudioInput
from .wav import WavAudioInput, WavAudioOutput, WavData, read_wav, write_wav

__all__ = [
    "MemoryAudioOutput",
    "MemoryTextOutput",
    "PacedAudioOutput",
    "PlayedSegment",
    "QueueAudioInput",
    "WavAudioInput",
    "WavAudioOutput",
    "WavData",
    "read_wav",
    "write_wav",
]
