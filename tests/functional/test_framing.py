"""Every body-framing case of RFC 9112 §6.3, byte-exact, through the whole client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import hyperclient
from hyperclient import ClientSession

from ..conftest import RawServer, read_request


def serve(*responses: bytes, close_after: bool = False) -> Any:
    """Answer successive requests on one connection with *responses* in turn."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for response in responses:
            await read_request(reader)
            writer.write(response)
            await writer.drain()
        if close_after:
            writer.close()
            return
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
            await writer.drain()

    return script


async def get_body(session: ClientSession, srv: RawServer, **kwargs: Any) -> tuple[int, bytes]:
    async with session.request(kwargs.pop("method", "GET"), srv.url, **kwargs) as resp:
        return resp.status, await resp.read()


async def test_content_length(raw_server: Any) -> None:
    srv: RawServer = await raw_server(serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
    async with ClientSession() as session:
        assert await get_body(session, srv) == (200, b"hello")
        assert await get_body(session, srv) == (200, b"next")
    assert srv.connections == 1


async def test_chunked_with_extensions_and_trailers(raw_server: Any) -> None:
    body = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"1\r\n \r\n"
        b"5\r\nworld\r\n"
        b"0\r\nX-Trailer: yes\r\n\r\n"
    )
    srv: RawServer = await raw_server(serve(body))
    async with ClientSession() as session:
        assert await get_body(session, srv) == (200, b"hello world")
        assert await get_body(session, srv) == (200, b"next")
    assert srv.connections == 1


async def test_close_delimited_body(raw_server: Any) -> None:
    srv: RawServer = await raw_server(
        serve(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", close_after=True)
    )
    async with ClientSession() as session:
        assert await get_body(session, srv) == (200, b"until the end")
        assert await get_body(session, srv) == (200, b"until the end")
    assert srv.connections == 2  # a close-delimited body never leaves a reusable connection


async def test_read_until_eof_false_means_empty_body(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nignored")
        await writer.drain()
        await asyncio.sleep(0.5)

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with asyncio.timeout(0.3):  # would wait for EOF if it read until the end
            assert await get_body(session, srv, read_until_eof=False) == (200, b"")


async def test_read_until_eof_false_never_reuses_an_unframed_connection(
    raw_server: Any,
) -> None:
    """The rest of the stream is that unframed body (RFC 9112 §6.3 rule 8), whatever it
    looks like: reusing the connection would read it as the next response."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n")
        await writer.drain()
        await read_request(reader)  # only if the client wrongly reuses the connection
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nsmuggled!!!")
        await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with asyncio.timeout(1):
            assert await get_body(session, srv, read_until_eof=False) == (200, b"")
            _, body = await get_body(session, srv, read_until_eof=False)
    assert body == b""  # the second request got its own (empty, unframed) answer
    assert srv.connections == 2


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_statuses_ignore_framing_fields(status: int, raw_server: Any) -> None:
    head = b"HTTP/1.1 %d X\r\nContent-Length: 5\r\n\r\n" % status
    srv: RawServer = await raw_server(serve(head))
    async with ClientSession() as session:
        assert await get_body(session, srv) == (status, b"")
        assert await get_body(session, srv) == (200, b"next")
    assert srv.connections == 1


async def test_head_response_carries_no_body(raw_server: Any) -> None:
    srv: RawServer = await raw_server(
        serve(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    )
    async with ClientSession() as session:
        assert await get_body(session, srv, method="HEAD") == (200, b"")
        assert await get_body(session, srv) == (200, b"next")
    assert srv.connections == 1


async def test_informational_responses_are_skipped(raw_server: Any) -> None:
    body = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"
    )
    srv: RawServer = await raw_server(serve(body))
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert resp.status == 200
            assert "Link" not in resp.headers
            assert await resp.read() == b"final"


async def test_pipelined_leftovers_close_the_connection(raw_server: Any) -> None:
    two = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none" + (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo"
    )
    srv: RawServer = await raw_server(serve(two))
    async with ClientSession() as session:
        assert await get_body(session, srv) == (200, b"one")
        # The leftover "two" is never taken as the next response: a new connection is
        # opened, and its script starts from the top again.
        assert await get_body(session, srv) == (200, b"one")
    assert srv.connections == 2


async def test_body_split_into_single_bytes(raw_server: Any) -> None:
    response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        for i in range(len(response)):
            writer.write(response[i : i + 1])
            await writer.drain()
            await asyncio.sleep(0)

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        assert await get_body(session, srv) == (200, b"abc")


async def test_large_body_flow_control_and_zero_copy_path(raw_server: Any) -> None:
    size = 8 * 2**20
    srv: RawServer = await raw_server(
        serve(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"z" * size)
    )
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            await asyncio.sleep(0.05)  # let the buffer fill: reading must pause, not balloon
            transport = resp.connection.transport  # type: ignore[union-attr]
            assert transport is not None
            assert not transport.is_reading()
            total = 0
            async for chunk in resp.content.iter_chunked(2**16):
                total += len(chunk)
            assert total == size
        assert await get_body(session, srv) == (200, b"next")
    assert srv.connections == 1


async def test_a_flood_of_tiny_chunks_pauses_reading(raw_server: Any) -> None:
    # 200,000 1-byte chunks: 200 KB of body, under the 256 KiB high-water mark, but each
    # buffered piece costs ~90 bytes of memory (18 MB here). Reading pauses past
    # read_bufsize/16 pieces as it does past the mark in bytes, and the chunk ends of what
    # was read are forgotten (they were kept for the whole body).
    n = 200_000
    body = b"".join(b"1\r\n%c\r\n" % (48 + i % 10) for i in range(n)) + b"0\r\n\r\n"
    srv: RawServer = await raw_server(
        serve(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    )
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            await asyncio.sleep(0.05)  # let the buffer fill: reading must pause
            transport = resp.connection.transport  # type: ignore[union-attr]
            assert transport is not None
            assert not transport.is_reading()
            content = resp.content
            assert content._size < 2**17  # far from the mark in bytes
            # The pieces of one socket read (up to 256 KiB) are all fed: ~43,000 of them.
            assert len(content._buffer) < 50_000 < n
            total = most_ends = 0
            async for piece in content.iter_chunked(2**16):
                assert piece == bytes(48 + (total + i) % 10 for i in range(len(piece)))
                total += len(piece)
                most_ends = max(most_ends, len(content._chunk_ends))
            assert total == n
            assert most_ends < 50_000
            assert len(content._chunk_ends) <= 1
        assert await get_body(session, srv) == (200, b"next")
    assert srv.connections == 1


async def test_a_line_of_tiny_chunks_costs_its_bytes(raw_server: Any) -> None:
    # readline() over a chunked body of 1-byte chunks: what it waited through is taken
    # into the line as it comes (not searched again on each wake-up, not kept as pieces).
    n = 100_000
    body = b"1\r\nx\r\n" * n + b"2\r\n\nz\r\n0\r\n\r\n"
    srv: RawServer = await raw_server(
        serve(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    )
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert await resp.content.readline() == b"x" * n + b"\n"
            assert await resp.content.readchunk() == (b"z", True)
            assert await resp.content.readline() == b""
        assert await get_body(session, srv) == (200, b"next")


async def test_http10_response(raw_server: Any) -> None:
    srv: RawServer = await raw_server(
        serve(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", close_after=True)
    )
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert resp.version == hyperclient.HttpVersion10
            assert await resp.read() == b"ok"


async def test_http10_request_asks_for_keep_alive(raw_server: Any) -> None:
    heads: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            head, _ = await read_request(reader)
            heads.append(head)
            writer.write(
                b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
            )
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession(version=hyperclient.HttpVersion10) as session:
        for _ in range(2):
            assert await get_body(session, srv) == (200, b"ok")
    assert heads[0].startswith(b"GET / HTTP/1.0\r\n")
    assert b"\r\nConnection: keep-alive\r\n" in heads[0]
    assert srv.connections == 1


async def test_interleaved_bodies_survive_the_shared_receive_buffer(raw_server: Any) -> None:
    """Sockets are read into one buffer per loop: every piece must be copied out before
    the next read overwrites it, whatever the interleaving of connections."""
    from hyperclient.protocol import ResponseHandler

    assert issubclass(ResponseHandler, asyncio.BufferedProtocol)
    gates = [asyncio.Event() for _ in range(6)]

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        which = int(head.split(b" ")[1][1:])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n")
        for step in range(3):
            await gates[2 * step + which].wait()
            writer.write(bytes([65 + which * 3 + step]) * 1000)  # A/B/C or D/E/F
            await writer.drain()
            if 2 * step + which + 1 < len(gates):
                gates[2 * step + which + 1].set()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        first, second = await asyncio.gather(
            session.get(f"{srv.url}/0"), session.get(f"{srv.url}/1")
        )
        gates[0].set()
        pieces = [await first.content.readexactly(1000)]
        bodies = await asyncio.gather(second.read(), first.read())
    assert pieces[0] == b"A" * 1000
    assert bodies[0] == b"D" * 1000 + b"E" * 1000 + b"F" * 1000
    assert bodies[1] == b"B" * 1000 + b"C" * 1000


async def test_large_bodies_switch_to_copied_reads_and_back(raw_server: Any) -> None:
    """A body arriving in full-buffer reads is read into fresh bytes (no copy out of the
    shared buffer); the next response on the connection goes back to the shared buffer."""
    body = bytes(range(256)) * 8192  # 2 MiB
    sent = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        sent.set()
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall")
        await writer.drain()
        await reader.read()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            conn = resp.connection
            assert conn is not None
            handler = conn.protocol
            transport = conn.transport
            assert handler is not None
            assert transport is not None
            await asyncio.wait_for(sent.wait(), 10)  # the socket now holds more than 256 KiB
            assert await resp.read() == body
        assert handler._copied is not None  # the switch happened
        assert transport.get_protocol() is handler  # and was undone
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"small"
    assert srv.connections == 1


async def test_large_request_body_is_handed_to_the_transport_uncopied(
    url: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Head and a large body: one gathering write where the transport has a real one,
    otherwise two writes; never a joined copy of the body."""
    body = bytes(range(256)) * 1024 + b"end"
    cls: Any = asyncio.selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
    joining = cls.writelines is asyncio.WriteTransport.writelines
    calls: list[tuple[str, Any]] = []
    real_write, real_writelines = cls.write, cls.writelines

    def write(self: Any, data: Any) -> None:
        calls.append(("write", data))
        real_write(self, data)

    def writelines(self: Any, data: Any) -> None:
        calls.append(("writelines", list(data)))
        real_writelines(self, data)

    monkeypatch.setattr(cls, "write", write)
    if not joining:  # replacing the inherited joining writelines would change the choice
        monkeypatch.setattr(cls, "writelines", writelines)
    async with ClientSession() as session:
        async with session.post(url("/echo"), data=body) as resp:
            assert (await resp.json())["body"].encode("latin-1") == body
    ours = [(name, data) for name, data in calls if _holds(data, body)]
    if joining:
        assert [name for name, _ in ours] == ["write"]
        assert ours[0][1] is body
        head = calls[calls.index(ours[0]) - 1]
        assert head[0] == "write"
        assert head[1].startswith(b"POST /echo HTTP/1.1\r\n")
    else:
        assert len(ours) == 1
        assert ours[0][0] == "writelines"
        head_bytes, sent = ours[0][1]
        assert head_bytes.startswith(b"POST /echo HTTP/1.1\r\n")
        assert sent is body
    # Nothing ever wrote a concatenation holding the body.
    assert not any(
        isinstance(data, bytes) and body in data and data is not body for _, data in calls
    )


def _holds(data: Any, body: bytes) -> bool:
    return data is body or (isinstance(data, list) and any(d is body for d in data))


async def test_a_head_larger_than_32_kib_is_accepted(raw_server: Any) -> None:
    """Ten 4000-byte cookies (a 40 KB head, each line within a raised max_field_size):
    browsers load such responses, so do we (the total head cap is 256 KiB)."""
    cookies = b"".join(b"Set-Cookie: c%d=%s\r\n" % (i, b"v" * 3980) for i in range(10))
    response = b"HTTP/1.1 200 OK\r\n" + cookies + b"Content-Length: 2\r\n\r\nok"
    assert len(response) > 40_000
    srv: RawServer = await raw_server(serve(response))
    connector = hyperclient.TCPConnector(max_field_size=16380)
    async with ClientSession(connector=connector) as session:
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"ok"
            assert len(resp.cookies) == 10
