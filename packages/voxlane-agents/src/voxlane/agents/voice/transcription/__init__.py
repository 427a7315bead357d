"""Transcription synchronised with audio playout (see :class:`TranscriptSynchronizer`)."""

from ._speaking_rate import STANDARD_SPEECH_RATE, count_syllables, split_words
from .synchronizer import TranscriptSynchronizer

__all__ = ["STANDARD_SPEECH_RATE", "TranscriptSynchronizer", "count_syllables", "split_words"]
