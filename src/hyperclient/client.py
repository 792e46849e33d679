"""``ClientSession`` and the module-level ``request()``/``get()``/...: the request flow.

``ClientSession._request`` drives named steps: build the request, acquire a connection,
send, read the head, then apply the policies (cookies, redirects, ``raise_for_status``).
Time budgets come from ``ClientTimeout``: ``total`` is one timer per request that runs
until the body has been read; ``connect``/``pool``/``sock_connect`` belong to the
connector, ``sock_read`` to the protocol.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json as _json
import netrc
import os
import sys
import warnings
import weakref
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from http.cookies import SimpleCookie
from ssl import SSLContext
from time import monotonic as _monotonic
from types import TracebackType
from typing import Any, Final, TypedDict, TypeVar, Unpack, cast

from multidict import CIMultiDict, getversion
from yarl import URL

from .auth import BasicAuth, DigestAuth, origin_of
from .awaitables import CoroutineHandle
from .client_middleware_digest_auth import DigestAuthMiddleware
from .client_middlewares import ClientMiddlewareType, build_client_middlewares
from .connector import (
    BaseConnector,
    ProxyConnector,
    TCPConnector,
    _Closing,
    close_orphan_transport,
    is_count,
)
from .cookies import (
    MAX_COOKIES_TOTAL,
    AbstractCookieJar,
    CookieJar,
    LooseCookies,
    set_cookie_text,
)
from .errors import (
    ClientError,
    ClientOSError,
    ClientResponseError,
    InvalidUrlRedirectClientError,
    NonHttpUrlRedirectClientError,
    RedirectBodyError,
    RemoteProtocolError,
    ServerDisconnectedError,
    ServerTimeoutError,
    TooManyRedirects,
    type_name,
)
from .progress import UploadTracker
from .proxy import check_proxy_auth, parse_proxy_url, split_credentials
from .proxy import proxy_for as proxy_from_env
from .request import ClientRequest, header_names, make_url
from .response import ClientResponse
from .timers import CoarseTimers, Timeout, coarse_timers
from .tls import SSLSetting, merge_ssl_options
from .tracing import Trace, TraceConfig
from .typedefs import LooseHeaders, Query, StrOrURL
from .values import DEFAULT_TIMEOUT, ClientTimeout, HttpVersion, HttpVersion11
from .websocket import (
    DEFAULT_WS_CLIENT_TIMEOUT,
    ClientWebSocketResponse,
    ClientWSTimeout,
    _WSRequestContextManager,
)
from .websocket import ws_connect as _ws_connect

__all__ = (
    "ClientSession",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "request",
)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SENTINEL: Any = object()
_R = TypeVar("_R", bound=ClientResponse)


_BASE_CONNECT = BaseConnector.connect
_NO_LIMIT = ClientTimeout()
# RFC 9110 §9.2.2: the methods a client may repeat without changing the outcome.
_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

#: Prepared plain requests kept per session (see ``ClientSession._from_template``).
_TEMPLATES_PER_SESSION = 256


def _raise_instead(error: BaseException, exc: BaseException) -> None:
    """Raise *error* from *exc*, unless it is *exc* itself (the caller then re-raises it).
    Neither stays in this frame, which the traceback holds (a cycle)."""
    if error is exc:
        return
    try:
        raise error from exc
    finally:
        del error, exc


async def _apply_policy(resp: ClientResponse, policy: Any) -> None:
    """``raise_for_status``: True (or any true value that cannot be called, as aiohttp
    takes it) raises for a 4xx/5xx status; a callable is awaited with the response."""
    if not callable(policy):
        resp.raise_for_status()
        return
    try:
        await policy(resp)
    except BaseException:
        resp.release()  # the caller never gets it: free its connection
        raise


class _Deadline(Timeout):
    """The ``total`` budget of one request: one timer for the request and its body.

    While the request is in flight it cancels the task (turned into a timeout by
    ``_request``); once the response is returned it fails the body stream instead.
    """

    __slots__ = ("_cancelling", "_response", "_task", "fired", "timeout")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        wheel: CoarseTimers,
        ceil_threshold: float,
    ) -> None:
        self.timeout = timeout
        self.fired = False
        self._task = task = asyncio.current_task(loop)
        # Cancellations already pending (cleanup code): those are not this budget's.
        self._cancelling = task.cancelling() if task is not None else 0
        self._response: weakref.ref[ClientResponse] | None = None
        self._arm(loop, timeout, ceil_threshold, wheel)

    def expire(self) -> None:
        """The budget ran out."""
        self._disarm()
        self.fired = True
        if self._response is None:
            if self._task is not None:
                self._task.cancel()
            return
        response = self._response()
        if response is None:  # dropped by its owner, and closed by its finaliser
            return
        response.content.set_exception(
            ServerTimeoutError(f"total timeout of {self.timeout}s expired while reading the body")
        )
        response.close()

    def timeout_error(self, exc: asyncio.CancelledError) -> BaseException:
        """What a cancellation of the request is: a timeout when this budget ran out (the
        task's cancel request is then withdrawn), else *exc* itself.

        As ``asyncio.timeout``: when someone else cancelled the task too (a supervisor,
        a TaskGroup, an outer timeout), that cancellation stands.
        """
        self.cancel()
        if not self.fired:
            return exc
        task = self._task
        self.fired = False  # accounted for: asking again (a traced request) gets *exc*
        if task is not None and task.uncancel() > self._cancelling:
            return exc
        error = ServerTimeoutError(
            f"total timeout of {self.timeout}s expired before the response head"
        )
        error.__cause__ = exc
        return error

    def hand_to(self, response: ClientResponse) -> None:
        """From now on the budget covers reading *response*'s body."""
        if response.content.is_eof() or not self.armed:
            self.cancel()
            return
        # Weakly, so that a response its owner drops can still be collected; and no
        # longer the task, which may be long done when the budget runs out.
        self._response = weakref.ref(response)
        self._task = None
        response._timer = self


class _SessionCookies(SimpleCookie):
    """``session.cookies``: a snapshot of the jar whose assignments go into the jar."""

    def __init__(self, jar: AbstractCookieJar) -> None:
        super().__init__()
        for morsel in jar:
            dict.__setitem__(self, morsel.key, morsel)
        self._jar = jar

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._jar.update_cookies({key: self[key]})


# The keyword arguments of the request methods, typed for users' type checkers (PEP 692):
# a misspelt name or a wrong type is an error there, as with aiohttp 3. A method's own
# keyword parameter may not also be a key of its ``**kwargs`` (``get()`` names
# ``allow_redirects``, ``post()`` names ``data``), hence the pieces put together below.


class _CommonKwargs(TypedDict, total=False):
    """What every request takes besides its body, redirect policy, cookies and version
    (see the table of request keyword arguments in docs/api.md)."""

    params: Query
    json: Any
    headers: LooseHeaders | None
    skip_auto_headers: Iterable[str] | None
    auth: BasicAuth | DigestAuth | None
    max_redirects: int | None
    compress: str | bool | None
    chunked: bool | int | None
    expect100: bool
    raise_for_status: bool | Callable[[ClientResponse], Awaitable[None]] | None
    read_until_eof: bool
    timeout: ClientTimeout | float | None
    ssl: SSLSetting | None
    verify_ssl: bool | None
    fingerprint: bytes | None
    ssl_context: SSLContext | None
    server_hostname: str | None
    proxy: StrOrURL | None
    proxy_auth: BasicAuth | None
    proxy_headers: LooseHeaders | None
    encoding: str
    auto_decompress: bool | None
    files: Any
    trace_request_ctx: Any
    read_bufsize: int | None
    middlewares: Sequence[ClientMiddlewareType] | None
    max_line_size: int | None
    max_field_size: int | None
    max_headers: int | None
    upload_tracker: UploadTracker | None


class _DataKwargs(TypedDict, total=False):
    data: Any


class _RedirectKwargs(TypedDict, total=False):
    allow_redirects: bool


class _SessionKwargs(TypedDict, total=False):
    """Per request on a session; the module-level functions give them to their session."""

    cookies: LooseCookies | None
    version: HttpVersion | None


class _RequestKwargs(_CommonKwargs, _DataKwargs, _RedirectKwargs, _SessionKwargs, total=False):
    """``ClientSession.request()`` and ``delete()``."""


class _VerbKwargs(_CommonKwargs, _DataKwargs, _SessionKwargs, total=False):
    """``get()``, ``options()``, ``head()``: ``allow_redirects`` is their own parameter."""


class _BodyVerbKwargs(_CommonKwargs, _RedirectKwargs, _SessionKwargs, total=False):
    """``post()``, ``put()``, ``patch()``: ``data`` is their own parameter."""


class _OneShotKwargs(TypedDict, total=False):
    """The module-level functions' own session (see :func:`request`)."""

    connector: BaseConnector | None
    loop: asyncio.AbstractEventLoop | None
    request_class: type[ClientRequest] | None
    response_class: type[ClientResponse] | None
    cookies: LooseCookies | None
    version: HttpVersion


class _OneShotRequestKwargs(_CommonKwargs, _DataKwargs, _RedirectKwargs, total=False):
    """Module-level :func:`request`, whose session parameters are its own."""


class _OneShotVerbKwargs(_OneShotRequestKwargs, _OneShotKwargs, total=False):
    """Module-level ``get()``, ``options()``, ``head()``, ``delete()``."""


class _OneShotBodyVerbKwargs(_CommonKwargs, _RedirectKwargs, _OneShotKwargs, total=False):
    """Module-level ``post()``, ``put()``, ``patch()``."""


class _RequestContextManager(CoroutineHandle[_R]):
    """What ``session.get()`` returns: awaitable, and an async context manager.

    A ``Coroutine`` too, as aiohttp's is, so that ``asyncio.create_task(session.get(url))``
    type-checks (at run time ``send``/``throw``/``close`` made it one already).
    """

    __slots__ = ("_resp",)

    def __init__(self, coro: Coroutine[Any, Any, _R]) -> None:
        self._coro = coro
        self._resp: _R | None = None

    async def __aenter__(self) -> _R:
        resp = self._resp = await self._coro
        if type(resp).__aenter__ is ClientResponse.__aenter__:
            resp._in_context = True  # what it does, without a coroutine per request
            return resp
        return await resp.__aenter__()  # type: ignore[return-value]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        resp = self._resp
        assert resp is not None
        if type(resp).__aexit__ is ClientResponse.__aexit__:
            resp._in_context = False
            resp.release()
        else:
            await resp.__aexit__(exc_type, exc, tb)


class ClientSession:
    """A set of requests sharing a connection pool, cookies, headers and defaults.

    Args:
        connector: where connections come from; a new ``TCPConnector`` by default.
        loop: must be None or the running loop (accepted for the reference's API).
        cookies: initial cookies sent to every host.
        headers: default headers for every request.
        auth: default ``BasicAuth`` for every request.
        request_class: the ``ClientRequest`` class to use.
        response_class: the ``ClientResponse`` class to use.
        ws_response_class: the ``ClientWebSocketResponse`` class to use.
        base_url: a URL that relative request URLs are joined to.
        timeout: a ``ClientTimeout``; aiohttp's default (total 300 s) when omitted.
        raise_for_status: True, or an async callable run on every response.
        json_serialize: how ``json=`` bodies are serialised.
        json_serialize_bytes: a serialiser returning UTF-8 bytes (``orjson.dumps``...),
            used instead of *json_serialize* when given.
        skip_auto_headers: auto headers (User-Agent, Accept...) not to send.
        connector_owner: close the connector with the session (default True).
        cookie_jar: an ``AbstractCookieJar``; a new ``CookieJar`` by default.
        auto_decompress: decode gzip/deflate/br/zstd bodies (default True).
        version: the HTTP version of requests.
        read_bufsize: body buffer size, in bytes.
        max_line_size: longest status line accepted, in bytes (the connector's, 8190
            by default, when None); a request's ``max_line_size=`` overrides it.
        max_field_size: longest header line accepted, in bytes (likewise).
        max_headers: most header fields accepted in a response head (likewise; 128 by
            default). More raise ``ClientResponseError`` (status 400).
        ssl_shutdown_timeout: deprecated, as in aiohttp 3.12+ (it warns): passed on to
            the ``TCPConnector`` made when *connector* is not given.
        fallback_charset_resolver: ``(response, body) -> encoding`` for ``text()`` and
            ``get_encoding()`` when the response declares no usable charset (aiohttp's
            hook for a charset detector); without it: UTF-8, else Latin-1 for ``text()``.
        trust_env: read proxies (``http_proxy``, ``https_proxy``, ``ws_proxy``,
            ``wss_proxy``, ``all_proxy``, ``no_proxy``), ``~/.netrc`` and ``SSLKEYLOGFILE``
            from the environment.
        proxy: the proxy for every request (``http://``, ``https://``, ``socks5://``,
            ``socks5h://``, ``socks4://``, ``socks4a://``) unless a request names its own.
        proxy_auth: ``BasicAuth`` for that proxy (credentials in its URL also work).
        middlewares: client middlewares (``async def mw(request, handler)``) run around
            every request and redirect hop, the first outermost; a request's own
            ``middlewares=`` replaces them (``()`` runs none). See ``client_middlewares``.
    """

    _closed = True
    _connector: BaseConnector | None = None

    def __init__(
        self,
        base_url: str | URL | None = None,
        *,
        connector: BaseConnector | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        cookies: LooseCookies | None = None,
        headers: LooseHeaders | None = None,
        skip_auto_headers: Iterable[str] | None = None,
        auth: BasicAuth | None = None,
        json_serialize: Callable[[Any], str] = _json.dumps,
        json_serialize_bytes: Callable[[Any], bytes] | None = None,
        request_class: type[ClientRequest] = ClientRequest,
        response_class: type[ClientResponse] = ClientResponse,
        ws_response_class: type[ClientWebSocketResponse] = ClientWebSocketResponse,
        version: HttpVersion = HttpVersion11,
        cookie_jar: AbstractCookieJar | None = None,
        connector_owner: bool = True,
        raise_for_status: bool | Callable[[ClientResponse], Awaitable[None]] = False,
        timeout: ClientTimeout | None = _SENTINEL,
        read_timeout: float | None = _SENTINEL,
        conn_timeout: float | None = None,
        auto_decompress: bool = True,
        trust_env: bool = False,
        requote_redirect_url: bool = True,
        trace_configs: list[TraceConfig] | None = None,
        read_bufsize: int = 2**16,
        max_line_size: int | None = None,
        max_field_size: int | None = None,
        max_headers: int | None = None,
        proxy: str | URL | None = None,
        proxy_auth: BasicAuth | None = None,
        fallback_charset_resolver: Callable[[ClientResponse, bytes], str] | None = None,
        middlewares: Sequence[ClientMiddlewareType] = (),
        ssl_shutdown_timeout: float | None = _SENTINEL,
    ) -> None:
        given_loop = loop  # binds the connector made here (else: the loop it first runs on)
        if loop is not None:
            from .connector import _check_loop

            _check_loop(loop)
        else:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None  # made outside a loop: allowed here (aiohttp refuses)
        self._loop = loop
        if base_url is None or isinstance(base_url, URL):
            self._base_url: URL | None = base_url
        else:
            self._base_url = URL(base_url)
        if self._base_url is not None and not self._base_url.absolute:
            raise ValueError(f"base_url must be an absolute URL, got {str(base_url)!r}")
        if self._base_url is not None and not self._base_url.path.endswith("/"):
            # RFC 3986 §5.2.3 would drop the last segment: "/api/v1" + "users" is
            # "/api/users". aiohttp refuses such a base too.
            raise ValueError(f"base_url must have a trailing '/', got {str(base_url)!r}")
        if ssl_shutdown_timeout is not _SENTINEL:
            warnings.warn(
                "The ssl_shutdown_timeout parameter is deprecated and will be removed in "
                "aiohttp 4.0",
                DeprecationWarning,
                stacklevel=2,
            )
        if connector is None and ssl_shutdown_timeout is _SENTINEL:
            connector = TCPConnector(loop=given_loop)
        elif connector is None:
            # As aiohttp: the connector made here gets it (and warns again).
            connector = TCPConnector(ssl_shutdown_timeout=ssl_shutdown_timeout, loop=given_loop)
        elif connector.closed:
            raise RuntimeError("the connector is closed")
        self._connector = connector
        self._connector_owner = connector_owner
        self._cookie_jar = cookie_jar if cookie_jar is not None else CookieJar()
        if cookies:
            self._cookie_jar.update_cookies(cookies)
        self._default_headers: CIMultiDict[str] = CIMultiDict(headers or ())
        self._skip_auto_headers = header_names(skip_auto_headers)
        if auth is not None and not isinstance(auth, BasicAuth):
            raise TypeError(f"auth must be a BasicAuth instance, got {type_name(auth)}")
        check_proxy_auth(proxy_auth)
        self._default_auth = auth
        self._json_serialize = json_serialize
        self._json_serialize_bytes = json_serialize_bytes
        self._request_class = request_class
        self._response_class = response_class
        self._ws_response_class = ws_response_class
        self._version = version
        self._raise_for_status = raise_for_status
        self._timeout = self._resolve_timeout(timeout, read_timeout, conn_timeout)
        self._auto_decompress = auto_decompress
        self._trust_env = trust_env
        self._environment = _Environment(os.environ) if trust_env else None
        # proxy="" (an unset variable passed on) is no proxy, as in aiohttp.
        self._default_proxy = parse_proxy_url(proxy) if proxy else None
        self._default_proxy_auth = proxy_auth
        self._requote_redirect_url = requote_redirect_url
        self._trace_configs = list(trace_configs or ())
        for trace_config in self._trace_configs:
            trace_config.freeze()
        self._read_bufsize = read_bufsize
        self._resolve_charset = fallback_charset_resolver
        self._middlewares = tuple(middlewares)
        # None: the connector's limits (8190 bytes, 128 fields by default) apply.
        self._limits = _limits(max_line_size, max_field_size, max_headers, None)
        self._wheel: CoarseTimers | None = None
        self._default_options: _RequestOptions | None = None
        self._websockets: weakref.WeakSet[ClientWebSocketResponse] = weakref.WeakSet()
        self._closed = False

    @staticmethod
    def _resolve_timeout(
        timeout: ClientTimeout | None, read_timeout: float | None, conn_timeout: float | None
    ) -> ClientTimeout:
        if timeout is _SENTINEL or timeout is None:
            result = DEFAULT_TIMEOUT  # aiohttp: None is the default too, not "no limit"
            if read_timeout is not _SENTINEL or conn_timeout is not None:
                warnings.warn(
                    "read_timeout and conn_timeout are deprecated, use timeout=ClientTimeout()",
                    DeprecationWarning,
                    stacklevel=3,
                )
                # aiohttp 3: read_timeout bounds the whole request ("cumulative for
                # all request operations"), so it becomes the total.
                result = ClientTimeout(
                    total=result.total if read_timeout is _SENTINEL else read_timeout,
                    connect=conn_timeout,
                    sock_read=result.sock_read,
                    sock_connect=result.sock_connect,
                )
            return result
        if not isinstance(timeout, ClientTimeout):
            raise ValueError(f"timeout must be a ClientTimeout instance, got {timeout!r}")
        if read_timeout is not _SENTINEL or conn_timeout is not None:
            raise ValueError("read_timeout and conn_timeout cannot be combined with timeout")
        return timeout

    def __del__(self, _warnings: Any = warnings) -> None:
        if not self._closed:
            # aiohttp's words, which tests written for it match.
            _warnings.warn(f"Unclosed client session {self!r}", ResourceWarning, source=self)
            loop = self._running_loop()
            if loop is not None:
                # As aiohttp: reported by the loop too, which shows when warnings do not.
                loop.call_exception_handler(
                    {"client_session": self, "message": "Unclosed client session"}
                )

    # -- attributes ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the session was closed or detached."""
        return self._closed or self._connector is None or self._connector.closed

    @property
    def connector(self) -> BaseConnector | None:
        """The session's connector."""
        return self._connector

    @property
    def cookie_jar(self) -> AbstractCookieJar:
        """The session's cookie jar."""
        return self._cookie_jar

    @property
    def cookies(self) -> SimpleCookie:
        """The session's cookies, as the reference's ``SimpleCookie``.

        Setting an item (``session.cookies["name"] = "value"``) adds it to the jar as a
        cookie sent to every host, as the reference allows ("modify it in place").
        """
        return _SessionCookies(self._cookie_jar)

    @property
    def headers(self) -> CIMultiDict[str]:
        """Default headers sent with every request."""
        return self._default_headers

    @property
    def skip_auto_headers(self) -> frozenset[str]:
        """Auto headers this session does not send."""
        return self._skip_auto_headers

    @property
    def auth(self) -> BasicAuth | None:
        """Default credentials."""
        return self._default_auth

    @property
    def timeout(self) -> ClientTimeout:
        """Default time budgets."""
        return self._timeout

    @property
    def version(self) -> HttpVersion:
        """HTTP version of requests."""
        return self._version

    @property
    def json_serialize(self) -> Callable[[Any], str]:
        """The JSON serialiser for ``json=`` bodies."""
        return self._json_serialize

    @property
    def connector_owner(self) -> bool:
        """Whether closing the session closes the connector."""
        return self._connector_owner

    @property
    def raise_for_status(self) -> bool | Callable[[ClientResponse], Awaitable[None]]:
        """The session's ``raise_for_status`` policy."""
        return self._raise_for_status

    @property
    def auto_decompress(self) -> bool:
        """Whether bodies are decoded."""
        return self._auto_decompress

    @property
    def trust_env(self) -> bool:
        """Whether environment settings (proxies, .netrc) are honoured."""
        return self._trust_env

    @property
    def trace_configs(self) -> list[TraceConfig]:
        """The tracing configurations."""
        return self._trace_configs

    @property
    def requote_redirect_url(self) -> bool:
        """Whether ``Location`` URLs are requoted when following redirects (read-only)."""
        return self._requote_redirect_url

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the session's connections belong to: the loop given as ``loop=``, else
        the one it last ran on, else the one running when it was made.

        None for a session made outside any loop and not used yet. Deprecated, as in aiohttp.
        """
        warnings.warn("client.loop property is deprecated", DeprecationWarning, stacklevel=2)
        return self._running_loop()

    def _running_loop(self) -> asyncio.AbstractEventLoop | None:
        connector = self._connector
        bound = None if connector is None else connector._bound
        return bound if bound is not None else self._loop

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> _Closing:
        """Close the session (and its connector if owned); works plain or awaited."""
        closing = _Closing([])
        if not self._closed:
            self._closed = True
            # Requests still running keep their deadlines (their wheel runs on); a
            # connector we do not own may well carry them on. An idle wheel's timer goes.
            wheel, self._wheel = self._wheel, None
            if wheel is not None:
                wheel.disarm_if_idle()
            loop = self._running_loop()
            gone = loop is not None and loop.is_closed()  # kept past asyncio.run()
            # WebSockets left their connector's pool at the upgrade: close them here.
            for ws in list(self._websockets):
                try:
                    ws._shutdown(1001)  # RFC 6455 §7.4.1: going away
                except RuntimeError:
                    if not gone:
                        raise
                    # The close frame went out if it could; the closed loop cannot
                    # finish the close: its socket is closed here.
                    close_orphan_transport(ws._conn.transport)
            if self._connector is not None and self._connector_owner:
                closing = self._connector.close()
            self._connector = None
        return closing

    def detach(self) -> None:
        """Forget the connector without closing it; the session counts as closed."""
        self._closed = True
        self._connector = None

    async def __aenter__(self) -> ClientSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __enter__(self) -> ClientSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- verbs ------------------------------------------------------------------------------------

    def request(
        self, method: str, url: StrOrURL, **kwargs: Unpack[_RequestKwargs]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform an HTTP request; await it or use ``async with``.

        See docs/api.md (the API reference) for every keyword argument.
        """
        return _RequestContextManager(self._request(method, url, **kwargs))

    def _verb(
        self, method: str, url: StrOrURL, allow_redirects: bool, kwargs: _VerbKwargs
    ) -> _RequestContextManager[ClientResponse]:
        if not kwargs and not self._trace_configs:
            # The plain path: nothing to normalise, the session's defaults prepared once.
            return _RequestContextManager(
                self._run(method, url, None, None, None, None, None, allow_redirects, 10, None)
            )
        return _RequestContextManager(
            self._request(method, url, allow_redirects=allow_redirects, **kwargs)
        )

    def get(
        self, url: StrOrURL, *, allow_redirects: bool = True, **kwargs: Unpack[_VerbKwargs]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform a GET request."""
        return self._verb("GET", url, allow_redirects, kwargs)

    def options(
        self, url: StrOrURL, *, allow_redirects: bool = True, **kwargs: Unpack[_VerbKwargs]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform an OPTIONS request."""
        return self._verb("OPTIONS", url, allow_redirects, kwargs)

    def head(
        self, url: StrOrURL, *, allow_redirects: bool = False, **kwargs: Unpack[_VerbKwargs]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform a HEAD request (redirects not followed by default)."""
        return self._verb("HEAD", url, allow_redirects, kwargs)

    def post(
        self, url: StrOrURL, *, data: Any = None, **kwargs: Unpack[_BodyVerbKwargs]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform a POST request."""
        return _RequestContextManager(self._request("POST", url, data=data, **kwargs))

    def put(
        self, url: StrOrURL, *, data: Any = None, **kwargs: Unpack[_BodyVerbKwargs]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform a PUT request."""
        return _RequestContextManager(self._request("PUT", url, data=data, **kwargs))

    def patch(
        self, url: StrOrURL, *, data: Any = None, **kwargs: Unpack[_BodyVerbKwargs]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform a PATCH request."""
        return _RequestContextManager(self._request("PATCH", url, data=data, **kwargs))

    def delete(
        self, url: StrOrURL, **kwargs: Unpack[_RequestKwargs]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform a DELETE request."""
        return _RequestContextManager(self._request("DELETE", url, **kwargs))

    def ws_connect(
        self,
        url: str | URL,
        *,
        method: str = "GET",
        protocols: Iterable[str] = (),
        timeout: ClientWSTimeout | float | None = DEFAULT_WS_CLIENT_TIMEOUT,
        receive_timeout: float | None = None,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        auth: BasicAuth | None = None,
        origin: str | None = None,
        params: Query = None,
        headers: LooseHeaders | None = None,
        proxy: StrOrURL | None = None,
        proxy_auth: BasicAuth | None = None,
        ssl: SSLSetting | None = True,
        verify_ssl: bool | None = None,
        fingerprint: bytes | None = None,
        ssl_context: SSLContext | None = None,
        server_hostname: str | None = None,
        proxy_headers: LooseHeaders | None = None,
        compress: int = 0,
        max_msg_size: int = 4 * 1024 * 1024,
        decode_text: bool = True,
    ) -> _WSRequestContextManager:
        """Open a WebSocket (RFC 6455); await it or use ``async with``.

        Args:
            url: a ``ws://`` or ``wss://`` URL (``http``/``https`` work too).
            protocols: subprotocols to offer, in order of preference.
            timeout: seconds to wait for the server's close frame (the reference's
                ``timeout=10.0``, also bounding the handshake), or a ``ClientWSTimeout``.
            receive_timeout: seconds ``receive()`` waits for a message (None: forever).
            autoclose: answer the server's close frame automatically.
            autoping: answer pings automatically and hide PING/PONG messages.
            heartbeat: ping after this many seconds of silence; fail the connection if
                nothing arrives within half of it.
            origin: the ``Origin`` header.
            compress: offer permessage-deflate with this window (9-15), 0 for off.
            max_msg_size: largest message accepted, in bytes (0: no limit).
            decode_text: False hands TEXT messages over as UTF-8 bytes (aiohttp 3.14).

        The remaining arguments are those of :meth:`request`.

        Raises:
            WSServerHandshakeError: the server did not accept the upgrade.
        """
        return _ws_connect(
            self,
            url,
            method=method,
            protocols=protocols,
            timeout=timeout,
            receive_timeout=receive_timeout,
            autoclose=autoclose,
            autoping=autoping,
            heartbeat=heartbeat,
            auth=auth,
            origin=origin,
            params=params,
            headers=headers,
            proxy=proxy,
            proxy_auth=proxy_auth,
            ssl=ssl,
            verify_ssl=verify_ssl,
            fingerprint=fingerprint,
            ssl_context=ssl_context,
            server_hostname=server_hostname,
            proxy_headers=proxy_headers,
            compress=compress,
            max_msg_size=max_msg_size,
            decode_text=decode_text,
        )

    # -- the request flow ---------------------------------------------------------------------

    def _build_url(self, str_or_url: str | URL) -> URL:
        url = make_url(str_or_url)
        if self._base_url is None:
            return url
        if url.absolute:
            return url
        return self._base_url.join(url)

    async def _request(
        self,
        method: str,
        str_or_url: str | URL,
        *,
        params: Any = None,
        data: Any = None,
        json: Any = None,
        cookies: Any = None,
        headers: Any = None,
        skip_auto_headers: Iterable[str] | None = None,
        auth: BasicAuth | DigestAuth | None = None,
        allow_redirects: bool = True,
        max_redirects: int | None = 10,
        compress: str | bool | None = None,
        chunked: bool | int | None = None,
        expect100: bool = False,
        raise_for_status: Any = None,
        read_until_eof: bool = True,
        timeout: ClientTimeout | float | None = _SENTINEL,
        ssl: Any = True,
        verify_ssl: bool | None = None,
        fingerprint: bytes | None = None,
        ssl_context: Any = None,
        server_hostname: str | None = None,
        proxy: Any = None,
        proxy_auth: BasicAuth | None = None,
        proxy_headers: Any = None,
        encoding: str = "utf-8",
        version: HttpVersion | None = None,
        auto_decompress: bool | None = None,
        files: Any = None,
        trace_request_ctx: Any = None,
        read_bufsize: int | None = None,
        middlewares: Sequence[ClientMiddlewareType] | None = None,
        max_line_size: int | None = None,
        max_field_size: int | None = None,
        max_headers: int | None = None,
        upload_tracker: UploadTracker | None = None,
    ) -> ClientResponse:
        if upload_tracker is not None:
            # Claimed before anything can fail: a tracker passed to a second request
            # raises without settling the first request's upload_complete.
            upload_tracker._bind()
        try:
            if self.closed:
                raise RuntimeError("Session is closed")
            if not isinstance(method, str):
                # b"GET".upper() works, and the request line would say b'GET'.
                raise TypeError(f"method must be str, got {type_name(method)}: {method!r}")
            if auth is not None and not isinstance(auth, BasicAuth | DigestAuth):
                # Named by type only: a tuple or string here holds the password.
                raise TypeError(
                    f"auth must be a BasicAuth or DigestAuth instance, got {type_name(auth)}"
                )
            check_proxy_auth(proxy_auth)
            if max_redirects is None:  # as aiohttp reads it: no limit
                max_redirects = sys.maxsize
            elif not is_count(max_redirects):
                raise ValueError(
                    f"max_redirects must be a non-negative number or None, got {max_redirects!r}"
                )
            # As aiohttp: "Post" is POST (the redirect and retry rules compare upper case).
            if not method.isupper():
                method = method.upper()
            if json is not None:  # as in aiohttp: json=None is no JSON body
                if data is not None:
                    raise ValueError("data and json parameters can not be used at the same time")
                if self._json_serialize_bytes is not None:
                    data = self._json_serialize_bytes(json)
                else:
                    data = self._json_serialize(json).encode("utf-8")
                headers = CIMultiDict(headers or ())
                headers.setdefault("Content-Type", "application/json")
            if files is not None:
                data = _merge_files(data, files)
            loop = asyncio.get_running_loop()
            tm = self._request_timeout(timeout)
            env = self._environment
            if env is not None and not env.netrc_loaded:
                await env.load_netrc()
            headers = self._merge_headers(headers)
            url, auth = self._url_and_auth(str_or_url, auth, headers)
            if raise_for_status is None:
                raise_for_status = self._raise_for_status
            options = _RequestOptions(
                params=params,
                skip_auto_headers=self._merge_skip(skip_auto_headers),
                compress=compress,
                chunked=chunked,
                expect100=expect100,
                version=version or self._version,
                encoding=encoding,
                read_until_eof=read_until_eof,
                auto_decompress=(
                    self._auto_decompress if auto_decompress is None else auto_decompress
                ),
                ssl=merge_ssl_options(ssl, verify_ssl, ssl_context, fingerprint),
                server_hostname=server_hostname,
                proxy=parse_proxy_url(proxy) if proxy else None,  # "": none, as aiohttp
                proxy_auth=proxy_auth,
                proxy_headers=proxy_headers,
                loop=loop,
                timeout=tm,
                traces=self._make_traces(trace_request_ctx),
                read_bufsize=read_bufsize or self._read_bufsize,
                limits=_limits(max_line_size, max_field_size, max_headers, self._limits),
                middlewares=self._middlewares if middlewares is None else tuple(middlewares),
                upload_tracker=upload_tracker,
            )
            if isinstance(auth, DigestAuth):
                # Digest's rules (one answer per 401, the known challenge answered up front on
                # same-origin redirect hops) live in the middleware; innermost, so the
                # caller's middlewares see the answered response.
                options.middlewares = (*options.middlewares, DigestAuthMiddleware.answering(auth))
                auth = None
            return await self._run(
                method,
                url,
                data,
                headers,
                cookies,
                auth,
                options,
                allow_redirects,
                max_redirects,
                raise_for_status,
            )
        finally:
            if upload_tracker is not None:
                # Settles upload_complete: the request returned or raised, whatever the
                # stage (a closed session and a refused connection included).
                upload_tracker._finalize()

    async def _run(
        self,
        method: str,
        url: Any,
        data: Any,
        headers: CIMultiDict[str] | None,
        cookies: Any,
        auth: BasicAuth | DigestAuth | None,
        options: _RequestOptions | None,
        allow_redirects: bool,
        max_redirects: int,
        policy: Any,
    ) -> ClientResponse:
        """Run one request under its ``total`` budget, then apply ``raise_for_status``.

        ``options=None`` is the plain path (``session.get(url)`` with no keyword
        arguments): the session's defaults, prepared once, and no argument handling.
        """
        if options is None:
            loop = asyncio.get_running_loop()
            if self.closed:
                raise RuntimeError("Session is closed")
            options = self._plain_options(loop)
            env = self._environment
            if env is not None and not env.netrc_loaded:
                await env.load_netrc()
            headers = self._merge_headers(None)
            url, auth = self._url_and_auth(url, None, headers)
        else:
            # _request just asked for the running loop (on 3.11 each ask is a getpid()).
            loop = options.loop
        if policy is None:
            policy = self._raise_for_status
        started = _monotonic()
        total = options.timeout.total
        deadline = None
        if total:
            wheel = self._wheel
            if wheel is None or not wheel.runs_on(loop):
                wheel = self._wheel = coarse_timers(loop)
            deadline = _Deadline(loop, total, wheel, options.timeout.ceil_threshold)
        try:
            if options.traces:
                resp = await self._traced(
                    method, url, data, headers, cookies, auth, options, allow_redirects,
                    max_redirects, started, policy, deadline,
                )  # fmt: skip
            else:
                # Straight to the flow: one coroutine frame less per request.
                resp = await self._follow(
                    method, url, data, headers, cookies, auth, options, allow_redirects,
                    max_redirects, started,
                )  # fmt: skip
                if policy:
                    await _apply_policy(resp, policy)
        except asyncio.CancelledError as exc:
            if deadline is not None:
                _raise_instead(deadline.timeout_error(exc), exc)
            raise
        except BaseException:
            if deadline is not None:
                deadline.cancel()
            raise
        if deadline is not None:
            deadline.hand_to(resp)
        return resp

    def _plain_options(self, loop: asyncio.AbstractEventLoop) -> _RequestOptions:
        """The session's default options, built once per loop (no per-request fields)."""
        options = self._default_options
        if options is None or options.loop is not loop:
            options = self._default_options = _RequestOptions(
                params=None,
                skip_auto_headers=self._skip_auto_headers,
                compress=None,
                chunked=None,
                expect100=False,
                version=self._version,
                encoding="utf-8",
                read_until_eof=True,
                auto_decompress=self._auto_decompress,
                ssl=True,
                server_hostname=None,
                proxy=None,
                proxy_auth=None,
                proxy_headers=None,
                loop=loop,
                timeout=self._timeout,
                traces=None,
                read_bufsize=self._read_bufsize,
                limits=self._limits,
                templates={} if self._templates_allowed() else None,
                middlewares=self._middlewares,
            )
        return options

    def _templates_allowed(self) -> bool:
        """Whether plain requests may be prepared once (see ``_from_template``): not when
        the proxy or the request class can make two of them differ, nor when middlewares
        may change a request (a copy shares its headers). Fixed per session."""
        return (
            not self._middlewares
            and self._environment is None
            and self._default_proxy is None
            and self._request_class is ClientRequest
            and type(self._connector) is not ProxyConnector
        )

    def _url_and_auth(
        self,
        str_or_url: str | URL,
        auth: BasicAuth | DigestAuth | None,
        headers: CIMultiDict[str] | None,
    ) -> tuple[URL, BasicAuth | DigestAuth | None]:
        """The absolute URL without credentials, and the credentials to use.

        Raises:
            ValueError: two sources of credentials that disagree (as in aiohttp).
        """
        url = self._build_url(str_or_url)
        if url.raw_user is not None or url.raw_password is not None:  # also ``://:pw@``
            # Credentials in the URL win over the session's, never over an explicit auth=.
            if auth is not None:
                raise ValueError("cannot combine auth= with credentials encoded in the URL")
            auth = BasicAuth.from_url(url)
            url = url.with_user(None)
        if auth is None and self._default_auth is not None:
            # The session's credentials are for its base_url's origin only, as in
            # aiohttp: a request to another server must not carry them.
            base = self._base_url
            if base is None or origin_of(base) == origin_of(url):
                auth = self._default_auth
        given = headers is not None and "Authorization" in headers
        if given and auth is not None:
            # Either would silently replace the other (a token dropped for a password).
            raise ValueError(
                "cannot combine an Authorization header with auth= or credentials "
                "encoded in the URL"
            )
        if auth is None and not given and self._environment is not None:
            auth = self._environment.auth_for(url.raw_host or "")
        return url, auth

    def _make_traces(self, trace_request_ctx: Any) -> list[Trace] | None:
        if not self._trace_configs:
            return None
        return [
            Trace(self, config, config.trace_config_ctx(trace_request_ctx=trace_request_ctx))
            for config in self._trace_configs
        ]

    async def _traced(
        self,
        method: str,
        url: URL,
        data: Any,
        headers: CIMultiDict[str] | None,
        cookies: Any,
        auth: BasicAuth | DigestAuth | None,
        options: _RequestOptions,
        allow_redirects: bool,
        max_redirects: int,
        started: float,
        policy: Any,
        deadline: _Deadline | None,
    ) -> ClientResponse:
        """:meth:`_follow` and ``raise_for_status`` between the start signal and the end
        or exception one (a refused status is an exception, as in aiohttp)."""
        traces = options.traces
        assert traces is not None
        # A copy the callbacks may add to (a traceparent, say) that the request is then
        # built from: never the session's defaults or the caller's own multidict.
        shown = CIMultiDict(headers) if headers is not None else CIMultiDict()
        headers = shown
        # As aiohttp shows it: with the params= query.
        shown_url = url.extend_query(options.params) if options.params else url
        for trace in traces:
            await trace.send_request_start(method, shown_url, shown)
        try:
            resp = await self._follow(
                method, url, data, headers, cookies, auth, options, allow_redirects,
                max_redirects, started,
            )  # fmt: skip
            if policy:
                await _apply_policy(resp, policy)
        except BaseException as exc:
            error = exc
            if isinstance(exc, asyncio.CancelledError) and deadline is not None:
                error = deadline.timeout_error(exc)  # reported as the caller will see it
            for trace in traces:
                await trace.send_request_exception(method, shown_url, shown, error)
            try:
                _raise_instead(error, exc)
            finally:
                del error  # the traceback holds this frame: not the error too (a cycle)
            raise
        for trace in traces:
            # As aiohttp: the request that got the final response (after redirects).
            await trace.send_request_end(resp.method, resp.url, shown, resp)
        return resp

    def _request_timeout(self, timeout: Any) -> ClientTimeout:
        if timeout is _SENTINEL:
            return self._timeout
        if isinstance(timeout, ClientTimeout):
            return timeout
        if timeout is None:  # aiohttp: ClientTimeout(total=None), no limit for this request
            return _NO_LIMIT
        if isinstance(timeout, int | float):  # aiohttp 2 style: a number is the total
            return ClientTimeout(total=timeout)
        raise ValueError(f"timeout must be a ClientTimeout, got {timeout!r}")

    def _merge_skip(self, skip: Iterable[str] | None) -> frozenset[str]:
        if not skip:
            return self._skip_auto_headers
        return self._skip_auto_headers | header_names(skip)

    def _merge_headers(self, headers: Any) -> CIMultiDict[str] | None:
        if not headers:
            return self._default_headers if self._default_headers else None
        if not self._default_headers:
            return headers if isinstance(headers, CIMultiDict) else CIMultiDict(headers)
        result = CIMultiDict(self._default_headers)
        added: set[str] = set()
        items = headers.items() if hasattr(headers, "items") else headers
        for name, value in items:
            lower = name.lower()
            if lower not in added:
                result.popall(name, None)
                added.add(lower)
            result.add(name, value)
        return result

    def _cookies_for(self, url: URL, extra: Any) -> Any:
        jar = self._cookie_jar
        connector = self._connector
        if connector is not None and connector.share_cookies and connector.cookies:
            # The reference's deprecated share_cookies: the connector's cookies go too.
            shared = dict(connector.cookies.items())
            extra = {**shared, **dict(extra.items() if hasattr(extra, "items") else extra or ())}
        if not extra:
            return jar.filter_cookies(url) if jar else extra
        cookies = jar.filter_cookies(url) if jar else SimpleCookie()
        # The request's own cookies obey Domain, Path and Secure too, with the session
        # jar's options (as aiohttp's temporary jar does), whether or not it holds any.
        tmp = CookieJar(
            unsafe=jar.unsafe,
            quote_cookie=jar.quote_cookie,
            treat_as_secure_origin=list(jar.treat_as_secure_origin),
        )
        tmp.update_cookies(extra)
        for name, morsel in tmp.filter_cookies(url).items():
            cookies[name] = morsel
        return cookies

    async def _follow(
        self,
        method: str,
        url: URL,
        data: Any,
        headers: CIMultiDict[str] | None,
        cookies: Any,
        auth: BasicAuth | DigestAuth | None,
        options: _RequestOptions,
        allow_redirects: bool,
        max_redirects: int,
        started: float,
    ) -> ClientResponse:
        history: list[ClientResponse] = []
        req: ClientRequest | None = None
        while True:
            req = self._build_request(method, url, data, headers, cookies, auth, options, req)
            if options.middlewares:
                try:
                    resp = await self._through_middlewares(req, options, started)
                except OSError as exc:
                    # A middleware's own I/O (a token file, a socket of its own): callers
                    # catch ClientError, as aiohttp's wrapping lets them.
                    if isinstance(exc, ClientError) or (
                        exc.errno is None and isinstance(exc, TimeoutError)
                    ):
                        raise
                    args = (
                        exc.args
                        if exc.filename is None
                        else (exc.errno, exc.strerror, exc.filename)
                    )
                    raise ClientOSError(*args) from exc
            else:
                resp = await self._send(req, options, started)
            head = resp._head
            if head is not None and head.set_cookie:
                self._store_cookies(resp)
            if not allow_redirects or resp.status not in _REDIRECTS:
                break
            if head is None or head.location is None or not head.location.strip():
                break  # an empty Location names no other resource (as curl, aiohttp)
            location = _location_text(head.location)
            history.append(resp)
            resp.release()
            if len(history) > max_redirects:
                raise TooManyRedirects(
                    resp.request_info,
                    tuple(history),
                    status=resp.status,
                    message=f"exceeded {max_redirects} redirects",
                    headers=resp.headers,
                )
            if options.traces:
                for trace in options.traces:
                    await trace.send_request_redirect(method, req.url, req.headers, resp)
            new_url = self._redirect_target(url, location)
            method, data, headers = self._redirect_request(resp.status, method, data, headers, req)
            if origin_of(new_url) != origin_of(url):
                if req.proxy is not None and headers is not None and _PROXY_AUTH in headers:
                    # That one was the proxy's (ClientRequest moved it among the proxy's
                    # fields): it stays there for the next hop, not among the origin's.
                    options = dataclasses.replace(options, proxy_headers=req.proxy_headers)
                # RFC 9110 §15.4: credentials are for the origin they were given for; so is
                # a Host set by hand (curl drops it too), which would name the old server.
                auth = None
                cookies = None
                headers = _without(headers, _ORIGIN_BOUND_HEADERS)
            url = new_url
            options = options.for_redirect()
        resp._history = tuple(history)
        return resp

    def _proxy_for(
        self, url: URL, proxy: URL | None, proxy_auth: BasicAuth | None
    ) -> tuple[URL | None, BasicAuth | None]:
        """The proxy for *url* and its credentials: the request's, else the session's, else
        a ``ProxyConnector``'s, else (``trust_env``) the environment's unless ``NO_PROXY``."""
        if proxy is None:
            proxy = self._default_proxy
            proxy_auth = proxy_auth or self._default_proxy_auth
        connector = self._connector
        if proxy is None and isinstance(connector, ProxyConnector):
            proxy, proxy_auth = connector.proxy_url, proxy_auth or connector.proxy_auth
        if proxy is None and self._environment is not None:
            proxy = self._environment.proxy_for(url, os.environ)
            if proxy is not None and proxy_auth is None and proxy.raw_user is None:
                # As aiohttp: the proxy's own .netrc entry, when its URL carries none.
                proxy_auth = self._environment.auth_for(proxy.raw_host or "")
        if proxy is None:
            return None, None
        return split_credentials(proxy, proxy_auth)

    def _build_request(
        self,
        method: str,
        url: URL,
        data: Any,
        headers: CIMultiDict[str] | None,
        cookies: Any,
        auth: BasicAuth | DigestAuth | None,
        options: _RequestOptions,
        previous: ClientRequest | None,
    ) -> ClientRequest:
        if previous is not None and data is not None and not previous.is_replayable():
            raise RedirectBodyError(
                f"cannot follow the redirect to {url}: the request body is a stream that "
                "cannot be sent again (pass bytes or a seekable file)"
            )
        if (
            options.templates is not None
            and previous is None
            and data is None
            and cookies is None
            and auth is self._default_auth
        ):
            req = self._from_template(method, url, headers, options)
            if req is not None:
                return req
        return self._new_request(method, url, data, headers, cookies, auth, options)

    def _from_template(
        self,
        method: str,
        url: URL,
        headers: CIMultiDict[str] | None,
        options: _RequestOptions,
    ) -> ClientRequest | None:
        """A request with the session's defaults only, copied from one prepared earlier.

        Building a request (URL checks, header merging, the connection key, serialising
        the head) gives the same result every time when nothing but the method and URL
        varies; this does it once per (method, URL) and copies the result. Cookies in the
        jar opt out here; what is fixed per session (proxies, a custom request class) is
        decided once by ``_templates_allowed``. A change to ``session.headers`` is seen
        through the multidict's version.
        """
        connector = self._connector
        if self._cookie_jar or (
            connector is not None and connector.share_cookies and connector.cookies
        ):
            return None
        templates = options.templates
        assert templates is not None
        version = -1 if headers is None else getversion(cast(Any, headers))
        entry = templates.get((method, url))
        if entry is None or entry[0] != version:
            if len(templates) >= _TEMPLATES_PER_SESSION:
                templates.clear()
            auth = self._default_auth
            proto = self._new_request(method, url, None, headers, None, auth, options)
            proto.freeze_head()
            # The session holds its templates: they must not hold it (a cycle, and an
            # unclosed session would wait for the collector to be reported).
            proto.session = None
            entry = templates[(method, url)] = (version, proto)
        req = entry[1].copy()
        req.session = self
        return req

    def _new_request(
        self,
        method: str,
        url: URL,
        data: Any,
        headers: CIMultiDict[str] | None,
        cookies: Any,
        auth: BasicAuth | DigestAuth | None,
        options: _RequestOptions,
    ) -> ClientRequest:
        proxy, proxy_auth = self._proxy_for(url, options.proxy, options.proxy_auth)
        return self._request_class(
            method,
            url,
            params=options.params,
            headers=headers,
            skip_auto_headers=options.skip_auto_headers,
            data=data,
            cookies=self._cookies_for(url, cookies),
            auth=auth if isinstance(auth, BasicAuth) else None,
            version=options.version,
            compress=options.compress,
            chunked=options.chunked,
            expect100=options.expect100,
            loop=options.loop,
            response_class=self._response_class,
            proxy=proxy,
            proxy_auth=proxy_auth,
            proxy_headers=options.proxy_headers,
            ssl=options.ssl,
            server_hostname=options.server_hostname,
            encoding=options.encoding,
            read_until_eof=options.read_until_eof,
            auto_decompress=options.auto_decompress,
            session=self,
            timeout=options.timeout,
            traces=options.traces,
            limits=options.limits,
            force_close=self._connector is not None and self._connector.force_close,
            read_bufsize=options.read_bufsize,
        )

    def _through_middlewares(
        self, req: ClientRequest, options: _RequestOptions, started: float
    ) -> Awaitable[ClientResponse]:
        """Send *req* through the request's middlewares, which end in :meth:`_send`."""

        def send(request: ClientRequest) -> Awaitable[ClientResponse]:
            # A middleware may have changed the URL, ssl, proxy or headers since the key
            # was made. A plain function: the chain awaits _send's coroutine itself (no
            # extra frame).
            request.reread_hop_headers()
            request._connection_key = None
            return self._send(request, options, started)

        return build_client_middlewares(send, options.middlewares)(req)

    async def _send(
        self, req: ClientRequest, options: _RequestOptions, started: float
    ) -> ClientResponse:
        """Acquire a connection and send; retry once if a reused connection was stale.

        The server may close an idle keep-alive connection just as we reuse it (RFC 9112
        §9.3.1 allows retrying then): when nothing of the response arrived, the method is
        idempotent and the body can be sent again, the request goes once more on a fresh
        connection. A POST is never re-sent: the server may have acted on it before
        closing, and RFC 9112 §9.3.1 forbids retrying it automatically.
        """
        connector = self._connector
        if connector is None:
            raise RuntimeError("Session is closed")
        reuse = True
        tracker = options.upload_tracker
        while True:
            if tracker is not None:
                # Each send is an attempt: a retry here, a redirect hop, a middleware's
                # second call of its handler.
                req._upload_tracker = tracker
                tracker._attempt_started()
            # The pool is looked at once: here without a coroutine when connect() is ours,
            # else by connect() itself.
            tried = reuse and not options.traces and type(connector).connect is _BASE_CONNECT
            conn = connector.take_idle(req.connection_key, options.loop) if tried else None
            if conn is None:
                conn = await connector.connect(
                    req, options.traces, options.timeout, reuse=reuse and not tried
                )
            protocol = conn.protocol
            try:
                resp = await req.send(conn)
            except (ServerDisconnectedError, ClientOSError):
                conn.close()
                if (
                    reuse
                    and conn.reused
                    and protocol is not None
                    and not protocol.got_response_bytes
                    and req.method in _IDEMPOTENT
                    and req.is_replayable()
                ):
                    reuse = False
                    continue
                raise
            except RemoteProtocolError as exc:
                conn.close()
                raise ClientResponseError(
                    req.request_info, (), status=400, message=exc.message
                ) from exc
            except BaseException:
                conn.close()
                raise
            resp._started = started
            return resp

    def _store_cookies(self, resp: ClientResponse) -> None:
        assert resp._head is not None
        values = [
            set_cookie_text(v)
            for n, v in resp._head.raw_headers
            if len(n) == 10 and n.lower() == b"set-cookie"
        ]
        self._cookie_jar.update_cookies_from_headers(values, resp.url)
        connector = self._connector
        if connector is not None and connector.share_cookies:
            shared = connector.cookies
            if shared is None:
                shared = connector.cookies = SimpleCookie()
            for name, morsel in resp.cookies.items():
                if name not in shared and len(shared) >= MAX_COOKIES_TOTAL:
                    # Bounded as the jar is: the oldest name goes (a server could send
                    # new names for ever).
                    del shared[next(iter(shared))]
                shared[name] = morsel

    def _redirect_target(self, url: URL, location: str) -> URL:
        try:
            target = URL(location, encoded=not self._requote_redirect_url)
        except ValueError as exc:
            raise InvalidUrlRedirectClientError(location, f"invalid redirect URL: {exc}") from exc
        scheme = target.scheme
        if scheme and scheme not in ("http", "https"):
            raise NonHttpUrlRedirectClientError(
                location, f"refusing to follow a redirect to scheme {scheme!r}"
            )
        after_scheme = location[len(scheme) + 1 :] if scheme else location
        if not target.raw_authority and after_scheme.startswith("//"):
            # "http:///x", "///x", "//": an empty authority names no host; joined to the
            # current URL it would quietly stay on this server. ("http:/x" without the
            # "//" is a relative reference that keeps the scheme, RFC 3986 §5.4.2.)
            raise InvalidUrlRedirectClientError(location, "redirect URL has no host")
        if not target.absolute or not scheme:
            target = url.join(target)
        if not target.raw_host:
            raise InvalidUrlRedirectClientError(location, "redirect URL has no host")
        if not self._requote_redirect_url and any(c in target.raw_path_qs for c in " \t"):
            # Taken as sent (encoded=True), whitespace would split the request line (RFC
            # 9112 §3); the request would refuse it with an error that is no ClientError.
            raise InvalidUrlRedirectClientError(
                location, f"redirect URL holds whitespace: {location!r}"
            )
        return target

    @staticmethod
    def _redirect_request(
        status: int, method: str, data: Any, headers: CIMultiDict[str] | None, req: ClientRequest
    ) -> tuple[str, Any, CIMultiDict[str] | None]:
        """Method, body and headers of the next hop (RFC 9110 §15.4).

        303 means GET (HEAD stays HEAD); 301/302 after POST become GET, as in every
        browser and client; then the body goes, and the headers that described it.
        307/308 keep the method and send the same body again, as the same content type.
        """
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            return "GET", None, _without(headers, _BODY_HEADERS)
        if data is None:
            return method, None, headers
        content_type = req.headers.get("Content-Type")
        if content_type is not None and (headers is None or "Content-Type" not in headers):
            headers = CIMultiDict(headers or ())
            headers["Content-Type"] = content_type
        return method, req.replay_data(), headers


@dataclasses.dataclass(slots=True)
class _RequestOptions:
    """The per-call settings that stay the same across redirect hops."""

    params: Any
    skip_auto_headers: frozenset[str]
    compress: str | bool | None
    chunked: bool | int | None
    expect100: bool
    version: HttpVersion
    encoding: str
    read_until_eof: bool
    auto_decompress: bool
    ssl: Any
    server_hostname: str | None
    proxy: URL | None
    proxy_auth: BasicAuth | None
    proxy_headers: Any
    loop: asyncio.AbstractEventLoop
    timeout: ClientTimeout
    traces: list[Trace] | None
    read_bufsize: int
    limits: tuple[int | None, int | None, int | None] | None
    #: The session's defaults only (see ``ClientSession._from_template``): prepared
    #: requests by (method, URL), with the default headers' version they were built with.
    templates: dict[tuple[str, URL], tuple[int, ClientRequest]] | None = None
    #: Run around each hop's send (see ``client_middlewares``); empty: none, no cost.
    middlewares: tuple[ClientMiddlewareType, ...] = ()
    #: Told about every attempt of every hop (``upload_tracker=``).
    upload_tracker: UploadTracker | None = None

    def for_redirect(self) -> _RequestOptions:
        """The options for the next hop: the query given as ``params`` is not repeated."""
        return dataclasses.replace(self, params=None, templates=None)


def _limits(
    max_line_size: int | None,
    max_field_size: int | None,
    max_headers: int | None,
    defaults: tuple[int | None, int | None, int | None] | None,
) -> tuple[int | None, int | None, int | None] | None:
    """Parser limits for a response: those given, else *defaults*' (None: the connector's)."""
    if max_line_size is None and max_field_size is None and max_headers is None:
        return defaults
    if defaults is not None:
        max_line_size = defaults[0] if max_line_size is None else max_line_size
        max_field_size = defaults[1] if max_field_size is None else max_field_size
        max_headers = defaults[2] if max_headers is None else max_headers
    return (max_line_size, max_field_size, max_headers)


#: RFC 9110 §15.4: what must not follow a redirect to another origin.
_PROXY_AUTH = "Proxy-Authorization"
_ORIGIN_BOUND_HEADERS = ("Authorization", "Cookie", _PROXY_AUTH, "Host")
#: What described a body that a redirect to GET no longer has.
_BODY_HEADERS = ("Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding")


def _location_text(raw: bytes) -> str:
    """A ``Location`` value as text: UTF-8, or else its bytes over 0x7F percent-encoded, as
    curl sends them (decoded as Latin-1 or with escapes, yarl would change or drop them)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(chr(byte) if byte < 0x80 else f"%{byte:02X}" for byte in raw)


def _without(headers: CIMultiDict[str] | None, names: tuple[str, ...]) -> CIMultiDict[str] | None:
    """*headers* without *names*: a copy when any is present, else the same object."""
    if headers is None or not any(name in headers for name in names):
        return headers
    stripped = CIMultiDict(headers)
    for name in names:
        stripped.popall(name, None)
    return stripped


#: Every variable the proxy choice depends on (see proxy.proxy_for).
_PROXY_VARIABLES = (
    *(
        name
        for base in ("http", "https", "ws", "wss", "all", "no")
        for name in (f"{base}_proxy", f"{base.upper()}_PROXY")
    ),
    "REQUEST_METHOD",
)


class _Environment:
    """What ``trust_env=True`` reads, kept off the path of every request.

    ``~/.netrc`` is read once per session, by the first request, in a thread of the
    loop's default executor: it is blocking file I/O (a home directory on a network file
    system; ``$NETRC`` may even name a pipe). The proxy variables are looked up on each
    request, as aiohttp does, but the parsing of what they say is memoised on their
    values.
    """

    __slots__ = ("_environ", "_netrc", "_proxies", "netrc_loaded")

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._proxies: dict[tuple[object, ...], URL | None] = {}
        self._netrc: netrc.netrc | None = None
        self.netrc_loaded = False

    async def load_netrc(self) -> None:
        """Read ``$NETRC`` or ``~/.netrc`` (see the class docstring); once is enough."""
        loop = asyncio.get_running_loop()
        self._netrc = await loop.run_in_executor(None, _load_netrc, self._environ)
        self.netrc_loaded = True

    def auth_for(self, host: str) -> BasicAuth | None:
        """Credentials for *host* from ``$NETRC`` or ``~/.netrc``."""
        entry = self._netrc.authenticators(host) if self._netrc is not None else None
        if entry is None:
            return None
        login, _, password = entry
        return BasicAuth(login or "", password or "")

    def proxy_for(self, url: URL, environ: Mapping[str, str]) -> URL | None:
        """The environment's proxy for *url* (``*_PROXY`` unless ``NO_PROXY``)."""
        values = tuple(environ.get(name) for name in _PROXY_VARIABLES)
        key = (url.scheme, url.raw_host, url.port, values)
        try:
            return self._proxies[key]
        except KeyError:
            pass
        proxy = proxy_from_env(url, environ)
        if len(self._proxies) >= 256:
            self._proxies.clear()
        self._proxies[key] = proxy
        return proxy


def _load_netrc(environ: Mapping[str, str]) -> netrc.netrc | None:
    path = environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        return netrc.netrc(path)
    except (OSError, netrc.NetrcParseError):
        return None


def _merge_files(data: Any, files: Any) -> Any:
    from .formdata import FormData

    form = FormData()
    if data:
        form.add_fields(*(data.items() if hasattr(data, "items") else data))
    items = files.items() if hasattr(files, "items") else files
    for name, value in items:
        filename = getattr(value, "name", None)
        form.add_field(
            name, value, filename=os.path.basename(filename) if isinstance(filename, str) else name
        )
    return form


# -- the reference's Basic API ----------------------------------------------------------------


class _SessionRequestContextManager(CoroutineHandle[ClientResponse]):
    """A module-level request: owns its session and closes it when done.

    A ``Coroutine`` as the reference's ``request()`` was, so ``asyncio.create_task()``
    and ``gather()`` take it.
    """

    __slots__ = ("_request", "_resp", "_session", "_started")

    def __init__(self, coro: Coroutine[Any, Any, ClientResponse], session: ClientSession) -> None:
        self._request = coro
        self._coro = self._run()
        self._session = session
        self._resp: ClientResponse | None = None
        self._started = False

    async def _run(self) -> ClientResponse:
        self._started = True
        try:
            resp = await self._request
        except BaseException:
            await self._session.close()
            raise
        # The body may still be arriving: close the session once it is released or done.
        session = self._session

        def close_session() -> None:
            session.close()

        resp._on_release = [*(resp._on_release or ()), close_session]
        resp.content.on_eof(close_session)
        return resp

    def _abandon_unstarted(self) -> None:
        """Stopped before it ran (a task cancelled at once, ``wait_for(..., 0)``): no
        ``except`` of :meth:`_run` will close the session, so close it here."""
        if not self._started:
            self._started = True
            self._request.close()  # never run: no "never awaited" warning for it
            self._session.close()

    def throw(self, *args: Any) -> Any:
        """Raise an exception at the request's suspension (a cancellation)."""
        self._abandon_unstarted()
        try:
            return super().throw(*args)
        finally:
            del args  # as CoroutineHandle.throw: no cycle through this frame

    def close(self) -> None:
        """Abandon the request; the session is closed if it never started."""
        self._abandon_unstarted()
        super().close()

    async def __aenter__(self) -> ClientResponse:
        self._resp = await self._coro
        return self._resp

    async def __aexit__(self, *exc: object) -> None:
        assert self._resp is not None
        self._resp.release()
        await self._session.close()


def request(
    method: str,
    url: StrOrURL,
    *,
    connector: BaseConnector | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    request_class: type[ClientRequest] | None = None,
    response_class: type[ClientResponse] | None = None,
    cookies: LooseCookies | None = None,
    version: HttpVersion = HttpVersion11,
    **kwargs: Unpack[_OneShotRequestKwargs],
) -> _SessionRequestContextManager:
    """Perform one request without a session (no keep-alive); await it or ``async with``.

    A connector passed in stays open; one made here is closed with the response.
    """
    owner = connector is None
    if connector is None:
        connector = TCPConnector(force_close=True)
    session = ClientSession(
        connector=connector,
        loop=loop,
        cookies=cookies,
        version=version,
        connector_owner=owner,
        request_class=request_class or ClientRequest,
        response_class=response_class or ClientResponse,
    )
    return _SessionRequestContextManager(session._request(method, url, **kwargs), session)


def get(url: StrOrURL, **kwargs: Unpack[_OneShotVerbKwargs]) -> _SessionRequestContextManager:
    """Perform a GET request without a session."""
    return request("GET", url, **kwargs)


def options(url: StrOrURL, **kwargs: Unpack[_OneShotVerbKwargs]) -> _SessionRequestContextManager:
    """Perform an OPTIONS request without a session."""
    return request("OPTIONS", url, **kwargs)


def head(url: StrOrURL, **kwargs: Unpack[_OneShotVerbKwargs]) -> _SessionRequestContextManager:
    """Perform a HEAD request without a session; redirects are followed, as by
    :func:`request` (the reference; unlike ``ClientSession.head``)."""
    return request("HEAD", url, **kwargs)


def delete(url: StrOrURL, **kwargs: Unpack[_OneShotVerbKwargs]) -> _SessionRequestContextManager:
    """Perform a DELETE request without a session."""
    return request("DELETE", url, **kwargs)


def post(
    url: StrOrURL, *, data: Any = None, **kwargs: Unpack[_OneShotBodyVerbKwargs]
) -> _SessionRequestContextManager:
    """Perform a POST request without a session."""
    return request("POST", url, data=data, **kwargs)


def put(
    url: StrOrURL, *, data: Any = None, **kwargs: Unpack[_OneShotBodyVerbKwargs]
) -> _SessionRequestContextManager:
    """Perform a PUT request without a session."""
    return request("PUT", url, data=data, **kwargs)


def patch(
    url: StrOrURL, *, data: Any = None, **kwargs: Unpack[_OneShotBodyVerbKwargs]
) -> _SessionRequestContextManager:
    """Perform a PATCH request without a session."""
    return request("PATCH", url, data=data, **kwargs)
