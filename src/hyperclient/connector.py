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
import contextlib
import functools
import itertools
import socket
import ssl
import types
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from ssl import SSLContext
from typing import TYPE_CHECKING, Any, Final

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .auth import BasicAuth
from .errors import (
    ClientConnectionError,
    ClientConnectorCertificateError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ClientHttpProxyError,
    ClientProxyConnectionError,
    ConnectionTimeoutError,
    InvalidUrlClientError,
    LocalProtocolError,
    RemoteProtocolError,
    ServerDisconnectedError,
    ServerFingerprintMismatch,
    ServerTimeoutError,
    UnixClientConnectorError,
    type_name,
)
from .pool import EndpointStats, Grant, Pool
from .protocol import ResponseHandler
from .proxy import (
    SOCKS_SCHEMES,
    authority,
    connect_fields,
    connect_head,
    parse_proxy_url,
    split_credentials,
    uses_absolute_form,
)
from .resolver import AbstractResolver, ResolveResult, ThreadedResolver, ip_family
from .socks import REPLY_ERRNO, SocksHandshake
from .timers import Timeout
from .tls import SSLSetting, load_context, merge_ssl_options
from .values import ClientTimeout, ConnectionKey, Fingerprint, RequestInfo

if TYPE_CHECKING:  # only for annotations of the request argument; no runtime import
    from typing import Protocol

    class _RequestLike(Protocol):
        server_hostname: str | None
        url: URL

        @property
        def connection_key(self) -> ConnectionKey: ...

        @property
        def host(self) -> str: ...

        @property
        def port(self) -> int | None: ...

        def is_ssl(self) -> bool: ...


__all__ = (
    "AddrInfoType",
    "BaseConnector",
    "Connection",
    "ProxyConnector",
    "SocketFactoryType",
    "TCPConnector",
    "UnixConnector",
)

#: A ``socket.getaddrinfo()`` entry: ``(family, type, proto, canonname, sockaddr)``.
AddrInfoType = tuple[int | socket.AddressFamily, int | socket.SocketKind, int, str, tuple[Any, ...]]
#: Makes the (unconnected) socket for one address; ``TCPConnector(socket_factory=)``.
SocketFactoryType = Callable[[AddrInfoType], socket.socket]

_Waiter = asyncio.Future[ResponseHandler | None]
_UNSET: Any = object()  # a parameter not given (None means something)
_NEVER = float("inf")
_NO_TIMEOUT = ClientTimeout()


#: Seconds a closing TLS connection waits for the server's close_notify before it is
#: dropped. The closing handshake is kept, but RFC 8446 §6.1 does not make the closer wait
#: for the answer, and asyncio's 30 s made closing a session stall that long for a server
#: gone silent (a network change); a live server answers within a round trip.
TLS_SHUTDOWN_TIMEOUT: Final = 2.0


class _StoppedByClose:
    """The context of ``BaseConnector._stopped_by_close``: a class, not a generator
    context manager, as every new connection enters it."""

    __slots__ = ("_connecting", "_key", "_start", "_task")

    def __init__(
        self,
        connecting: dict[asyncio.Task[Any], bool],
        key: ConnectionKey,
        task: asyncio.Task[Any] | None,
    ) -> None:
        self._connecting = connecting
        self._key = key
        self._task = task
        # Cleanup code may run in a task already being cancelled: only a cancellation
        # made after this point is another's (asyncio.timeout counts the same way).
        self._start = 0
        if task is not None:
            connecting[task] = False
            self._start = task.cancelling()

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        task = self._task
        if task is None:
            return
        stopped = self._connecting.pop(task, False)
        if not stopped or exc_type is None or not issubclass(exc_type, asyncio.CancelledError):
            return
        if task.uncancel() > self._start:
            return  # its caller cancelled it too: that cancellation stands
        key = self._key
        raise ClientConnectionError(
            f"the connector was closed while connecting to {key.host}:{key.port}"
        ) from None


class _Closing(Coroutine[Any, Any, None]):
    """What ``close()`` returns: the closing is done when it returns, so a plain call
    works (the reference's ``close()``); awaiting it waits for the sockets to close.

    A ``Coroutine`` too, as aiohttp 3's ``async def close()`` is, so that
    ``asyncio.create_task(session.close())``, ``ensure_future()`` and ``gather()`` take
    it. Unlike a native coroutine it warns about nothing when it is never awaited.
    """

    __slots__ = ("_steps", "_waiters")

    def __init__(self, waiters: list[Awaitable[None]]) -> None:
        self._waiters = waiters
        #: The generator that ``send()``/``throw()`` drive, made on first use.
        self._steps: Generator[Any, None, None] | None = None

    def __await__(self) -> Generator[Any, None, None]:
        if self._waiters:
            yield from asyncio.gather(*self._waiters, return_exceptions=True).__await__()

    def _started(self) -> Generator[Any, None, None]:
        steps = self._steps
        if steps is None:
            steps = self._steps = self.__await__()
        return steps

    def send(self, value: Any) -> Any:
        """Run to the next suspension (what a ``Task`` calls); StopIteration when done."""
        return self._started().send(value)

    def throw(self, *args: Any) -> Any:
        """Raise an exception at the suspension point (a ``Task`` being cancelled)."""
        try:
            return self._started().throw(*args)
        finally:
            del args  # the traceback holds this frame: not the exception too (a cycle)

    def close(self) -> None:
        """Stop waiting; the connections are closed already."""
        if self._steps is not None:
            self._steps.close()


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
        connector._acquired.add(protocol)
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
            self._connector._release_detached(self._key, protocol)


@functools.cache
def default_max_idle() -> int:
    """How many idle connections a connector keeps over all endpoints: a quarter of the
    process's file-descriptor limit (``RLIMIT_NOFILE``), at least 64, so that idle
    sockets leave room for everything else the program opens (urllib3 bounds its pools
    likewise, with ``num_pools``). Read once per process."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # pragma: no cover  # Windows
        return 1024
    if soft == resource.RLIM_INFINITY or soft <= 0:  # pragma: no cover
        return 16384
    return max(64, soft // 4)


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
        max_headers: int = 128,
    ) -> None:
        self._loop = _check_loop(loop)
        if keepalive_timeout is ...:
            keepalive_timeout = None if force_close else self._default_keepalive
        elif force_close and keepalive_timeout:
            raise ValueError("keepalive_timeout cannot be set if force_close is True")
        keepalive_timeout = _check_seconds(keepalive_timeout, "keepalive_timeout")
        conn_timeout = _check_seconds(conn_timeout, "conn_timeout")
        for name, value in (
            ("limit", limit),
            ("limit_per_host", limit_per_host),
            ("total_limit", total_limit),
        ):
            # A negative limit would make every request wait for a slot that never comes.
            if value is not None and not is_count(value):
                raise ValueError(f"{name} must be a non-negative number or None, got {value!r}")
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
            limit_per_key=per_key, total_limit=total, max_idle=default_max_idle()
        )
        self._protocol_kwargs = {
            "max_line_size": max_line_size,
            "max_field_size": max_field_size,
            "max_headers": max_headers,
        }
        self._closed = False
        self._cleanup_handle: asyncio.TimerHandle | None = None
        self._cleanup_at: float | None = None
        #: Connections being opened (close() stops them), with what close() can reach:
        #: the socket of a connect or TLS handshake, the task of a connect that has no
        #: socket of ours (uvloop), or None once there is a transport (proxy tunnel).
        self._in_progress: dict[ResponseHandler, socket.socket | asyncio.Task[Any] | None] = {}
        #: Connections handed out and not yet given back (closed by close()).
        self._acquired: set[ResponseHandler] = set()
        #: Tasks in a TCP connect (no protocol yet), and whether close() stopped them.
        self._connecting: dict[asyncio.Task[Any], bool] = {}
        #: The loop our connections belong to: the first one we run on (see _bind).
        self._bound: asyncio.AbstractEventLoop | None = self._loop

    #: Until __init__ has run: a constructor that raised leaves nothing to warn about.
    _closed = True

    def __del__(self, _warnings: Any = warnings) -> None:
        if self._closed:
            return
        if self._pool.idle_count() or self._pool.in_use_total:
            _warnings.warn(f"Unclosed connector {self!r}", ResourceWarning, source=self)
            loop = self._bound
            if loop is not None:
                # aiohttp's report, which shows even when ResourceWarning is hidden.
                loop.call_exception_handler({"connector": self, "message": "Unclosed connector"})
            self._close_idle()

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

    @property
    def _conns(self) -> Mapping[ConnectionKey, list[tuple[ResponseHandler, float]]]:
        """aiohttp's idle-connection table (key -> [(protocol, time)]), a read-only snapshot.

        Private in aiohttp too, but widely copied code reads it: gql and others wait this way
        for pooled TLS transports to finish closing (aiohttp issue 1925).
        """
        return types.MappingProxyType(self._pool.idle_by_key())

    def stats(self) -> Mapping[ConnectionKey, EndpointStats]:
        """Per endpoint: idle, in-use and waiting counts, and connections created/reused."""
        return types.MappingProxyType(self._pool.stats())

    def close(self, *, abort_ssl: bool = False) -> _Closing:
        """Close every pooled connection; may be awaited to wait for the sockets to close.

        Args:
            abort_ssl: drop TLS connections without the TLS closing handshake (no
                ``close_notify``, no wait for the server's), as aiohttp 3 does.
        """
        waiters: list[Awaitable[None]] = []
        if self._closed:
            return _Closing(waiters)
        self._closed = True
        if self._bound is not None and self._bound.is_closed():
            # Kept past its loop (asyncio.run() has returned): nothing can be awaited
            # there, and its connections are closed here, without it.
            self._forget_loop()
            return _Closing(waiters)
        if self._cleanup_handle is not None:
            self._cleanup_handle.cancel()
            self._cleanup_handle = None
        idle, pool_waiters = self._pool.drain()
        in_progress, self._in_progress = self._in_progress, {}
        for proto in [*idle, *in_progress]:
            if abort_ssl:
                _abort_tls(proto)  # first: close() would send a close_notify at once
            proto.close()
            waiters.append(proto.closed_future)
        # A TCP connect under way has no socket close() could reach without a race with
        # the loop: its task is stopped, and _connect_sock turns that into an error.
        for task in self._connecting:
            self._connecting[task] = True
            task.cancel()
        # A connect or TLS handshake under way has no transport to close yet (see _wrap).
        for opening in in_progress.values():
            if isinstance(opening, socket.socket):
                _shut_down(opening)
            elif opening is not None:
                opening.cancel()
        # Connections in use go too (as in aiohttp): their requests fail now instead of
        # running on a connector that is gone.
        acquired, self._acquired = self._acquired, set()
        for proto in acquired:
            if abort_ssl:
                _abort_tls(proto)
            proto.abort(ClientConnectionError("the connector was closed while in use"))
            waiters.append(proto.closed_future)
        for waiter in pool_waiters:
            if not waiter.done():
                # Not cancel(): the waiting task was not cancelled, and inside a TaskGroup
                # its request would vanish without an error.
                waiter.set_exception(
                    ClientConnectionError("the connector was closed while waiting for a connection")
                )
                waiter.exception()  # retrieved here if its task is gone already
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
        key = req.connection_key
        loop = _loop_of(req)
        if reuse:
            conn = self.take_idle(key, loop)  # checks closed and binds to the loop
            if conn is not None:
                if traces:
                    try:
                        await _send_all(traces, "send_connection_reuseconn")
                    except BaseException:
                        conn.release()  # untouched: back to the pool
                        raise
                return conn
        elif self._closed:
            raise RuntimeError("connector is closed")
        elif loop is not self._bound:
            self._bind(loop)
        timeout = timeout or _NO_TIMEOUT
        budget = timeout.connect or self._conn_timeout
        if budget is None:
            return await self._acquire_slow(req, key, loop, traces, timeout)
        try:
            async with asyncio.timeout(budget):
                return await self._acquire_slow(req, key, loop, traces, timeout)
        except TimeoutError as exc:
            if isinstance(exc, ServerTimeoutError):
                raise  # a budget inside ran out first (pool, sock_connect) and says which
            raise ConnectionTimeoutError(
                f"connection timeout to host {key.host}:{key.port} after {budget}s (connect)"
            ) from exc

    def take_idle(self, key: ConnectionKey, loop: asyncio.AbstractEventLoop) -> Connection | None:
        """An idle pooled connection for *key* now, or None; never waits or connects.

        The session's fast path: most requests reuse a connection, and this way they do
        not pay for a coroutine that never suspends.
        """
        if self._closed:
            raise RuntimeError("connector is closed")
        if loop is not self._bound:
            self._bind(loop)
        proto, dead = self._pool.take_idle(key, loop.time())
        for stale in dead:
            stale.close()
        if proto is None:
            return None
        return Connection(self, key, proto, loop, reused=True)

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
            try:
                if traces:
                    await _send_all(traces, "send_connection_queued_start")
                if timeout.pool is None:
                    granted = await waiter
                else:
                    granted = await self._wait_for_slot(waiter, key, timeout.pool)
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    # We were granted a slot but gave up before using it: pass it on.
                    self._give_back(key, waiter.result(), loop)
                else:
                    pool.dequeue(key, waiter)
                raise
            if traces:
                try:
                    await _send_all(traces, "send_connection_queued_end")
                except BaseException:
                    self._give_back(key, granted, loop)
                    raise
            waited = loop.time() - queued_at
            if granted is not None:
                conn = Connection(self, key, granted, loop, reused=True)
                conn.pool_wait = waited
                return conn
        # From here we hold a slot: every way out without a connection gives it back.
        try:
            if traces:
                await _send_all(traces, "send_connection_create_start")
            proto = await self._create_connection(req, traces, timeout)
        except BaseException:
            self._deliver(*pool.give_back_slot(key, loop.time()))
            raise
        if self._closed:
            proto.close()
            self._deliver(*pool.give_back_slot(key, loop.time()))
            raise RuntimeError("connector was closed while connecting")
        pool.connection_created(key)
        conn = Connection(self, key, proto, loop)
        if traces:
            try:
                await _send_all(traces, "send_connection_create_end")
            except BaseException:
                conn.close()
                raise
        return conn

    @staticmethod
    async def _wait_for_slot(
        waiter: _Waiter, key: ConnectionKey, pool_timeout: float
    ) -> ResponseHandler | None:
        """*waiter*'s grant within ``ClientTimeout.pool``, which bounds only this wait."""
        try:
            async with asyncio.timeout(pool_timeout):
                return await waiter  # cancelled on timeout: the caller then dequeues it
        except TimeoutError as exc:
            raise ConnectionTimeoutError(
                f"connection timeout to host {key.host}:{key.port}: no free connection "
                f"within {pool_timeout}s (pool)"
            ) from exc

    def _give_back(
        self, key: ConnectionKey, proto: ResponseHandler | None, loop: asyncio.AbstractEventLoop
    ) -> None:
        if proto is None:
            self._deliver(*self._pool.give_back_slot(key, loop.time()))
        else:
            self._release(key, proto)

    async def _create_connection(
        self, req: _RequestLike, traces: Any, timeout: ClientTimeout
    ) -> ResponseHandler:
        """Open a new connection for *req*: the subclass hook."""
        raise NotImplementedError

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        """The loop our connections belong to. The connecting paths run after connect()
        bound it; asking for the running loop instead costs a ``getpid()`` on 3.11."""
        return self._bound or asyncio.get_running_loop()

    def _make_protocol(self, loop: asyncio.AbstractEventLoop | None = None) -> ResponseHandler:
        if loop is None:
            loop = self._event_loop()
        return ResponseHandler(loop, **self._protocol_kwargs)

    # -- releasing --------------------------------------------------------------------------

    def _release(self, key: ConnectionKey, proto: ResponseHandler) -> None:
        self._acquired.discard(proto)
        loop = proto._loop
        if loop is not self._bound:
            _close_orphan(proto)  # from a loop we have left: the pool no longer counts it
            return
        if self._closed:
            proto.close()
            return
        keep = not self._force_close and proto.is_reusable()
        now = loop.time()
        expires_at = _NEVER
        keepalive = self._keepalive_timeout
        hint = proto.keepalive_hint
        if hint is not None and (keepalive is None or hint < keepalive):
            keepalive = hint
        if keepalive is not None:
            if keepalive <= 0:
                keep = False
            expires_at = now + keepalive
        grants, to_close = self._pool.release(key, proto, keep=keep, expires_at=expires_at, now=now)
        if grants or to_close:
            self._deliver(grants, to_close)
        if keep and keepalive is not None:
            # Whether or not the release also woke a waiter (for another endpoint, or
            # evicted an idle connection): this one may be idle now, and must expire.
            cleanup_at = self._cleanup_at
            if cleanup_at is None or expires_at < cleanup_at:
                self._schedule_cleanup(expires_at, loop)

    def _release_detached(self, key: ConnectionKey, proto: ResponseHandler) -> None:
        self._acquired.discard(proto)
        if proto._loop is not self._bound:
            return
        self._deliver(*self._pool.give_back_slot(key, proto._loop.time()))

    def _deliver(
        self,
        grants: list[Grant[ConnectionKey, ResponseHandler, _Waiter]] | tuple[()],
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
        # Weakly: a connector dropped without close() must be collected (and reported),
        # not kept alive by its timer until the keep-alive runs out.
        self._cleanup_handle = loop.call_at(when, _cleanup_weakly, weakref.ref(self), loop)

    def _cleanup(self, loop: asyncio.AbstractEventLoop) -> None:
        self._cleanup_handle = None
        self._cleanup_at = None
        dead, next_expiry = self._pool.expire(loop.time())
        for proto in dead:
            proto.close()
        if next_expiry is not None:
            self._schedule_cleanup(next_expiry, loop)

    # -- event loops ------------------------------------------------------------------------

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make *loop* the one our connections belong to.

        A connection lives on the loop that opened it. A session kept across
        ``asyncio.run()`` calls finds its old loop closed: what it held there is dead and
        is dropped (its sockets closed here). An old loop that is still open may run again
        (another thread's, or one the caller keeps): sharing it would write from two
        threads, and send a request on a loop that never reads the answer.
        """
        old = self._bound
        if old is not None:
            if not old.is_closed():
                where = "is running in another thread" if old.is_running() else "is not closed"
                raise RuntimeError(
                    f"{type(self).__name__} belongs to another event loop, which {where}: "
                    "use one session (and connector) per event loop, or close that loop first"
                )
            self._forget_loop()
        self._bound = loop

    def _forget_loop(self) -> None:
        """Drop everything held on the closed loop we leave: its connections (closing their
        sockets without it), waiters, timers and slots."""
        # First: closing them below gives some back (_release), which must find them
        # foreign, not count them off the new pool.
        self._bound = None
        pool = self._pool  # dropped whole, waiters too: futures of a closed loop
        idle = list(pool.iter_idle())
        self._pool = Pool(
            limit_per_key=pool.limit_per_key, total_limit=pool.total_limit, max_idle=pool.max_idle
        )
        for proto in [*idle, *self._acquired, *self._in_progress]:
            _close_orphan(proto)
        self._acquired = set()
        self._in_progress = {}
        self._connecting = {}
        self._cleanup_handle = self._cleanup_at = None
        self._loop = None  # a loop= given for the old loop: from now on, the running one

    def _close_idle(self) -> None:
        """Close the idle connections (at collection, on whichever loop they are)."""
        loop = self._bound
        close = _close_orphan if loop is not None and loop.is_closed() else ResponseHandler.close
        for proto in self._pool.iter_idle():
            close(proto)


class TCPConnector(BaseConnector):
    """Connector for HTTP and HTTPS over TCP.

    Name resolution goes through *resolver*; with ``use_dns_cache`` answers are kept for
    ``ttl_dns_cache`` seconds, and concurrent lookups of one ``(host, port)`` share a
    single query either way. With several addresses, attempts race as RFC 8305 (Happy
    Eyeballs) describes: families interleaved, a new attempt every
    ``happy_eyeballs_delay`` seconds, the first to connect wins and the others are closed.

    Args:
        verify_ssl: verify server certificates (default True).
        fingerprint: pin the server certificate by the MD5, SHA-1 or SHA-256 digest of its
            DER form (MD5 and SHA-1 warn).
        use_dns_cache: cache name resolution results.
        ttl_dns_cache: seconds a cached answer stays valid (None: forever).
        family: address family for name resolution: 0 for both (the default, as in aiohttp
            3: the addresses are raced, RFC 8305), AF_INET (the 0.17.4 reference's
            default) or AF_INET6. An IP-literal host is reached with its own family
            whatever this says.
        ssl_context: the ``SSLContext`` for HTTPS.
        ssl: aiohttp 3 form: True, False, an ``SSLContext`` or a ``Fingerprint``.
        resolver: an ``AbstractResolver``; ``ThreadedResolver`` by default, ``StaticResolver``
            for fixed answers (curl's ``--resolve``).
        local_addr: ``(host, port)`` to bind the local end to.
        happy_eyeballs_delay: seconds before the next address is tried while one attempt
            is still pending (RFC 8305 §5 recommends 0.25); None tries them one by one.
        interleave: how many addresses of the first family go before the other family
            gets a turn (RFC 8305 §4 "First Address Family Count"); 1 by default.
        resolve: deprecated alias of *use_dns_cache*.
        dns_cache_max_size: most ``(host, port)`` entries in the DNS cache; the least
            recently used one is dropped to make room (1000 by default, as in aiohttp 3).
        socket_factory: called with an ``AddrInfoType`` for every connection attempt (to
            the server or to a proxy) to make the unconnected socket, for instance to set
            socket options first; the connector then makes it non-blocking, binds it to
            *local_addr* if given, and connects it.
        ssl_shutdown_timeout: deprecated (as in aiohttp 3.12+): seconds a TLS connection
            being closed waits for the server's ``close_notify``; 0 drops TLS
            connections on ``close()`` without the closing handshake. Not given: the
            closing handshake, waiting up to asyncio's default (30 s).
        **kwargs: ``BaseConnector`` parameters.
    """

    def __init__(
        self,
        *,
        verify_ssl: bool = True,
        fingerprint: bytes | None = None,
        use_dns_cache: bool = False,
        ttl_dns_cache: float | None = 10,
        family: int = socket.AF_UNSPEC,
        ssl_context: SSLContext | None = None,
        ssl: SSLSetting | None = None,
        resolver: AbstractResolver | None = None,
        local_addr: tuple[str, int] | None = None,
        happy_eyeballs_delay: float | None = 0.25,
        interleave: int | None = None,
        resolve: bool | None = None,
        dns_cache_max_size: int = 1000,
        socket_factory: SocketFactoryType | None = None,
        ssl_shutdown_timeout: float | None = _UNSET,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._ssl_shutdown_timeout: float | None = None  # TLS_SHUTDOWN_TIMEOUT
        if ssl_shutdown_timeout is not _UNSET:
            warnings.warn(
                "The ssl_shutdown_timeout parameter is deprecated and will be removed in "
                "aiohttp 4.0",
                DeprecationWarning,
                stacklevel=2,
            )
            self._ssl_shutdown_timeout = ssl_shutdown_timeout
        if resolve is not None:
            warnings.warn(
                "resolve is deprecated, use use_dns_cache", DeprecationWarning, stacklevel=2
            )
            use_dns_cache = resolve
        self._ssl: SSLSetting = merge_ssl_options(ssl, verify_ssl, ssl_context, fingerprint)
        self._verify_ssl = verify_ssl
        self._fingerprint = fingerprint
        self._ssl_context = ssl_context
        if family not in (socket.AF_INET, socket.AF_INET6, socket.AF_UNSPEC):
            raise ValueError(f"family must be AF_INET, AF_INET6 or 0, got {family!r}")
        self._family = family
        self._use_dns_cache = use_dns_cache
        self._ttl_dns_cache = ttl_dns_cache
        self._resolver = resolver if resolver is not None else ThreadedResolver()
        self._local_addr = local_addr
        self._happy_eyeballs_delay = happy_eyeballs_delay
        self._interleave = interleave if interleave is not None else 1
        # Least recently used first (dicts keep insertion order).
        self._dns_cache: dict[tuple[str, int], tuple[list[ResolveResult], float]] = {}
        self._dns_cache_max_size = dns_cache_max_size
        self._socket_factory = socket_factory
        self._dns_inflight: dict[tuple[str, int], asyncio.Task[list[ResolveResult]]] = {}

    # -- attributes of the reference ------------------------------------------------------

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
    def ssl(self) -> SSLSetting:
        """The connector-wide TLS setting (aiohttp 3)."""
        return self._ssl

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
    def resolve(self) -> bool:
        """Deprecated alias of :attr:`dns_cache`."""
        warnings.warn("resolve is deprecated, use dns_cache", DeprecationWarning, stacklevel=2)
        return self._use_dns_cache

    @property
    def resolver(self) -> AbstractResolver:
        """The resolver in use."""
        return self._resolver

    @property
    def cached_hosts(self) -> Mapping[tuple[str, int], list[ResolveResult]]:
        """The DNS cache, read-only: ``(host, port)`` to addresses."""
        return types.MappingProxyType({k: v[0] for k, v in self._dns_cache.items()})

    @property
    def resolved_hosts(self) -> Mapping[tuple[str, int], list[ResolveResult]]:
        """Deprecated alias of :attr:`cached_hosts`."""
        warnings.warn(
            "resolved_hosts is deprecated, use cached_hosts", DeprecationWarning, stacklevel=2
        )
        return self.cached_hosts

    def clear_dns_cache(self, host: str | None = None, port: int | None = None) -> None:
        """Forget one cached ``(host, port)`` when both are given, otherwise everything.

        Raises:
            ValueError: when only one of *host* and *port* is given.
        """
        if host is not None and port is not None:
            self._dns_cache.pop((host, port), None)
        elif host is not None or port is not None:
            raise ValueError("either both host and port or none of them are allowed")
        else:
            self._dns_cache.clear()

    def clear_resolved_hosts(self, host: str | None = None, port: int | None = None) -> None:
        """Deprecated alias of :meth:`clear_dns_cache`."""
        warnings.warn(
            "clear_resolved_hosts is deprecated, use clear_dns_cache",
            DeprecationWarning,
            stacklevel=2,
        )
        self.clear_dns_cache(host, port)

    def close(self, *, abort_ssl: bool = False) -> _Closing:
        """Close every pooled connection and stop pending name lookups.

        Args:
            abort_ssl: drop TLS connections without the TLS closing handshake; also
                the case when the connector was made with ``ssl_shutdown_timeout=0``.
        """
        if self._bound is None or not self._bound.is_closed():
            for task in self._dns_inflight.values():
                task.cancel()
        self._dns_inflight.clear()
        return super().close(abort_ssl=abort_ssl or self._ssl_shutdown_timeout == 0)

    def _forget_loop(self) -> None:
        self._dns_inflight.clear()  # tasks of the closed loop
        super()._forget_loop()

    # -- name resolution ------------------------------------------------------------------

    async def _resolve_host(self, host: str, port: int, traces: Any) -> list[ResolveResult]:
        """Addresses for *host*: the literal itself, from the cache, or from the resolver."""
        family = ip_family(host)
        if family is not None:
            return [_literal(host, port, family)]
        if self._use_dns_cache:
            cached = self._dns_cache.get((host, port))
            loop = self._event_loop()
            if cached is not None and cached[1] > loop.time():
                self._dns_cache[(host, port)] = self._dns_cache.pop((host, port))  # now newest
                if traces:
                    await _send_all(traces, "send_dns_cache_hit", host)
                return cached[0]
            if traces:
                await _send_all(traces, "send_dns_cache_miss", host)
        if traces:
            await _send_all(traces, "send_dns_resolvehost_start", host)
        addrs = await self._lookup_shared(host, port)
        if traces:
            await _send_all(traces, "send_dns_resolvehost_end", host)
        return addrs

    async def _lookup_shared(self, host: str, port: int) -> list[ResolveResult]:
        """One lookup per ``(host, port)`` at a time, whoever asks while it runs."""
        key = (host, port)
        task = self._dns_inflight.get(key)
        if task is None:
            loop = self._event_loop()
            task = loop.create_task(self._lookup(host, port))
            self._dns_inflight[key] = task
            task.add_done_callback(functools.partial(self._lookup_done, key))
        # Shielded: one caller giving up (timeout, cancel) must not fail the others.
        start = _cancel_count()
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled() and self._closed and _cancel_count() <= start:
                # close() stopped the lookup; nobody cancelled this request.
                raise ClientConnectionError(
                    f"the connector was closed while resolving {host!r}"
                ) from None
            raise

    async def _lookup(self, host: str, port: int) -> list[ResolveResult]:
        try:
            addrs = await self._resolver.resolve(host, port, socket.AddressFamily(self._family))
        except UnicodeError as exc:
            # getaddrinfo's IDNA encoding refuses "a..b" or a 64-byte label: a bad name,
            # which a redirect may hand us, not a bug to escape every except ClientError.
            raise socket.gaierror(socket.EAI_NONAME, f"invalid host name {host!r}: {exc}") from exc
        if not addrs:
            # A custom resolver may answer with nothing instead of raising.
            raise socket.gaierror(socket.EAI_NONAME, f"no address for {host!r}")
        if self._use_dns_cache:
            ttl = self._ttl_dns_cache
            loop = self._event_loop()
            expires = loop.time() + ttl if ttl is not None else float("inf")
            self._dns_cache.pop((host, port), None)
            self._dns_cache[(host, port)] = (addrs, expires)
            while len(self._dns_cache) > self._dns_cache_max_size:
                del self._dns_cache[next(iter(self._dns_cache))]  # least recently used
        return addrs

    def _lookup_done(self, key: tuple[str, int], task: asyncio.Task[list[ResolveResult]]) -> None:
        if self._dns_inflight.get(key) is task:
            del self._dns_inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an unawaited failure is not logged

    # -- connecting -----------------------------------------------------------------------

    async def _create_connection(
        self, req: _RequestLike, traces: Any, timeout: ClientTimeout
    ) -> ResponseHandler:
        key = req.connection_key
        if key.proxy is not None:
            if key.proxy.scheme in SOCKS_SCHEMES:
                return await self._via_socks(req, key, key.proxy, traces, timeout)
            return await self._via_http_proxy(req, key, key.proxy, traces, timeout)
        port = key.port if key.port is not None else (443 if key.is_ssl else 80)
        loop = self._bound or _loop_of(req)
        started = loop.time()
        try:
            addrs = await self._resolve_host(key.host, port, traces)
        except OSError as exc:
            raise ClientConnectorDNSError(key, exc) from exc
        resolved = loop.time()
        sslcontext, server_hostname = await self._tls_for(req, key)
        if (
            sslcontext is None
            and len(addrs) == 1
            and self._local_addr is None  # bound by name below, like the raced path
            and self._socket_factory is None  # the loop would make its own socket
            and _is_uvloop(loop)
        ):
            proto = await self._open_plain(addrs[0], key, timeout)
            proto.connect_durations = (resolved - started, loop.time() - resolved, None)
            return proto
        sock = await self._connect_sock(addrs, key, timeout, loop=loop)
        connected = loop.time()
        proto = await self._start(sock, sslcontext, server_hostname, key, timeout, loop=loop)
        proto.connect_durations = (
            resolved - started,
            connected - resolved,
            loop.time() - connected if sslcontext is not None else None,
        )
        return proto

    async def _open_plain(
        self, addr: ResolveResult, key: ConnectionKey, timeout: ClientTimeout
    ) -> ResponseHandler:
        """A plain TCP connection to one resolved *addr*, opened by the loop in one call.

        For uvloop, whose ``create_connection`` connects and wraps the socket in C: through
        ``sock_connect`` and ``create_connection(sock=)`` a new connection cost about a
        fifth more CPU. Nothing to race with a single address, and no TLS to time apart.
        """
        return await self._wrap(
            key,
            timeout.sock_connect,
            host=addr["host"],
            port=addr["port"],
            family=addr["family"],
            flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
        )

    # -- through a proxy --------------------------------------------------------------------

    async def _connect_proxy(
        self, proxy_key: ConnectionKey, traces: Any, timeout: ClientTimeout
    ) -> socket.socket:
        """A TCP socket to the proxy; every failure is a ``ClientProxyConnectionError``."""
        assert proxy_key.port is not None
        try:
            addrs = await self._resolve_host(proxy_key.host, proxy_key.port, traces)
        except OSError as exc:
            raise ClientProxyConnectionError(proxy_key, exc) from exc
        return await self._connect_sock(addrs, proxy_key, timeout, proxy=True)

    async def _via_http_proxy(
        self,
        req: _RequestLike,
        key: ConnectionKey,
        proxy: URL,
        traces: Any,
        timeout: ClientTimeout,
    ) -> ResponseHandler:
        """Plain http:// goes to the proxy as is; anything else through a CONNECT tunnel."""
        proxy_key = _proxy_key(proxy)
        sock = await self._connect_proxy(proxy_key, traces, timeout)
        proxy_tls = None
        if proxy_key.is_ssl:
            # The connector's setting covers the proxy too; a pin is for origins only.
            setting = True if isinstance(self._ssl, Fingerprint) else self._ssl
            proxy_tls = await load_context(setting, trust_env=_trusts_env(req))
        proto = await self._start(sock, proxy_tls, proxy_key.host, proxy_key, timeout, proxy=True)
        if uses_absolute_form(req.url.scheme, proxy):
            return proto
        self._in_progress[proto] = None
        try:
            async with asyncio.timeout(timeout.sock_connect):
                await self._open_tunnel(req, key, proxy, proto)
                return await self._through_tunnel(req, key, proto)
        except TimeoutError as exc:
            proto.close()
            raise ConnectionTimeoutError(
                f"connection timeout to host {key.host}:{key.port} "
                f"through proxy {proxy_key.host}:{proxy_key.port} "
                f"after {timeout.sock_connect}s (sock_connect)"
            ) from exc
        except BaseException:
            proto.close()
            raise
        finally:
            self._in_progress.pop(proto, None)

    async def _open_tunnel(
        self, req: _RequestLike, key: ConnectionKey, proxy: URL, proto: ResponseHandler
    ) -> None:
        """Send CONNECT on *proto* and check that the proxy opened the tunnel."""
        port = key.port if key.port is not None else (443 if key.is_ssl else 80)
        proxy_key = _proxy_key(proxy)
        fields = connect_fields(key.host, port, key.proxy_auth, getattr(req, "proxy_headers", None))
        head_bytes = connect_head(key.host, port, fields)
        try:
            waiter = proto.expect_response("CONNECT", None)
            proto.write(head_bytes)
            head, _ = await waiter
        except (RemoteProtocolError, ServerDisconnectedError, OSError) as exc:
            err = exc if isinstance(exc, OSError) else OSError(None, str(exc))
            raise ClientProxyConnectionError(proxy_key, err) from exc
        if not 200 <= head.status < 300:
            what = (
                "proxy authentication required"
                if head.status == 407
                else f"proxy refused to open a tunnel to {authority(key.host, port)}"
            )
            # As aiohttp: the CONNECT request's own, addressed to the proxy.
            raise ClientHttpProxyError(
                RequestInfo(proxy, "CONNECT", CIMultiDictProxy(fields)),
                (),
                status=head.status,
                message=f"{what} by {proxy}: {head.status} {head.reason}".strip(),
                headers=CIMultiDictProxy(
                    CIMultiDict(
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in head.raw_headers
                    )
                ),
            )
        extra, eof = proto.parser.trailing_data
        if extra or eof:
            reason = "closed the tunnel" if eof else "sent data before the origin spoke"
            raise ClientProxyConnectionError(proxy_key, OSError(None, f"proxy {reason}"))

    async def _through_tunnel(
        self, req: _RequestLike, key: ConnectionKey, tunnel: ResponseHandler
    ) -> ResponseHandler:
        """A fresh protocol on the tunnel's transport, after TLS with the origin if https."""
        loop = self._event_loop()
        transport = tunnel.transport
        if transport is None:
            raise ClientProxyConnectionError(key, OSError(None, "proxy closed the tunnel"))
        proto = self._make_protocol()
        sslcontext, server_hostname = await self._tls_for(req, key)
        if sslcontext is None:
            transport.set_protocol(proto)
            proto.connection_made(transport)
            return proto
        # The transport now goes to the loop's TLS protocol: closing the tunnel's protocol
        # would no longer be heard by it (its closed_future would never resolve, and
        # close() would wait for ever). close() stops this task instead.
        self._in_progress.pop(tunnel, None)
        try:
            with self._stopped_by_close(key):
                # TLS with the origin, end to end inside the tunnel (itself TLS for an
                # https proxy).
                tls_transport = await loop.start_tls(
                    transport, proto, sslcontext, server_hostname=server_hostname,
                    **self._tls_shutdown(),
                )  # fmt: skip
        except (OSError, ssl.SSLError) as exc:
            raise self._translate(key, exc) from exc
        if tls_transport is None:  # the tunnel closed under the handshake
            raise ClientProxyConnectionError(key, OSError(None, "proxy closed the tunnel"))
        proto.connection_made(tls_transport)
        self._check_fingerprint(proto, key)
        return proto

    async def _via_socks(
        self,
        req: _RequestLike,
        key: ConnectionKey,
        proxy: URL,
        traces: Any,
        timeout: ClientTimeout,
    ) -> ResponseHandler:
        """Open a SOCKS tunnel to the origin, then speak HTTP (or TLS) through it."""
        loop = self._event_loop()
        proxy_key = _proxy_key(proxy)
        port = key.port if key.port is not None else (443 if key.is_ssl else 80)
        target = key.host
        if proxy.scheme in ("socks4", "socks5") and ip_family(target) is None:
            # socks5:// and socks4:// resolve here; socks5h:// and socks4a:// at the proxy.
            target = await self._resolve_for_socks(key, port, proxy.scheme, traces)
        auth = key.proxy_auth
        try:
            handshake = SocksHandshake(
                5 if proxy.scheme.startswith("socks5") else 4,
                target,
                port,
                username=auth.login if auth is not None else None,
                password=auth.password if auth is not None else None,
            )
        except LocalProtocolError as exc:
            # SOCKS cannot carry this origin or these credentials: no proxy gets this far.
            raise ClientProxyConnectionError(proxy_key, OSError(None, str(exc))) from exc
        sock = await self._connect_proxy(proxy_key, traces, timeout)
        try:
            with self._stopped_by_close(key):
                async with asyncio.timeout(timeout.sock_connect):
                    await _drive_socks(loop, sock, handshake)
        except RemoteProtocolError as exc:
            sock.close()
            code = REPLY_ERRNO.get(handshake.reply_code or 0)
            raise ClientProxyConnectionError(proxy_key, OSError(code, exc.message)) from exc
        except TimeoutError as exc:
            sock.close()
            raise ConnectionTimeoutError(
                f"connection timeout to socks proxy {proxy_key.host}:{proxy_key.port} "
                f"after {timeout.sock_connect}s (sock_connect)"
            ) from exc
        except OSError as exc:
            sock.close()
            raise ClientProxyConnectionError(proxy_key, exc) from exc
        except BaseException:
            sock.close()
            raise
        sslcontext, server_hostname = await self._tls_for(req, key)
        return await self._start(sock, sslcontext, server_hostname, key, timeout)

    async def _resolve_for_socks(
        self, key: ConnectionKey, port: int, scheme: str, traces: Any
    ) -> str:
        try:
            addrs = await self._resolve_host(key.host, port, traces)
            if scheme == "socks4":
                addrs = [a for a in addrs if a["family"] == socket.AF_INET]
                if not addrs:
                    raise socket.gaierror(
                        socket.EAI_NONAME, f"no IPv4 address for {key.host!r} (socks4)"
                    )
        except OSError as exc:
            raise ClientConnectorDNSError(key, exc) from exc
        return addrs[0]["host"]

    async def _tls_for(
        self, req: _RequestLike, key: ConnectionKey
    ) -> tuple[SSLContext | None, str | None]:
        """The context and the name to check (and send as SNI) for *key*, if TLS."""
        if not key.is_ssl:
            return None, None
        setting = key.ssl if key.ssl is not True else self._ssl
        context = await load_context(setting, trust_env=_trusts_env(req))
        if req.server_hostname:
            return context, _tls_name(req.server_hostname)  # the caller's: ValueError
        try:
            return context, _tls_name(key.host)
        except ValueError as exc:
            raise InvalidUrlClientError(req.url, str(exc)) from None

    async def _connect_sock(
        self,
        addrs: list[ResolveResult],
        key: ConnectionKey,
        timeout: ClientTimeout,
        *,
        proxy: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> socket.socket:
        """A connected TCP socket to one of *addrs* (raced), or a ``ClientConnectorError``."""
        if loop is None:  # on 3.11 each ask for the running loop is a getpid()
            loop = self._event_loop()
        try:
            with self._stopped_by_close(key, loop):
                sock = await _connect_first(
                    loop,
                    addrs,
                    delay=self._happy_eyeballs_delay,
                    interleave=self._interleave,
                    local_addr=self._local_addr,
                    attempt_timeout=timeout.sock_connect,
                    ceil_threshold=timeout.ceil_threshold,
                    socket_factory=self._socket_factory,
                )
        except OSError as exc:
            raise self._translate(key, exc, proxy=proxy, seconds=timeout.sock_connect) from exc
        if not _sets_nodelay(loop):
            # Small request heads must not wait for Nagle's algorithm.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        return sock

    def _stopped_by_close(
        self, key: ConnectionKey, loop: asyncio.AbstractEventLoop | None = None
    ) -> _StoppedByClose:
        """Run a step of opening a connection that has no transport close() could reach
        (a TCP connect, a SOCKS handshake, TLS inside a tunnel): close() cancels the task
        instead, and the cancellation comes out as a ``ClientConnectionError`` (nobody
        cancelled this request; inside a TaskGroup it would vanish)."""
        return _StoppedByClose(self._connecting, key, asyncio.current_task(loop))

    def _tls_shutdown(self) -> dict[str, Any]:
        """``ssl_shutdown_timeout=`` for the loop: the one given, else ours (0 given:
        connections are aborted on close instead, see close())."""
        return {"ssl_shutdown_timeout": self._ssl_shutdown_timeout or TLS_SHUTDOWN_TIMEOUT}

    async def _start(
        self,
        sock: socket.socket,
        sslcontext: SSLContext | None,
        server_hostname: str | None,
        key: ConnectionKey,
        timeout: ClientTimeout,
        *,
        proxy: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> ResponseHandler:
        """Put a protocol on connected *sock*, after a TLS handshake when *sslcontext*."""
        proto = await self._wrap(
            key,
            # The TLS handshake counts against sock_connect; a plain wrap needs no timer.
            None if sslcontext is None else timeout.sock_connect,
            proxy=proxy,
            loop=loop,
            sock=sock,
            ssl=sslcontext,
            server_hostname=server_hostname if sslcontext is not None else None,
            **(self._tls_shutdown() if sslcontext is not None else {}),
        )
        if sslcontext is not None and not proxy:
            # A pin names the origin's certificate; an https proxy has its own.
            self._check_fingerprint(proto, key)
        return proto

    async def _wrap(
        self,
        key: ConnectionKey,
        seconds: float | None,
        *,
        proxy: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        sock: socket.socket | None = None,
        **connection: Any,
    ) -> ResponseHandler:
        """A new protocol on ``loop.create_connection(sock=sock, **connection)``.

        Counted as in progress meanwhile (``close()`` stops it), within *seconds*; errors
        become the client's (see ``_translate``) and *sock* is closed on any failure.
        """
        if self._closed:
            if sock is not None:
                sock.close()
            raise ClientConnectionError("the connector was closed while connecting")
        if loop is None:
            loop = self._event_loop()
        start = _cancel_count(loop)
        proto = self._make_protocol(loop)
        # A connect or TLS handshake may stall with no transport to close yet. close()
        # shuts our socket down, which fails the loop's handshake at once. With no socket
        # of ours (uvloop's create_connection(host=)) the connect runs as a task of its
        # own that close() cancels; measured, that is also ~4 µs per connection cheaper
        # on uvloop than awaiting it inline (9 alternating runs of newconn c=8).
        self._in_progress[proto] = sock
        try:
            connecting = (
                _plain_transport(loop, proto, sock)
                if sock is not None and connection.get("ssl") is None and _plain_fast(loop)
                else loop.create_connection(lambda: proto, sock=sock, **connection)
            )
            opened: Awaitable[Any] = connecting
            if sock is None:
                task = loop.create_task(connecting)
                self._in_progress[proto] = opened = task
            if seconds is None:
                await opened
            else:
                async with asyncio.timeout(seconds):
                    await opened
        except BaseException as exc:
            # The traceback holds this frame: not the failed task holding it too (a cycle).
            opened = connecting = task = None  # type: ignore[assignment]
            if sock is not None:
                sock.close()
            if proto not in self._in_progress and _cancel_count(loop) <= start:
                # close() took it out and stopped it (a shutdown, or the attempt cancelled).
                raise ClientConnectionError("the connector was closed while connecting") from None
            if isinstance(exc, OSError):  # TimeoutError included
                raise self._translate(key, exc, proxy=proxy, seconds=seconds) from exc
            raise
        finally:
            self._in_progress.pop(proto, None)
            proto.never_connected()  # a no-op once connected
        return proto

    def _check_fingerprint(self, proto: ResponseHandler, key: ConnectionKey) -> None:
        """Compare the peer certificate with the pin, if any; close the connection if not."""
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
    def _translate(
        key: ConnectionKey,
        exc: BaseException,
        *,
        proxy: bool = False,
        seconds: float | None = None,
    ) -> Exception:
        """The client error for *exc* raised while connecting to *key* (a proxy if *proxy*)
        within the ``sock_connect`` budget of *seconds*."""
        if isinstance(exc, TimeoutError) and exc.errno is None:
            # Our budget ran out (the kernel's own ETIMEDOUT, errno set, is a connect error).
            what = "proxy" if proxy else "host"
            return ConnectionTimeoutError(
                f"connection timeout to {what} {key.host}:{key.port} after {seconds}s "
                "(sock_connect)"
            )
        if isinstance(exc, ssl.SSLCertVerificationError | ssl.CertificateError):
            return ClientConnectorCertificateError(key, exc)
        if isinstance(exc, ssl.SSLError):
            return ClientConnectorSSLError(key, exc)
        assert isinstance(exc, OSError)
        if proxy:
            return ClientProxyConnectionError(key, exc)
        return ClientConnectorError(key, exc)


def _proxy_key(proxy: URL) -> ConnectionKey:
    """The key naming the proxy itself, for errors about reaching it."""
    return ConnectionKey(
        proxy.raw_host or "", proxy.port, proxy.scheme == "https", True, None, None, None
    )


async def _drive_socks(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, handshake: SocksHandshake
) -> None:
    """Run the SOCKS handshake over connected *sock* until the tunnel is open."""
    while True:
        data = handshake.data_to_send()
        if data:
            await loop.sock_sendall(sock, data)
        if handshake.is_done():
            break
        received = await loop.sock_recv(sock, 512)
        if received:
            handshake.receive_data(received)
        else:
            handshake.receive_eof()
    if handshake.unused_data:
        raise RemoteProtocolError("socks proxy sent data before the origin could speak")


def _literal(host: str, port: int, family: int) -> ResolveResult:
    return ResolveResult(
        hostname=host,
        host=host,
        port=port,
        family=family,
        proto=0,
        flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
    )


def _cleanup_weakly(ref: weakref.ref[BaseConnector], loop: asyncio.AbstractEventLoop) -> None:
    connector = ref()
    if connector is not None:
        connector._cleanup(loop)


def _close_orphan(proto: ResponseHandler) -> None:
    """Close a connection whose event loop is closed (see ``close_orphan_transport``)."""
    close_orphan_transport(proto.transport)


#: Transports being finished by close_orphan_transport (which their protocol may re-enter).
_finishing: set[object] = set()


def close_orphan_transport(transport: asyncio.Transport | None) -> None:
    """Close a transport whose event loop is closed (a session kept past ``asyncio.run``).

    The loop can no longer finish a close (``call_soon`` refuses), so asyncio's socket
    transport (under a TLS one, the one below it) is finished here, as its loop would
    have: the socket object it owns is closed, never its descriptor number (which may
    be reused). Other transports (uvloop's are closed with their loop) are aborted as far
    as they go, and their socket shut down so the server sees the end now.
    """
    if transport is None:
        return
    ssl_protocol = getattr(transport, "_ssl_protocol", None)  # asyncio's TLS transport
    below = getattr(ssl_protocol, "_transport", None) if ssl_protocol is not None else transport
    closing = transport.is_closing()
    if not closing:
        with contextlib.suppress(RuntimeError):
            transport.abort()  # marks it closing; on a closed loop it stops at call_soon
    finish = getattr(below, "_call_connection_lost", None)  # asyncio's socket transports
    if finish is not None and getattr(below, "_sock", None) is not None:
        if below in _finishing:
            return  # asked again by the protocol being told (it gives its connection back)
        _finishing.add(below)
        try:
            finish(None)  # tells the protocol, closes the socket
        except RuntimeError as exc:
            # The protocols' callbacks cannot be scheduled on a closed loop (nobody is
            # left to await them); anything else is a bug to show.
            if str(exc) != "Event loop is closed":
                raise
        finally:
            _finishing.discard(below)
        return
    sock = None if closing else transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _loop_of(req: _RequestLike) -> asyncio.AbstractEventLoop:
    """The running loop, as the request knows it when it is ours: on Python 3.11 each
    ``get_running_loop()`` is a ``getpid()`` system call, two per new connection."""
    loop = getattr(req, "loop", None)
    return loop if loop is not None else asyncio.get_running_loop()


def _cancel_count(loop: asyncio.AbstractEventLoop | None = None) -> int:
    """How many cancellations of the current task are pending: more than before a step
    means the task itself was cancelled meanwhile, not just something it awaited (a task
    in cleanup code may already have one pending when the step starts)."""
    task = asyncio.current_task(loop)
    return task.cancelling() if task is not None else 0


def _shut_down(sock: socket.socket) -> None:
    """Shut *sock* down both ways: its transport sees EOF at once, the descriptor stays valid
    (closing it here could let a new socket reuse the number under the transport)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected yet or already reset: nothing to stop


def _is_uvloop(loop: asyncio.AbstractEventLoop) -> bool:
    return type(loop).__module__.startswith("uvloop")


def _sets_nodelay(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether *loop*'s TCP transports set TCP_NODELAY themselves (a system call saved).

    asyncio's selector transports do for sockets made with ``IPPROTO_TCP``, and uvloop's
    for every TCP socket; other loops get it from us.
    """
    return isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop) or _is_uvloop(loop)


def _trusts_env(req: _RequestLike) -> bool:
    """Whether the request's session was created with ``trust_env=True``."""
    return bool(getattr(getattr(req, "session", None), "trust_env", False))


# -- Happy Eyeballs (RFC 8305) --------------------------------------------------------------


def _interleave(addrs: list[ResolveResult], first_count: int) -> list[ResolveResult]:
    """Alternate address families, *first_count* of the first family first (RFC 8305 §4)."""
    by_family: dict[int, list[ResolveResult]] = {}
    for addr in addrs:
        by_family.setdefault(addr["family"], []).append(addr)
    if len(by_family) < 2:
        return addrs
    first, *others = by_family.values()
    # The first family's extra turns, then strict alternation starting with it again.
    head = max(first_count - 1, 0)
    result = first[:head]
    for turn in itertools.zip_longest(first[head:], *others):
        result.extend(addr for addr in turn if addr is not None)
    return result


def _sockaddr(addr: ResolveResult) -> tuple[Any, ...]:
    host, port = addr["host"], addr["port"]
    if addr["family"] == socket.AF_INET6:
        if "%" in host:
            # A scoped literal: the numeric lookup turns the zone into a scope id, no I/O.
            info = socket.getaddrinfo(
                host, port, socket.AF_INET6, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
            )
            return tuple(info[0][4])
        return (host, port, 0, 0)
    return (host, port)


async def _attempt(
    loop: asyncio.AbstractEventLoop,
    addr: ResolveResult,
    local_addr: tuple[str, int] | None,
    timeout: float | None,
    ceil_threshold: float,
    socket_factory: SocketFactoryType | None = None,
) -> socket.socket:
    """One TCP connect to *addr*; the socket is closed unless it is returned.

    On asyncio's default loop a *timeout* of *ceil_threshold* seconds or more (see
    ``ClientTimeout.ceil_threshold``) waits in the coarse one-second buckets.
    """
    # An explicit IPPROTO_TCP (resolvers may say 0): asyncio's selector transport sets
    # TCP_NODELAY only on sockets that say so.
    proto = addr["proto"] or socket.IPPROTO_TCP
    if socket_factory is None:
        sock = socket.socket(addr["family"], socket.SOCK_STREAM, proto)
    else:
        sock = socket_factory((addr["family"], socket.SOCK_STREAM, proto, "", _sockaddr(addr)))
    try:
        sock.setblocking(False)
        if local_addr is not None:
            sock.bind(local_addr)
        if isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop):
            await _selector_connect(loop, sock, _sockaddr(addr), timeout, ceil_threshold)
        elif timeout is None:  # no timeout scope to enter and leave per connection
            await loop.sock_connect(sock, _sockaddr(addr))
        else:
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, _sockaddr(addr))
    except BaseException:
        sock.close()
        raise
    return sock


async def _selector_connect(
    loop: asyncio.selector_events.BaseSelectorEventLoop,
    sock: socket.socket,
    address: tuple[Any, ...],
    timeout: float | None,
    ceil_threshold: float,
) -> None:
    """Non-blocking connect of *sock* to the numeric *address* on a selector loop.

    What ``loop.sock_connect`` does, minus its work for addresses that are already
    resolved (it looks the address up again, converting ``sock.family`` and ``sock.type``
    to enums several times) and with a plain timer instead of a timeout scope: about
    10 µs of a new connection's cost on CPython 3.11. A *timeout* of *ceil_threshold* or
    more (the default 30 s against 5 s) needs no timer of its own: it waits in the loop's
    coarse one-second buckets (about 3 µs less again), and so may end up to a second late.

    Raises:
        OSError: the connection failed (``TimeoutError`` after *timeout* seconds, or
            within a second after for a coarse one).
    """
    try:
        sock.connect(address)
        return  # loopback and Unix-like stacks may complete at once
    except (BlockingIOError, InterruptedError):
        pass
    fd = sock.fileno()
    done: asyncio.Future[None] = loop.create_future()
    loop.add_writer(fd, _set_done, done)
    # The usual 30 s against a 5 s threshold: a set insertion, not a loop timer.
    timer = None if timeout is None else _ConnectTimeout(loop, done, timeout, ceil_threshold)
    try:
        await done
    finally:
        loop.remove_writer(fd)
        if timer is not None:
            timer.cancel()
    # RFC 793 handshake over: writable with SO_ERROR 0 means connected.
    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise OSError(err, f"Connect call failed {address}")


def _abort_tls(proto: ResponseHandler) -> None:
    """Drop a TLS connection at once, without sending or awaiting ``close_notify``."""
    transport = proto.transport
    if transport is not None and transport.get_extra_info("ssl_object") is not None:
        transport.abort()


def _plain_fast(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether *loop* is asyncio's selector loop, not in debug mode (which logs from
    ``create_connection``)."""
    return isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop) and not loop.get_debug()


async def _plain_transport(
    loop: asyncio.AbstractEventLoop, proto: ResponseHandler, sock: socket.socket
) -> None:
    """What ``loop.create_connection(sock=sock)`` does on asyncio's selector loop for our
    own connected, non-blocking TCP *sock*, minus its argument checks (``sock.type`` as an
    enum) and a second ``setblocking`` system call: about 2 µs of a new connection."""
    waiter = loop.create_future()
    transport = loop._make_socket_transport(sock, proto, waiter)  # type: ignore[attr-defined]
    try:
        await waiter
    except BaseException:
        transport.close()
        waiter = None  # type: ignore[assignment]  # the traceback would keep it (gh-109534)
        raise


def _set_done(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


class _ConnectTimeout(Timeout):
    """A TCP connect's deadline: fails *done* with ``TimeoutError``."""

    __slots__ = ("done", "timeout")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        done: asyncio.Future[None],
        timeout: float,
        ceil_threshold: float,
    ) -> None:
        self.done = done
        self.timeout = timeout
        self._arm(loop, timeout, ceil_threshold)

    def expire(self) -> None:
        self._disarm()
        if not self.done.done():
            self.done.set_exception(TimeoutError(f"TCP connect took longer than {self.timeout}s"))


async def _connect_first(
    loop: asyncio.AbstractEventLoop,
    addrs: list[ResolveResult],
    *,
    delay: float | None,
    interleave: int,
    local_addr: tuple[str, int] | None,
    attempt_timeout: float | None,
    ceil_threshold: float,
    socket_factory: SocketFactoryType | None = None,
) -> socket.socket:
    """The first of *addrs* to accept a TCP connection, racing them as RFC 8305 §5 says.

    A new attempt starts when the previous one fails or after *delay* seconds, whichever
    comes first; the winner's rivals are cancelled and their sockets closed.

    Raises:
        OSError: every attempt failed (``TimeoutError`` when all of them timed out).
    """
    if len(addrs) == 1:
        return await _attempt(
            loop, addrs[0], local_addr, attempt_timeout, ceil_threshold, socket_factory
        )
    ordered = _interleave(addrs, interleave) if delay is not None else addrs
    running: set[asyncio.Task[socket.socket]] = set()
    errors: list[OSError] = []
    winner: socket.socket | None = None
    try:
        for addr in ordered:
            attempt = _attempt(
                loop, addr, local_addr, attempt_timeout, ceil_threshold, socket_factory
            )
            running.add(loop.create_task(attempt))
            winner = await _wait_one(running, errors, delay)
            if winner is not None:
                return winner
        while running:
            winner = await _wait_one(running, errors, None)
            if winner is not None:
                return winner
    finally:
        for task in running:
            task.cancel()
        if running:
            done = await asyncio.gather(*running, return_exceptions=True)
            for extra in done:
                if isinstance(extra, socket.socket):
                    extra.close()  # a rival that connected too late
    raise _combine(errors)


async def _wait_one(
    running: set[asyncio.Task[socket.socket]], errors: list[OSError], delay: float | None
) -> socket.socket | None:
    """Wait until an attempt ends or *delay* passes; the winning socket, if one connected."""
    done, _ = await asyncio.wait(running, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    winner: socket.socket | None = None
    for task in done:
        running.discard(task)
        exc = task.exception()
        if exc is None:
            if winner is None:
                winner = task.result()
            else:
                task.result().close()
        elif isinstance(exc, OSError):
            errors.append(exc)
        else:
            raise exc
    return winner


def _tls_name(name: str) -> str:
    """The name a certificate is checked against (and sent as SNI), without the trailing
    dot of a fully qualified name.

    Raises:
        ValueError: nothing is left ("." or ".."), which asyncio would read as "do not
            check the name" (failing open), or the name cannot be encoded (IDNA, NUL).
    """
    stripped = name.rstrip(".")
    if not stripped:
        raise ValueError(f"invalid TLS server name {name!r}: empty without its dots")
    try:
        if "\x00" in stripped:
            raise UnicodeError("NUL in name")
        stripped.encode("idna")  # what ssl does with it, so that a bad one fails here
    except UnicodeError as exc:
        raise ValueError(f"invalid TLS server name {name!r}: {exc}") from None
    return stripped


def _combine(errors: list[OSError]) -> OSError:
    """One error for several failed attempts, keeping the OS error when they agree."""
    if len(errors) == 1 or all(str(e) == str(errors[0]) for e in errors):
        return errors[0]
    if all(isinstance(e, TimeoutError) for e in errors):
        return TimeoutError(f"all {len(errors)} connection attempts timed out")
    errnos = {e.errno for e in errors}
    text = "; ".join(str(e) for e in errors)
    return OSError(
        errnos.pop() if len(errnos) == 1 else None,
        f"all {len(errors)} connection attempts failed: {text}",
    )


class ProxyConnector(TCPConnector):
    """Connector sending every request through one proxy (the reference's form).

    ``http://`` and ``https://`` proxies take plain ``http://`` requests in absolute form
    (RFC 9112 §3.2.2) and open a ``CONNECT`` tunnel for ``https://``, ``ws://`` and
    ``wss://`` (RFC 9110 §9.3.6); ``socks5://``, ``socks5h://``, ``socks4://`` and
    ``socks4a://`` proxies tunnel everything. Credentials in the proxy URL are used when
    *proxy_auth* is not given, and are sent to the proxy only.

    Passing ``proxy=`` to ``ClientSession`` or to a request does the same with any
    ``TCPConnector``; ``trust_env=True`` takes the proxy from the environment.

    Args:
        proxy: the proxy URL, such as ``"http://proxy.example:3128"``.
        proxy_auth: ``BasicAuth`` for the proxy.
        force_close: close connections after each response (default True, as the
            reference says: proxies then see one request per connection).
        **kwargs: ``TCPConnector`` parameters.

    Raises:
        InvalidURL: for a proxy URL with an unsupported scheme or no host.
    """

    def __init__(
        self,
        proxy: str | URL,
        *,
        proxy_auth: BasicAuth | None = None,
        force_close: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(force_close=force_close, **kwargs)
        self._proxy = str(proxy)
        self._proxy_url, self._proxy_auth = split_credentials(parse_proxy_url(proxy), proxy_auth)

    @property
    def proxy(self) -> str:
        """The proxy URL, as given."""
        return self._proxy

    @property
    def proxy_auth(self) -> BasicAuth | None:
        """The proxy credentials, from *proxy_auth* or the proxy URL, or None."""
        return self._proxy_auth

    @property
    def proxy_url(self) -> URL:
        """The proxy URL without credentials, with its port explicit."""
        return self._proxy_url


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
        loop = self._event_loop()
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
                f"connection timeout to unix socket {self._path} "
                f"after {timeout.sock_connect}s (sock_connect)"
            ) from exc
        except OSError as exc:
            raise UnixClientConnectorError(self._path, key, exc) from exc
        return proto


def is_count(value: object) -> bool:
    """Whether *value* is a non-negative number (not a bool): a limit, a redirect cap."""
    # A tuple, not int | float: that union would be built on every call.
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value >= 0


def _check_seconds(value: object, name: str) -> float | None:
    """*value* if None or a non-negative number of seconds, else an error naming it (it
    would fail much later, where it is compared, or not at all under ``python -O``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or None, got {type_name(value)}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return value


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
