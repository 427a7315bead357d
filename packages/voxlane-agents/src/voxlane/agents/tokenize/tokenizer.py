"""Tokenizer interfaces: sentence and word tokenizers with streaming variants."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType

from typing_extensions import Self

from ..types import NOT_GIVEN, NotGivenOr
from ..utils import aio


@dataclass
class TokenData:
    """One token emitted by a stream; ``segment_id`` changes after every ``flush()``."""

    segment_id: str = ""
    token: str = ""


class _TokenStream(ABC):
    """Common shape of SentenceStream and WordStream: push text, iterate tokens."""

    def __init__(self) -> None:
        self._event_ch: aio.Chan[TokenData] = aio.Chan()
        self._stream_closed = False

    @abstractmethod
    def push_text(self, text: str) -> None:
        """Add text; complete tokens become available to the iterator."""

    @abstractmethod
    def flush(self) -> None:
        """Emit everything buffered and start a new segment."""

    @abstractmethod
    def end_input(self) -> None:
        """Flush and close: iteration ends after the last token."""

    async def aclose(self) -> None:
        """Stop the stream; buffered text and unread tokens are dropped."""
        self._stream_closed = True
        self._event_ch.close()

    def __aiter__(self) -> AsyncIterator[TokenData]:
        return self

    async def __anext__(self) -> TokenData:
        if self._stream_closed:
            raise StopAsyncIteration
        try:
            return await self._event_ch.recv()
        except aio.ChanClosed:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class SentenceStream(_TokenStream):
    """A stream of sentences built from text pushed piece by piece."""


class WordStream(_TokenStream):
    """A stream of words built from text pushed piece by piece."""


class SentenceTokenizer(ABC):
    """Splits text into sentences."""

    @abstractmethod
    def tokenize(self, text: str, *, language: NotGivenOr[str] = NOT_GIVEN) -> list[str]:
        """Split a whole text into sentences."""

    @abstractmethod
    def stream(self, *, language: NotGivenOr[str] = NOT_GIVEN) -> SentenceStream:
        """Open a stream that emits sentences as soon as they are complete."""


class WordTokenizer(ABC):
    """Splits text into words."""

    @abstractmethod
    def tokenize(self, text: str, *, language: NotGivenOr[str] = NOT_GIVEN) -> list[str]:
        """Split a whole text into words."""

    @abstractmethod
    def stream(self, *, language: NotGivenOr[str] = NOT_GIVEN) -> WordStream:
        """Open a stream that emits words as soon as they are complete."""

    def format_words(self, words: list[str]) -> str:
        """Join words back into text."""
        return " ".join(words)


__all__ = [
    "SentenceStream",
    "SentenceTokenizer",
    "TokenData",
    "WordStream",
    "WordTokenizer",
]
