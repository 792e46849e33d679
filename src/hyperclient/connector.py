"""Connectors: where connections come from and go back to.

``BaseConnector`` puts the pure ``Pool`` bookkeeping to work with the loop: it waits for
slots, opens connections through ``_create_connection`` (the subclass hook the reference
documents), hands released ones to waiters, and closes idle ones when they expire.
``TCPConnector`` adds name resolution and TLS, ``UnixConnector`` a socket path.

A connection goes back to the pool only when its response was received completely,
nothing arrived beyond it, and both sides allow keep-alive; ``ResponseHandler`` tracks
that. Everything else is closed.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import types
import warnings
from collections.abc import Awaitable, Generator, Mapping
from ssl import SSLContext
from typing import TYPE_CHECKING, Any

from .errors import (
    ClientConnectorCertificateError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ConnectionTimeoutError,
    ServerFingerprintMismatch,
    UnixClientConnectorError,
)
from .pool import EndpointStats, Grant, Pool
from .protocol import ResponseHandler
from .resolver import AbstractResolver, ResolveResult, ThreadedResolver, ip_family
from .tls import SSLSetting, context_for, legacy_fingerprint
from .values import ClientTimeout, ConnectionKey, Fingerprint

if TYPE_CHECKING:  # only for annotations of the request argument; no runtime import
    from typing import Protocol

    class _RequestLike(Protocol):
        server_hostname: str | None

        @property
        def connection_key(self) -> ConnectionKey: ...

        @property
        def host(self) -> str: ...

        @property
        def port(self) -> int | None: ...

        def is_ssl(self) -> bool: ...


__all__ = ("BaseConnector", "Connection", "TCPConnector", "UnixConnector")

_Waiter = asyncio.Future[ResponseHandler | None]
_NO_TIMEOUT = ClientTimeout()


class _Closing:
    """What ``close()`` returns: works called plainly, and can be awaited too."""

    __slots__ = ("_waiters",)

    def __init__(self, waiters: list[Awaitable[None]]) -> None:
        self._waiters = waiters

    def __await__(self) -> Generator[Any, None, None]:
        if self._waiters:
            yield from asyncio.gather(*self._waiters, return_exceptions=True).__await__()


class Connection:
    """One connection taken from a connector; give it back with ``release()``.

    End users never create these: ``BaseConnector.connect`` does.
    """

    __slots__ = ("__weakref__", "_connector", "_key", "_loop", "_protocol", "_reused", "pool_wait")

    def __init__(
        self,
        connector: BaseConnector,
        key: ConnectionKey,
        protocol: ResponseHandler,
        loop: asyncio.AbstractEventLoop,
        *,
        reused: bool = False,
    ) -> None:
        self._connector = connector
        self._key = key
        self._protocol: ResponseHandler | None = protocol
        self._loop = loop
        self._reused = reused
        #: Seconds spent waiting for a free slot, or None when there was no wait.
        self.pool_wait: float | None = None

    def __repr__(self) -> str:
        return f"<Connection {self._key.host}:{self._key.port}{' closed' if self.closed else ''}>"

    @property
    def closed(self) -> bool:
        """True once the connection was closed, released or detached."""
        return self._protocol is None or not self._protocol.is_connected()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop of the connection."""
        return self._loop

    @property
    def key(self) -> ConnectionKey:
        """The endpoint this connection serves."""
        return self._key

    @property
    def reused(self) -> bool:
        """True when this connection came from the idle pool."""
        return self._reused

    @property
    def protocol(self) -> ResponseHandler | None:
        """The protocol, until released."""
        return self._protocol

    @property
    def transport(self) -> asyncio.Transport | None:
        """The transport, until released."""
        return None if self._protocol is None else self._protocol.transport

    def release(self) -> None:
        """Give the connection back: pooled if reusable, otherwise closed."""
        protocol = self._protocol
        if protocol is not None:
            self._protocol = None
            self._connector._release(self._key, protocol)

    def close(self) -> None:
        """Close the socket and free the slot."""
        protocol = self._protocol
        if protocol is not None:
            self._protocol = None
            protocol.force_close()
            self._connector._release(self._key, protocol)

    def detach(self) -> None:
        """Free the slot without closing the socket; it will not be pooled."""
        protocol = self._protocol
        if protocol is not None:
            self._protocol = None
            self._connector._release_detached(self._key)


class BaseConnector:
    """Base class of all connectors: pooling, limits and keep-alive.

    Args:
        conn_timeout: seconds to establish a connection (None or 0: no limit). Deprecated
            alias of ``ClientTimeout.connect``.
        keepalive_timeout: seconds an idle connection may wait to be reused (None or 0:
            no limit); the server's ``Keep-Alive: timeout=`` wins when shorter.
        limit: simultaneous connections per endpoint ``(host, port, is_ssl)``, None or 0
            for no cap. When *limit_per_host* is also given, *limit* caps all endpoints
            together (aiohttp 3's meaning).
        limit_per_host: per-endpoint cap (aiohttp 3).
        total_limit: cap over all endpoints, stated explicitly.
        share_cookies: deprecated; kept for the reference's API.
        force_close: close every connection after its response instead of pooling it.
        loop: must be None or the running loop.
    """

    _default_keepalive = 30.0

    def __init__(
        self,
        *,
        conn_timeout: float | None = None,
        keepalive_timeout: float | object | None = ...,
        limit: int | None = None,
        limit_per_host: int | None = None,
        total_limit: int | None = None,
        share_cookies: bool = False,
        force_close: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        enable_cleanup_closed: bool = False,
        timeout_ceil_threshold: float = 5,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 100,
    ) -> None:
        self._loop = _check_loop(loop)
        if keepalive_timeout is ...:
            keepalive_timeout = None if force_close else self._default_keepalive
        elif force_close and keepalive_timeout:
            raise ValueError("keepalive_timeout cannot be set if force_close is True")
        assert keepalive_timeout is None or isinstance(keepalive_timeout, int | float)
        self._keepalive_timeout: float | None = keepalive_timeout or None
        self._conn_timeout = conn_timeout or None
        self._force_close = force_close
        if share_cookies:
            warnings.warn(
                "share_cookies is deprecated; use ClientSession to handle cookies",
                DeprecationWarning,
                stacklevel=2,
            )
        self._share_cookies = share_cookies
        self.cookies: Any = None  # a SimpleCookie, for share_cookies (see client)
        self._limit = limit or None
        self._limit_per_host = limit_per_host or None
        if limit_per_host is not None:
            per_key, total = self._limit_per_host, self._limit
        else:
            per_key, total = self._limit, None
        if total_limit is not None:
            total = total_limit or None
        self._pool: Pool[ConnectionKey, ResponseHandler, _Waiter] = Pool(
            limit_per_key=per_key, total_limit=total
        )
        self._protocol_kwargs = {
            "max_line_size": max_line_size,
            "max_field_size": max_field_size,
            "max_headers": max_headers,
        }
        self._closed = False
        self._cleanup_handle: asyncio.TimerHandle | None = None
        self._cleanup_at: float | None = None
        self._in_progress: set[ResponseHandler] = set()

    def __del__(self, _warnings: Any = warnings) -> None:
        if self._closed:
            return
        if self._pool.idle_count() or self._pool.in_use_total:
            _warnings.warn(f"unclosed connector {self!r}", ResourceWarning, source=self)
            for proto in self._pool.iter_idle():
                proto.close()

    # -- public API -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    @property
    def force_close(self) -> bool:
        """True when connections are closed after each response instead of pooled."""
        return self._force_close

    @property
    def limit(self) -> int | None:
        """The reference's limit: per endpoint, unless ``limit_per_host`` was given."""
        return self._limit

    @property
    def limit_per_host(self) -> int | None:
        """The per-endpoint cap (aiohttp 3); None when not given."""
        return self._limit_per_host

    @property
    def keepalive_timeout(self) -> float | None:
        """Seconds an idle connection is kept, or None for no limit."""
        return self._keepalive_timeout

    @property
    def conn_timeout(self) -> float | None:
        """The reference's connect timeout, in seconds."""
        return self._conn_timeout

    @property
    def share_cookies(self) -> bool:
        """Deprecated flag from the reference."""
        return self._share_cookies

    def stats(self) -> Mapping[ConnectionKey, EndpointStats]:
        """Per endpoint: idle, in-use and waiting counts, and connections created/reused."""
        return types.MappingProxyType(self._pool.stats())

    def close(self) -> _Closing:
        """Close every pooled connection; may be awaited to wait for the sockets to close."""
        waiters: list[Awaitable[None]] = []
        if self._closed:
            return _Closing(waiters)
        self._closed = True
        if self._cleanup_handle is not None:
            self._cleanup_handle.cancel()
            self._cleanup_handle = None
        idle, pool_waiters = self._pool.drain()
        for proto in [*idle, *self._in_progress]:
            proto.close()
            waiters.append(proto.closed_future)
        self._in_progress.clear()
        for waiter in pool_waiters:
            if not waiter.done():
                waiter.cancel()
        return _Closing(waiters)

    async def __aenter__(self) -> BaseConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- acquiring ------------------------------------------------------------------------

    async def connect(
        self,
        req: _RequestLike,
        traces: Any = None,
        timeout: ClientTimeout | None = None,
        *,
        reuse: bool = True,
    ) -> Connection:
        """A connection for *req*: an idle pooled one (unless *reuse* is False), or a new one.

        Waits while the limit is reached. Raises ``ConnectionTimeoutError`` when the
        ``connect`` (or ``pool``) budget runs out, ``ClientConnectorError`` when the
        endpoint cannot be reached.
        """
        if self._closed:
            raise RuntimeError("connector is closed")
        key = req.connection_key
        loop = self._loop or asyncio.get_running_loop()
        proto, dead = self._pool.take_idle(key, loop.time()) if reuse else (None, [])
        for stale in dead:
            stale.close()
        if proto is not None:
            if traces:
                await _send_all(traces, "send_connection_reuseconn")
            return Connection(self, key, proto, loop, reused=True)
        timeout = timeout or _NO_TIMEOUT
        connect_budget = timeout.connect or self._conn_timeout
        if connect_budget is None and timeout.pool is None:
            return await self._acquire_slow(req, key, loop, traces, timeout)
        budget = min(b for b in (connect_budget, timeout.pool) if b is not None)
        try:
            async with asyncio.timeout(budget):
                return await self._acquire_slow(req, key, loop, traces, timeout)
        except TimeoutError as exc:
            raise ConnectionTimeoutError(
                f"connection timeout to host {key.host}:{key.port} after {budget}s"
            ) from exc

    async def _acquire_slow(
        self,
        req: _RequestLike,
        key: ConnectionKey,
        loop: asyncio.AbstractEventLoop,
        traces: Any,
        timeout: ClientTimeout,
    ) -> Connection:
        pool = self._pool
        if not pool.try_reserve(key):
            waiter: _Waiter = loop.create_future()
            queued_at = loop.time()
            pool.enqueue(key, waiter)
            if traces:
                await _send_all(traces, "send_connection_queued_start")
            try:
                granted = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    # We were granted a slot but gave up before using it: pass it on.
                    self._give_back(key, waiter.result())
                else:
                    pool.dequeue(key, waiter)
                raise
            if traces:
                await _send_all(traces, "send_connection_queued_end")
            waited = loop.time() - queued_at
            if granted is not None:
                conn = Connection(self, key, granted, loop, reused=True)
                conn.pool_wait = waited
                return conn
        if traces:
            await _send_all(traces, "send_connection_create_start")
        try:
            proto = await self._create_connection(req, traces, timeout)
        except BaseException:
            self._deliver(pool.give_back_slot(key), ())
            raise
        if self._closed:
            proto.close()
            self._deliver(pool.give_back_slot(key), ())
            raise RuntimeError("connector was closed while connecting")
        pool.connection_created(key)
        if traces:
            await _send_all(traces, "send_connection_create_end")
        return Connection(self, key, proto, loop)

    def _give_back(self, key: ConnectionKey, proto: ResponseHandler | None) -> None:
        if proto is None:
            self._deliver(self._pool.give_back_slot(key), ())
        else:
            self._release(key, proto)

    async def _create_connection(
        self, req: _RequestLike, traces: Any, timeout: ClientTimeout
    ) -> ResponseHandler:
        """Open a new connection for *req*: the subclass hook."""
        raise NotImplementedError

    def _make_protocol(self) -> ResponseHandler:
        loop = self._loop or asyncio.get_running_loop()
        return ResponseHandler(loop, **self._protocol_kwargs)

    # -- releasing --------------------------------------------------------------------------

    def _release(self, key: ConnectionKey, proto: ResponseHandler) -> None:
        if self._closed:
            proto.close()
            return
        keep = not self._force_close and proto.is_reusable()
        loop = proto._loop
        expires_at = float("inf")
        keepalive = self._keepalive_timeout
        hint = proto.keepalive_hint
        if hint is not None and (keepalive is None or hint < keepalive):
            keepalive = hint
        if keepalive is not None:
            if keepalive <= 0:
                keep = False
            expires_at = loop.time() + keepalive
        grants, to_close = self._pool.release(key, proto, keep=keep, expires_at=expires_at)
        self._deliver(grants, to_close)
        if keep and not grants and keepalive is not None:
            self._schedule_cleanup(expires_at, loop)

    def _release_detached(self, key: ConnectionKey) -> None:
        self._deliver(self._pool.give_back_slot(key), ())

    def _deliver(
        self,
        grants: list[Grant[ConnectionKey, ResponseHandler, _Waiter]],
        to_close: list[ResponseHandler] | tuple[()],
    ) -> None:
        for proto in to_close:
            proto.close()
        for grant in grants:
            grant.waiter.set_result(grant.connection)

    def _schedule_cleanup(self, when: float, loop: asyncio.AbstractEventLoop) -> None:
        # One timer for the whole pool, armed for the earliest expiry: no timer per request.
        if self._cleanup_at is not None and self._cleanup_at <= when:
            return
        if self._cleanup_handle is not None:
            self._cleanup_handle.cancel()
        self._cleanup_at = when
        self._cleanup_handle = loop.call_at(when, self._cleanup, loop)

    def _cleanup(self, loop: asyncio.AbstractEventLoop) -> None:
        self._cleanup_handle = None
        self._cleanup_at = None
        dead, next_expiry = self._pool.expire(loop.time())
        for proto in dead:
            proto.close()
        if next_expiry is not None:
            self._schedule_cleanup(next_expiry, loop)


class TCPConnector(BaseConnector):
    """Connector for HTTP and HTTPS over TCP.

    Args:
        verify_ssl: verify server certificates (default True).
        fingerprint: pin the server certificate by the MD5, SHA-1 or SHA-256 digest of its
            DER form (MD5 and SHA-1 warn).
        use_dns_cache: cache name resolution results.
        family: address family for name resolution: AF_INET (default), AF_INET6, or 0.
        ssl_context: the ``SSLContext`` for HTTPS.
        ssl: aiohttp 3 form: True, False, an ``SSLContext`` or a ``Fingerprint``.
        resolver: an ``AbstractResolver``; ``ThreadedResolver`` by default.
        local_addr: ``(host, port)`` to bind the local end to.
        **kwargs: ``BaseConnector`` parameters.
    """

    def __init__(
        self,
        *,
        verify_ssl: bool = True,
        fingerprint: bytes | None = None,
        use_dns_cache: bool = False,
        ttl_dns_cache: float | None = 10,
        family: int = socket.AF_INET,
        ssl_context: SSLContext | None = None,
        ssl: SSLSetting | None = None,
        resolver: AbstractResolver | None = None,
        local_addr: tuple[str, int] | None = None,
        resolve: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if resolve is not None:
            warnings.warn(
                "resolve is deprecated, use use_dns_cache", DeprecationWarning, stacklevel=2
            )
            use_dns_cache = resolve
        self._verify_ssl = verify_ssl
        self._fingerprint = fingerprint
        self._ssl_context = ssl_context
        setting: SSLSetting = True
        if ssl is not None:
            setting = ssl
        elif ssl_context is not None:
            setting = ssl_context
        elif fingerprint is not None:
            setting = legacy_fingerprint(fingerprint)
        elif not verify_ssl:
            setting = False
        self._ssl: SSLSetting = setting
        self._family = family
        self._use_dns_cache = use_dns_cache
        self._ttl_dns_cache = ttl_dns_cache
        self._resolver = resolver if resolver is not None else ThreadedResolver()
        self._local_addr = local_addr
        self._dns_cache: dict[tuple[str, int], tuple[list[ResolveResult], float]] = {}

    @property
    def verify_ssl(self) -> bool:
        """True when server certificates are checked."""
        return self._verify_ssl

    @property
    def ssl_context(self) -> SSLContext | None:
        """The ``SSLContext`` given for HTTPS, if any."""
        return self._ssl_context

    @property
    def fingerprint(self) -> bytes | None:
        """The pinned certificate digest, if any."""
        return self._fingerprint

    @property
    def family(self) -> int:
        """The address family used for name resolution."""
        return self._family

    @property
    def dns_cache(self) -> bool:
        """True when name resolution results are cached."""
        return self._use_dns_cache

    @property
    def use_dns_cache(self) -> bool:
        """aiohttp 3 name of :attr:`dns_cache`."""
        return self._use_dns_cache

    @property
    def cached_hosts(self) -> Mapping[tuple[str, int], list[ResolveResult]]:
        """The DNS cache: ``(host, port)`` to addresses."""
        return types.MappingProxyType({k: v[0] for k, v in self._dns_cache.items()})

    def clear_dns_cache(self, host: str | None = None, port: int | None = None) -> None:
        """Forget one cached ``(host, port)`` when both are given, otherwise everything."""
        if host is not None and port is not None:
            self._dns_cache.pop((host, port), None)
        elif host is not None or port is not None:
            raise ValueError("either both host and port or none of them are allowed")
        else:
            self._dns_cache.clear()

    @property
    def ssl(self) -> SSLSetting:
        """The connector-wide TLS setting (aiohttp 3)."""
        return self._ssl

    async def _resolve(self, host: str, port: int) -> list[ResolveResult]:
        family = ip_family(host)
        if family is not None:
            return [
                ResolveResult(
                    hostname=host,
                    host=host,
                    port=port,
                    family=family,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            ]
        loop = self._loop or asyncio.get_running_loop()
        if self._use_dns_cache:
            cached = self._dns_cache.get((host, port))
            if cached is not None and (self._ttl_dns_cache is None or cached[1] > loop.time()):
                return cached[0]
        addrs = await self._resolver.resolve(host, port, socket.AddressFamily(self._family))
        if self._use_dns_cache:
            ttl = self._ttl_dns_cache
            self._dns_cache[(host, port)] = (
                addrs,
                loop.time() + ttl if ttl is not None else float("inf"),
            )
        return addrs

    async def _create_connection(
        self, req: _RequestLike, traces: Any, timeout: ClientTimeout
    ) -> ResponseHandler:
        key = req.connection_key
        host = key.host
        port = key.port if key.port is not None else (443 if key.is_ssl else 80)
        try:
            addrs = await self._resolve(host, port)
        except OSError as exc:
            raise ClientConnectorDNSError(key, exc) from exc
        sslcontext: SSLContext | None = None
        server_hostname: str | None = None
        if key.is_ssl:
            setting = key.ssl if key.ssl is not True else self._ssl
            sslcontext = context_for(setting)
            server_hostname = (req.server_hostname or host).rstrip(".")
        last_exc: BaseException | None = None
        for addr in addrs:
            try:
                proto = await self._open(addr, sslcontext, server_hostname, timeout, key)
            except (OSError, TimeoutError) as exc:
                last_exc = exc
                continue
            if sslcontext is not None:
                self._check_fingerprint(proto, key)
            return proto
        assert last_exc is not None
        raise self._translate(key, last_exc) from last_exc

    async def _open(
        self,
        addr: ResolveResult,
        sslcontext: SSLContext | None,
        server_hostname: str | None,
        timeout: ClientTimeout,
        key: ConnectionKey,
    ) -> ResponseHandler:
        loop = self._loop or asyncio.get_running_loop()
        proto = self._make_protocol()
        self._in_progress.add(proto)
        try:
            coro = loop.create_connection(
                lambda: proto,
                addr["host"],
                addr["port"],
                ssl=sslcontext,
                server_hostname=server_hostname if sslcontext is not None else None,
                family=addr["family"],
                proto=addr["proto"],
                flags=addr["flags"],
                local_addr=self._local_addr,
            )
            if timeout.sock_connect is not None:
                async with asyncio.timeout(timeout.sock_connect):
                    await coro
            else:
                await coro
        finally:
            self._in_progress.discard(proto)
        _set_nodelay(proto)
        return proto

    def _check_fingerprint(self, proto: ResponseHandler, key: ConnectionKey) -> None:
        setting = key.ssl if key.ssl is not True else self._ssl
        if not isinstance(setting, Fingerprint):
            return
        transport = proto.transport
        sslobj = transport.get_extra_info("ssl_object") if transport is not None else None
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        if der is None or not setting.matches(der):
            proto.close()
            got = setting.digest_of(der) if der is not None else b""
            raise ServerFingerprintMismatch(setting.fingerprint, got, key.host, key.port)

    @staticmethod
    def _translate(key: ConnectionKey, exc: BaseException) -> Exception:
        if isinstance(exc, TimeoutError):
            return ConnectionTimeoutError(
                f"connection timeout to host {key.host}:{key.port} (sock_connect)"
            )
        if isinstance(exc, ssl.SSLCertVerificationError | ssl.CertificateError):
            return ClientConnectorCertificateError(key, exc)
        if isinstance(exc, ssl.SSLError):
            return ClientConnectorSSLError(key, exc)
        assert isinstance(exc, OSError)
        return ClientConnectorError(key, exc)


class UnixConnector(BaseConnector):
    """Connector for HTTP over a Unix domain socket at *path*.

    Args:
        path: the socket path.
        **kwargs: ``BaseConnector`` parameters.
    """

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._path = path

    @property
    def path(self) -> str:
        """The Unix socket path."""
        return self._path

    async def _create_connection(
        self, req: _RequestLike, traces: Any, timeout: ClientTimeout
    ) -> ResponseHandler:
        loop = self._loop or asyncio.get_running_loop()
        proto = self._make_protocol()
        key = req.connection_key
        try:
            coro = loop.create_unix_connection(lambda: proto, self._path)
            if timeout.sock_connect is not None:
                async with asyncio.timeout(timeout.sock_connect):
                    await coro
            else:
                await coro
        except TimeoutError as exc:
            raise ConnectionTimeoutError(
                f"connection timeout to unix socket {self._path} (sock_connect)"
            ) from exc
        except OSError as exc:
            raise UnixClientConnectorError(self._path, key, exc) from exc
        return proto


def _set_nodelay(proto: ResponseHandler) -> None:
    transport = proto.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            # Small request heads must not wait for Nagle's algorithm.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        except OSError:  # pragma: no cover - Defensive: some platforms refuse
            pass


def _check_loop(loop: asyncio.AbstractEventLoop | None) -> asyncio.AbstractEventLoop | None:
    """``loop=`` is accepted for the reference's API; it must be the running loop."""
    if loop is None:
        return None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return loop
    if loop is not running:
        raise RuntimeError("loop= must be the running event loop or None")
    return loop


async def _send_all(traces: Any, name: str, *args: Any) -> None:
    for trace in traces:
        await getattr(trace, name)(*args)
