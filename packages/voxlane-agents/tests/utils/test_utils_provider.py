"""ProviderAPI and friends: keys, URLs, error mapping and websockets against a local server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from voxlane.agents._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
)
from voxlane.agents.utils.provider import (
    LazyHTTPSession,
    ProviderAPI,
    ProviderClient,
    http_url,
    query_items,
    ws_url,
)

ACME = ProviderAPI(
    name="Acme",
    api_key_env=("ACME_API_KEY", "ACME_KEY"),
    default_base_url="https://api.acme.test/v1",
    key_help_url="https://acme.test/keys",
    request_id_header="x-acme-request",
    error_message_keys=("err_msg", "message"),
    auth_headers=lambda key: {"Authorization": f"Acme {key}"},
)


# -- keys and URLs ------------------------------------------------------------------------------


def test_api_key_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "from-env")
    assert ACME.resolve_api_key("given") == "given"


def test_api_key_from_the_first_non_empty_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "")
    monkeypatch.setenv("ACME_KEY", "second")
    assert ACME.resolve_api_key(None) == "second"
    monkeypatch.setenv("ACME_API_KEY", "first")
    assert ACME.resolve_api_key(None) == "first"


def test_missing_api_key_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACME_API_KEY", raising=False)
    monkeypatch.delenv("ACME_KEY", raising=False)
    with pytest.raises(ValueError) as info:
        ACME.resolve_api_key(None)
    msg = str(info.value)
    assert msg.startswith("Acme needs an API key: pass api_key=...")
    assert "ACME_API_KEY (or ACME_KEY)" in msg and "https://acme.test/keys" in msg
    with pytest.raises(ValueError, match="ACME_API_KEY"):
        ACME.resolve_api_key("")


def test_single_variable_message_has_no_alternatives(monkeypatch: pytest.MonkeyPatch) -> None:
    one = ProviderAPI(
        name="One", api_key_env="ONE_KEY", default_base_url="https://one", key_help_url="u"
    )
    monkeypatch.delenv("ONE_KEY", raising=False)
    with pytest.raises(ValueError, match=r"set the ONE_KEY environment variable"):
        one.resolve_api_key(None)


def test_a_provider_needs_a_name_and_a_key_variable() -> None:
    with pytest.raises(ValueError, match="name"):
        ProviderAPI(name="", api_key_env="K", default_base_url="https://x", key_help_url="u")
    with pytest.raises(ValueError, match="API key variable"):
        ProviderAPI(name="X", api_key_env=(), default_base_url="https://x", key_help_url="u")


def test_check_base_url() -> None:
    assert ACME.check_base_url("http://127.0.0.1:9/v1/") == "http://127.0.0.1:9/v1"
    assert ACME.check_base_url("wss://api.acme.test") == "wss://api.acme.test"
    for bad in ("ftp://x", "api.acme.test", "http://"):
        with pytest.raises(ValueError, match=r"https://api\.acme\.test/v1"):
            ACME.check_base_url(bad)


def test_urls_switch_scheme_and_encode_the_query() -> None:
    params = {"model": "m1", "punctuate": True, "smart": False, "skip": None, "kt": ["a b", "c"]}
    assert (
        ws_url("https://h.test/v1", "/listen", params)
        == "wss://h.test/v1/listen?model=m1&punctuate=true&smart=false&kt=a+b&kt=c"
    )
    assert http_url("ws://127.0.0.1:5/v1/", "/speak") == "http://127.0.0.1:5/v1/speak"
    assert http_url("wss://h.test", "/x", {"n": 3}) == "https://h.test/x?n=3"
    assert ws_url("ws://h.test", "/x") == "ws://h.test/x"
    assert query_items({"a": (1, True)}) == [("a", "1"), ("a", "true")]


def test_error_text_reads_the_configured_keys_and_container() -> None:
    assert ACME.error_text({"message": "m", "err_msg": "first"}) == "first"
    assert ACME.error_text({"message": ""}) == ""
    assert ACME.error_text("x" * 400) == "x" * 300
    nested = ProviderAPI(
        name="N",
        api_key_env="N",
        default_base_url="https://n",
        key_help_url="u",
        error_container_key="detail",
        error_message_keys=("message", "status"),
    )
    assert nested.error_text({"detail": {"status": "quota_exceeded"}}) == "quota_exceeded"
    assert ACME.error_text({"detail": {"message": "hidden"}}) == ""


# -- against a local server -----------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def error(request: web.Request) -> web.Response:
        status = int(request.match_info["status"])
        headers = {"x-acme-request": "req-7", "Retry-After": "3"}
        if request.query.get("text"):
            return web.Response(status=status, text="plain failure", headers=headers)
        return web.json_response({"err_msg": "Invalid credentials"}, status=status, headers=headers)

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def upload(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "auth": request.headers.get("Authorization"),
                "type": request.content_type,
                "size": len(body),
            },
            headers={"x-acme-request": "up-1"},
        )

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=403, headers={"x-acme-request": "ws-1"}, text="no")

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(f"echo {msg.data}")
        return ws

    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()  # never answers while the test runs
        return web.Response()

    app = web.Application()
    app.router.add_get("/error/{status}", error)
    app.router.add_get("/ok", ok)
    app.router.add_get("/refuse", refuse)
    app.router.add_get("/echo", echo)
    app.router.add_get("/slow", slow)
    app.router.add_post("/upload", upload)
    app.router.add_post("/error/{status}", error)
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        release.set()
        await runner.cleanup()


async def test_raise_for_response_builds_a_status_error(server: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server}/ok") as resp:
            await ACME.raise_for_response(resp, "listing")  # no error below 400
        async with session.get(f"{server}/error/401") as resp:
            with pytest.raises(APIStatusError) as info:
                await ACME.raise_for_response(resp, "listing")
    err = info.value
    assert err.status_code == 401 and not err.retryable
    assert err.message == "Acme listing failed with HTTP 401: Invalid credentials"
    assert err.request_id == "req-7" and err.retry_after == 3.0
    assert err.body == {"err_msg": "Invalid credentials"}


async def test_raise_for_response_with_a_text_body_is_retryable_on_5xx(server: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server}/error/503?text=1") as resp,
    ):
        with pytest.raises(APIStatusError) as info:
            await ACME.raise_for_response(resp, "TTS")
    assert info.value.retryable and info.value.body == "plain failure"
    assert info.value.message.endswith(": plain failure")


async def test_open_websocket_works_and_maps_failures(server: str) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await ACME.open_websocket(session, ws_url(server, "/echo"), {}, 5.0, "connect")
        await ws.send_str("hi")
        msg = await ws.receive()
        assert msg.data == "echo hi"
        await ws.close()

        with pytest.raises(APIStatusError) as refused:
            await ACME.open_websocket(session, ws_url(server, "/refuse"), {}, 5.0, "connect")
        assert refused.value.status_code == 403 and refused.value.request_id == "ws-1"
        assert "websocket handshake was refused with HTTP 403" in refused.value.message

        with pytest.raises(APITimeoutError, match=r"Acme connect timed out after 0\.05 s"):
            await ACME.open_websocket(session, ws_url(server, "/slow"), {}, 0.05, "connect")


async def test_map_error_sorts_transport_failures(server: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server}/error/429") as resp:
            with pytest.raises(aiohttp.ClientResponseError) as http_error:
                resp.raise_for_status()
        # nothing listens on port 9 of the loopback: the connection is refused
        with pytest.raises(aiohttp.ClientError) as refused:
            await session.get("http://127.0.0.1:9/")
    mapped = ACME.map_error(refused.value, "recognize", 1.0)
    assert isinstance(mapped, APIConnectionError) and not isinstance(mapped, APITimeoutError)
    assert mapped.message.startswith("Acme recognize: connection failed")
    already = APIStatusError("x", status_code=500)
    assert ACME.map_error(already, "x", 1.0) is already
    status = ACME.map_error(http_error.value, "speak", 1.0)
    assert isinstance(status, APIStatusError) and status.status_code == 429 and status.retryable
    assert status.message.startswith("Acme speak failed with HTTP 429")
    other = ACME.map_error(KeyError("k"), "parse", 1.0)
    assert isinstance(other, APIConnectionError) and "KeyError" in other.message


async def test_lazy_session_is_made_on_first_use_and_closed_only_when_owned() -> None:
    lazy = LazyHTTPSession()
    first = lazy.get()
    assert lazy.owned and lazy.get() is first
    await lazy.aclose()
    assert first.closed

    async with aiohttp.ClientSession() as shared:
        borrowed = LazyHTTPSession(shared)
        assert borrowed.get() is shared and not borrowed.owned
        await borrowed.aclose()
        assert not shared.closed
    # the shared session was closed by its owner: a new one is made and owned from then on
    replacement = borrowed.get()
    assert replacement is not shared and borrowed.owned
    await borrowed.aclose()
    assert replacement.closed


def test_parse_retry_after_reads_ms_seconds_and_dates() -> None:
    from email.utils import formatdate
    from time import time

    from multidict import CIMultiDict

    from voxlane.agents.utils.provider import parse_retry_after

    assert parse_retry_after(None) is None
    assert parse_retry_after(CIMultiDict()) is None
    assert parse_retry_after(CIMultiDict({"Retry-After-Ms": "1500", "Retry-After": "9"})) == 1.5
    assert parse_retry_after(CIMultiDict({"Retry-After": "2"})) == 2.0
    assert parse_retry_after(CIMultiDict({"Retry-After": "-4"})) == 0.0
    assert parse_retry_after(CIMultiDict({"Retry-After": "soon"})) is None
    later = parse_retry_after(CIMultiDict({"Retry-After": formatdate(time() + 120, usegmt=True)}))
    assert later is not None and 100 < later <= 120


# -- protocol errors and the client ---------------------------------------------------------


def test_message_error_keeps_client_errors_and_defaults_to_500() -> None:
    refused = ACME.message_error("TTS", "quota exceeded", 429, request_id="r-1", body={"a": 1})
    assert refused.status_code == 429 and refused.request_id == "r-1"
    assert refused.message == "Acme TTS error: quota exceeded" and refused.body == {"a": 1}
    for odd in (None, "400", 206, 12):
        assert ACME.message_error("STT", "boom", odd).status_code == 500
    assert ACME.message_error("STT", "", None, request_id="").request_id is None
    assert "unknown error" in ACME.message_error("STT", None).message


def test_client_resolves_the_key_and_builds_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACME_API_KEY", raising=False)
    monkeypatch.setenv("ACME_KEY", "env-key")
    client = ProviderClient(ACME, api_key=None, base_url="https://api.acme.test/v1/")
    assert client.api_key == "env-key" and client.headers() == {"Authorization": "Acme env-key"}
    assert client.http_url("/speak", {"a": True}) == "https://api.acme.test/v1/speak?a=true"
    assert client.ws_url("/listen") == "wss://api.acme.test/v1/listen"
    with pytest.raises(ValueError, match="base_url"):
        ProviderClient(ACME, api_key="k", base_url="api.acme.test")
    bare = ProviderAPI(name="Bare", api_key_env="BARE_KEY", default_base_url="x", key_help_url="u")
    assert bare.headers("k") == {}


async def test_client_posts_and_opens_websockets(server: str) -> None:
    client = ProviderClient(ACME, api_key="k-1", base_url=server)
    try:
        data, headers = await client.post(
            client.http_url("/upload"),
            data=b"\x00" * 10,
            headers={"Content-Type": "audio/wav"},
            timeout=5.0,
            what="recognize",
        )
        assert data == {"auth": "Acme k-1", "type": "audio/wav", "size": 10}
        assert headers["x-acme-request"] == "up-1"
        with pytest.raises(APIStatusError, match="Acme recognize failed with HTTP 401") as info:
            await client.post(
                client.http_url("/error/401"), data=b"", timeout=5.0, what="recognize"
            )
        assert info.value.request_id == "req-7" and not info.value.retryable
        with pytest.raises(APITimeoutError):
            await client.post(client.http_url("/slow"), data=b"", timeout=0.05, what="recognize")
        ws = await client.open_websocket("/echo", None, 5.0, "connect")
        await ws.send_str("hi")
        assert (await ws.receive()).data == "echo hi"
        await ws.close()
    finally:
        await client.aclose()
    assert client.session.owned
