"""Response decoding end to end: every coding, raw bytes on request, truncation, bombs."""

from __future__ import annotations

import asyncio
import gzip
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import brotli
import pytest

import hyperclient
from hyperclient import ClientSession
from hyperclient.errors import RemoteProtocolError

from ..conftest import RawServer, read_request

try:
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:
    from backports import zstd

PAYLOAD = b"hyperclient decodes this body as it is read. " * 200


def encoded(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "deflate-raw":
        c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return c.compress(data) + c.flush()
    if coding == "br":
        return bytes(brotli.compress(data))
    if coding == "zstd":
        return bytes(zstd.compress(data))
    raise AssertionError(coding)


def serve(body: bytes, headers: bytes, *, chunked: bool = False) -> Callable[..., Any]:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            if chunked:
                framed = b"".join(
                    b"%x\r\n%s\r\n" % (len(body[i : i + 1000]), body[i : i + 1000])
                    for i in range(0, len(body), 1000)
                )
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    + headers
                    + b"\r\n"
                    + framed
                    + b"0\r\n\r\n"
                )
            else:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body)
                    + headers
                    + b"\r\n"
                    + body
                )
            await writer.drain()

    return script


@pytest.mark.parametrize("coding", ["gzip", "deflate", "deflate-raw", "br", "zstd"])
@pytest.mark.parametrize("chunked", [False, True])
async def test_each_coding_is_decoded(coding: str, chunked: bool, raw_server: Any) -> None:
    name = "deflate" if coding.startswith("deflate") else coding
    srv: RawServer = await raw_server(
        serve(
            encoded(coding, PAYLOAD), b"Content-Encoding: %s\r\n" % name.encode(), chunked=chunked
        )
    )
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert await resp.read() == PAYLOAD
        async with session.get(srv.url) as resp:
            pieces = [c async for c in resp.content.iter_chunked(1000)]
            assert b"".join(pieces) == PAYLOAD
    assert srv.connections == 1


async def test_stacked_codings(raw_server: Any) -> None:
    body = bytes(brotli.compress(gzip.compress(PAYLOAD)))  # gzip applied first, then br
    srv: RawServer = await raw_server(serve(body, b"Content-Encoding: gzip, br\r\n"))
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert await resp.read() == PAYLOAD


async def test_auto_decompress_off_gives_raw_bytes(raw_server: Any) -> None:
    body = gzip.compress(PAYLOAD)
    srv: RawServer = await raw_server(serve(body, b"Content-Encoding: gzip\r\n"))
    async with ClientSession(auto_decompress=False) as session:
        async with session.get(srv.url) as resp:
            assert await resp.read() == body
    async with ClientSession() as session:
        async with session.get(srv.url, auto_decompress=False) as resp:
            assert await resp.read() == body


async def test_aiohttp_server_gzip(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        async with session.get(url("/gzip")) as resp:
            assert resp.headers["Content-Encoding"] in ("gzip", "deflate")
            assert await resp.text() == "compressed " * 1000


async def test_truncated_compressed_body_is_an_error(raw_server: Any) -> None:
    body = gzip.compress(PAYLOAD)[:-20]  # complete HTTP framing, incomplete gzip stream
    srv: RawServer = await raw_server(serve(body, b"Content-Encoding: gzip\r\n"))
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            with pytest.raises(hyperclient.ClientPayloadError, match="truncated"):
                await resp.read()


async def test_corrupt_compressed_body_is_an_error(raw_server: Any) -> None:
    body = b"\x1f\x8b\x08\x00" + b"not really gzip at all" * 10
    srv: RawServer = await raw_server(serve(body, b"Content-Encoding: gzip\r\n"))
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            with pytest.raises(hyperclient.ClientPayloadError):
                await resp.read()


async def test_unknown_coding_is_an_error(raw_server: Any) -> None:
    srv: RawServer = await raw_server(serve(b"abc", b"Content-Encoding: snappy\r\n"))
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            with pytest.raises(hyperclient.ClientPayloadError, match="snappy"):
                await resp.read()


@pytest.mark.parametrize("method", ["HEAD", "GET"])
async def test_unknown_coding_without_a_body_reads_empty(raw_server: Any, method: str) -> None:
    """HEAD, and an empty body: nothing to decode, so no error (as aiohttp)."""
    length = b"12" if method == "HEAD" else b"0"
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: snappy\r\nContent-Length: " + length

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(head + b"\r\n\r\n")
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.request(method, srv.url) as resp:
            assert await resp.read() == b""
            assert await resp.text() == ""


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
async def test_bomb_read_in_chunks_keeps_memory_flat(coding: str, raw_server: Any) -> None:
    size = 200 * 2**20  # 200 MiB of zeros, a few hundred KiB on the wire
    if coding == "gzip":
        c = zlib.compressobj(9, wbits=16 + zlib.MAX_WBITS)
        block = bytes(2**20)
        bomb = b"".join(c.compress(block) for _ in range(200)) + c.flush()
    elif coding == "br":
        bomb = bytes(brotli.compress(bytes(size), quality=5))
    else:
        bomb = bytes(zstd.compress(bytes(size)))
    assert len(bomb) < 2**20
    srv: RawServer = await raw_server(serve(bomb, b"Content-Encoding: %s\r\n" % coding.encode()))
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            rss_before = _reset_peak_rss()
            tracemalloc.start()
            try:
                total = 0
                async for chunk in resp.content.iter_chunked(65536):
                    total += len(chunk)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            rss_peak = _peak_rss()
    assert total == size
    # Python-side allocations stay in the low MiB whatever the ratio...
    assert peak < 8 * 2**20, peak
    # ...and so does the whole process, C buffers of brotli and zstd included: 200 MiB
    # came out, the resident set grew by a small fraction of that.
    if rss_before is not None and rss_peak is not None:
        assert rss_peak - rss_before < 48 * 2**20, (rss_before, rss_peak)


def _status(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        return None
    return None


def _reset_peak_rss() -> int | None:
    """Reset VmHWM (Linux: clear_refs 5) and return the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:  # pragma: no cover - not Linux, or not allowed
        return None
    return _status("VmRSS")


def _peak_rss() -> int | None:
    return _status("VmHWM")


async def test_input_that_decodes_to_nothing_does_not_stall_reading(raw_server: Any) -> None:
    """A valid gzip member whose first MiB is a header comment: the decoder eats raw input
    and yields nothing, so reading (paused at the buffer limit) must resume by itself."""
    payload = b"hello world\n" * 10
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = (
        b"\x1f\x8b\x08\x10\0\0\0\0\0\xff"  # FLG.FCOMMENT (RFC 1952 §2.3.1)
        + b"c" * 2**20
        + b"\0"
        + deflate.compress(payload)
        + deflate.flush()
        + struct.pack("<II", zlib.crc32(payload), len(payload))
    )
    assert zlib.decompress(body, 31) == payload

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n")
        writer.write(b"Content-Length: %d\r\n\r\n" % len(body))
        await writer.drain()  # the head alone first: the client is reading when the body comes
        writer.write(body)
        await writer.drain()
        await asyncio.sleep(10)

    srv: RawServer = await raw_server(script)
    timeout = hyperclient.ClientTimeout(total=None, sock_read=5)
    async with ClientSession(timeout=timeout) as session:
        async with session.get(srv.url) as resp:
            got = await asyncio.wait_for(resp.read(), 3)
    assert got == payload


async def test_read_bufsize_from_the_session_and_the_request(raw_server: Any) -> None:
    """read_bufsize sets the body buffer (reading pauses at 4x) and the most decoded bytes
    produced at a time."""
    body = encoded("gzip", PAYLOAD)
    srv: RawServer = await raw_server(serve(body, b"Content-Encoding: gzip\r\n"))
    async with ClientSession(read_bufsize=1024) as session:
        async with session.get(srv.url) as resp:
            assert resp.content.get_read_buffer_limits() == (1024, 4096)
            pieces = [piece async for piece in resp.content.iter_any()]
        assert b"".join(pieces) == PAYLOAD
        assert max(map(len, pieces)) <= 1024 < len(PAYLOAD)
        async with session.get(srv.url, read_bufsize=4096) as resp:
            assert resp.content.get_read_buffer_limits() == (4096, 16384)
            assert await resp.read() == PAYLOAD
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert resp.content.get_read_buffer_limits() == (65536, 262144)


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
async def test_flood_of_empty_members_fails_fast(coding: str, raw_server: Any) -> None:
    """2 MiB of gzip members or zstd frames that decode to nothing is refused after the
    1024th, while 3,000 members of 64 KiB each (BGZF-like) read fine."""
    block = bytes(range(256)) * 256  # 64 KiB
    flood = encoded(coding, b"") * (2 * 2**20 // len(encoded(coding, b""))) + encoded(coding, b"!")
    members = encoded(coding, block) * 3000 + encoded(coding, b"")  # BGZF ends with an empty one
    header = b"Content-Encoding: %s\r\n" % coding.encode()
    flood_srv: RawServer = await raw_server(serve(flood, header))
    members_srv: RawServer = await raw_server(serve(members, header))
    async with ClientSession() as session:
        async with session.get(flood_srv.url) as resp:
            unit = "member" if coding == "gzip" else "frame"
            message = f"too many {coding} {unit}s that decode to under 1024 bytes each: 1025,"
            with pytest.raises(hyperclient.ClientPayloadError, match=message) as info:
                await asyncio.wait_for(resp.read(), 5)
            assert isinstance(info.value.__cause__, RemoteProtocolError)
        async with session.get(members_srv.url) as resp:
            size, twice = 0, block * 2
            async for piece in resp.content.iter_chunked(len(block)):
                start = size % len(block)
                assert piece == twice[start : start + len(piece)]
                size += len(piece)
    assert size == 3000 * len(block)
