"""Small, strict test proxies that record what they were sent: SOCKS4/4a/5 and HTTP CONNECT.

No SOCKS server on PyPI worked here (pproxy fails at start-up on Python 3.11 with
uvloop), so this is ours: written from RFC 1928, RFC 1929 and the SOCKS4/4a
descriptions, kept apart from the client code it tests. Both servers relay bytes to the
real destination after the handshake, so HTTP and TLS run end to end through them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from dataclasses import dataclass, field


@dataclass
class SocksRequest:
    """One CONNECT as the proxy saw it."""

    version: int
    address_type: str  # "ipv4", "ipv6" or "domain"
    host: str
    port: int
    username: str | None = None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def relay(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until either side closes."""
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


@dataclass
class _Base:
    #: Names the proxy resolves itself (socks4a, socks5h); anything else fails.
    hosts: dict[str, str] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


@dataclass
class SocksServer(_Base):
    """SOCKS4, SOCKS4a and SOCKS5 (CONNECT only), optionally requiring credentials.

    Args:
        credentials: (username, password) SOCKS5 clients must present (RFC 1929).
        refuse: a SOCKS5 reply code to answer every CONNECT with.
    """

    credentials: tuple[str, str] | None = None
    refuse: int | None = None
    requests: list[SocksRequest] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version = (await reader.readexactly(1))[0]
        if version == 5:
            await self._socks5(reader, writer)
        elif version == 4:
            await self._socks4(reader, writer)

    async def _socks5(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        methods = await reader.readexactly((await reader.readexactly(1))[0])
        username = None
        if self.credentials is not None:
            if 2 not in methods:
                writer.write(b"\x05\xff")
                return
            writer.write(b"\x05\x02")
            if (await reader.readexactly(1))[0] != 1:
                return
            username = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            password = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            if (username, password) != self.credentials:
                writer.write(b"\x01\x01")
                return
            writer.write(b"\x01\x00")
        else:
            if 0 not in methods:
                writer.write(b"\x05\xff")
                return
            writer.write(b"\x05\x00")
        ver, cmd, rsv, atyp = await reader.readexactly(4)
        if (ver, cmd, rsv) != (5, 1, 0):
            return
        if atyp == 1:
            kind, host = "ipv4", str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif atyp == 4:
            kind, host = "ipv6", str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            kind = "domain"
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.requests.append(SocksRequest(5, kind, host, port, username))
        if self.refuse is not None:
            writer.write(bytes([5, self.refuse, 0, 1]) + bytes(6))
            return
        upstream = await self._connect(host, port)
        if upstream is None:
            writer.write(bytes([5, 5, 0, 1]) + bytes(6))
            return
        writer.write(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + self.port.to_bytes(2, "big"))
        await relay(reader, writer, *upstream)

    async def _socks4(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cmd = (await reader.readexactly(1))[0]
        port = int.from_bytes(await reader.readexactly(2), "big")
        ip = await reader.readexactly(4)
        user = (await reader.readuntil(b"\x00"))[:-1].decode()
        if ip[:3] == b"\x00\x00\x00" and ip[3] != 0:
            kind, host = "domain", (await reader.readuntil(b"\x00"))[:-1].decode()
        else:
            kind, host = "ipv4", str(ipaddress.IPv4Address(ip))
        self.requests.append(SocksRequest(4, kind, host, port, user or None))
        upstream = await self._connect(host, port) if cmd == 1 else None
        if upstream is None:
            writer.write(b"\x00\x5b" + bytes(6))
            return
        writer.write(b"\x00\x5a" + bytes(6))
        await relay(reader, writer, *upstream)

    async def _connect(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        address = self.hosts.get(host, host)
        try:
            ipaddress.ip_address(address)
            return await asyncio.open_connection(address, port)
        except (ValueError, OSError):
            return None


@dataclass
class ConnectProxy(_Base):
    """An HTTP proxy for CONNECT only, answering *status* (200 opens the tunnel)."""

    status: int = 200
    heads: list[bytes] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        method, target, _ = head.split(b"\r\n", 1)[0].split(b" ")
        if method != b"CONNECT" or self.status != 200:
            writer.write(
                b"HTTP/1.1 %d Nope\r\nContent-Length: 4\r\nX-Proxy: fake\r\n\r\nnope" % self.status
            )
            await writer.drain()
            return
        host, _, port = target.decode().rpartition(":")
        address = self.hosts.get(host.strip("[]"), host.strip("[]"))
        up_reader, up_writer = await asyncio.open_connection(address, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await relay(reader, writer, up_reader, up_writer)
