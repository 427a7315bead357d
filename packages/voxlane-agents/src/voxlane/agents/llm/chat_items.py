"""The item list behind a :class:`~voxlane.agents.llm.ChatContext`, with an index by item id.

The voice runtime checks ``chat_ctx.get_by_id(item.id)`` before it adds each new item, so that
nothing is added twice. With a plain list each check scanned the whole history, which grows
with every turn (see bench/turn_overhead.py). This list keeps a map from id to item: appending
an item, the common case, updates it in place; any other change (insert before the end,
replace, delete, sort...) marks it stale and the next lookup rebuilds it. It is still a
``list``, so ``ChatContext.items`` behaves exactly as before.

Item ids are treated as fixed once an item is in a context: a lookup that finds an item whose
id was changed in place rebuilds the map, but a lookup by the *new* id of such an item only
finds it after the list changes again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, SupportsIndex, TypeVar


class _HasId(Protocol):
    id: str


T = TypeVar("T", bound=_HasId)


class ItemList(list[T]):
    """A ``list`` of chat items that can find an item by id without scanning."""

    def __init__(self, items: Iterable[T] = ()) -> None:
        super().__init__(items)
        self._by_id: dict[str, T] | None = None
        if isinstance(items, ItemList) and items._by_id is not None:  # a copy: same items
            self._by_id = dict(items._by_id)

    # -- lookup ------------------------------------------------------------------------------

    def find(self, item_id: str) -> T | None:
        """The first item with this id, or ``None``."""
        by_id = self._by_id
        if by_id is None:
            by_id = self._rebuild()
        item = by_id.get(item_id)
        if item is not None and item.id != item_id:  # its id was changed in place
            item = self._rebuild().get(item_id)
        return item

    def _rebuild(self) -> dict[str, T]:
        by_id: dict[str, T] = {}
        for item in self:
            by_id.setdefault(item.id, item)  # the first item with an id wins
        self._by_id = by_id
        return by_id

    def _stale(self) -> None:
        self._by_id = None

    # -- mutations that keep the index ------------------------------------------------------

    def append(self, item: T) -> None:
        super().append(item)
        if self._by_id is not None:
            self._by_id.setdefault(item.id, item)

    def insert(self, index: SupportsIndex, item: T) -> None:
        at_end = index.__index__() >= len(self)
        super().insert(index, item)
        by_id = self._by_id
        if by_id is not None:
            if at_end or item.id not in by_id:
                by_id.setdefault(item.id, item)
            else:  # an earlier position may make it the first item with this id
                self._stale()

    def extend(self, items: Iterable[T]) -> None:
        for item in items:
            self.append(item)

    def __iadd__(self, items: Iterable[T]) -> ItemList[T]:  # type: ignore[override,misc]
        self.extend(items)
        return self

    # -- every other mutation marks the index stale -----------------------------------------

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._stale()

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        super().__delitem__(index)
        self._stale()

    def __imul__(self, n: SupportsIndex) -> ItemList[T]:
        super().__imul__(n)
        self._stale()
        return self

    def pop(self, index: SupportsIndex = -1) -> T:
        item = super().pop(index)
        self._stale()
        return item

    def remove(self, item: T) -> None:
        super().remove(item)
        self._stale()

    def clear(self) -> None:
        super().clear()
        self._stale()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        super().sort(*args, **kwargs)
        self._stale()

    def reverse(self) -> None:
        super().reverse()
        self._stale()

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))
