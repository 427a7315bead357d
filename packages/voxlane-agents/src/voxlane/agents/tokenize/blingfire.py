"""Tokenizers over BlingFire (the ``livekit-blingfire`` bindings), LiveKit's default splitter.

BlingFire is a compiled, rule-based (finite-state) tokenizer: it runs offline, needs no model
download, and copes with abbreviations, numbers and many scripts. It is an optional dependency:
install it with ``pip install "voxlane-agents[blingfire]"``. The module imports without it;
creating a tokenizer then raises an :class:`ImportError` that names the extra.

Both tokenizers have the same interface and streaming behaviour as :mod:`.basic`:
sentences shorter than ``min_sentence_len`` characters are merged with the next one, and a
stream emits a sentence once ``stream_context_len`` characters follow it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

from ..types import NOT_GIVEN, NotGivenOr
from . import tokenizer
from ._basic_sent import Span, merge_short
from ._basic_word import is_cjk
from .token_stream import BufferedSentenceStream, BufferedWordStream

_INSTALL_HINT = (
    "tokenize.blingfire needs the `livekit-blingfire` package: install it with "
    '`pip install "voxlane-agents[blingfire]"` (or use tokenize.basic, which has no dependency)'
)

_SplitFn = Callable[[str], tuple[str, list[tuple[int, int]]]]


@functools.lru_cache(maxsize=1)
def _native() -> Any:
    try:
        return importlib.import_module("livekit.blingfire")
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e


def is_available() -> bool:
    """True when ``livekit-blingfire`` is installed (the tokenizers can be created)."""
    try:
        _native()
    except ImportError:
        return False
    return True


def _sentence_fn() -> _SplitFn:
    fn: _SplitFn = _native().text_to_sentences_with_offsets
    return fn


def _word_fn() -> _SplitFn:
    fn: _SplitFn = _native().text_to_words_with_offsets
    return fn


def _raw_spans(text: str, split: _SplitFn) -> list[Span]:
    """BlingFire's pieces of ``text`` as stripped spans of the original text (BlingFire
    rewrites the text it returns, e.g. newlines inside a sentence; the offsets do not)."""
    if not text.strip():
        return []
    _, offsets = split(text)
    spans: list[Span] = []
    for start, end in offsets:
        start, end = max(0, start), min(len(text), end)
        piece = text[start:end]
        stripped = piece.strip()
        if not stripped:
            continue
        lead = len(piece) - len(piece.lstrip())
        spans.append(Span(stripped, start + lead, start + lead + len(stripped)))
    return spans


class SentenceTokenizer(tokenizer.SentenceTokenizer):
    """Sentence tokenizer over BlingFire.

    ``min_sentence_len``: shorter sentences are merged with the next one (TTS sounds better on
    whole phrases). ``stream_context_len``: characters a stream waits for after a sentence end
    before emitting it. Raises ImportError (naming the ``blingfire`` extra) when
    ``livekit-blingfire`` is not installed.
    """

    def __init__(
        self,
        *,
        language: str = "english",
        min_sentence_len: int = 20,
        stream_context_len: int = 10,
    ) -> None:
        if min_sentence_len < 0:
            raise ValueError(f"min_sentence_len must be >= 0, got {min_sentence_len}")
        if stream_context_len < 0:
            raise ValueError(f"stream_context_len must be >= 0, got {stream_context_len}")
        self._split_fn = _sentence_fn()
        self._language = language
        self._min_sentence_len = min_sentence_len
        self._stream_context_len = stream_context_len

    def _spans(self, text: str) -> list[Span]:
        return merge_short(text, _raw_spans(text, self._split_fn), self._min_sentence_len)

    def tokenize(self, text: str, *, language: NotGivenOr[str] = NOT_GIVEN) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"tokenize() expects a str, got {type(text).__name__}")
        return [s.token for s in self._spans(text)]

    def stream(self, *, language: NotGivenOr[str] = NOT_GIVEN) -> tokenizer.SentenceStream:
        return BufferedSentenceStream(
            tokenizer=self._spans,
            min_token_len=self._min_sentence_len,
            min_ctx_len=self._stream_context_len,
        )


def _is_punctuation(token: str) -> bool:
    return all(not ch.isalnum() for ch in token)


class WordTokenizer(tokenizer.WordTokenizer):
    """Word tokenizer over BlingFire.

    BlingFire also splits inside written words (``don't`` -> ``do`` ``n't``, ``stop,`` ->
    ``stop`` ``,``); pieces written together are joined back, except in scripts written
    without spaces (CJK, Thai), where BlingFire's pieces are the words. With
    ``ignore_punctuation`` (default) the punctuation at the edges of a word is dropped and
    punctuation-only tokens disappear.
    """

    def __init__(self, *, ignore_punctuation: bool = True) -> None:
        self._split_fn = _word_fn()
        self._ignore_punctuation = ignore_punctuation

    def _spans(self, text: str) -> list[Span]:
        joined: list[Span] = []
        for span in _raw_spans(text, self._split_fn):
            prev = joined[-1] if joined else None
            if (
                prev is not None
                and prev.end == span.start
                and not is_cjk(text[prev.end - 1])
                and not is_cjk(text[span.start])
            ):
                joined[-1] = Span(text[prev.start : span.end], prev.start, span.end)
            else:
                joined.append(span)
        if not self._ignore_punctuation:
            return joined
        out: list[Span] = []
        for span in joined:
            if _is_punctuation(span.token):
                continue
            start, end = span.start, span.end
            while start < end and not text[start].isalnum():
                start += 1
            while end > start and not text[end - 1].isalnum():
                end -= 1
            out.append(Span(text[start:end], start, end))
        return out

    def tokenize(self, text: str, *, language: NotGivenOr[str] = NOT_GIVEN) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"tokenize() expects a str, got {type(text).__name__}")
        return [s.token for s in self._spans(text)]

    def stream(self, *, language: NotGivenOr[str] = NOT_GIVEN) -> tokenizer.WordStream:
        return BufferedWordStream(tokenizer=self._spans)


__all__ = ["SentenceTokenizer", "WordTokenizer", "is_available"]
