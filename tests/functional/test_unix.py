"""HTTP over a Unix domain socket, against aiohttp.web on a ``UnixSite``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import hyperclient
from hyperclient import ClientSession, UnixConnector

from .conftest import make_app

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no Unix sockets")


@pytest.fixture
async def unix_path(tmp_path: Path) -> AsyncIterator[str]:
    path = str(tmp_path / "http.sock")
    runner = web.AppRunner(make_app())
    await runner.setup()
    site = web.UnixSite(runner, path)
    await site.start()
    yield path
    await runner.cleanup()


def header(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


async def test_requests_over_a_unix_socket_take_host_from_the_url(unix_path: str) -> None:
    connector = UnixConnector(unix_path)
    assert connector.path == unix_path
    async with ClientSession(connector=connector) as session:
        async with session.post("http://localhost/echo?x=1", data=b"body") as resp:
            assert resp.status == 200
            first = await resp.json()
        async with session.get("http://api.internal:8080/echo") as resp:
            second = await resp.json()
    assert first["path"] == "/echo?x=1"
    assert first["body"] == "body"
    assert header(first, "Host") == ["localhost"]
    assert header(second, "Host") == ["api.internal:8080"]


async def test_unix_connections_are_pooled(unix_path: str) -> None:
    connector = UnixConnector(unix_path)
    async with ClientSession(connector=connector) as session:
        for _ in range(3):
            async with session.get("http://localhost/echo") as resp:
                await resp.read()
        stats = list(connector.stats().values())
    assert [(s.created, s.reused) for s in stats] == [(1, 2)]


async def test_missing_socket_names_the_path(tmp_path: Path) -> None:
    path = str(tmp_path / "nothing-here.sock")
    async with ClientSession(connector=UnixConnector(path)) as session:
        with pytest.raises(hyperclient.UnixClientConnectorError) as info:
            await session.get("http://localhost/")
    err = info.value
    assert err.path == path
    assert f"Cannot connect to unix socket {path}" in str(err)
    assert isinstance(err.os_error, FileNotFoundError)


async def test_sock_read_fires_when_the_server_stops_taking_the_body(tmp_path: Path) -> None:
    """Over a Unix socket (no TCP acknowledgements to count), what waits to be sent must
    shrink between two looks: a server that stopped reading never answered and the
    request waited for total."""
    path = str(tmp_path / "stall.sock")
    stalled: list[asyncio.StreamWriter] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stalled.append(writer)
        await reader.readuntil(b"\r\n\r\n")  # then reads nothing more, answers nothing

    server = await asyncio.start_unix_server(handler, path)
    timeout = hyperclient.ClientTimeout(total=5, sock_read=0.2)
    try:
        async with ClientSession(connector=UnixConnector(path=path), timeout=timeout) as session:
            started = asyncio.get_running_loop().time()
            with pytest.raises(hyperclient.SocketTimeoutError, match="reading"):
                await session.post("http://x/", data=b"x" * 16 * 2**20)
            assert asyncio.get_running_loop().time() - started < 1.5
    finally:
        for writer in stalled:
            writer.transport.abort()
        server.close()
        await server.wait_closed()
