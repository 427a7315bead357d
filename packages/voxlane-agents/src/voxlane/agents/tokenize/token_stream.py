"""Streams that turn pushed text into sentences or words with any splitting function.

``BufferedSentenceStream`` keeps a buffer and re-splits it on every push; a sentence is emitted
once some text (``min_ctx_len`` characters) follows it, so abbreviation and capitalisation rules
can see the next word, and sentences shorter than ``min_token_len`` wait to be sent together with
the next one (the basic and BlingFire tokenizers already merge them; a custom one may not).
``BufferedWordStream`` emits a word once whitespace (or the next word) follows it. ``flush()``
emits everything buffered and starts a new segment id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from ..utils import aio
from ..utils.misc import shortuuid
from ._basic_sent import Span
from .tokenizer import SentenceStream, TokenData, WordStream

TokenizeCallable = Callable[[str], Sequence[str] | Sequence[tuple[str, int, int]] | Sequence[Span]]
"""A splitting function: tokens as strings, ``(token, start, end)`` tuples, or spans."""

_MAX_WORD_LEN = 100  # a "word" this long with no space is emitted rather than held forever


def _to_spans(
    text: str, tokens: Sequence[str] | Sequence[tuple[str, int, int]] | Sequence[Span]
) -> list[Span]:
    spans: list[Span] = []
    cursor = 0
    for tok in tokens:
        if isinstance(tok, Span):
            spans.append(tok)
        elif isinstance(tok, tuple):
            spans.append(Span(tok[0], tok[1], tok[2]))
        else:
            pos = text.find(tok, cursor)
            if pos < 0:  # the tokenizer rewrote the text: offsets are unknown
                pos = cursor
            spans.append(Span(tok, pos, pos + len(tok)))
            cursor = pos + len(tok)
    return spans


class _BufferedBase:
    def __init__(self, tokenizer: TokenizeCallable) -> None:
        self._tokenizer = tokenizer
        self._buf = ""
        self._segment_id = shortuuid("SEG_")
        self._input_ended = False
        self._closed = False

    def _check(self, method: str) -> None:
        if self._closed:
            raise RuntimeError(f"cannot call {method}() on a closed tokenizer stream")
        if self._input_ended:
            raise RuntimeError(f"cannot call {method}() after end_input()")

    def _spans(self) -> list[Span]:
        return _to_spans(self._buf, self._tokenizer(self._buf))

    def _send(self, ch: aio.Chan[TokenData], token: str) -> None:
        token = token.strip()
        if token:
            with contextlib.suppress(aio.ChanClosed):
                ch.send_nowait(TokenData(segment_id=self._segment_id, token=token))


class BufferedSentenceStream(_BufferedBase, SentenceStream):
    """Sentence stream over a splitting function (see module docstring)."""

    def __init__(
        self, *, tokenizer: TokenizeCallable, min_token_len: int, min_ctx_len: int
    ) -> None:
        if min_token_len < 0 or min_ctx_len < 0:
            raise ValueError(
                f"min_token_len and min_ctx_len must be >= 0, got {min_token_len}, {min_ctx_len}"
            )
        SentenceStream.__init__(self)
        _BufferedBase.__init__(self, tokenizer)
        self._min_token_len = min_token_len
        self._min_ctx_len = min_ctx_len

    def push_text(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"push_text() expects a str, got {type(text).__name__}")
        self._check("push_text")
        if not text:
            return
        self._buf += text
        spans = self._spans()
        if len(spans) < 2:
            return
        tail = spans[-1]
        if len(self._buf) - tail.start < self._min_ctx_len:
            return  # not enough text after the last boundary to trust it yet
        keep_from = tail.start
        short_start: int | None = None  # start of sentences too short to send on their own
        for span in spans[:-1]:
            text = span.token if short_start is None else self._buf[short_start : span.end]
            if len(text.strip()) < self._min_token_len:
                short_start = span.start if short_start is None else short_start
                continue
            self._send(self._event_ch, text)
            short_start = None
        if short_start is not None:
            keep_from = short_start  # joined with what follows once there is enough of it
        self._buf = self._buf[keep_from:]

    def flush(self) -> None:
        self._check("flush")
        if self._buf.strip():
            for span in self._spans():
                self._send(self._event_ch, span.token)
        self._buf = ""
        self._segment_id = shortuuid("SEG_")

    def end_input(self) -> None:
        if self._input_ended or self._closed:
            return
        self.flush()
        self._input_ended = True
        self._event_ch.close()

    async def aclose(self) -> None:
        self._closed = True
        self._buf = ""
        await super().aclose()


class BufferedWordStream(_BufferedBase, WordStream):
    """Word stream over a splitting function (see module docstring)."""

    def __init__(self, *, tokenizer: TokenizeCallable) -> None:
        WordStream.__init__(self)
        _BufferedBase.__init__(self, tokenizer)

    def push_text(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"push_text() expects a str, got {type(text).__name__}")
        self._check("push_text")
        if not text:
            return
        self._buf += text
        spans = self._spans()
        if not spans:
            return
        ends_with_space = self._buf[-1].isspace()
        complete = spans if ends_with_space else spans[:-1]
        if not ends_with_space and len(self._buf) - spans[-1].start > _MAX_WORD_LEN:
            complete = spans
        if not complete:
            return
        for span in complete:
            self._send(self._event_ch, span.token)
        self._buf = self._buf[complete[-1].end :]

    def flush(self) -> None:
        self._check("flush")
        for span in self._spans():
            self._send(self._event_ch, span.token)
        self._buf = ""
        self._segment_id = shortuuid("SEG_")

    def end_input(self) -> None:
        if self._input_ended or self._closed:
            return
        self.flush()
        self._input_ended = True
        self._event_ch.close()

    async def aclose(self) -> None:
        self._closed = True
        self._buf = ""
        await super().aclose()


__all__ = ["BufferedSentenceStream", "BufferedWordStream", "TokenizeCallable"]
