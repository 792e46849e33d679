"""The same client on uvloop: its transports are not asyncio.Transport subclasses."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable

import pytest

import hyperclient

uvloop = pytest.importorskip("uvloop")


def run_on_uvloop(url: str) -> list[object]:
    async def main() -> list[object]:
        out: list[object] = []
        async with hyperclient.ClientSession() as session:
            for _ in range(3):
                async with session.get(url + "/json") as resp:
                    out.append(await resp.json())
            async with session.post(url + "/echo", data=b"x" * 300_000) as resp:
                out.append(len((await resp.json())["body"]))
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
    assert result[3] == 300_000
    assert result[4] == 3_000_000
    assert result[5] == (1, 4)
    assert result[6] == 1  # TCP_NODELAY: uvloop's transports set it (we skip our call)
