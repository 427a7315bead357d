"""Rule-based word splitting (no dependency), with character offsets."""

from __future__ import annotations

import unicodedata

from ._basic_sent import Span

# characters stripped from the edges of a word when punctuation is ignored
_EDGE_PUNCTUATION = "\"'`()[]{}<>«»“”‘’„‚.,;:!?…—–-/\\*_~|#@^&"


def is_cjk(ch: str) -> bool:
    """Scripts written without spaces between words (Han, kana, hangul syllables, Thai...)."""
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF  # CJK ideographs
        or 0xF900 <= code <= 0xFAFF
        or 0xAC00 <= code <= 0xD7AF  # hangul syllables
        or 0x0E00 <= code <= 0x0E7F  # thai
        or 0x20000 <= code <= 0x2FA1F
    )


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P") or ch in _EDGE_PUNCTUATION


def _strip_edges(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and _is_punct(text[start]):
        start += 1
    while end > start and _is_punct(text[end - 1]):
        end -= 1
    return start, end


def split_words(
    text: str, *, ignore_punctuation: bool = True, split_character: bool = False
) -> list[Span]:
    """Words of ``text`` with their offsets.

    Words are separated by whitespace. With ``ignore_punctuation`` the punctuation at the edges
    of a word is dropped (inner punctuation stays: ``don't``, ``3.14``, ``e-mail``) and words made
    only of punctuation disappear. With ``split_character`` every CJK character is a word.
    """
    spans: list[Span] = []
    i = 0
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        for s, e in _sub_words(text, i, j, split_character):
            if ignore_punctuation:
                s, e = _strip_edges(text, s, e)
            if e > s:
                spans.append(Span(text[s:e], s, e))
        i = j
    return spans


def _sub_words(text: str, start: int, end: int, split_character: bool) -> list[tuple[int, int]]:
    if not split_character:
        return [(start, end)]
    parts: list[tuple[int, int]] = []
    run_start = start
    for k in range(start, end):
        if is_cjk(text[k]):
            if run_start < k:
                parts.append((run_start, k))
            parts.append((k, k + 1))
            run_start = k + 1
    if run_start < end:
        parts.append((run_start, end))
    return parts
