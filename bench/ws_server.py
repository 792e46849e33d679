"""WebSocket echo server for the benchmark (its own process, uvloop when available).

``--impl raw`` (default) is a tiny RFC 6455 echo protocol: it answers the
handshake, unmasks each client frame and sends it straight back (same FIN bit
and opcode), answers pings and close frames. No extensions are negotiated.
``--impl websockets`` uses the websockets library's asyncio server with
compression off; it costs more server CPU per message, so it is only kept for
cross-checking (``bench/run.py --ws-impl websockets``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import struct
from collections.abc import Callable
from typing import cast

from common import emit, raise_nofile

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 64 * 1024


def unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return payload
    key = (mask * (n // 4 + 1))[:n]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")
    return value.to_bytes(n, "little")


def frame_header(first: int, length: int) -> bytes:
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


class EchoProtocol(asyncio.Protocol):
    __slots__ = ("buf", "open", "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; both loops
        # already enable TCP_NODELAY.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open and not self._handshake():
            return
        self._frames()

    def _handshake(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEAD:
                self._abort()
            return False
        head = bytes(self.buf[:end])
        del self.buf[: end + 4]
        key = b""
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        if not key or self.transport is None:
            self._abort()
            return False
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.open = True
        return True

    def _frames(self) -> None:
        buf = self.buf
        pos = 0
        size = len(buf)
        transport = self.transport
        while transport is not None and size - pos >= 2:
            first = buf[pos]
            second = buf[pos + 1]
            length = second & 0x7F
            start = pos + 2
            if length == 126:
                if size - start < 2:
                    break
                length = int.from_bytes(buf[start : start + 2], "big")
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                length = int.from_bytes(buf[start : start + 8], "big")
                start += 8
            masked = second & 0x80
            if masked:
                start += 4
            if size - start < length:
                break
            payload = bytes(buf[start : start + length])
            if masked:
                payload = unmask(payload, bytes(buf[start - 4 : start]))
            pos = start + length
            opcode = first & 0x0F
            if opcode == 0x8:  # close: echo the close frame, then hang up
                transport.write(frame_header(0x88, len(payload)) + payload)
                transport.close()
                break
            if opcode == 0x9:  # ping -> pong
                first = (first & 0xF0) | 0xA
            elif opcode == 0xA:  # unsolicited pong
                continue
            transport.write(frame_header(first, len(payload)) + payload)
        del buf[:pos]

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.buf.clear()


async def serve_raw(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(EchoProtocol, host, port, backlog=4096)
    emit({"port": server.sockets[0].getsockname()[1], "pid": os.getpid()})
    async with server:
        await server.serve_forever()


async def serve_websockets(host: str, port: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, host, port, compression=None, max_size=None) as server:
        sock = next(iter(server.sockets))
        emit({"port": sock.getsockname()[1], "pid": os.getpid()})
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--impl", choices=("raw", "websockets"), default="raw")
    args = parser.parse_args()
    raise_nofile()
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    coro = serve_raw if args.impl == "raw" else serve_websockets
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        try:
            runner.run(coro(args.host, args.port))
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
