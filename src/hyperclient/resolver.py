"""Name resolution: ``AbstractResolver`` and the default ``ThreadedResolver``.

A resolver turns a host name into a list of addresses to try, in order. The default
runs ``getaddrinfo`` in the loop's executor so it never blocks the loop. IP literals
never reach a resolver: the connector recognises them first.
"""

from __future__ import annotations

import abc
import asyncio
import socket
from typing import Any, TypedDict

__all__ = ("AbstractResolver", "ResolveResult", "ThreadedResolver", "ip_family")


class ResolveResult(TypedDict):
    """One address to try, in aiohttp 3's shape."""

    hostname: str
    host: str
    port: int
    family: int
    proto: int
    flags: int


class AbstractResolver(abc.ABC):
    """Interface of a name resolver (aiohttp 3 compatible)."""

    @abc.abstractmethod
    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Addresses for *host*, best first; raise ``OSError`` (``socket.gaierror``)."""

    async def close(self) -> None:
        """Release resources."""


class ThreadedResolver(AbstractResolver):
    """``getaddrinfo`` in the loop's default executor."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family, flags=socket.AI_ADDRCONFIG
        )
        results: list[ResolveResult] = []
        seen: set[tuple[Any, ...]] = set()
        for fam, _, proto, _, address in infos:
            if address in seen:
                continue
            seen.add(address)
            if fam == socket.AF_INET6 and len(address) > 3 and address[3]:
                # A link-local address needs its scope id to be usable.
                host_addr = f"{address[0]}%{address[3]}"
            else:
                host_addr = str(address[0])
            results.append(
                ResolveResult(
                    hostname=host,
                    host=host_addr,
                    port=int(address[1]),
                    family=fam,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise socket.gaierror(socket.EAI_NONAME, f"no address found for {host!r}")
        return results


def ip_family(host: str) -> int | None:
    """The address family of an IP literal, or None for a name."""
    if not host:
        return None
    if ":" in host:
        try:
            socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
        except OSError:
            return None
        return socket.AF_INET6
    if host[-1].isdigit():
        try:
            socket.inet_pton(socket.AF_INET, host)
        except OSError:
            return None
        return socket.AF_INET
    return None
