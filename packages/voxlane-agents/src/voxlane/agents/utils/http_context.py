"""A shared ``aiohttp.ClientSession`` per job (or per event loop), as plugins use it.

Plugins call :func:`http_session` instead of creating a session per request, so connections
are pooled::

    from voxlane.agents import utils

    async with utils.http_context.http_session().post(url, json=body) as resp: ...

Which session you get:

- inside :func:`session_scope` (or after :func:`open_http_context`): that scope's session;
- inside a job (``get_job_context()`` works): one session for the job, closed when the job
  shuts down;
- otherwise: one session for the running event loop; close it with
  :func:`close_http_context` before the loop ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import weakref
from collections.abc import AsyncIterator
from typing import Any

import aiohttp


class _HttpContext:
    """Owns one lazily created session, bound to the loop that created it."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise RuntimeError(
                "this http context is closed; open a new one with open_http_context() "
                "(or session_scope())"
            )
        loop = _running_loop()
        if self._session is not None and self._loop is not loop:
            raise RuntimeError(
                "the shared http session belongs to another event loop; open an http context "
                "in this loop with session_scope()"
            )
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        self.closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


_current: contextvars.ContextVar[_HttpContext | None] = contextvars.ContextVar(
    "voxlane_http_context", default=None
)
_per_job: weakref.WeakKeyDictionary[Any, _HttpContext] = weakref.WeakKeyDictionary()
_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _HttpContext] = (
    weakref.WeakKeyDictionary()
)


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "http_session() needs a running event loop: call it from async code"
        ) from None


def _job_context() -> Any:
    from ..job.context import get_job_context

    try:
        return get_job_context()
    except RuntimeError:
        return None


def _context() -> _HttpContext:
    ctx = _current.get()
    if ctx is not None:
        return ctx
    job = _job_context()
    if job is not None:
        ctx = _per_job.get(job)
        if ctx is None or ctx.closed:
            ctx = _per_job[job] = _HttpContext()
            job.add_shutdown_callback(ctx.aclose)
        return ctx
    loop = _running_loop()
    ctx = _per_loop.get(loop)
    if ctx is None or ctx.closed:
        ctx = _per_loop[loop] = _HttpContext()
    return ctx


def http_session() -> aiohttp.ClientSession:
    """The shared ``aiohttp.ClientSession`` of the current scope, job or event loop."""
    return _context().session()


def open_http_context() -> contextvars.Token[_HttpContext | None]:
    """Start a new http context in the current task (and the tasks it creates). Pass the
    returned token to :func:`close_http_context` to close it and restore the previous one."""
    return _current.set(_HttpContext())


async def close_http_context(token: contextvars.Token[_HttpContext | None] | None = None) -> None:
    """Close the session of the current context (scope, job or event loop), if one was made.

    With the ``token`` of :func:`open_http_context`, also restores the previous context.
    """
    ctx = _current.get()
    if ctx is None:
        job = _job_context()
        if job is not None:
            ctx = _per_job.pop(job, None)
        else:
            with contextlib.suppress(RuntimeError):
                ctx = _per_loop.pop(asyncio.get_running_loop(), None)
    if ctx is not None:
        await ctx.aclose()
    if token is not None:
        _current.reset(token)


@contextlib.asynccontextmanager
async def session_scope() -> AsyncIterator[None]:
    """``async with session_scope():`` gives the code inside its own shared session, closed
    on exit."""
    token = open_http_context()
    try:
        yield
    finally:
        await close_http_context(token)


__all__ = ["close_http_context", "http_session", "open_http_context", "session_scope"]
