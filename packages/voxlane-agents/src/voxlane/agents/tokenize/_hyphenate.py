"""Rule-based English syllable hyphenation (no dictionary, no dependency).

The word is scanned for vowel nuclei (with the usual English exceptions: silent final ``e``,
``-ed``/``-es`` that add no syllable, ``y`` as a vowel, ``qu``/``gu`` glides, vowel pairs read
as two syllables such as the ``i-o`` of ``radio``), then each run of consonants between two
nuclei is split with the classic rules: one consonant starts the next syllable (``pa-per``),
two are split between them (``lit-tle``, ``win-dow``) unless they form a consonant digraph
(``ch``, ``sh``, ``th``, ``ph``, ``wh``, ``gh``, ``ck``) or a stop followed by ``l``/``r``
(``ta-ble``, ``se-cret``), which stay together. Common suffixes (``-ing``, ``-tion``,
``-sion``, ``-ness``, ``-ment``, ``-ful``, ``-less``) are split off first.

It is an approximation (English spelling has many exceptions), good enough to count syllables
for speaking-rate estimates and to hyphenate most everyday words the way dictionaries do.
"""

from __future__ import annotations

import itertools

VOWELS = frozenset("aeiouy")
DIGRAPHS = frozenset({"ch", "sh", "th", "ph", "wh", "gh", "ck", "qu", "gu"})
STOPS = frozenset("bcdfgkpt")
LIQUIDS = frozenset("lr")
# vowel pairs "ia", "io", "iu" are two syllables (ra-di-o, pi-an-o) except after t/s/c/x/g,
# where the i is a glide (na-tion, spe-cial, re-gion); "eo", "ua", "uo" are always two
# (vi-de-o, ac-tu-al), "ue" before l too (cru-el)
GLIDE_BEFORE = frozenset("tscxg")
SUFFIXES = ("tion", "sion", "ness", "ment", "less", "ful", "ing")
MIN_STEM_FOR_SUFFIX = 2
# frequent words the rules get wrong
EXCEPTIONS: dict[str, tuple[str, ...]] = {
    "people": ("peo", "ple"),
    "every": ("ev", "ery"),
    "everything": ("ev", "ery", "thing"),
    "everyone": ("ev", "ery", "one"),
    "something": ("some", "thing"),
    "nothing": ("noth", "ing"),
    "anything": ("an", "y", "thing"),
    "business": ("busi", "ness"),
    "different": ("dif", "fer", "ent"),
}


def _is_vowel(word: str, i: int) -> bool:
    c = word[i]
    if c not in VOWELS:
        return False
    if c == "y":
        # consonant at the start of a word or before a vowel (yes, beyond), vowel otherwise
        if i == 0:
            return False
        return not (i + 1 < len(word) and word[i + 1] in "aeiou")
    # the u of qu/gu before a vowel is a glide (queen, guard)
    glide = c == "u" and i > 0 and word[i - 1] in "qg"
    return not (glide and i + 1 < len(word) and word[i + 1] in VOWELS)


def _nuclei(word: str) -> list[tuple[int, int]]:
    """Spans [start, end) of the vowel groups that make syllables."""
    groups: list[tuple[int, int]] = []
    i = 0
    n = len(word)
    while i < n:
        if not _is_vowel(word, i):
            i += 1
            continue
        start = i
        i += 1
        while i < n and _is_vowel(word, i):
            pair = word[i - 1 : i + 1]
            if pair in ("ia", "io", "iu") and start == i - 1 and i >= 2:
                if word[i - 2] not in GLIDE_BEFORE:
                    break
            elif pair in ("eo", "uo", "ua") or (pair == "ue" and word[i + 1 : i + 2] == "l"):
                break
            i += 1
        groups.append((start, i))
    return _drop_silent(word, groups)


def _drop_silent(word: str, groups: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if len(groups) < 2:
        return groups
    last_start, last_end = groups[-1]
    last = word[last_start:last_end]
    tail = word[last_end:]
    before = word[last_start - 2 : last_start] if last_start >= 2 else word[:last_start]
    consonant_le = before.endswith("l") and len(before) == 2 and before[0] not in VOWELS
    if last == "e" and tail == "" and not consonant_le:
        # final silent e (make, phone), except consonant + "le" (ta-ble, lit-tle)
        return groups[:-1]
    if last == "e" and tail == "d":
        # -ed adds a syllable only after t/d (want-ed, need-ed) or a consonant + l/r
        # (hun-dred), not in jumped, played
        after_cluster = len(before) == 2 and before[1] in "lr" and before[0] not in VOWELS
        if not (before.endswith(("t", "d")) or after_cluster):
            return groups[:-1]
    sibilant = before.endswith(("s", "x", "z", "ch", "sh", "c", "g"))
    if last == "e" and tail == "s" and not sibilant:
        # -es adds a syllable after s, x, z, ch, sh, ce, ge (box-es, wish-es), not in makes
        return groups[:-1]
    return groups


def _split_consonants(word: str, start: int, end: int) -> int:
    """Where to split the consonants word[start:end] between two nuclei (an index)."""
    count = end - start
    if count == 0:
        return start  # hiatus: ra-di-o
    if count == 1:
        # one consonant starts the next syllable (pa-per); x stays behind (tax-i)
        return end if word[start] == "x" else start
    cluster = word[start:end]
    # keep a digraph or a stop+liquid onset with the next syllable when it ends the cluster
    tail2 = cluster[-2:]
    if tail2 in DIGRAPHS and tail2 != "ck":
        if count == 2:
            return start if tail2 not in ("gh",) else end
        return end - 2
    if tail2[0] in STOPS and tail2[1] in LIQUIDS and tail2 != "tl":
        return end - 2
    head2 = cluster[:2]
    if head2 in DIGRAPHS or head2 == "ng":
        return start + 2  # pock-et, sing-er, fath-er stays "fa-ther" via the rule above
    return start + 1


def _syllables(word: str) -> list[int]:
    """Split points (indices) of a lowercase word without suffix handling."""
    groups = _nuclei(word)
    points: list[int] = []
    for (_, a_end), (b_start, _) in itertools.pairwise(groups):
        point = _split_consonants(word, a_end, b_start)
        if 0 < point < len(word):
            points.append(point)
    return points


def _suffix_split(word: str) -> int | None:
    for suffix in SUFFIXES:
        if not word.endswith(suffix):
            continue
        stem = word[: -len(suffix)]
        if len(stem) < MIN_STEM_FOR_SUFFIX or not _nuclei(stem):
            continue
        if suffix in ("tion", "sion"):
            return len(stem)
        doubled = len(stem) >= 2 and stem[-1] == stem[-2] and stem[-1] not in VOWELS
        if suffix == "ing" and doubled and stem[-1] not in "ls":
            return len(stem) - 1  # run-ning, stop-ping
        return len(stem)
    return None


def hyphenate_word(word: str) -> list[str]:
    """Split an English ``word`` into its syllables, e.g. ``"computer"`` ->
    ``["com", "pu", "ter"]``. Case is kept; text that is not a word (digits, symbols) or
    has a single syllable comes back as one part. ``"".join(parts) == word`` always holds.
    """
    if not isinstance(word, str):
        raise TypeError(f"hyphenate_word() expects a str, got {type(word).__name__}")
    if len(word) < 4 or not word.isalpha():
        return [word] if word else []
    lower = word.lower()
    known = EXCEPTIONS.get(lower)
    points: list[int] = []
    cut = _suffix_split(lower)
    if known is not None:
        points = list(itertools.accumulate(len(piece) for piece in known[:-1]))
    elif cut is not None:
        stem_points = _syllables(lower[:cut])
        points = [*stem_points, cut]
        suffix_points = _syllables(lower[cut:])
        points += [cut + p for p in suffix_points]
    else:
        points = _syllables(lower)
    parts: list[str] = []
    prev = 0
    for p in sorted(set(points)):
        if p <= prev:
            continue
        parts.append(word[prev:p])
        prev = p
    parts.append(word[prev:])
    return parts


__all__ = ["hyphenate_word"]
