"""ChatContext.get_by_id stays right through every way the item list can change."""

from __future__ import annotations

import pickle

from voxlane.agents.llm import ChatContext, ChatMessage
from voxlane.agents.llm.chat_items import ItemList


def _msg(item_id: str, text: str = "x", created_at: float | None = None) -> ChatMessage:
    if created_at is None:
        return ChatMessage(id=item_id, role="user", content=[text])
    return ChatMessage(id=item_id, role="user", content=[text], created_at=created_at)


def _check(ctx: ChatContext) -> None:
    """get_by_id agrees with a plain scan for every id present, and finds nothing else."""
    first: dict[str, ChatMessage] = {}
    for item in ctx.items:
        assert isinstance(item, ChatMessage)
        first.setdefault(item.id, item)
    for item_id, item in first.items():
        assert ctx.get_by_id(item_id) is item
    assert ctx.get_by_id("never-there") is None


def test_appends_use_the_index_without_rebuilding_it() -> None:
    ctx = ChatContext()
    for i in range(5):
        ctx.add_message(role="user", content=f"m{i}")
    items = ctx.items
    assert isinstance(items, ItemList)
    _check(ctx)
    built = items._by_id
    assert built is not None
    new = ctx.add_message(role="assistant", content="reply")
    assert items._by_id is built  # updated in place, not rebuilt
    assert ctx.get_by_id(new.id) is new
    _check(ctx)


def test_every_list_mutation_keeps_lookups_right() -> None:
    ctx = ChatContext([_msg("a"), _msg("b"), _msg("c")])
    items = ctx.items
    _check(ctx)
    items.insert(0, _msg("z"))
    _check(ctx)
    items[1] = _msg("a2")
    _check(ctx)
    assert ctx.get_by_id("a") is None
    del items[0]
    _check(ctx)
    assert ctx.get_by_id("z") is None
    items.extend([_msg("d"), _msg("e")])
    items += [_msg("f")]
    _check(ctx)
    items.pop()
    items.remove(items[0])
    _check(ctx)
    assert ctx.get_by_id("f") is None and ctx.get_by_id("a2") is None
    items[0:1] = [_msg("s1"), _msg("s2")]
    _check(ctx)
    items.reverse()
    items.sort(key=lambda m: m.id)
    _check(ctx)
    items *= 2  # duplicates: the first occurrence is found
    _check(ctx)
    items.clear()
    _check(ctx)
    assert ctx.get_by_id("s1") is None


def test_duplicate_ids_find_the_first_one_even_after_an_insert_in_front() -> None:
    late, early = _msg("dup", "late"), _msg("dup", "early")
    ctx = ChatContext([_msg("a"), late])
    assert ctx.get_by_id("dup") is late
    ctx.items.insert(0, early)
    assert ctx.get_by_id("dup") is early
    ctx.items.append(_msg("dup", "last"))
    assert ctx.get_by_id("dup") is early


def test_context_methods_insert_remove_truncate_copy_merge() -> None:
    ctx = ChatContext()
    a = ctx.add_message(role="user", content="a", created_at=10.0)
    b = ctx.add_message(role="user", content="b", created_at=5.0)  # goes in front
    ctx.insert(_msg("c", created_at=7.0))
    assert [m.id for m in ctx.items] == [b.id, "c", a.id]
    _check(ctx)
    ctx.remove("c")
    assert ctx.get_by_id("c") is None
    _check(ctx)
    copy = ctx.copy()
    assert copy.get_by_id(a.id) is a
    copy.add_message(role="assistant", content="only in the copy")
    _check(copy)
    _check(ctx)
    ctx.truncate(max_items=1)
    assert ctx.get_by_id(b.id) is None and ctx.get_by_id(a.id) is a
    ctx.items = [_msg("fresh")]
    assert isinstance(ctx.items, ItemList)
    _check(ctx)
    merged = ctx.merge(copy)
    _check(merged)


def test_an_id_changed_in_place_is_not_found_under_the_old_id() -> None:
    item = _msg("old")
    ctx = ChatContext([item, _msg("other")])
    assert ctx.get_by_id("old") is item
    item.id = "renamed"
    assert ctx.get_by_id("old") is None
    ctx.items.append(_msg("more"))
    ctx.items.remove(ctx.items[-1])  # any structural change refreshes the index
    assert ctx.get_by_id("renamed") is item


def test_read_only_views_and_pickling() -> None:
    ctx = ChatContext([_msg("a"), _msg("b")])
    view = ctx.as_readonly()
    assert view.get_by_id("b") is ctx.items[1]
    restored = pickle.loads(pickle.dumps(ctx))
    assert isinstance(restored.items, ItemList)
    assert restored.get_by_id("a") is restored.items[0]
