"""voxlane.agents.utils.events.EventEmitter: rtc.EventEmitter semantics, arity computed once."""

from __future__ import annotations

import inspect
import logging
from typing import Any

import pytest
from livekit import rtc

from voxlane.agents.utils.events import EventEmitter, callback_arity


def test_is_an_rtc_event_emitter_and_passes_each_callback_what_it_accepts() -> None:
    em: EventEmitter[str] = EventEmitter()
    assert isinstance(em, rtc.EventEmitter)
    got: list[tuple[Any, ...]] = []
    em.on("e", lambda: got.append(()))
    em.on("e", lambda a: got.append((a,)))
    em.on("e", lambda a, b, c=3: got.append((a, b, c)))
    em.on("e", lambda *args: got.append(args))
    em.emit("e", 1, 2)
    assert got == [(), (1,), (1, 2, 3), (1, 2)]


def test_signature_is_inspected_once_per_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = inspect.signature

    def counting(obj: Any, *args: Any, **kwargs: Any) -> inspect.Signature:
        nonlocal calls
        calls += 1
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(inspect, "signature", counting)
    em: EventEmitter[str] = EventEmitter()
    seen: list[int] = []
    em.on("e", seen.append)
    for i in range(50):
        em.emit("e", i)
    assert seen == list(range(50))
    assert calls == 1


def test_decorator_once_and_off() -> None:
    em: EventEmitter[str] = EventEmitter()
    seen: list[str] = []

    @em.on("e")
    def listener(value: str) -> None:
        seen.append(f"on:{value}")

    em.once("e", lambda value: seen.append(f"once:{value}"))
    em.emit("e", "a")
    em.emit("e", "b")
    em.off("e", listener)
    em.emit("e", "c")
    em.emit("missing", "x")  # no listeners: nothing happens
    assert seen == ["on:a", "once:a", "on:b"]


def test_bound_methods_registered_twice_and_removed() -> None:
    class Listener:
        def __init__(self) -> None:
            self.values: list[int] = []

        def handle(self, value: int) -> None:
            self.values.append(value)

    em: EventEmitter[str] = EventEmitter()
    listener = Listener()
    em.on("a", listener.handle)
    em.on("b", listener.handle)
    em.off("a", listener.handle)  # still registered for "b": its arity must stay known
    em.emit("a", 1)
    em.emit("b", 2)
    assert listener.values == [2]


def test_type_errors_propagate_and_other_errors_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    em: EventEmitter[str] = EventEmitter()
    after: list[int] = []

    def broken(value: int) -> None:
        raise ValueError("listener bug")

    em.on("e", broken)
    em.on("e", after.append)
    with caplog.at_level(logging.ERROR, logger="voxlane.agents"):
        em.emit("e", 7)
    assert after == [7]  # a failing listener does not stop the others
    assert "listener bug" in caplog.text

    def wrong_types(value: int) -> None:
        raise TypeError("bad argument type")

    em.on("t", wrong_types)
    with pytest.raises(TypeError, match="bad argument type"):
        em.emit("t", 1)


def test_async_callbacks_are_still_refused() -> None:
    em: EventEmitter[str] = EventEmitter()

    async def handler() -> None:
        return None

    with pytest.raises(ValueError, match="async callback"):
        em.on("e", handler)


def test_callback_arity_of_builtins_without_signature() -> None:
    with pytest.raises(ValueError):
        inspect.signature(max)  # no signature: such callbacks get every argument
    assert callback_arity(max) == -1
    assert callback_arity(print) == -1  # *args
    assert callback_arity(lambda a, b, /, c, *, d=1: None) == 3
    em: EventEmitter[str] = EventEmitter()
    got: list[int] = []
    em.on("e", lambda *values: got.append(max(*values)))
    em.on("e", max)  # called with both arguments, not with none
    em.emit("e", 3, 5)
    assert got == [5]
