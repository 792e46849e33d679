"""The same client on uvloop: its transports are not asyncio.Transport subclasses."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable

import pytest
from yarl import URL

import hyperclient
from hyperclient.resolver import StaticResolver

from .test_dns import free_port

uvloop = pytest.importorskip("uvloop")

BIG_BODY = bytes(range(256)) * 1200 + b"tail"


def run_on_uvloop(url: str) -> list[object]:
    async def main() -> list[object]:
        out: list[object] = []
        async with hyperclient.ClientSession() as session:
            for _ in range(3):
                async with session.get(url + "/json") as resp:
                    out.append(await resp.json())
            # Larger than one write: head and body go out in one gathering write.
            async with session.post(url + "/echo", data=BIG_BODY) as resp:
                out.append((await resp.json())["body"].encode("latin-1") == BIG_BODY)
            async with session.get(url + "/big?size=3000000") as resp:
                assert resp.connection is not None
                assert resp.connection.transport is not None
                sock = resp.connection.transport.get_extra_info("socket")
                nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                out.append(sum([len(c) async for c in resp.content.iter_chunked(65536)]))
            stats = next(iter(session.connector.stats().values()))  # type: ignore[union-attr]
            out.append((stats.created, stats.reused))
            out.append(nodelay)
        return out

    return uvloop.run(main())  # type: ignore[no-any-return]


async def test_requests_on_uvloop(url: Callable[[str], str]) -> None:
    if sys.platform == "win32":  # pragma: no cover
        pytest.skip("uvloop does not run on Windows")
    base = url("")
    # The test server lives on this loop; the uvloop client runs in a thread of its own.
    result = await asyncio.to_thread(run_on_uvloop, base)
    assert result[:3] == [{"hello": "world", "n": [1, 2, 3]}] * 3
    assert result[3] is True
    assert result[4] == 3_000_000
    assert result[5] == (1, 4)
    assert result[6] == 1  # TCP_NODELAY: uvloop's transports set it (we skip our call)


def connect_failures_on_uvloop(
    refused: int, black_hole: int, good_addr: tuple[str, int | None]
) -> list[object]:
    """New connections on uvloop, which opens a single plain address in one call."""

    async def main() -> list[object]:
        out: list[object] = []
        async with hyperclient.ClientSession() as session:
            try:
                await session.get(f"http://127.0.0.1:{refused}/")
            except hyperclient.ClientConnectorError as exc:
                out.append((type(exc).__name__, str(exc), type(exc.__cause__).__name__))
            try:
                await session.get(
                    f"http://127.0.0.1:{black_hole}/",
                    timeout=hyperclient.ClientTimeout(sock_connect=0.2),
                )
            except hyperclient.ConnectionTimeoutError as exc:
                out.append(str(exc))
        # Two addresses, the first refusing: raced as on the default loop.
        resolver = StaticResolver({"svc.test": [("127.0.0.1", refused), good_addr]})
        connector = hyperclient.TCPConnector(resolver=resolver)
        async with hyperclient.ClientSession(connector=connector) as session:
            async with session.get("http://svc.test:80/json") as resp:
                out.append(resp.status)
                timings = resp.timings
                out.append(timings is not None and timings.connect is not None)
        # A local address by name, as the raced path binds it.
        connector = hyperclient.TCPConnector(local_addr=("localhost", 0))
        async with hyperclient.ClientSession(connector=connector) as session:
            async with session.get(f"http://{good_addr[0]}:{good_addr[1]}/json") as resp:
                out.append(resp.status)
        # Closing while a connect stalls: the protocol never connected, close() must not
        # wait for it.
        session = hyperclient.ClientSession()
        timeout = hyperclient.ClientTimeout(sock_connect=0.5)
        request = asyncio.ensure_future(
            session.get(f"http://127.0.0.1:{black_hole}/", timeout=timeout)
        )
        await asyncio.sleep(0.1)
        await asyncio.wait_for(session.close(), 5)
        try:
            await request
        except hyperclient.ClientError as exc:
            out.append((type(exc).__name__, str(exc)))
        # The same with no connect timeout: no timer runs, close() must still stop it.
        session = hyperclient.ClientSession()
        timeout = hyperclient.ClientTimeout(sock_connect=None)
        request = asyncio.ensure_future(
            session.get(f"http://127.0.0.1:{black_hole}/", timeout=timeout)
        )
        await asyncio.sleep(0.1)
        await asyncio.wait_for(session.close(), 5)
        try:
            await asyncio.wait_for(request, 5)
        except hyperclient.ClientError as exc:
            out.append((type(exc).__name__, str(exc)))
        # The same from cleanup code, whose task already has a cancellation pending.
        session = hyperclient.ClientSession()

        async def cleanup() -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                try:
                    await session.get(f"http://127.0.0.1:{black_hole}/", timeout=timeout)
                except hyperclient.ClientError as exc:
                    out.append((type(exc).__name__, str(exc)))
                raise

        task = asyncio.ensure_future(cleanup())
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.sleep(0.1)
        await asyncio.wait_for(session.close(), 5)
        try:
            await asyncio.wait_for(task, 5)
        except asyncio.CancelledError:
            out.append("cancelled")
        return out

    return uvloop.run(main())  # type: ignore[no-any-return]


async def test_connection_failures_on_uvloop(url: Callable[[str], str], black_hole: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        pytest.skip("uvloop does not run on Windows")
    refused = free_port()
    good = URL(url(""))
    assert good.host is not None
    good_addr = (good.host, good.port)
    result = await asyncio.to_thread(connect_failures_on_uvloop, refused, black_hole, good_addr)
    name, message, cause = result[0]  # type: ignore[misc]
    assert (name, cause) == ("ClientConnectorError", "ConnectionRefusedError")
    assert f"127.0.0.1:{refused}" in message
    assert (
        result[1] == f"connection timeout to host 127.0.0.1:{black_hole} after 0.2s (sock_connect)"
    )
    assert result[2:5] == [200, True, 200]
    # close() stops the stalled connect at once, and the request says why.
    assert result[5] == ("ClientConnectionError", "the connector was closed while connecting")
    assert result[6] == ("ClientConnectionError", "the connector was closed while connecting")
    assert result[7:] == [
        ("ClientConnectionError", "the connector was closed while connecting"),
        "cancelled",
    ]
