"""Name resolution, the DNS cache, address families and Happy Eyeballs, on loopback only.

Resolvers are injected through ``AbstractResolver`` (a counting wrapper around
``StaticResolver``) rather than patched, so the connector's own caching, coalescing and
racing are what is tested.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

import hyperclient
from hyperclient import ClientSession, ClientTimeout, TCPConnector, TraceConfig
from hyperclient.connector import _interleave
from hyperclient.resolver import (
    AbstractResolver,
    AsyncResolver,
    ResolveResult,
    StaticResolver,
    ThreadedResolver,
)
from hyperclient.timers import coarse_timers

from ..conftest import MS, OK, RawServer, answer_ok, read_request


class CountingResolver(AbstractResolver):
    """Answers from a table, after *delay* seconds, counting every lookup."""

    def __init__(self, table: dict[Any, Any], delay: float = 0.0) -> None:
        self._inner = StaticResolver(table)
        self.delay = delay
        self.calls: list[tuple[str, int, int]] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append((host, port, family))
        if self.delay:
            await asyncio.sleep(self.delay)
        return await self._inner.resolve(host, port, family)


async def get_ok(session: ClientSession, url: str, **kwargs: Any) -> None:
    async with session.get(url, **kwargs) as resp:
        assert await resp.read() == b"ok"


def dns_events(names: list[str]) -> TraceConfig:
    config = TraceConfig()
    for event in ("resolvehost_start", "resolvehost_end", "cache_hit", "cache_miss"):

        def make(event: str) -> Any:
            async def record(session: Any, ctx: Any, params: Any) -> None:
                names.append(f"{event} {params.host}")

            return record

        getattr(config, f"on_dns_{event}").append(make(event))
    return config


# -- the cache -----------------------------------------------------------------------------


async def test_cache_hit_and_miss_are_counted_and_traced(raw_server: Any) -> None:
    srv: RawServer = await raw_server(answer_ok)
    resolver = CountingResolver({"svc.test": "127.0.0.1"})
    events: list[str] = []
    connector = TCPConnector(resolver=resolver, use_dns_cache=True, force_close=True)
    assert connector.dns_cache
    assert connector.use_dns_cache
    url = f"http://svc.test:{srv.port}/"
    async with ClientSession(connector=connector, trace_configs=[dns_events(events)]) as s:
        await get_ok(s, url)
        await get_ok(s, url)
        assert len(resolver.calls) == 1
        assert list(connector.cached_hosts) == [("svc.test", srv.port)]
        assert connector.cached_hosts[("svc.test", srv.port)][0]["host"] == "127.0.0.1"
        connector.clear_dns_cache("svc.test", srv.port)
        assert not connector.cached_hosts
        await get_ok(s, url)
        assert len(resolver.calls) == 2
        connector.clear_dns_cache()
        assert not connector.cached_hosts
    assert events == [
        "cache_miss svc.test", "resolvehost_start svc.test", "resolvehost_end svc.test",
        "cache_hit svc.test",
        "cache_miss svc.test", "resolvehost_start svc.test", "resolvehost_end svc.test",
    ]  # fmt: skip
    assert srv.connections == 3


async def test_cache_entries_expire_after_the_ttl(raw_server: Any) -> None:
    srv: RawServer = await raw_server(answer_ok)
    resolver = CountingResolver({"svc.test": "127.0.0.1"})
    connector = TCPConnector(
        resolver=resolver, use_dns_cache=True, ttl_dns_cache=50 * MS, force_close=True
    )
    async with ClientSession(connector=connector) as session:
        await get_ok(session, f"http://svc.test:{srv.port}/")
        await get_ok(session, f"http://svc.test:{srv.port}/")
        assert len(resolver.calls) == 1
        await asyncio.sleep(80 * MS)
        await get_ok(session, f"http://svc.test:{srv.port}/")
        assert len(resolver.calls) == 2


async def test_without_cache_every_new_connection_resolves(raw_server: Any) -> None:
    srv: RawServer = await raw_server(answer_ok)
    resolver = CountingResolver({"svc.test": "127.0.0.1"})
    events: list[str] = []
    connector = TCPConnector(resolver=resolver, force_close=True)
    async with ClientSession(connector=connector, trace_configs=[dns_events(events)]) as s:
        for _ in range(3):
            await get_ok(s, f"http://svc.test:{srv.port}/")
    assert len(resolver.calls) == 3
    assert not connector.cached_hosts
    assert events == ["resolvehost_start svc.test", "resolvehost_end svc.test"] * 3


def test_clear_dns_cache_needs_both_host_and_port() -> None:
    connector = TCPConnector()
    with pytest.raises(ValueError, match="both host and port"):
        connector.clear_dns_cache("svc.test")
    with pytest.raises(ValueError, match="both host and port"):
        connector.clear_dns_cache(port=80)


@pytest.mark.parametrize("use_dns_cache", [True, False])
async def test_concurrent_lookups_of_one_host_are_coalesced(
    raw_server: Any, use_dns_cache: bool
) -> None:
    srv: RawServer = await raw_server(answer_ok)
    resolver = CountingResolver({"svc.test": "127.0.0.1"}, delay=30 * MS)
    connector = TCPConnector(resolver=resolver, use_dns_cache=use_dns_cache)
    async with ClientSession(connector=connector) as session:
        url = f"http://svc.test:{srv.port}/"
        await asyncio.gather(*(get_ok(session, url) for _ in range(10)))
    assert resolver.calls == [("svc.test", srv.port, socket.AF_UNSPEC)]
    assert srv.connections == 10


async def test_a_cancelled_caller_does_not_fail_the_shared_lookup(raw_server: Any) -> None:
    srv: RawServer = await raw_server(answer_ok)
    resolver = CountingResolver({"svc.test": "127.0.0.1"}, delay=50 * MS)
    connector = TCPConnector(resolver=resolver, use_dns_cache=True)
    async with ClientSession(connector=connector) as session:
        url = f"http://svc.test:{srv.port}/"
        first = asyncio.ensure_future(get_ok(session, url))
        second = asyncio.ensure_future(get_ok(session, url))
        await asyncio.sleep(10 * MS)
        first.cancel()
        await second
        with pytest.raises(asyncio.CancelledError):
            await first
    assert len(resolver.calls) == 1


async def test_closing_the_connector_stops_pending_lookups() -> None:
    resolver = CountingResolver({"svc.test": "127.0.0.1"}, delay=10.0)
    connector = TCPConnector(resolver=resolver)
    session = ClientSession(connector=connector)
    request = asyncio.ensure_future(session.get("http://svc.test:1/"))
    await asyncio.sleep(10 * MS)
    await session.close()
    with pytest.raises(hyperclient.ClientConnectionError, match="closed while resolving"):
        await request


def test_deprecated_aliases_warn() -> None:
    with pytest.warns(DeprecationWarning, match="use_dns_cache"):
        connector = TCPConnector(resolve=True)
    assert connector.dns_cache is True
    with pytest.warns(DeprecationWarning, match="dns_cache"):
        assert connector.resolve is True
    with pytest.warns(DeprecationWarning, match="cached_hosts"):
        assert dict(connector.resolved_hosts) == {}
    with pytest.warns(DeprecationWarning, match="clear_dns_cache"):
        connector.clear_resolved_hosts()


# -- failures --------------------------------------------------------------------------------


class EmptyResolver(AbstractResolver):
    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> Any:
        return []

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("url", "connector", "message"),
    [
        # getaddrinfo's IDNA step raised a bare UnicodeError, past except ClientError.
        ("http://a..b/", None, "invalid host name 'a..b'"),
        ("http://" + "x" * 64 + ".example/", None, "invalid host name 'xxxx"),
        # A resolver answering nothing gave an IndexError.
        ("http://svc.test:8080/", EmptyResolver(), "no address for 'svc.test'"),
    ],
)
async def test_names_that_resolve_to_nothing_are_dns_errors(
    url: str, connector: AbstractResolver | None, message: str
) -> None:
    async with ClientSession(connector=TCPConnector(resolver=connector)) as session:
        with pytest.raises(hyperclient.ClientConnectorDNSError, match=message):
            await session.get(url)


async def test_unknown_name_is_a_dns_error_naming_the_host() -> None:
    connector = TCPConnector(resolver=StaticResolver({}))
    async with ClientSession(connector=connector) as session:
        with pytest.raises(hyperclient.ClientConnectorDNSError) as info:
            await session.get("http://nowhere.test:8080/")
    err = info.value
    assert isinstance(err.__cause__, socket.gaierror)
    assert err.os_error is err.__cause__
    assert (err.host, err.port) == ("nowhere.test", 8080)
    assert "nowhere.test:8080" in str(err)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_names_host_and_port_and_keeps_the_os_error() -> None:
    port = free_port()
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientConnectorError) as info:
            await session.get(f"http://127.0.0.1:{port}/")
    err = info.value
    assert type(err) is hyperclient.ClientConnectorError
    assert isinstance(err.os_error, ConnectionRefusedError)
    assert err.errno == errno.ECONNREFUSED
    assert f"Cannot connect to host 127.0.0.1:{port}" in str(err)
    assert err.__cause__ is err.os_error


async def test_every_address_failing_is_one_connector_error() -> None:
    ports = [free_port(), free_port()]
    resolver = StaticResolver({"svc.test": [("127.0.0.1", ports[0]), ("127.0.0.1", ports[1])]})
    async with ClientSession(connector=TCPConnector(resolver=resolver)) as session:
        with pytest.raises(hyperclient.ClientConnectorError) as info:
            await session.get("http://svc.test:80/")
    assert info.value.errno == errno.ECONNREFUSED
    assert "svc.test:80" in str(info.value)


# -- families ------------------------------------------------------------------------------


@pytest.fixture
async def ipv6_server(raw_server: Any) -> AsyncIterator[int]:
    """A keep-alive server on [::1]; skipped where there is no IPv6 loopback."""
    try:
        server = await asyncio.start_server(
            lambda r, w: _serve(r, w), "::1", 0, family=socket.AF_INET6
        )
    except OSError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"no IPv6 loopback: {exc}")
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await answer_ok(reader, writer)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def test_ipv6_literal_is_reached_whatever_the_family(ipv6_server: int) -> None:
    for family in (socket.AF_INET, socket.AF_INET6, 0):
        async with ClientSession(connector=TCPConnector(family=family)) as session:
            await get_ok(session, f"http://[::1]:{ipv6_server}/")


async def test_family_filters_name_resolution(ipv6_server: int) -> None:
    table = {"dual.test": ["127.0.0.1", "::1"]}
    resolver = CountingResolver(table)
    connector = TCPConnector(resolver=resolver, family=socket.AF_INET6)
    assert connector.family == socket.AF_INET6
    async with ClientSession(connector=connector) as session:
        await get_ok(session, f"http://dual.test:{ipv6_server}/")
    assert resolver.calls == [("dual.test", ipv6_server, socket.AF_INET6)]
    # AF_INET (the 0.17.4 reference's default) never tries the IPv6 address...
    connector = TCPConnector(resolver=StaticResolver(table), family=socket.AF_INET)
    async with ClientSession(connector=connector) as session:
        with pytest.raises(hyperclient.ClientConnectorError) as info:
            await session.get(f"http://dual.test:{ipv6_server}/")
    assert info.value.errno == errno.ECONNREFUSED
    # ...while the default (0, as in aiohttp 3) races both and reaches the IPv6-only server.
    assert TCPConnector().family == socket.AF_UNSPEC
    resolver = CountingResolver(table)
    async with ClientSession(connector=TCPConnector(resolver=resolver)) as session:
        await get_ok(session, f"http://dual.test:{ipv6_server}/")
    assert resolver.calls == [("dual.test", ipv6_server, socket.AF_UNSPEC)]


def test_family_must_be_an_ip_family() -> None:
    with pytest.raises(ValueError, match="family must be"):
        TCPConnector(family=socket.AF_UNIX)


# -- Happy Eyeballs (RFC 8305) ----------------------------------------------------------------


async def test_a_stalled_first_address_loses_the_race(raw_server: Any, black_hole: int) -> None:
    srv: RawServer = await raw_server(answer_ok)
    resolver = StaticResolver({"svc.test": [("127.0.0.1", black_hole), ("127.0.0.1", srv.port)]})
    timeout = ClientTimeout(sock_connect=5)
    async with ClientSession(connector=TCPConnector(resolver=resolver), timeout=timeout) as s:
        started = time.monotonic()
        await get_ok(s, "http://svc.test:80/")
        elapsed = time.monotonic() - started
    # The second attempt starts after the 250 ms Connection Attempt Delay (RFC 8305 §5).
    assert 0.2 < elapsed < 2.0
    assert srv.connections == 1


async def test_without_racing_the_stalled_address_costs_its_timeout(
    raw_server: Any, black_hole: int
) -> None:
    srv: RawServer = await raw_server(answer_ok)
    resolver = StaticResolver({"svc.test": [("127.0.0.1", black_hole), ("127.0.0.1", srv.port)]})
    connector = TCPConnector(resolver=resolver, happy_eyeballs_delay=None)
    timeout = ClientTimeout(sock_connect=0.4)
    async with ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        await get_ok(session, "http://svc.test:80/")
        assert time.monotonic() - started >= 0.4
    # Only the black hole: the per-attempt timeout is a ConnectionTimeoutError.
    resolver = StaticResolver({"svc.test": ("127.0.0.1", black_hole)})
    async with ClientSession(connector=TCPConnector(resolver=resolver)) as session:
        with pytest.raises(
            hyperclient.ConnectionTimeoutError, match=r"svc\.test:80 after 0\.2s \(sock_connect\)"
        ):
            await session.get("http://svc.test:80/", timeout=ClientTimeout(sock_connect=0.2))


async def test_a_coarse_connect_timeout_still_fires(black_hole: int) -> None:
    """sock_connect of ceil_threshold or more waits in the loop's one-second buckets instead
    of a timer of its own: a stalled connect must still end there, and not before."""
    resolver = StaticResolver({"svc.test": ("127.0.0.1", black_hole)})
    timeout = ClientTimeout(sock_connect=0.3, ceil_threshold=0.2)  # short, but coarse
    timers = coarse_timers(asyncio.get_running_loop())
    async with ClientSession(connector=TCPConnector(resolver=resolver)) as session:
        started = time.monotonic()
        request = asyncio.ensure_future(session.get("http://svc.test:80/", timeout=timeout))
        await asyncio.sleep(0.1)
        assert any(timers._buckets.values())  # the connect waits there (no total is set)
        with pytest.raises(hyperclient.ConnectionTimeoutError, match=r"svc\.test:80"):
            await asyncio.wait_for(request, 5)
        # Up to the end of the second the deadline falls in: late by less than a second.
        assert 0.3 <= time.monotonic() - started < 1.6


async def test_a_refused_first_address_moves_on_at_once(raw_server: Any) -> None:
    srv: RawServer = await raw_server(answer_ok)
    resolver = StaticResolver({"svc.test": [("127.0.0.1", free_port()), ("127.0.0.1", srv.port)]})
    async with ClientSession(connector=TCPConnector(resolver=resolver)) as session:
        started = time.monotonic()
        await get_ok(session, "http://svc.test:80/")
        assert time.monotonic() - started < 0.2


def _addr(host: str) -> ResolveResult:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return ResolveResult(hostname="h", host=host, port=1, family=family, proto=0, flags=0)


def test_families_are_interleaved() -> None:
    addrs = [_addr(h) for h in ("::1", "::2", "::3", "10.0.0.1", "10.0.0.2")]
    hosts = [a["host"] for a in _interleave(addrs, 1)]
    assert hosts == ["::1", "10.0.0.1", "::2", "10.0.0.2", "::3"]
    hosts = [a["host"] for a in _interleave(addrs, 2)]
    assert hosts == ["::1", "::2", "10.0.0.1", "::3", "10.0.0.2"]
    only_v4 = [_addr("10.0.0.1"), _addr("10.0.0.2")]
    assert _interleave(only_v4, 1) == only_v4


# -- resolvers -------------------------------------------------------------------------------


async def test_static_resolver_answers_like_curl_resolve() -> None:
    fallback = CountingResolver({"other.test": "10.0.0.9"})
    resolver = StaticResolver(
        {
            "Example.TEST.": "127.0.0.1",
            ("example.test", 8443): ["::1", "[::2]", ("127.0.0.2", 9443)],
        },
        fallback=fallback,
    )
    plain = await resolver.resolve("example.test", 80, socket.AF_UNSPEC)
    assert [(a["host"], a["port"]) for a in plain] == [("127.0.0.1", 80)]
    special = await resolver.resolve("EXAMPLE.test.", 8443, socket.AF_UNSPEC)
    assert [(a["host"], a["port"]) for a in special] == [
        ("::1", 8443),
        ("::2", 8443),
        ("127.0.0.2", 9443),
    ]
    only_v4 = await resolver.resolve("example.test", 8443, socket.AF_INET)
    assert [a["host"] for a in only_v4] == ["127.0.0.2"]
    other = await resolver.resolve("other.test", 80, socket.AF_INET)
    assert other[0]["host"] == "10.0.0.9"
    assert fallback.calls == [("other.test", 80, socket.AF_INET)]
    with pytest.raises(socket.gaierror, match=r"no address found for 'x\.test'"):
        await StaticResolver({}).resolve("x.test", 80)
    with pytest.raises(socket.gaierror):
        await StaticResolver({"v6.test": "::1"}).resolve("v6.test", 80, socket.AF_INET)
    with pytest.raises(ValueError, match="must be an IP literal, got 'localhost'"):
        StaticResolver({"a.test": "localhost"})
    await resolver.close()


async def test_static_resolver_keeps_tls_checking_the_url_host(raw_server: Any) -> None:
    srv: RawServer = await raw_server(answer_ok)
    # Pointed at a plain server: the name in the URL is what the Host header carries.
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        seen.append(head)
        writer.write(OK)
        await writer.drain()

    srv = await raw_server(record)
    resolver = StaticResolver({("api.example.com", 80): ("127.0.0.1", srv.port)})
    async with ClientSession(connector=TCPConnector(resolver=resolver)) as session:
        await get_ok(session, "http://api.example.com/")
    assert b"\r\nHost: api.example.com\r\n" in seen[0]


@pytest.mark.parametrize("resolver_class", [ThreadedResolver, AsyncResolver])
async def test_real_resolvers_find_localhost(
    resolver_class: type[AbstractResolver], raw_server: Any
) -> None:
    resolver = resolver_class()
    try:
        addrs = await resolver.resolve("localhost", 8080, socket.AF_INET)
        assert addrs[0]["host"] == "127.0.0.1"
        assert addrs[0]["port"] == 8080
        assert addrs[0]["hostname"] == "localhost"
        srv: RawServer = await raw_server(answer_ok)
        async with ClientSession(connector=TCPConnector(resolver=resolver)) as session:
            await get_ok(session, f"http://localhost:{srv.port}/")
    finally:
        await resolver.close()
