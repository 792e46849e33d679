"""Request tracing: aiohttp-compatible ``TraceConfig`` signals and response timings.

A ``TraceConfig`` holds lists of async callbacks, one list per event of a request's life
(start, connection queued/created/reused, DNS, headers sent, chunks, redirect, end,
exception). The session creates one ``Trace`` per config per request and the request
flow calls its ``send_*`` methods; with no trace config nothing is created at all, so
tracing costs nothing unless used.

``ResponseTimings`` (``resp.timings``) is always available: a handful of loop-clock
stamps taken on the way, turned into durations only when asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from types import SimpleNamespace
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Self,
    SupportsIndex,
    TypeAlias,
    TypeVar,
    overload,
)

from multidict import CIMultiDict
from yarl import URL

if TYPE_CHECKING:
    # For annotations only, never imported at run time: the session and its responses
    # are made far above this module (STYLE.md section 3), and cannot move down.
    from .client import ClientSession
    from .response import ClientResponse

__all__ = (
    "ResponseTimings",
    "Signal",
    "TraceConfig",
    "TraceConnectionCreateEndParams",
    "TraceConnectionCreateStartParams",
    "TraceConnectionQueuedEndParams",
    "TraceConnectionQueuedStartParams",
    "TraceConnectionReuseconnParams",
    "TraceDnsCacheHitParams",
    "TraceDnsCacheMissParams",
    "TraceDnsResolveHostEndParams",
    "TraceDnsResolveHostStartParams",
    "TraceRequestChunkSentParams",
    "TraceRequestEndParams",
    "TraceRequestExceptionParams",
    "TraceRequestHeadersSentParams",
    "TraceRequestRedirectParams",
    "TraceRequestStartParams",
    "TraceResponseChunkReceivedParams",
)

P = TypeVar("P")

#: A callback of a signal whose params are *P*: ``async def cb(session, ctx, params)``. The
#: context is what ``trace_config_ctx_factory`` makes (a ``SimpleNamespace`` by default);
#: what the callback returns is ignored.
_Callback: TypeAlias = Callable[["ClientSession", SimpleNamespace, P], Awaitable[object]]


class Signal(list[_Callback[P]], Generic[P]):
    """A list of async callbacks ``(session, trace_config_ctx, params)``; frozen once used.

    ``Signal[P]`` takes callbacks whose third parameter accepts a *P*: a type checker
    refuses one written for another signal's params, as with aiohttp's signals.
    """

    def __init__(self) -> None:
        super().__init__()
        self._frozen = False

    @property
    def frozen(self) -> bool:
        """True once the owning config was attached to a session."""
        return self._frozen

    def freeze(self) -> None:
        """Refuse further changes."""
        self._frozen = True

    def _check(self) -> None:
        if self._frozen:
            raise RuntimeError("cannot modify a frozen signal (the config is in use)")

    def append(self, callback: _Callback[P]) -> None:
        self._check()
        super().append(callback)

    # Every other way to change a list, refused alike once frozen (as aiohttp's
    # FrozenList does).
    def insert(self, index: SupportsIndex, callback: _Callback[P]) -> None:
        self._check()
        super().insert(index, callback)

    def extend(self, callbacks: Iterable[_Callback[P]]) -> None:
        self._check()
        super().extend(callbacks)

    def __iadd__(self, callbacks: Iterable[_Callback[P]]) -> Self:  # type: ignore[override,misc]  # typeshed ties it to __add__
        self._check()
        return super().__iadd__(callbacks)

    def remove(self, callback: _Callback[P]) -> None:
        self._check()
        super().remove(callback)

    def pop(self, index: SupportsIndex = -1) -> _Callback[P]:
        self._check()
        return super().pop(index)

    def clear(self) -> None:
        self._check()
        super().clear()

    @overload
    def __setitem__(self, index: SupportsIndex, value: _Callback[P]) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[_Callback[P]]) -> None: ...
    def __setitem__(self, index: SupportsIndex | slice, value: Any) -> None:
        self._check()
        super().__setitem__(index, value)

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        self._check()
        super().__delitem__(index)

    async def send(self, *args: Any) -> None:
        """Call every callback in order."""
        for callback in self:
            await callback(*args)


@dataclasses.dataclass(frozen=True, slots=True)
class TraceRequestStartParams:
    method: str
    url: URL
    headers: CIMultiDict[str]


@dataclasses.dataclass(frozen=True, slots=True)
class TraceRequestChunkSentParams:
    method: str
    url: URL
    chunk: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class TraceResponseChunkReceivedParams:
    method: str
    url: URL
    chunk: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class TraceRequestEndParams:
    method: str
    url: URL
    headers: CIMultiDict[str]
    response: ClientResponse


@dataclasses.dataclass(frozen=True, slots=True)
class TraceRequestExceptionParams:
    method: str
    url: URL
    headers: CIMultiDict[str]
    exception: BaseException


@dataclasses.dataclass(frozen=True, slots=True)
class TraceRequestRedirectParams:
    method: str
    url: URL
    headers: CIMultiDict[str]
    response: ClientResponse


@dataclasses.dataclass(frozen=True, slots=True)
class TraceRequestHeadersSentParams:
    method: str
    url: URL
    headers: CIMultiDict[str]


@dataclasses.dataclass(frozen=True, slots=True)
class TraceConnectionQueuedStartParams:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class TraceConnectionQueuedEndParams:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class TraceConnectionCreateStartParams:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class TraceConnectionCreateEndParams:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class TraceConnectionReuseconnParams:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class TraceDnsResolveHostStartParams:
    host: str


@dataclasses.dataclass(frozen=True, slots=True)
class TraceDnsResolveHostEndParams:
    host: str


@dataclasses.dataclass(frozen=True, slots=True)
class TraceDnsCacheHitParams:
    host: str


@dataclasses.dataclass(frozen=True, slots=True)
class TraceDnsCacheMissParams:
    host: str


_SIGNALS = (
    "on_request_start",
    "on_request_chunk_sent",
    "on_response_chunk_received",
    "on_request_end",
    "on_request_exception",
    "on_request_redirect",
    "on_request_headers_sent",
    "on_connection_queued_start",
    "on_connection_queued_end",
    "on_connection_create_start",
    "on_connection_create_end",
    "on_connection_reuseconn",
    "on_dns_resolvehost_start",
    "on_dns_resolvehost_end",
    "on_dns_cache_hit",
    "on_dns_cache_miss",
)


class TraceConfig:
    """Callbacks for the events of every request of the sessions it is given to.

    Args:
        trace_config_ctx_factory: builds the per-request context object passed to every
            callback (``SimpleNamespace`` by default); called with ``trace_request_ctx``.
    """

    on_request_start: Signal[TraceRequestStartParams]
    on_request_chunk_sent: Signal[TraceRequestChunkSentParams]
    on_response_chunk_received: Signal[TraceResponseChunkReceivedParams]
    on_request_end: Signal[TraceRequestEndParams]
    on_request_exception: Signal[TraceRequestExceptionParams]
    on_request_redirect: Signal[TraceRequestRedirectParams]
    on_request_headers_sent: Signal[TraceRequestHeadersSentParams]
    on_connection_queued_start: Signal[TraceConnectionQueuedStartParams]
    on_connection_queued_end: Signal[TraceConnectionQueuedEndParams]
    on_connection_create_start: Signal[TraceConnectionCreateStartParams]
    on_connection_create_end: Signal[TraceConnectionCreateEndParams]
    on_connection_reuseconn: Signal[TraceConnectionReuseconnParams]
    on_dns_resolvehost_start: Signal[TraceDnsResolveHostStartParams]
    on_dns_resolvehost_end: Signal[TraceDnsResolveHostEndParams]
    on_dns_cache_hit: Signal[TraceDnsCacheHitParams]
    on_dns_cache_miss: Signal[TraceDnsCacheMissParams]

    def __init__(self, trace_config_ctx_factory: Callable[..., Any] = SimpleNamespace) -> None:
        for name in _SIGNALS:
            setattr(self, name, Signal())
        self._trace_config_ctx_factory = trace_config_ctx_factory

    def trace_config_ctx(self, trace_request_ctx: Any = None) -> Any:
        """A fresh context object for one request."""
        return self._trace_config_ctx_factory(trace_request_ctx=trace_request_ctx)

    def freeze(self) -> None:
        """Refuse further callbacks (done when a session takes the config)."""
        for name in _SIGNALS:
            getattr(self, name).freeze()


class Trace:
    """One trace config's view of one request: the ``send_*`` hooks the flow calls."""

    __slots__ = ("_config", "_ctx", "_session")

    def __init__(self, session: Any, config: TraceConfig, ctx: Any) -> None:
        self._session = session
        self._config = config
        self._ctx = ctx

    async def _send(self, signal: Signal[Any], params: object) -> None:
        if signal:
            await signal.send(self._session, self._ctx, params)

    async def send_request_start(self, method: str, url: URL, headers: Any) -> None:
        await self._send(
            self._config.on_request_start, TraceRequestStartParams(method, url, headers)
        )

    def sends_request_chunks(self) -> bool:
        """Whether a callback waits for each chunk of a request body sent."""
        return bool(self._config.on_request_chunk_sent)

    async def send_request_chunk_sent(self, method: str, url: URL, chunk: bytes) -> None:
        await self._send(
            self._config.on_request_chunk_sent, TraceRequestChunkSentParams(method, url, chunk)
        )

    async def send_response_chunk_received(self, method: str, url: URL, chunk: bytes) -> None:
        await self._send(
            self._config.on_response_chunk_received,
            TraceResponseChunkReceivedParams(method, url, chunk),
        )

    async def send_request_end(
        self, method: str, url: URL, headers: Any, response: ClientResponse
    ) -> None:
        await self._send(
            self._config.on_request_end, TraceRequestEndParams(method, url, headers, response)
        )

    async def send_request_exception(
        self, method: str, url: URL, headers: Any, exception: BaseException
    ) -> None:
        await self._send(
            self._config.on_request_exception,
            TraceRequestExceptionParams(method, url, headers, exception),
        )

    async def send_request_redirect(
        self, method: str, url: URL, headers: Any, response: ClientResponse
    ) -> None:
        await self._send(
            self._config.on_request_redirect,
            TraceRequestRedirectParams(method, url, headers, response),
        )

    async def send_request_headers(self, method: str, url: URL, headers: Any) -> None:
        await self._send(
            self._config.on_request_headers_sent,
            TraceRequestHeadersSentParams(method, url, headers),
        )

    async def send_connection_queued_start(self) -> None:
        await self._send(
            self._config.on_connection_queued_start, TraceConnectionQueuedStartParams()
        )

    async def send_connection_queued_end(self) -> None:
        await self._send(self._config.on_connection_queued_end, TraceConnectionQueuedEndParams())

    async def send_connection_create_start(self) -> None:
        await self._send(
            self._config.on_connection_create_start, TraceConnectionCreateStartParams()
        )

    async def send_connection_create_end(self) -> None:
        await self._send(self._config.on_connection_create_end, TraceConnectionCreateEndParams())

    async def send_connection_reuseconn(self) -> None:
        await self._send(self._config.on_connection_reuseconn, TraceConnectionReuseconnParams())

    async def send_dns_resolvehost_start(self, host: str) -> None:
        await self._send(
            self._config.on_dns_resolvehost_start, TraceDnsResolveHostStartParams(host)
        )

    async def send_dns_resolvehost_end(self, host: str) -> None:
        await self._send(self._config.on_dns_resolvehost_end, TraceDnsResolveHostEndParams(host))

    async def send_dns_cache_hit(self, host: str) -> None:
        await self._send(self._config.on_dns_cache_hit, TraceDnsCacheHitParams(host))

    async def send_dns_cache_miss(self, host: str) -> None:
        await self._send(self._config.on_dns_cache_miss, TraceDnsCacheMissParams(host))


@dataclasses.dataclass(frozen=True, slots=True)
class ResponseTimings:
    """Where a request's time went, in seconds from its start (None: not applicable).

    Attributes:
        start: ``time.monotonic()`` when the request started.
        connection: until a connection was ready (pool wait, DNS, connect, TLS).
        pool_wait: waiting for a free slot in the pool.
        dns: name resolution of a new connection.
        connect: TCP connect of a new connection.
        tls: TLS handshake of a new connection.
        request_sent: until the request head (and a small body) was written.
        first_byte: until the first response byte arrived.
        headers: until the response head was parsed.
        body_done: until the whole body had arrived (None while it is arriving).
        reused: True when a pooled connection carried the request.
    """

    start: float
    connection: float | None
    pool_wait: float | None
    dns: float | None
    connect: float | None
    tls: float | None
    request_sent: float | None
    first_byte: float | None
    headers: float | None
    body_done: float | None
    reused: bool
