"""Basic sentence/word tokenizers, their streams, and the text utils."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from voxlane.agents import tokenize
from voxlane.agents.tokenize import TokenData, basic, utils

RAW = basic.SentenceTokenizer(min_sentence_len=0)  # no merging: one token per sentence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Smith met Dr. Jones. They talked.",
            ["Mr. Smith met Dr. Jones.", "They talked."],
        ),
        ("Pi is 3.14159 today. Tomorrow 2.5!", ["Pi is 3.14159 today.", "Tomorrow 2.5!"]),
        ("Use tools, e.g. a hammer. Or i.e. not.", ["Use tools, e.g. a hammer.", "Or i.e. not."]),
        ("J. K. Rowling wrote it. Yes.", ["J. K. Rowling wrote it.", "Yes."]),
        (
            "I moved to the U.S. last year. It is big.",
            ["I moved to the U.S. last year.", "It is big."],
        ),
        ("We left at 5 p.m. Then it rained.", ["We left at 5 p.m.", "Then it rained."]),
        ("Wait... what? Hmm… Okay then.", ["Wait... what?", "Hmm…", "Okay then."]),
        ("Really?! Yes!!! Fine.", ["Really?!", "Yes!!!", "Fine."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("Visit www.example.com now. Ok.", ["Visit www.example.com now.", "Ok."]),
        ("1. Buy milk\n2. Buy eggs\n\nDone.", ["1. Buy milk", "2. Buy eggs", "Done."]),
        (
            "apples, pears, etc. and more. Etc. Then.",
            ["apples, pears, etc. and more.", "Etc.", "Then."],
        ),
        ("你好。今天天气很好！", ["你好。", "今天天气很好！"]),
        ("no punctuation at all", ["no punctuation at all"]),
        ("   ", []),
        ("", []),
    ],
)
def test_sentence_rules(text: str, expected: list[str]) -> None:
    assert RAW.tokenize(text) == expected


def test_short_sentences_are_merged_to_min_len() -> None:
    tok = basic.SentenceTokenizer()  # min_sentence_len=20
    text = "Hi. How are you? I am doing very well today. Ok."
    assert tok.tokenize(text) == ["Hi. How are you? I am doing very well today.", "Ok."]
    assert all(len(s) >= 20 for s in tok.tokenize("A b c. " * 20)[:-1])


def test_long_text_is_cut_preferably_at_commas() -> None:
    tok = basic.SentenceTokenizer(max_sentence_len=60)
    text = ("this clause has no end, " * 8) + "and it goes on"
    pieces = tok.tokenize(text)
    assert len(pieces) > 1
    assert all(len(p) <= 60 for p in pieces)
    assert all(p.endswith(",") for p in pieces[:-1])
    assert " ".join(pieces) == text.strip()

    unpunctuated = "word " * 300
    pieces = basic.SentenceTokenizer().tokenize(unpunctuated)
    assert all(len(p) <= 200 for p in pieces)
    assert " ".join(pieces).split() == unpunctuated.split()

    giant = "x" * 450
    assert basic.SentenceTokenizer().tokenize(giant) == ["x" * 200, "x" * 200, "x" * 50]


def test_sentence_tokenizer_validation() -> None:
    with pytest.raises(ValueError, match="min_sentence_len"):
        basic.SentenceTokenizer(min_sentence_len=-1)
    with pytest.raises(ValueError, match="max_sentence_len"):
        basic.SentenceTokenizer(min_sentence_len=50, max_sentence_len=40)
    with pytest.raises(TypeError, match="str"):
        basic.SentenceTokenizer().tokenize(None)  # type: ignore[arg-type]


async def collect(stream: tokenize.SentenceStream | tokenize.WordStream) -> list[TokenData]:
    return [t async for t in stream]


def chunked(text: str, rng: random.Random) -> list[str]:
    out = []
    i = 0
    while i < len(text):
        n = rng.randint(1, 12)
        out.append(text[i : i + n])
        i += n
    return out


STREAM_TEXTS = [
    "Hello Mr. Smith, how are you doing today? I am fine, thanks. Pi is 3.14159 and e is 2.718! "
    "Wait... what did you say? Dr. J. K. Rowling lives in the U.S. She writes books.",
    "We met at 5 p.m. Then we left, e.g. to the park etc. It was fun... really fun. Bye!",
    "1. Buy milk and some bread\n2. Buy eggs and some other stuff\nThanks for the help today.",
    "Short. Tiny. Small. Brief. Also quite short. " * 4,
    "a long answer without any punctuation that keeps going " * 12,
]


@pytest.mark.parametrize("text", STREAM_TEXTS)
async def test_sentence_stream_matches_batch_for_any_chunking(text: str) -> None:
    tok = basic.SentenceTokenizer()
    expected = tok.tokenize(text)
    rng = random.Random(1234)
    for _ in range(20):
        stream = tok.stream()
        for piece in chunked(text, rng):
            stream.push_text(piece)
        stream.end_input()
        tokens = await collect(stream)
        assert [t.token for t in tokens] == expected
        assert len({t.segment_id for t in tokens}) == 1


async def test_sentence_stream_emits_before_end_of_input() -> None:
    stream = basic.SentenceTokenizer().stream()
    stream.push_text("The first sentence is complete. ")
    assert stream._event_ch.empty()  # no context after it yet: still held
    stream.push_text("And the second")
    first = await stream.__anext__()
    assert first.token == "The first sentence is complete."
    stream.push_text(" one ends here.")
    stream.end_input()
    assert [t.token for t in await collect(stream)] == ["And the second one ends here."]


async def test_unpunctuated_stream_does_not_stall() -> None:
    stream = basic.SentenceTokenizer().stream()
    for _ in range(100):
        stream.push_text("more words ")
    # 1100 characters and no punctuation: chunks came out without flush or end_input
    emitted = []
    while not stream._event_ch.empty():
        emitted.append((await stream.__anext__()).token)
    assert len(emitted) >= 4
    assert all(len(t) <= 200 for t in emitted)
    stream.end_input()
    rest = [t.token for t in await collect(stream)]
    assert " ".join(emitted + rest).split() == ("more words " * 100).split()


async def test_flush_emits_everything_and_starts_new_segment() -> None:
    stream = basic.SentenceTokenizer().stream()
    stream.push_text("Half a thought")
    stream.flush()
    stream.flush()  # nothing buffered: no token
    stream.push_text("Second segment here. And more text follows")
    stream.end_input()
    tokens = await collect(stream)
    assert [t.token for t in tokens] == [
        "Half a thought",
        "Second segment here.",
        "And more text follows",
    ]
    assert tokens[0].segment_id != tokens[1].segment_id
    assert tokens[1].segment_id == tokens[2].segment_id


async def test_stream_misuse_and_close() -> None:
    stream = basic.SentenceTokenizer().stream()
    with pytest.raises(TypeError, match="str"):
        stream.push_text(3)  # type: ignore[arg-type]
    stream.end_input()
    stream.end_input()  # idempotent
    with pytest.raises(RuntimeError, match="after end_input"):
        stream.push_text("x")
    async with basic.WordTokenizer().stream() as words:
        words.push_text("some text ")
    with pytest.raises(RuntimeError, match="closed"):
        words.push_text("more")
    assert await collect(words) == []


def test_word_tokenizer() -> None:
    tok = basic.WordTokenizer()
    assert tok.tokenize('Hello, world! Don\'t stop: 3.14 is "pi"... — e-mail') == [
        "Hello",
        "world",
        "Don't",
        "stop",
        "3.14",
        "is",
        "pi",
        "e-mail",
    ]
    assert basic.WordTokenizer(ignore_punctuation=False).tokenize("Hi, you!") == ["Hi,", "you!"]
    cjk = basic.WordTokenizer(split_character=True).tokenize("我爱你。Hello 世界")
    assert cjk == ["我", "爱", "你", "Hello", "世", "界"]
    assert tok.format_words(["a", "b"]) == "a b"


async def test_word_stream_emits_complete_words_and_matches_batch() -> None:
    tok = basic.WordTokenizer()
    stream = tok.stream()
    stream.push_text("Hello wor")
    assert (await stream.__anext__()).token == "Hello"
    assert stream._event_ch.empty()  # "wor" may continue
    stream.push_text("ld, again")
    assert (await stream.__anext__()).token == "world"
    stream.end_input()
    assert [t.token for t in await collect(stream)] == ["again"]

    text = STREAM_TEXTS[0]
    rng = random.Random(7)
    stream = tok.stream()
    for piece in chunked(text, rng):
        stream.push_text(piece)
    stream.end_input()
    assert [t.token for t in await collect(stream)] == tok.tokenize(text)


async def test_word_stream_long_token_is_not_held_forever() -> None:
    stream = basic.WordTokenizer().stream()
    stream.push_text("y" * 150)
    assert (await stream.__anext__()).token == "y" * 150
    await stream.aclose()


async def test_buffered_sentence_stream_with_a_custom_tokenizer() -> None:
    def by_semicolon(text: str) -> list[str]:
        return [p.strip() for p in text.split(";") if p.strip()]

    stream = tokenize.BufferedSentenceStream(tokenizer=by_semicolon, min_token_len=0, min_ctx_len=3)
    stream.push_text("alpha; beta;")
    stream.push_text(" gamma")
    stream.end_input()
    assert [t.token for t in await collect(stream)] == ["alpha", "beta", "gamma"]


async def test_buffered_sentence_stream_joins_sentences_shorter_than_min_token_len() -> None:
    def by_semicolon(text: str) -> list[str]:
        return [p.strip() for p in text.split(";") if p.strip()]

    stream = tokenize.BufferedSentenceStream(
        tokenizer=by_semicolon, min_token_len=10, min_ctx_len=3
    )
    stream.push_text("Hi; ok; this one is long enough;")
    stream.push_text(" yes; and the rest")
    stream.end_input()
    assert [t.token for t in await collect(stream)] == [
        "Hi; ok; this one is long enough",
        "yes",
        "and the rest",
    ]


def test_split_words_offsets() -> None:
    text = "Hi, there! 3.5 kg"
    words = utils.split_words(text)
    assert words == [("Hi", 0, 2), ("there", 4, 9), ("3.5", 11, 14), ("kg", 15, 17)]
    assert all(text[s:e] == w for w, s, e in words)


def test_replace_words_in_text() -> None:
    table = {"livekit": "Voxlane", "TTS": "text to speech"}
    assert (
        utils.replace_words(text="LiveKit, the tts engine. Tts!", replacements=table)
        == "Voxlane, the text to speech engine. text to speech!"
    )
    with pytest.raises(ValueError, match="single words"):
        utils.replace_words(text="x", replacements={"two words": "y"})


async def test_replace_words_in_a_stream() -> None:
    async def pieces() -> AsyncIterator[str]:
        for p in ["I use live", "kit for ", "my TT", "S, and livekit."]:
            yield p

    out = utils.replace_words(text=pieces(), replacements={"livekit": "Voxlane", "tts": "speech"})
    assert "".join([p async for p in out]) == "I use Voxlane for my speech, and Voxlane."
