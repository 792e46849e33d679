"""Misuse: a wrong argument is an error that names it, raised before a byte is sent.

Found by an audit against aiohttp 3.14: several of these were silently accepted, and two
of them dropped a security setting (certificate checks, credentials) without a word.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import ssl
import sys
from typing import Any

import pytest

import hyperclient
from hyperclient import BasicAuth, ClientSession, HttpVersion, ProxyConnector, TCPConnector

from ..conftest import RawServer, answer_ok, read_request


async def _counting_server(raw_server: Any) -> RawServer:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    srv: RawServer = await raw_server(script)
    return srv


@pytest.mark.parametrize(
    "setting",
    [1, 0, "yes", ssl.create_default_context, hashlib.sha256(b"cert").digest(), object()],
    ids=["one", "zero", "str", "factory", "raw-digest", "object"],
)
async def test_an_ssl_value_of_the_wrong_type_never_means_do_not_verify(
    setting: Any, raw_server: Any
) -> None:
    srv = await _counting_server(raw_server)
    url = f"https://127.0.0.1:{srv.port}/"
    name = type(setting).__qualname__
    async with ClientSession() as session:
        with pytest.raises(TypeError, match=f"ssl must be an SSLContext.*got {name}"):
            await session.get(url, ssl=setting)
        with pytest.raises(TypeError, match=f"got {name}"):
            await session.ws_connect(f"wss://127.0.0.1:{srv.port}/", ssl=setting)
    with pytest.raises(TypeError, match=f"ssl must be an SSLContext.*got {name}"):
        TCPConnector(ssl=setting)
    assert srv.connections == 0


async def test_an_ssl_context_that_is_not_one_is_refused(raw_server: Any) -> None:
    srv = await _counting_server(raw_server)
    async with ClientSession() as session:
        with pytest.raises(TypeError, match="ssl_context must be an SSLContext or None, got str"):
            await session.get(f"https://127.0.0.1:{srv.port}/", ssl_context="default")
    with pytest.raises(TypeError, match="ssl_context must be an SSLContext or None, got str"):
        TCPConnector(ssl_context="x")
    assert srv.connections == 0


@pytest.mark.parametrize(
    "auth", [("user", "s3cret"), "user:s3cret", {"login": "user"}], ids=["tuple", "str", "dict"]
)
async def test_credentials_of_the_wrong_type_are_refused_not_dropped(
    auth: Any, raw_server: Any
) -> None:
    """The request went out with no Authorization at all; the error names the type
    only, never the value (it holds the password)."""
    srv = await _counting_server(raw_server)
    name = type(auth).__qualname__
    async with ClientSession() as session:
        with pytest.raises(TypeError, match=f"auth must be a BasicAuth or DigestAuth.*{name}$"):
            await session.get(srv.url, auth=auth)
        with pytest.raises(TypeError, match=f"got {name}$"):
            await session.ws_connect(f"ws://127.0.0.1:{srv.port}/", auth=auth)
        with pytest.raises(TypeError, match=f"proxy_auth must be a BasicAuth instance, got {name}"):
            await session.get(srv.url, proxy=srv.url, proxy_auth=auth)
    with pytest.raises(TypeError, match=f"auth must be a BasicAuth instance, got {name}$"):
        ClientSession(auth=auth)
    with pytest.raises(TypeError, match=f"proxy_auth must be a BasicAuth instance, got {name}"):
        ClientSession(proxy_auth=auth)
    with pytest.raises(TypeError, match=f"proxy_auth must be a BasicAuth instance, got {name}"):
        ProxyConnector(srv.url, proxy_auth=auth)
    assert srv.connections == 0
    # The right type still works.
    ProxyConnector(srv.url, proxy_auth=BasicAuth("user", "s3cret"))


async def test_a_bytes_method_is_refused_before_a_byte_is_sent(raw_server: Any) -> None:
    srv = await _counting_server(raw_server)
    async with ClientSession() as session:
        with pytest.raises(TypeError, match=r"method must be str, got bytes: b'GET'"):
            await session.request(b"GET", srv.url)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"method must be str, got bytes: b'GET'"):
            await session.ws_connect(f"ws://127.0.0.1:{srv.port}/", method=b"GET")  # type: ignore[arg-type]
    assert srv.connections == 0


@pytest.mark.parametrize("version", ["2.0", HttpVersion(0, 9), HttpVersion(3, 0)])
async def test_a_version_this_framing_cannot_speak_is_refused(version: Any) -> None:
    async with ClientSession() as session:
        with pytest.raises(ValueError, match="unsupported HTTP version"):
            await session.get("http://127.0.0.1:1/", version=version)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"keepalive_timeout": "30"}, TypeError, "keepalive_timeout must be a number.*got str"),
        ({"keepalive_timeout": -1}, ValueError, "keepalive_timeout must not be negative"),
        ({"conn_timeout": -1}, ValueError, "conn_timeout must not be negative, got -1"),
        ({"limit": -1}, ValueError, "limit must be a non-negative number or None, got -1"),
        ({"limit": "10"}, ValueError, "limit must be a non-negative number or None, got '10'"),
        ({"limit_per_host": -1}, ValueError, "limit_per_host must be a non-negative number"),
        ({"total_limit": -2}, ValueError, "total_limit must be a non-negative number"),
    ],
)
def test_connector_settings_are_checked_when_made(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """A negative limit made every request wait for a slot that never came; a string
    keep-alive failed deep in the pool (or not at all under python -O)."""
    with pytest.raises(error, match=message):
        TCPConnector(**kwargs)


def test_a_connector_whose_constructor_failed_is_finalised_quietly() -> None:
    seen: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        with pytest.raises(TypeError):
            TCPConnector(bogus=1)  # type: ignore[call-arg]
        with pytest.raises(ValueError, match="limit"):
            TCPConnector(limit=-1)
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert seen == []


async def test_max_redirects_none_is_no_limit_and_a_bad_one_is_named(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            hops = int(head.split(b" ")[1].strip(b"/") or b"0")
            if hops < 12:
                writer.write(
                    b"HTTP/1.1 302 Found\r\nLocation: /%d\r\nContent-Length: 0\r\n\r\n" % (hops + 1)
                )
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.get(srv.url + "/0", max_redirects=None) as resp:
            assert len(resp.history) == 12
            assert await resp.read() == b"ok"
        with pytest.raises(ValueError, match="max_redirects must be a non-negative number or None"):
            await session.get(srv.url + "/0", max_redirects="3")  # type: ignore[arg-type]
        with pytest.raises(hyperclient.TooManyRedirects):
            await session.get(srv.url + "/0")  # the default, 10, still holds


async def test_numbers_aiohttp_accepts_still_work_and_ssl_none_is_the_default(
    raw_server: Any,
) -> None:
    """Float limits and max_redirects (aiohttp takes them); ssl=None beside the legacy
    verify_ssl/ssl_context options, and TCPConnector(ssl=True, verify_ssl=False)."""
    srv: RawServer = await raw_server(answer_ok)
    connector = TCPConnector(limit=10.0, limit_per_host=5.0)  # type: ignore[arg-type]
    async with ClientSession(connector=connector) as session:
        async with session.get(srv.url, max_redirects=5.0) as resp:  # type: ignore[arg-type]
            assert await resp.read() == b"ok"
        async with session.get(srv.url, ssl=None, verify_ssl=False) as resp:
            assert resp.status == 200
        async with session.get(srv.url, ssl=None, ssl_context=ssl.create_default_context()):
            pass
    await TCPConnector(ssl=True, verify_ssl=False).close()


def test_the_kernels_connect_timeout_is_a_connector_error_not_our_budget() -> None:
    """ETIMEDOUT from the kernel (errno set) said "after Nones (sock_connect)": only our
    own budget running out is a ConnectionTimeoutError, as in aiohttp."""
    import errno

    from hyperclient.values import ConnectionKey

    key = ConnectionKey("127.0.0.1", 80, False, True, None, None, None)
    kernel = TimeoutError(errno.ETIMEDOUT, "Connection timed out")
    err = TCPConnector._translate(key, kernel, seconds=None)
    assert type(err) is hyperclient.ClientConnectorError
    assert err.errno == errno.ETIMEDOUT
    ours = TCPConnector._translate(key, TimeoutError("TCP connect took longer"), seconds=2.0)
    assert isinstance(ours, hyperclient.ConnectionTimeoutError)
    assert "after 2.0s (sock_connect)" in str(ours)
