"""Rule-based sentence splitting (no dependency), with character offsets.

Boundaries are found after ``! ? . …`` runs (plus closing quotes/brackets) that are followed by
whitespace, after CJK full stops, and at line breaks. A single ``.`` is not a boundary after a
known abbreviation (``Mr.``, ``Dr.``, ``e.g.``), after an initial (``J. K.``), after a list number
at the start of a line (``1.``), and after a dotted acronym (``U.S.``) or an ellipsis unless the
next word starts with a capital letter. A dot between digits (``3.14``) is never followed by
whitespace, so it never splits.
"""

from __future__ import annotations

from dataclasses import dataclass

# lower-case, without the trailing dot; never end a sentence
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "ft", "gen", "gov",
        "capt", "cpt", "lt", "col", "sgt", "cmdr", "adm", "rev", "hon", "pres", "sen", "rep",
        "vs", "v", "e.g", "i.e", "cf", "viz", "approx", "dept", "est", "fig", "figs", "vol",
        "eq", "ch", "sec", "no", "nos", "op", "pp", "al", "ca", "inc", "ltd", "co", "corp",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
        "ave", "blvd", "rd", "hwy", "apt", "ste",
    }
)  # fmt: skip
# abbreviations that often end a sentence: split there when a capitalised word follows
_SOFT_ABBREVIATIONS = frozenset({"etc", "inc", "ltd", "co", "corp", "al", "jr", "sr"})

_TERMINALS = ".!?…"
_CJK_TERMINALS = "。！？"
_CLOSERS = "\"')]}»”’」』"
_OPENERS = "\"'([{«“‘「『"
_SOFT_BREAKS = ",;:—–"


@dataclass(frozen=True)
class Span:
    """A token and where it sits in the text (``text[start:end]`` before stripping)."""

    token: str
    start: int
    end: int


def _prev_word(text: str, end: int) -> str:
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENERS)


def _next_char(text: str, pos: int) -> str | None:
    while pos < len(text):
        ch = text[pos]
        if not ch.isspace():
            return ch
        pos += 1
    return None


def _starts_line(text: str, word_end: int, word: str) -> bool:
    start = word_end - len(word)
    line_start = text.rfind("\n", 0, start) + 1
    return not text[line_start:start].strip()


def _dot_ends_sentence(text: str, dot: int, after: int) -> bool:
    """Decide for a single ``.`` at ``dot``; ``after`` is the first index after closers."""
    word = _prev_word(text, dot)
    lower = word.lower()
    nxt = _next_char(text, after)
    next_is_capital = nxt is not None and (nxt.isupper() or nxt in _OPENERS)
    if lower in _SOFT_ABBREVIATIONS:
        return next_is_capital
    if lower in _ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isalpha() and word.isupper():
        return False  # an initial: "J. K. Rowling"
    if word.isdigit() and len(word) <= 3 and _starts_line(text, dot, word):
        return False  # a list item: "1. Buy milk"
    if "." in word.strip("."):
        return nxt is None or next_is_capital  # "U.S." / "a.m."
    return True


def boundaries(text: str) -> list[int]:
    """End offsets (exclusive) of the sentences in ``text``; the last one may be partial."""
    ends: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            ends.append(i)
            i += 1
            continue
        if ch in _CJK_TERMINALS:
            j = i
            while j < n and (text[j] in _CJK_TERMINALS or text[j] in _CLOSERS):
                j += 1
            ends.append(j)
            i = j
            continue
        if ch not in _TERMINALS:
            i += 1
            continue
        j = i
        while j < n and text[j] in _TERMINALS:
            j += 1
        k = j
        while k < n and text[k] in _CLOSERS:
            k += 1
        if k < n and not text[k].isspace():
            i = k  # "3.14", "www.example.com", "?!x": not a boundary
            continue
        run = text[i:j]
        if run == ".":
            if _dot_ends_sentence(text, i, k):
                ends.append(k)
        elif "..." in run or "…" in run:
            nxt = _next_char(text, k)
            if nxt is None or nxt.isupper():
                ends.append(k)
        else:
            ends.append(k)
        i = k
    return ends


def raw_sentences(text: str) -> list[Span]:
    """Sentences without any length rule, stripped, empty ones dropped."""
    spans: list[Span] = []
    start = 0
    for end in [*boundaries(text), len(text)]:
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece.rstrip())
            spans.append(Span(piece.strip(), start + lead, start + trail))
        start = end
    return spans


def _force_cut(text: str, start: int, min_len: int, max_len: int) -> int:
    """Where to cut ``text[start:]`` (longer than ``max_len``) so no chunk exceeds it."""
    window_end = start + max_len
    lowest = start + max(1, min(min_len, max_len - 1))
    for pos in range(window_end, lowest - 1, -1):  # prefer a comma/semicolon/dash
        if pos < len(text) and text[pos].isspace() and text[pos - 1] in _SOFT_BREAKS:
            return pos
    for pos in range(window_end, lowest - 1, -1):  # then any space
        if pos < len(text) and text[pos].isspace():
            return pos
    return window_end  # one enormous word: hard cut


def split_long(text: str, span: Span, min_len: int, max_len: int) -> list[Span]:
    """Cut a span longer than ``max_len`` characters into pieces of at most ``max_len``."""
    out: list[Span] = []
    start, end = span.start, span.end
    while end - start > max_len:
        cut = _force_cut(text[:end], start, min_len, max_len)
        piece = text[start:cut].strip()
        if piece:
            lead = len(text[start:cut]) - len(text[start:cut].lstrip())
            out.append(Span(piece, start + lead, start + lead + len(piece)))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        out.append(Span(text[start:end], start, end))
    return out


def merge_short(text: str, spans: list[Span], min_len: int) -> list[Span]:
    """Spans of ``text`` merged forward until each is at least ``min_len`` characters long
    (the last one may stay shorter)."""
    merged: list[Span] = []
    start: int | None = None
    for span in spans:
        if start is None:
            start = span.start
        if span.end - start >= min_len:
            merged.append(Span(text[start : span.end], start, span.end))
            start = None
    if start is not None:
        end = spans[-1].end
        merged.append(Span(text[start:end], start, end))
    return merged


def split_sentences(text: str, *, min_sentence_len: int, max_sentence_len: int) -> list[Span]:
    """Sentences merged forward until at least ``min_sentence_len`` characters long, and cut
    (at a comma or a space when possible) when longer than ``max_sentence_len``."""
    out: list[Span] = []
    for span in merge_short(text, raw_sentences(text), min_sentence_len):
        out.extend(split_long(text, span, min_sentence_len, max_sentence_len))
    return out
