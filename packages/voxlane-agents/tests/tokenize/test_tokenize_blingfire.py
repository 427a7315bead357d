"""tokenize.blingfire: sentence/word tokenizers over livekit-blingfire (the `blingfire` extra)."""

from __future__ import annotations

import sys

import pytest

from voxlane.agents import tokenize
from voxlane.agents.tokenize import blingfire

RAW = blingfire.SentenceTokenizer(min_sentence_len=0)  # no merging: one token per sentence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Smith met Dr. Jones. They talked.",
            ["Mr. Smith met Dr. Jones.", "They talked."],
        ),
        ("Pi is 3.14159 today. Tomorrow 2.5!", ["Pi is 3.14159 today.", "Tomorrow 2.5!"]),
        ("Really?! Yes!!! Fine.", ["Really?!", "Yes!!!", "Fine."]),
        ("你好。今天天气很好！", ["你好。", "今天天气很好！"]),
        ("no punctuation at all", ["no punctuation at all"]),
        ("   ", []),
        ("", []),
    ],
)
def test_sentence_splitting(text: str, expected: list[str]) -> None:
    assert RAW.tokenize(text) == expected


def test_sentences_keep_the_original_text() -> None:
    # BlingFire returns "Line one Line two." for a sentence spanning a newline; the tokens are
    # cut from the input instead, so nothing is rewritten
    assert RAW.tokenize("Line one\nline two. Next  one here.") == [
        "Line one\nline two.",
        "Next  one here.",
    ]


def test_short_sentences_are_merged_with_the_next_one() -> None:
    tok = blingfire.SentenceTokenizer()  # min_sentence_len=20, like tokenize.basic
    text = "Hi. How are you? I am doing very well today. Ok."
    assert tok.tokenize(text) == ["Hi. How are you? I am doing very well today.", "Ok."]
    assert tok.tokenize(text) == tokenize.basic.SentenceTokenizer().tokenize(text)
    assert all(len(s) >= 20 for s in tok.tokenize("A b c. " * 20)[:-1])


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="min_sentence_len"):
        blingfire.SentenceTokenizer(min_sentence_len=-1)
    with pytest.raises(ValueError, match="stream_context_len"):
        blingfire.SentenceTokenizer(stream_context_len=-1)
    with pytest.raises(TypeError, match="expects a str"):
        RAW.tokenize(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expects a str"):
        blingfire.WordTokenizer().tokenize(3)  # type: ignore[arg-type]


def test_words_are_joined_back_and_punctuation_dropped() -> None:
    text = "Don't stop, it's 3.14 e-mail! (quoted) Hello."
    assert blingfire.WordTokenizer().tokenize(text) == [
        "Don't",
        "stop",
        "it's",
        "3.14",
        "e-mail",
        "quoted",
        "Hello",
    ]
    assert blingfire.WordTokenizer(ignore_punctuation=False).tokenize(text) == [
        "Don't",
        "stop,",
        "it's",
        "3.14",
        "e-mail!",
        "(quoted)",
        "Hello.",
    ]
    assert blingfire.WordTokenizer().tokenize(" ... !! ") == []


async def test_sentence_stream_matches_tokenize_whatever_the_chunking() -> None:
    tok = blingfire.SentenceTokenizer(min_sentence_len=10, stream_context_len=5)
    text = "The weather is nice. Shall we go out? I think we should. Bring a coat, please."
    expected = tok.tokenize(text)
    assert len(expected) == 4
    for size in (1, 3, 7, len(text)):
        stream = tok.stream()
        emitted_before_end: list[str] = []
        for i in range(0, len(text), size):
            stream.push_text(text[i : i + size])
        # sentences followed by enough context come out before the input ends
        while not stream._event_ch.empty():  # type: ignore[attr-defined]
            emitted_before_end.append((await stream.__anext__()).token)
        stream.end_input()
        rest = [t.token async for t in stream]
        assert emitted_before_end + rest == expected
        assert emitted_before_end == expected[:3]


async def test_sentence_stream_flush_starts_a_new_segment() -> None:
    stream = blingfire.SentenceTokenizer(min_sentence_len=0).stream()
    stream.push_text("First part. Still first")
    stream.flush()
    stream.push_text("Second part.")
    stream.end_input()
    tokens = [t async for t in stream]
    assert [t.token for t in tokens] == ["First part.", "Still first", "Second part."]
    assert tokens[0].segment_id == tokens[1].segment_id != tokens[2].segment_id
    with pytest.raises(RuntimeError, match="after end_input"):
        stream.push_text("more")


async def test_word_stream_emits_complete_words() -> None:
    stream = blingfire.WordTokenizer().stream()
    stream.push_text("Hello wor")
    stream.push_text("ld, don'")
    stream.push_text("t go")
    stream.end_input()
    assert [t.token async for t in stream] == ["Hello", "world", "don't", "go"]


def test_missing_package_gives_an_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert blingfire.is_available()
    blingfire._native.cache_clear()
    monkeypatch.setitem(sys.modules, "livekit.blingfire", None)  # makes the import fail
    try:
        assert not blingfire.is_available()
        with pytest.raises(ImportError, match=r"voxlane-agents\[blingfire\]"):
            blingfire.SentenceTokenizer()
        with pytest.raises(ImportError, match=r"voxlane-agents\[blingfire\]"):
            blingfire.WordTokenizer()
    finally:
        blingfire._native.cache_clear()
    monkeypatch.undo()
    assert blingfire.is_available()
