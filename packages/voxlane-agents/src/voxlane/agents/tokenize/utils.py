"""Text helpers for TTS pipelines: word splitting with offsets and word replacement."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import overload

from ._basic_word import split_words as _split_words


def split_words(
    text: str, *, ignore_punctuation: bool = True, split_character: bool = False
) -> list[tuple[str, int, int]]:
    """Words of ``text`` as ``(word, start, end)`` offsets into ``text``.

    With ``ignore_punctuation`` punctuation around words is dropped (``"Hello,"`` -> ``"Hello"``);
    with ``split_character`` each CJK character counts as a word.
    """
    return [
        (s.token, s.start, s.end)
        for s in _split_words(
            text, ignore_punctuation=ignore_punctuation, split_character=split_character
        )
    ]


def _replace(text: str, table: Mapping[str, str]) -> str:
    out: list[str] = []
    cursor = 0
    for word, start, end in split_words(text, ignore_punctuation=True):
        replacement = table.get(word.lower())
        if replacement is None:
            continue
        out.append(text[cursor:start])
        out.append(replacement)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def _lower_table(replacements: Mapping[str, str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for key, value in replacements.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("replacements must map str words to str replacements")
        if not key.strip() or len(key.split()) != 1:
            raise ValueError(f"replacement keys must be single words, got {key!r}")
        table[key.lower()] = value
    return table


@overload
def replace_words(*, text: str, replacements: Mapping[str, str]) -> str: ...


@overload
def replace_words(
    *, text: AsyncIterable[str], replacements: Mapping[str, str]
) -> AsyncIterable[str]: ...


def replace_words(
    *, text: str | AsyncIterable[str], replacements: Mapping[str, str]
) -> str | AsyncIterable[str]:
    """Replace whole words (case-insensitive), keeping the punctuation around them.

    ``text`` may be a string or an async stream of text pieces (e.g. LLM output in a
    ``tts_node``); a stream yields the text with words replaced as soon as each word is complete.
    """
    table = _lower_table(replacements)
    if isinstance(text, str):
        return _replace(text, table)
    return _replace_stream(text, table)


async def _replace_stream(text: AsyncIterable[str], table: dict[str, str]) -> AsyncIterator[str]:
    buffer = ""
    async for piece in text:
        buffer += piece
        cut = max(buffer.rfind(" "), buffer.rfind("\n"), buffer.rfind("\t"))
        if cut < 0:
            continue
        ready, buffer = buffer[: cut + 1], buffer[cut + 1 :]
        yield _replace(ready, table)
    if buffer:
        yield _replace(buffer, table)


__all__ = ["replace_words", "split_words"]
