"""Name resolution: ``AbstractResolver`` and the resolvers we ship.

A resolver turns a host name into a list of addresses to try, in order. It knows nothing
about caching, coalescing or connecting: the connector does those, so every resolver gets
them for free.

* ``ThreadedResolver`` (the default) runs ``getaddrinfo`` in the loop's executor, so it
  never blocks the loop and honours ``/etc/hosts`` and nsswitch like every other program.
* ``AsyncResolver`` asks DNS servers directly through c-ares (``aiodns``, the ``dns``
  extra), imported only when one is created.
* ``StaticResolver`` answers from a fixed table first, like curl's ``--resolve`` and
  ``--connect-to``, and hands other names to a fallback resolver.

IP literals never reach a resolver: the connector recognises them first (``ip_family``).
Failures are raised as ``OSError`` (``socket.gaierror``); the connector turns them into
``ClientConnectorDNSError``.
"""

from __future__ import annotations

import abc
import asyncio
import socket
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

__all__ = (
    "AbstractResolver",
    "AsyncResolver",
    "DefaultResolver",
    "ResolveResult",
    "StaticResolver",
    "ThreadedResolver",
    "ip_family",
)

# AI_ADDRCONFIG: no IPv6 answers on a host without IPv6 (RFC 3493 §6.1).
_AI_ADDRCONFIG = getattr(socket, "AI_ADDRCONFIG", 0)
_NUMERIC_FLAGS = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


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
        """Addresses for *host*, best first; raise ``OSError`` (``socket.gaierror``).

        Args:
            host: the name to resolve.
            port: the port to put in each result.
            family: ``AF_INET``, ``AF_INET6``, or ``AF_UNSPEC`` (0) for both.
        """

    async def close(self) -> None:
        """Release resources."""


def _result(hostname: str, fam: int, address: Sequence[Any], proto: int = 0) -> ResolveResult:
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode("ascii")
    if fam == socket.AF_INET6 and len(address) > 3 and address[3]:
        # A link-local address needs its scope id to be usable (RFC 4007 §11).
        host = f"{host}%{address[3]}"
    return ResolveResult(
        hostname=hostname,
        host=str(host),
        port=int(address[1]),
        family=fam,
        proto=proto,
        flags=_NUMERIC_FLAGS,
    )


def _not_found(host: str) -> socket.gaierror:
    return socket.gaierror(socket.EAI_NONAME, f"no address found for {host!r}")


class ThreadedResolver(AbstractResolver):
    """``getaddrinfo`` in the loop's default executor."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family, flags=_AI_ADDRCONFIG
        )
        results: list[ResolveResult] = []
        seen: set[tuple[Any, ...]] = set()
        for fam, _, proto, _, address in infos:
            if address in seen:
                continue
            seen.add(address)
            results.append(_result(host, fam, address, proto))
        if not results:
            raise _not_found(host)
        return results


#: The resolver a ``TCPConnector`` uses when given none.
DefaultResolver = ThreadedResolver


class AsyncResolver(AbstractResolver):
    """DNS through c-ares (``aiodns``), without threads; install the ``dns`` extra.

    Args:
        nameservers: DNS server addresses to ask instead of the system's.
        **kwargs: passed to ``aiodns.DNSResolver`` (``timeout``, ``tries``...).

    Raises:
        RuntimeError: when aiodns is not installed.
    """

    def __init__(self, nameservers: Sequence[str] | None = None, **kwargs: Any) -> None:
        try:
            import aiodns
        except ImportError as exc:  # pragma: no cover - the dev environment has aiodns
            raise RuntimeError(
                "AsyncResolver needs aiodns: pip install 'hyperclient[dns]'"
            ) from exc
        self._error: type[Exception] = aiodns.error.DNSError
        self._resolver = aiodns.DNSResolver(nameservers=nameservers, **kwargs)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            answer = await self._resolver.getaddrinfo(
                host, family=family, port=port, type=socket.SOCK_STREAM, flags=_AI_ADDRCONFIG
            )
        except self._error as exc:
            code = exc.args[0] if exc.args else socket.EAI_FAIL
            text = exc.args[1] if len(exc.args) > 1 else str(exc)
            raise socket.gaierror(code, f"{text}: {host!r}") from exc
        results: list[ResolveResult] = []
        seen: set[tuple[Any, ...]] = set()
        for node in answer.nodes:
            address = tuple(node.addr)
            if address in seen:
                continue
            seen.add(address)
            results.append(_result(host, node.family, address, node.protocol))
        if not results:
            raise _not_found(host)
        return results

    async def close(self) -> None:
        """Stop the c-ares channel."""
        await self._resolver.close()


#: One entry of a ``StaticResolver`` table: an IP literal, or (IP literal, port).
StaticAddress = str | tuple[str, int]


class StaticResolver(AbstractResolver):
    """Fixed answers for some names, like curl's ``--resolve``; a fallback for the rest.

    Keys are a host name (any port) or a ``(host, port)`` pair, which wins over the bare
    name. Values are one address or a sequence of them, tried in order; an address is an
    IP literal, or an ``(IP literal, port)`` pair to also change the port (curl's
    ``--connect-to``). Host names match case-insensitively, with or without a trailing dot.
    TLS still checks the certificate against the URL's host, not the address::

        resolver = StaticResolver(
            {"example.com": "127.0.0.1", ("api.example.com", 443): ["::1", "127.0.0.1"]},
            fallback=ThreadedResolver(),
        )
        connector = TCPConnector(resolver=resolver)

    Args:
        table: the fixed answers.
        fallback: resolver for names not in *table*; None makes them fail.

    Raises:
        ValueError: when an address in *table* is not an IP literal.
    """

    def __init__(
        self,
        # Keys are str or (str, int); Any because Mapping keys are invariant.
        table: Mapping[Any, StaticAddress | Sequence[StaticAddress]],
        *,
        fallback: AbstractResolver | None = None,
    ) -> None:
        self._table: dict[tuple[str, int | None], list[tuple[str, int | None, int]]] = {}
        for key, value in table.items():
            name, port = (key, None) if isinstance(key, str) else key
            self._table[(_normalise(name), port)] = list(_addresses(value))
        self._fallback = fallback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = _normalise(host)
        entries = self._table.get((name, port))
        if entries is None:
            entries = self._table.get((name, None))
        if entries is None:
            if self._fallback is None:
                raise _not_found(host)
            return await self._fallback.resolve(host, port, family)
        results = [
            ResolveResult(
                hostname=host,
                host=addr,
                port=port if addr_port is None else addr_port,
                family=fam,
                proto=0,
                flags=_NUMERIC_FLAGS,
            )
            for addr, addr_port, fam in entries
            if family in (socket.AF_UNSPEC, fam)
        ]
        if not results:
            raise _not_found(host)
        return results

    async def close(self) -> None:
        """Close the fallback resolver."""
        if self._fallback is not None:
            await self._fallback.close()


def _normalise(name: str) -> str:
    return name.rstrip(".").lower()


def _addresses(
    value: StaticAddress | Sequence[StaticAddress],
) -> Iterable[tuple[str, int | None, int]]:
    if isinstance(value, str) or (
        isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int)
    ):
        items: Sequence[Any] = [value]
    else:
        items = value
    for item in items:
        addr, port = (item, None) if isinstance(item, str) else item
        addr = addr.strip("[]")
        fam = ip_family(addr)
        if fam is None:
            raise ValueError(f"static resolver address must be an IP literal, got {addr!r}")
        yield addr, port, fam


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
