"""Estimating how long text takes to say: syllable ("hyphen") counts and word splitting."""

from __future__ import annotations

import re
import unicodedata

STANDARD_SPEECH_RATE = 3.83
"""Average syllables spoken per second in conversational English."""

_VOWELS = frozenset("aeiouyàáâãäåèéêëìíîïòóôõöùúûüýÿæœ")
_TOKEN_RE = re.compile(r"\s*\S+\s*")


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def count_syllables(word: str) -> int:
    """Estimate the syllables of ``word`` (0 for punctuation only).

    Latin script: groups of vowels, a silent final "e" discounted; digits count one each;
    CJK characters (wide) count one each.
    """
    count = 0
    prev_vowel = False
    letters: list[str] = []
    for ch in word.lower():
        if _is_wide(ch) and ch.isalnum():
            count += 1
            prev_vowel = False
            continue
        if ch.isdigit():
            count += 1
            prev_vowel = False
            continue
        if not ch.isalpha():
            prev_vowel = False
            continue
        letters.append(ch)
        vowel = ch in _VOWELS
        if vowel and not prev_vowel:
            count += 1
        prev_vowel = vowel
    if (
        count > 1
        and len(letters) > 2
        and letters[-1] == "e"
        and letters[-2] not in _VOWELS
        and letters[-2] != "l"
    ):
        count -= 1
    if count == 0 and letters:
        count = 1
    return count


def split_words(text: str, *, text_done: bool) -> list[str]:
    """Split ``text`` into words, each keeping the whitespace that follows it.

    Leading whitespace belongs to the first word. The last word is only returned when it is
    complete: followed by whitespace, or ``text_done``.
    """
    tokens = _TOKEN_RE.findall(text)
    if tokens and not text_done and not tokens[-1][-1].isspace():
        tokens.pop()
    return tokens


__all__ = ["STANDARD_SPEECH_RATE", "count_syllables", "split_words"]
