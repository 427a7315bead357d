"""Dependency-free rule-based tokenizers (English-oriented, work for most Latin scripts).

``SentenceTokenizer`` handles abbreviations (``Mr.``, ``Dr.``, ``e.g.``, ``U.S.``), decimal numbers,
ellipses, list numbers and line breaks; text without punctuation is cut at a comma or a space
once it exceeds ``max_sentence_len`` characters, so streams never stall on it.
"""

from __future__ import annotations

from ..types import NOT_GIVEN, NotGivenOr
from . import tokenizer
from ._basic_sent import split_sentences
from ._basic_word import split_words
from ._hyphenate import hyphenate_word
from .token_stream import BufferedSentenceStream, BufferedWordStream


class SentenceTokenizer(tokenizer.SentenceTokenizer):
    """Rule-based sentence tokenizer.

    ``min_sentence_len``: shorter sentences are merged with the next one (TTS sounds better on
    whole phrases). ``stream_context_len``: characters a stream waits for after a sentence end
    before emitting it. ``max_sentence_len``: longer text is cut at a comma or a space.
    """

    def __init__(
        self,
        *,
        language: str = "english",
        min_sentence_len: int = 20,
        stream_context_len: int = 10,
        max_sentence_len: int = 200,
    ) -> None:
        if min_sentence_len < 0:
            raise ValueError(f"min_sentence_len must be >= 0, got {min_sentence_len}")
        if stream_context_len < 0:
            raise ValueError(f"stream_context_len must be >= 0, got {stream_context_len}")
        if max_sentence_len < 1 or max_sentence_len < min_sentence_len:
            raise ValueError(
                f"max_sentence_len must be >= max(1, min_sentence_len), got {max_sentence_len} "
                f"(min_sentence_len={min_sentence_len})"
            )
        self._language = language
        self._min_sentence_len = min_sentence_len
        self._stream_context_len = stream_context_len
        self._max_sentence_len = max_sentence_len

    def _split(self, text: str) -> list[str]:
        return [token for token, _, _ in self._spans(text)]

    def _spans(self, text: str) -> list[tuple[str, int, int]]:
        return [
            (s.token, s.start, s.end)
            for s in split_sentences(
                text,
                min_sentence_len=self._min_sentence_len,
                max_sentence_len=self._max_sentence_len,
            )
        ]

    def tokenize(self, text: str, *, language: NotGivenOr[str] = NOT_GIVEN) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"tokenize() expects a str, got {type(text).__name__}")
        return self._split(text)

    def stream(self, *, language: NotGivenOr[str] = NOT_GIVEN) -> tokenizer.SentenceStream:
        return BufferedSentenceStream(
            tokenizer=self._spans,
            min_token_len=self._min_sentence_len,
            min_ctx_len=self._stream_context_len,
        )


class WordTokenizer(tokenizer.WordTokenizer):
    """Whitespace word tokenizer; see :func:`voxlane.agents.tokenize.utils.split_words`."""

    def __init__(self, *, ignore_punctuation: bool = True, split_character: bool = False) -> None:
        self._ignore_punctuation = ignore_punctuation
        self._split_character = split_character

    def _spans(self, text: str) -> list[tuple[str, int, int]]:
        return [
            (s.token, s.start, s.end)
            for s in split_words(
                text,
                ignore_punctuation=self._ignore_punctuation,
                split_character=self._split_character,
            )
        ]

    def tokenize(self, text: str, *, language: NotGivenOr[str] = NOT_GIVEN) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"tokenize() expects a str, got {type(text).__name__}")
        return [t for t, _, _ in self._spans(text)]

    def stream(self, *, language: NotGivenOr[str] = NOT_GIVEN) -> tokenizer.WordStream:
        return BufferedWordStream(tokenizer=self._spans)


__all__ = ["SentenceTokenizer", "WordTokenizer", "hyphenate_word"]
