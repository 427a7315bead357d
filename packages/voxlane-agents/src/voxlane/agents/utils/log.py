"""``log_exceptions``: log what a function, coroutine or async generator raised, then re-raise."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


def log_exceptions(msg: str = "", logger: logging.Logger | None = None) -> Callable[[F], F]:
    """Decorator: when the wrapped callable raises, log the error with its traceback (at
    ERROR, on ``logger``, default the root logger) and re-raise it unchanged.

    Works on plain functions, coroutine functions and async generator functions, which is
    handy for background tasks whose errors would otherwise go unnoticed::

        @utils.log_exceptions(logger=logger)
        async def _forward_input() -> None: ...

    Cancellation (``asyncio.CancelledError``) and ``GeneratorExit`` are not errors and are
    never logged.
    """
    if callable(msg) and logger is None:
        raise TypeError(
            "log_exceptions is a decorator factory: write @log_exceptions() or "
            "@log_exceptions(logger=...), not @log_exceptions"
        )
    log = logger if logger is not None else logging.getLogger()

    def report(fn: Callable[..., Any], e: BaseException) -> None:
        text = msg or f"error in {getattr(fn, '__qualname__', repr(fn))}"
        log.error(text, exc_info=e)

    def decorate(fn: F) -> F:
        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
                try:
                    async for item in fn(*args, **kwargs):
                        yield item
                except Exception as e:
                    report(fn, e)
                    raise

            return cast(F, agen_wrapper)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def coro_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except Exception as e:
                    report(fn, e)
                    raise

            return cast(F, coro_wrapper)

        if not callable(fn):
            raise TypeError(f"log_exceptions can only decorate callables, got {fn!r}")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as e:
                report(fn, e)
                raise

        return cast(F, wrapper)

    return decorate


__all__ = ["log_exceptions"]
