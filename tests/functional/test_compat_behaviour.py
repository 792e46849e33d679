"""Behaviours real aiohttp client libraries rely on, found by ``make compat`` (issue 10).

Each test names the library whose suite showed the difference.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import hyperclient

from ..conftest import read_request

Url = Callable[[str], str]


async def test_connector_conns_lists_idle_connections(url: Url) -> None:
    # gql (and code copied from aiohttp issue 1925) walks connector._conns on close to
    # wait for pooled TLS transports: {key: [(protocol, time), ...]}.
    async with hyperclient.ClientSession() as session:
        assert session.connector is not None
        assert dict(session.connector._conns) == {}
        async with session.get(url("/json")) as resp:
            await resp.read()
        conns = session.connector._conns
        assert isinstance(conns, types.MappingProxyType)
        [(key, stack)] = conns.items()
        assert key.port == int(url("").rsplit(":", 1)[1])
        [(proto, when)] = stack
        assert proto.transport is not None
        assert isinstance(when, float)


async def test_readline_max_line_length(url: Url) -> None:
    # aiohttp 3's StreamReader.readline(max_line_length=) and readuntil(max_size=); aiohttp's
    # own MultipartReader calls them on resp.content (gql's multipart subscriptions).
    async with hyperclient.ClientSession() as session:
        async with session.get(url("/lines")) as resp:
            assert await resp.content.readline(max_line_length=4) == b"one\n"
            assert await resp.content.readuntil(b"\n", max_size=100) == b"two\n"
            assert await resp.content.readline() == b"three"
        async with session.get(url("/lines")) as resp:
            with pytest.raises(ValueError, match=r"line of 4 bytes is longer than the limit, 3"):
                await resp.content.readline(max_line_length=3)
            # That line is dropped, the rest is not (everything buffered was lost).
            assert await resp.content.readline() == b"two\n"


@pytest.mark.parametrize(("version", "seen"), [("1.0", [1, 0]), ("1.1", [1, 1])])
async def test_version_as_string(url: Url, version: str, seen: list[int]) -> None:
    # gql passes client_session_args={"version": "1.1"}; aiohttp parses the string.
    async with hyperclient.ClientSession(version=version) as session:  # type: ignore[arg-type]
        async with session.get(url("/echo")) as resp:
            assert (await resp.json())["version"] == seen


async def test_version_string_invalid(url: Url) -> None:
    async with hyperclient.ClientSession(version="one") as session:  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"invalid HTTP version: 'one'"):
            await session.get(url("/echo"))


async def test_formdata_async_sources(url: Url) -> None:
    # gql uploads files given as async generators or as another response's content.
    async def generate() -> AsyncIterator[bytes]:
        for piece in (b"abc", b"", b"def"):
            yield piece

    async with hyperclient.ClientSession() as session:
        async with session.get(url("/lines")) as source:
            form = hyperclient.FormData()
            form.add_field("gen", generate(), filename="g.bin")
            form.add_field("relay", source.content, filename="r.txt", content_type="text/plain")
            form.add_field("note", "hi")
            assert form.is_multipart
            async with session.post(url("/form"), data=form) as resp:
                got: dict[str, Any] = await resp.json()
    assert got == {
        "gen": {"filename": "g.bin", "content_type": "application/octet-stream", "data": "abcdef"},
        "relay": {"filename": "r.txt", "content_type": "text/plain", "data": "one\ntwo\nthree"},
        "note": "hi",
    }


async def test_formdata_async_source_is_sent_once() -> None:
    async def generate() -> AsyncIterator[bytes]:
        yield b"x"

    form = hyperclient.FormData()
    form.add_field("gen", generate())
    body = form.body()
    assert body.size is None  # unknown length: sent chunked
    assert b"".join([piece async for piece in body.chunks()]).count(b"\r\nx\r\n") == 1
    with pytest.raises(RuntimeError, match="cannot be replayed"):
        body.chunks()


async def test_response_closed_once_whole_body_arrived(raw_server: Any) -> None:
    # aiohttp's resp.closed turns True when the body has fully arrived (its connection is
    # released then), not only on release(); code polls it to know the connection is free.
    release_rest = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc")
        await release_rest.wait()
        writer.write(b"def")
        await writer.drain()
        await reader.read()

    srv = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.get(srv.url + "/") as resp:
            assert await resp.content.readexactly(3) == b"abc"
            assert not resp.closed  # three bytes are still to come
            release_rest.set()
            assert await resp.content.readexactly(3) == b"def"
            await asyncio.sleep(0)
            assert resp.closed
            assert resp.connection is None


async def test_content_disposition_prefers_the_extended_filename(aiohttp_server: Any) -> None:
    # RFC 6266 §4.3 / RFC 8187: downloaders save under resp.content_disposition.filename.
    from aiohttp import web

    async def download(request: web.Request) -> web.Response:
        value = "attachment; filename=\"naive.txt\"; filename*=UTF-8''na%C3%AFve%20%E2%82%AC.txt"
        return web.Response(body=b"x", headers={"Content-Disposition": value})

    app = web.Application()
    app.router.add_get("/", download)
    server = await aiohttp_server(app)
    async with hyperclient.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{server.port}/") as resp:
            disposition = resp.content_disposition
    assert disposition is not None
    assert disposition.type == "attachment"
    assert disposition.filename == "naïve €.txt"
    assert dict(disposition.parameters) == {"filename": "naive.txt", "filename*": "naïve €.txt"}


@pytest.mark.parametrize("how", ["close", "release"])
async def test_reading_a_body_given_up_on_is_connection_closed(raw_server: Any, how: str) -> None:
    """aiohttp code cancels a download from another task with close(): the read raised
    ClientPayloadError ("payload is not completed"), which `except ClientConnectionError`
    misses, instead of aiohttp's ClientConnectionError("Connection closed")."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nfirst")
        await reader.read()

    srv = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        resp = await session.get(srv.url)
        assert await resp.content.readexactly(5) == b"first"
        reading = asyncio.ensure_future(resp.content.read())
        await asyncio.sleep(0.01)
        getattr(resp, how)()
        with pytest.raises(hyperclient.ClientConnectionError, match=r"^Connection closed$"):
            await reading
        with pytest.raises(hyperclient.ClientConnectionError, match=r"^Connection closed$"):
            await resp.read()


async def test_iter_chunks_follows_the_servers_chunks(raw_server: Any) -> None:
    """aiohttp's documented recipe: join pieces until end_of_http_chunk to rebuild each
    chunk. Every piece said True, so a chunk split across reads came out in parts."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01234")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"56789\r\n3\r\nabc\r\n0\r\n\r\n")
        await writer.drain()

    srv = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.get(srv.url) as resp:
            messages, piece = [], b""
            async for data, end_of_chunk in resp.content.iter_chunks():
                piece += data
                if end_of_chunk:
                    messages.append(piece)
                    piece = b""
    assert messages == [b"0123456789", b"abc"]
