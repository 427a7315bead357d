"""A base for fake provider servers: aiohttp on 127.0.0.1, served from a background thread.

Provider plugins are tested with their real client code against a local server that speaks the
provider's wire protocol. :class:`FakeProviderServer` owns the parts every such fake repeats:

- serving on ``127.0.0.1`` on a free port from a thread with its own event loop, so the server's
  tasks are not the client's (the conformance kit checks that a client leaves no task behind) and
  a blocked client loop cannot stall the server;
- queues of injected :class:`Fault` s per route, taken by the next request or connection;
- :attr:`~FakeProviderServer.stopping`, an event a "hang" fault waits on so a request that never
  answers still ends when the server stops;
- :meth:`~FakeProviderServer.admit`, the check every handler starts with (the key, then a queued
  fault), and :class:`Recorded`, what a test inspects of each request or connection.

A subclass adds its routes::

    class FakeAcme(FakeProviderServer):
        def __init__(self) -> None:
            super().__init__(name="Acme", fault_routes=("tts",), base_path="/v1")

        def add_routes(self, app: web.Application) -> None:
            app.router.add_post("/v1/speak", self._speak)

    async with FakeAcme() as server:
        tts = acme.TTS(base_url=server.base_url, api_key="test")
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .._exceptions import APIError

__all__ = [
    "FakeProviderServer",
    "Fault",
    "Recorded",
    "Refuse",
    "spread_words",
    "status_fault_injector",
]


_Server = TypeVar("_Server", bound="FakeProviderServer")


@dataclass
class Fault:
    """A failure a fake server plays on the next request or connection of a route.

    ``kind`` is up to the fake; the usual ones are ``"status"`` (answer HTTP ``status``),
    ``"drop"`` (close the socket after ``chunks`` messages or ``seconds`` of audio), ``"hang"``
    (accept, then never answer), ``"malformed"`` (junk frames first) and ``"error"`` (an error
    message in the provider's protocol).
    """

    kind: str
    status: int = 500
    seconds: float = 0.0
    chunks: int = 0


@dataclass
class Recorded:
    """One request or websocket connection a fake server received, for tests to inspect."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    messages: list[Any] = field(default_factory=list)
    """What the client sent (decoded JSON messages, text frames or form fields)."""
    audio_bytes: int = 0
    """Bytes of binary audio the client sent."""
    closed_by_server: bool = False
    """The fake dropped the connection (a "drop" fault)."""

    @classmethod
    def of(cls, request: web.Request) -> Recorded:
        """A record of ``request`` (path, query and headers)."""
        return cls(path=request.path, query=dict(request.query), headers=dict(request.headers))


Refuse = Callable[[int, bool], web.Response]
"""Builds a fake's error answer: ``refuse(status, injected)``; ``injected`` is False for a
rejected key (401) and True for a queued "status" fault."""


class FakeProviderServer:
    """Serves an aiohttp application on 127.0.0.1 from a background thread.

    Args:
        name: shown in errors and the thread name.
        fault_routes: the route names faults are queued under (``fail_next("tts", ...)``).
        base_path: appended to ``http://127.0.0.1:<port>`` in :attr:`base_url` (e.g. ``"/v1"``).
        client_max_size: the largest request body accepted (audio uploads can be big).
    """

    def __init__(
        self,
        *,
        name: str,
        fault_routes: Iterable[str] = (),
        base_path: str = "",
        client_max_size: int = 64 * 1024 * 1024,
    ) -> None:
        self.name = name
        self.faults: dict[str, deque[Fault]] = {route: deque() for route in fault_routes}
        self.port = 0
        self._base_path = base_path.rstrip("/")
        self._client_max_size = client_max_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopping: asyncio.Event | None = None

    # -- for subclasses -----------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        """Add the fake's handlers to ``app`` (called on the server thread)."""
        raise NotImplementedError(f"{type(self).__name__} must implement add_routes(app)")

    @property
    def stopping(self) -> asyncio.Event:
        """Set (on the server's loop) when the server stops; "hang" handlers wait on it."""
        if self._stopping is None:
            raise RuntimeError(f"the fake {self.name} server is not running")
        return self._stopping

    def take_fault(self, route: str) -> Fault | None:
        """The next fault queued for ``route``, or ``None``."""
        queue = self._route(route)
        return queue.popleft() if queue else None

    def admit(
        self, request: web.Request, route: str, *, authorized: bool, refuse: Refuse
    ) -> tuple[Fault | None, web.Response | None]:
        """The check a handler of ``route`` starts with: ``(None, answer)`` to refuse the request
        (401 when not ``authorized``, or a queued "status" fault's status), else ``(fault, None)``
        with the fault to play (``None`` for none)."""
        if not authorized:
            return None, refuse(401, False)
        fault = self.take_fault(route)
        if fault is not None and fault.kind == "status":
            return None, refuse(fault.status, True)
        return fault, None

    # -- for tests ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` plus the base path (valid once started)."""
        return f"http://127.0.0.1:{self.port}{self._base_path}"

    def fail_next(self, route: str, fault: Fault, times: int = 1) -> None:
        """Play ``fault`` on the next ``times`` requests or connections of ``route``."""
        self._route(route).extend([fault] * times)

    async def start(self) -> None:
        """Start serving; returns once the port is known."""
        if self._thread is not None:
            raise RuntimeError(f"the fake {self.name} server was already started")
        self._thread = threading.Thread(
            target=self._serve, name=f"fake-{self.name.lower()}", daemon=True
        )
        self._thread.start()
        await asyncio.to_thread(self._ready.wait, 10)
        if self._startup_error is not None:
            raise RuntimeError(
                f"the fake {self.name} server did not start: {self._startup_error}"
            ) from self._startup_error
        if not self.port:
            raise RuntimeError(f"the fake {self.name} server did not start within 10 s")

    async def stop(self) -> None:
        """Stop serving (pending "hang" requests are released) and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        stopping = self._stopping
        if stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, 10)

    async def __aenter__(self: _Server) -> _Server:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- internals ------------------------------------------------------------------------------

    def _route(self, route: str) -> deque[Fault]:
        try:
            return self.faults[route]
        except KeyError:
            raise ValueError(
                f"the fake {self.name} server has no fault route {route!r}; "
                f"use one of {sorted(self.faults)}"
            ) from None

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner: web.AppRunner | None = None
        try:
            self._stopping = asyncio.Event()
            app = web.Application(client_max_size=self._client_max_size)
            self.add_routes(app)
            runner = web.AppRunner(app, shutdown_timeout=1.0)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = int(runner.addresses[0][1])
        except BaseException as e:
            self._startup_error = e
            self._stopping = None
            self._ready.set()
            if runner is not None:
                loop.run_until_complete(runner.cleanup())
            loop.close()
            return
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()


def spread_words(words: Sequence[str], start: float, end: float) -> list[dict[str, object]]:
    """``{"word", "start", "end"}`` timings for ``words`` spread evenly over ``start..end``
    (seconds, rounded to the millisecond), as fake STT/TTS servers report them."""
    if not words:
        return []
    step = (end - start) / len(words)
    return [
        {"word": w, "start": round(start + i * step, 3), "end": round(start + (i + 1) * step, 3)}
        for i, w in enumerate(words)
    ]


def status_fault_injector(
    server: FakeProviderServer, route: str
) -> Callable[[APIError, int], None]:
    """An ``inject_error`` for the conformance kit (an ``ErrorInjector``): the next requests of
    ``route`` answer HTTP 503 (for a retryable error) or 401 (for one that must not be retried)."""

    def inject(error: APIError, times: int) -> None:
        status = 503 if error.retryable else 401
        server.fail_next(route, Fault("status", status=status), times=times)

    return inject
