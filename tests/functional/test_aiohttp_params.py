"""aiohttp 3 parameters beyond the reference's API, each checked against a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import hyperclient
from hyperclient import ClientSession

from ..conftest import RawServer, read_request


def _head_with(fields: int) -> bytes:
    lines = b"".join(b"X-%d: v\r\n" % i for i in range(fields))
    return b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 2\r\n\r\nok"


async def _serve_fields(raw_server: Any, fields: int) -> RawServer:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(_head_with(fields))
            await writer.drain()

    server: RawServer = await raw_server(script)
    return server


async def test_session_max_headers_caps_the_field_count(raw_server: Any) -> None:
    srv = await _serve_fields(raw_server, 20)  # 21 fields with Content-Length
    async with ClientSession(max_headers=21) as session:
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"ok"
    async with ClientSession(max_headers=20) as session:
        with pytest.raises(hyperclient.ClientResponseError) as info:
            await session.get(srv.url)
    assert info.value.status == 400
    assert info.value.message == "too many header fields: more than 20"


async def test_request_limits_override_the_session_ones(raw_server: Any) -> None:
    srv = await _serve_fields(raw_server, 20)
    async with ClientSession(max_headers=5, max_field_size=4) as session:
        # Each limit given per request replaces the session's; the others stay.
        async with session.get(srv.url, max_headers=50, max_field_size=100) as resp:
            assert await resp.read() == b"ok"
        with pytest.raises(hyperclient.ClientResponseError, match="more than 5"):
            await session.get(srv.url, max_field_size=100)
        # "Content-Length: 2" is the longest line.
        async with session.get(srv.url, max_headers=50, max_field_size=17) as resp:
            assert await resp.read() == b"ok"
        with pytest.raises(hyperclient.ClientResponseError, match="17 bytes, limit 16"):
            await session.get(srv.url, max_headers=50, max_field_size=16)
    # Without session limits, a request's own apply to that request only, on the same
    # pooled connection.
    connector = hyperclient.TCPConnector(limit=1)
    async with ClientSession(connector=connector) as session:
        with pytest.raises(hyperclient.ClientResponseError, match="more than 3"):
            await session.get(srv.url, max_headers=3)
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"ok"
        async with session.get(srv.url, max_line_size=len("HTTP/1.1 200 OK")) as resp:
            assert await resp.read() == b"ok"
        with pytest.raises(hyperclient.ClientResponseError, match="15 bytes, limit 14"):
            await session.get(srv.url, max_line_size=len("HTTP/1.1 200 OK") - 1)
