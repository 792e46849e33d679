"""ResponseHandler after a 101, on a real socket pair: later bytes are kept, not refused."""

from __future__ import annotations

import asyncio
import socket

from hyperclient.protocol import ResponseHandler


async def test_bytes_after_an_upgrade_head_are_kept_for_the_next_protocol() -> None:
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    transport, proto = await loop.create_connection(lambda: ResponseHandler(loop), sock=ours)
    try:
        waiter = proto.expect_response("GET", None)
        await loop.sock_sendall(theirs, b"HTTP/1.1 101 Switching Protocols\r\n\r\nfirst")
        head, payload = await waiter
        assert head.upgrade
        assert payload is None
        # More bytes before anyone swapped protocols: neither dropped nor "unsolicited".
        await loop.sock_sendall(theirs, b"second")
        for _ in range(100):
            if proto.parser.trailing_data[0] == b"firstsecond":
                break
            await asyncio.sleep(0.001)
        assert proto.parser.trailing_data == (b"firstsecond", False)
        assert not transport.is_closing()
        theirs.shutdown(socket.SHUT_WR)
        for _ in range(100):
            if proto.parser.trailing_data[1]:
                break
            await asyncio.sleep(0.001)
        assert proto.parser.trailing_data == (b"firstsecond", True)
    finally:
        transport.close()
        theirs.close()
        await asyncio.sleep(0)


async def test_a_server_streaming_after_an_upgrade_waits_for_the_next_protocol() -> None:
    """No more than a read buffer's worth is kept after a 101 before someone takes the
    connection over: reading pauses, and the rest stays with the server."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    transport, proto = await loop.create_connection(lambda: ResponseHandler(loop), sock=ours)
    try:
        waiter = proto.expect_response("GET", None, read_bufsize=2**16)
        await loop.sock_sendall(theirs, b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
        head, _ = await waiter
        assert head.upgrade
        sent = 0
        chunk = b"x" * 2**16
        while sent < 64 * 2**20:
            try:
                sent += theirs.send(chunk)
            except BlockingIOError:
                await asyncio.sleep(0.05)
                try:
                    sent += theirs.send(chunk)
                except BlockingIOError:
                    break  # the socket buffers are full: nobody reads
        assert sent < 64 * 2**20
        assert not transport.is_reading()
        # At most one read (the receive buffer, 256 KiB) beyond the limit.
        assert 2**16 <= proto.parser.trailing_size() <= 2**16 + 2**18
        assert not transport.is_closing()
    finally:
        transport.close()
        theirs.close()
        await asyncio.sleep(0)
