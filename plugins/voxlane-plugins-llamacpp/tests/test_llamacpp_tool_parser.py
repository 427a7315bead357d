"""The streaming tool-call parser, on hand-written model outputs."""

from __future__ import annotations

import json

from voxlane.plugins.llamacpp.tool_calls import ToolCallParser, parse_json_calls


def _run(parser: ToolCallParser, pieces: list[str]) -> list[str]:
    out = [parser.feed(p) for p in pieces]
    out.append(parser.finish())
    return out


def test_plain_text_streams_through_immediately() -> None:
    parser = ToolCallParser(bare_json=False)
    assert parser.feed("Hello ") == "Hello "
    assert parser.feed("there.") == "there."
    assert parser.finish() == ""
    assert parser.calls == []


def test_tag_split_across_pieces_is_held_then_parsed() -> None:
    parser = ToolCallParser(bare_json=False)
    out = _run(
        parser,
        [
            "Let me check. <tool",
            '_call>{"name": "get_weather", ',
            '"arguments": {"city": "Oslo"}}',
            "</tool_call>",
        ],
    )
    assert "".join(out) == "Let me check. "
    assert out[0] == "Let me check. "  # the partial "<tool" is held back, not shown
    assert [(c.name, json.loads(c.arguments)) for c in parser.calls] == [
        ("get_weather", {"city": "Oslo"})
    ]


def test_lookalike_text_is_released() -> None:
    parser = ToolCallParser(bare_json=False)
    out = _run(parser, ["a <to", "ken> b"])
    assert "".join(out) == "a <token> b"
    assert parser.calls == []


def test_several_calls_and_unclosed_last_call() -> None:
    parser = ToolCallParser(bare_json=False)
    text = (
        '<tool_call>{"name": "a", "arguments": {}}</tool_call>\n'
        '<tool_call>{"name": "b", "parameters": {"x": 1}}'
    )
    out = _run(parser, [text])
    assert "".join(out).strip() == ""
    assert [c.name for c in parser.calls] == ["a", "b"]
    assert json.loads(parser.calls[1].arguments) == {"x": 1}


def test_malformed_call_is_dropped() -> None:
    parser = ToolCallParser(bare_json=False)
    out = _run(parser, ["<tool_call>{not json}</tool_call>Sorry."])
    assert "".join(out) == "Sorry."
    assert parser.calls == []


def test_bare_json_reply_is_a_call_and_bare_text_is_text() -> None:
    parser = ToolCallParser(bare_json=True)
    out = _run(parser, ['  {"name": "get_time", ', '"parameters": {"timezone": "UTC"}}'])
    assert "".join(out) == ""
    assert [(c.name, json.loads(c.arguments)) for c in parser.calls] == [
        ("get_time", {"timezone": "UTC"})
    ]
    parser = ToolCallParser(bare_json=True)
    out = _run(parser, ["{curly} but not JSON"])
    assert "".join(out) == "{curly} but not JSON"
    parser = ToolCallParser(bare_json=True)
    assert parser.feed("Sure, ") == "Sure, "


def test_parse_json_calls_shapes() -> None:
    calls = parse_json_calls(
        '[{"name": "a", "arguments": "{\\"k\\": 2}"}, {"function": {"name": "b"}}]'
    )
    assert calls is not None
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("a", {"k": 2}), ("b", {})]
    assert parse_json_calls('{"no_name": 1}') is None
    assert parse_json_calls('{"name": "a", "arguments": [1]}') is None
    assert parse_json_calls("nope") is None
