"""Sentence and word tokenizers (with streaming variants) used to feed TTS engines."""

from . import basic, blingfire, utils
from .token_stream import BufferedSentenceStream, BufferedWordStream
from .tokenizer import (
    SentenceStream,
    SentenceTokenizer,
    TokenData,
    WordStream,
    WordTokenizer,
)

__all__ = [
    "BufferedSentenceStream",
    "BufferedWordStream",
    "SentenceStream",
    "SentenceTokenizer",
    "TokenData",
    "WordStream",
    "WordTokenizer",
    "basic",
    "blingfire",
    "utils",
]
