"""Fixtures for the MCP tests: real MCP server subprocesses (stdio, and HTTP on 127.0.0.1)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVERS = Path(__file__).parent / "servers"
DEMO_SERVER = str(SERVERS / "demo_server.py")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the MCP test server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the MCP test server did not listen on port {port} in {timeout} s")


class HTTPServerProcess:
    """A demo server subprocess serving MCP over HTTP on 127.0.0.1."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str) -> None:
        self.proc = proc
        self.url = url


@pytest.fixture(params=["streamable-http", "sse"])
def http_server(request: pytest.FixtureRequest) -> Iterator[HTTPServerProcess]:
    """A demo server over HTTP on 127.0.0.1 (its URL ends with ``/mcp`` or ``/sse``)."""
    transport: str = request.param
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, DEMO_SERVER, transport, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc)
        path = "/mcp" if transport == "streamable-http" else "/sse"
        yield HTTPServerProcess(proc, f"http://127.0.0.1:{port}{path}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def http_server_url(http_server: HTTPServerProcess) -> str:
    """The URL of :func:`http_server`."""
    return http_server.url


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    return _free_port()
