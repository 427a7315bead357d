from __future__ import annotations

import base64

import pytest

from voxlane.agents.llm import (
    AgentConfigUpdate,
    AgentHandoff,
    AudioContent,
    ChatContext,
    ChatMessage,
    FunctionCall,
    FunctionCallOutput,
    ImageContent,
    ReadOnlyChatContext,
    ReadOnlyError,
)
from voxlane.agents.llm._provider_format import serialize_image


def _sample() -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="be nice", created_at=1.0, id="sys")
    ctx.add_message(role="user", content="hi", created_at=2.0, id="u1")
    ctx.insert(FunctionCall(id="fc1", call_id="c1", name="lookup", arguments="{}", created_at=3.0))
    ctx.insert(
        FunctionCallOutput(
            id="fo1", call_id="c1", name="lookup", output="42", is_error=False, created_at=4.0
        )
    )
    ctx.add_message(role="assistant", content=["it is 42"], created_at=5.0, id="a1")
    ctx.insert(AgentHandoff(id="h1", old_agent_id="a", new_agent_id="b", created_at=6.0))
    ctx.insert(AgentConfigUpdate(id="cu1", instructions="new", created_at=7.0))
    ctx.add_message(role="user", content=[""], created_at=8.0, id="empty")
    return ctx


def test_text_content_and_messages() -> None:
    img = ImageContent(image="https://x/y.png")
    msg = ChatMessage(role="user", content=["hello", img, "world"])
    assert msg.text_content == "hello\nworld"
    assert ChatMessage(role="user", content=[]).text_content is None
    # a bare string is accepted and wrapped
    assert ChatMessage(role="user", content="solo").content == ["solo"]  # type: ignore[arg-type]
    ctx = _sample()
    assert [m.id for m in ctx.messages()] == ["sys", "u1", "a1", "empty"]


def test_insert_orders_by_created_at() -> None:
    ctx = ChatContext.empty()
    ctx.add_message(role="user", content="b", created_at=2.0, id="b")
    ctx.add_message(role="user", content="c", created_at=3.0, id="c")
    ctx.insert(ChatMessage(role="user", content=["a"], created_at=1.0, id="a"))
    ctx.insert([ChatMessage(role="user", content=["b2"], created_at=2.0, id="b2")])
    assert [i.id for i in ctx.items] == ["a", "b", "b2", "c"]
    assert ctx.find_insertion_index(created_at=0.5) == 0
    assert ctx.find_insertion_index(created_at=2.5) == 3
    # add_message without created_at appends
    m = ctx.add_message(role="assistant", content="last")
    assert ctx.items[-1] is m


def test_get_index_remove() -> None:
    ctx = _sample()
    assert ctx.get_by_id("u1") is ctx.items[1]
    assert ctx.index_by_id("fo1") == 3
    assert ctx.get_by_id("nope") is None and ctx.index_by_id("nope") is None
    ctx.remove("u1")
    assert ctx.get_by_id("u1") is None
    item = ctx.items[0]
    ctx.remove(item)
    assert ctx.get_by_id("sys") is None
    with pytest.raises(KeyError, match="no item with id 'u1'"):
        ctx.remove("u1")


def test_copy_filters() -> None:
    ctx = _sample()

    def ids(c: ChatContext) -> list[str]:
        return [i.id for i in c.items]

    assert ids(ctx.copy()) == ids(ctx)
    assert ctx.copy().items is not ctx.items
    assert "fc1" not in ids(ctx.copy(exclude_function_call=True))
    assert "fo1" not in ids(ctx.copy(exclude_function_call=True))
    assert "sys" not in ids(ctx.copy(exclude_instructions=True))
    assert "empty" not in ids(ctx.copy(exclude_empty_message=True))
    assert "h1" not in ids(ctx.copy(exclude_handoff=True))
    assert "cu1" not in ids(ctx.copy(exclude_config_update=True))
    assert "fc1" in ids(ctx.copy(tools=["lookup"]))
    assert "fc1" not in ids(ctx.copy(tools=["other"]))


def test_truncate_keeps_instructions_and_drops_orphan_output() -> None:
    ctx = _sample()
    # the last 5 items start with the tool output "fo1" whose call is cut -> dropped
    t = ctx.copy()
    assert t.truncate(max_items=5) is t
    assert [i.id for i in t.items] == ["sys", "a1", "h1", "cu1", "empty"]
    t6 = ctx.copy().truncate(max_items=6)
    assert [i.id for i in t6.items] == ["sys", "fc1", "fo1", "a1", "h1", "cu1", "empty"]
    t2 = ctx.copy().truncate(max_items=100)
    assert len(t2.items) == len(ctx.items)
    with pytest.raises(ValueError, match="max_items"):
        ctx.copy().truncate(max_items=-1)


def test_merge_dedups_and_orders() -> None:
    a = ChatContext.empty()
    a.add_message(role="user", content="1", created_at=1.0, id="m1")
    a.add_message(role="user", content="3", created_at=3.0, id="m3")
    b = ChatContext.empty()
    b.add_message(role="user", content="1", created_at=1.0, id="m1")
    b.add_message(role="assistant", content="2", created_at=2.0, id="m2")
    b.insert(FunctionCall(id="f", call_id="c", name="n", arguments="{}", created_at=2.5))
    b.add_message(role="system", content="s", created_at=0.5, id="s")
    a.merge(b, exclude_function_call=True, exclude_instructions=True)
    assert [i.id for i in a.items] == ["m1", "m2", "m3"]


def test_to_dict_from_dict_round_trip() -> None:
    ctx = _sample()
    ctx.items[1].content.append(ImageContent(image="https://img"))  # type: ignore[union-attr]
    ctx.items[1].content.append(AudioContent(transcript="hey"))  # type: ignore[union-attr]
    data = ctx.to_dict()
    assert all("created_at" not in d for d in data["items"])
    assert data["items"][1]["content"] == ["hi"]
    back = ChatContext.from_dict(data)
    assert [type(i) for i in back.items] == [type(i) for i in ctx.items]
    assert [i.id for i in back.items] == [i.id for i in ctx.items]
    full = ctx.to_dict(exclude_image=False, exclude_audio=False, exclude_timestamp=False)
    back2 = ChatContext.from_dict(full)
    assert back2.items[1].content[1].image == "https://img"  # type: ignore[union-attr]
    assert back2.items[1].created_at == ctx.items[1].created_at
    no_fc = ctx.to_dict(exclude_function_call=True)
    assert all(d["type"] not in ("function_call", "function_call_output") for d in no_fc["items"])
    with pytest.raises(ValueError, match="expects a dict"):
        ChatContext.from_dict({"nope": 1})


def test_is_equivalent() -> None:
    a = _sample()
    b = a.copy()
    assert a.is_equivalent(b)
    b.items[1] = b.items[1].model_copy(update={"content": ["changed"]})
    assert not a.is_equivalent(b)
    assert not a.is_equivalent(ChatContext.empty())


def test_readonly_view() -> None:
    ctx = _sample()
    ro = ctx.as_readonly()
    assert isinstance(ro, ReadOnlyChatContext) and ro.readonly and not ctx.readonly
    assert [i.id for i in ro.items] == [i.id for i in ctx.items]
    with pytest.raises(ReadOnlyError, match=r"read-only.*copy\(\)"):
        ro.add_message(role="user", content="x")
    with pytest.raises(ReadOnlyError):
        ro.items.append(ctx.items[0])
    with pytest.raises(ReadOnlyError):
        ro.insert(ctx.items[0])
    with pytest.raises(ReadOnlyError):
        ro.remove("u1")
    with pytest.raises(ReadOnlyError):
        ro.truncate(max_items=1)
    with pytest.raises(ReadOnlyError):
        ro.merge(ctx)
    with pytest.raises(ReadOnlyError):
        del ro.items[0]
    mutable = ro.copy()
    mutable.add_message(role="user", content="ok")
    assert len(mutable.items) == len(ctx.items) + 1


def test_binary_fields_round_trip_through_json() -> None:
    ctx = ChatContext.empty()
    png = b"\x89PNG\r\n\x1a\n\xff\x00"
    msg = ctx.add_message(role="user", content=[ImageContent(image=png, mime_type="image/png")])
    msg.hash = b"\xff\xfe"
    data = ctx.to_dict(exclude_image=False)
    back = ChatContext.from_dict(data)
    restored = back.items[0]
    assert isinstance(restored, ChatMessage)
    assert restored.hash == b"\xff\xfe"
    img = restored.content[0]
    # image bytes come back as an equivalent base64 data URL
    assert isinstance(img, ImageContent)
    assert img.image == "data:image/png;base64," + base64.b64encode(png).decode()
    assert serialize_image(img).data == base64.b64encode(png).decode()
