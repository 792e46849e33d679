"""``ClientRequest``: turn the caller's arguments into bytes on a connection.

The request normalises what ``session.request()`` was given (URL and params, headers,
cookies, auth, body) into a method, a URL, a header multidict and a body source, checks
all of it before anything is written (CR, LF, NUL and non-token names raise
``LocalProtocolError`` from ``http1``), then writes the head with a single
``transport.write``, the body after it (in the same write when small), and builds the
``ClientResponse`` once the head arrives.

Bodies that are bytes, strings, forms or seekable files can be sent again (redirects
307/308, a retry on a stale pooled connection); async iterables and unseekable files
cannot, and a second send raises a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from http.cookies import BaseCookie, SimpleCookie
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any, Final

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from .auth import BasicAuth
from .compression import accept_encoding, make_encoder
from .cookies import cookie_header_value
from .errors import (
    ClientConnectionError,
    ClientConnectionResetError,
    ClientOSError,
    FileEndedError,
    InvalidUrlClientError,
    LocalProtocolError,
    NonHttpUrlClientError,
    ServerDisconnectedError,
    SocketTimeoutError,
    body_source_error,
    short_repr,
    type_name,
)
from .filereads import read_file
from .formdata import (
    _OCTET_STREAM,
    Body,
    FileRange,
    FileSource,
    FormData,
    StreamSource,
    close_pieces,
    file_ended,
    guess_filename,
    guess_type,
    read_announced,
    source_body,
)
from .http1 import LAST_CHUNK, asks_to_close, encode_chunk, field_text, serialize_request_head
from .multipart import MultipartWriter
from .payload import LookupError as PayloadLookupError
from .payload import Payload, exactly, get_payload, payload_body
from .progress import UploadTracker
from .proxy import absolute_target, proxy_headers, uses_absolute_form
from .response import ClientResponse
from .values import (
    ClientTimeout,
    ConnectionKey,
    HttpVersion,
    HttpVersion10,
    HttpVersion11,
    RequestInfo,
)

if TYPE_CHECKING:
    from .connector import Connection

__all__ = ("ClientRequest", "make_url")

_HTTP_SCHEMES = frozenset({"http", "https", "ws", "wss"})
_SECURE_SCHEMES = frozenset({"https", "wss"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_USER_AGENT = "hyperclient/0.1"
#: Bodies up to this size travel in the same ``write`` as the head.
_SMALL_BODY = 2**16
#: A file body is copied by the kernel (sendfile) from this size up. Handing the transport
#: to asyncio's sendfile and back costs about 45 µs a request: over loopback that is even
#: with reading and writing at 256-512 KiB, and ahead from 512 KiB (bench/upload_file.py).
_SENDFILE_MIN = 2**19
#: Bytes per ``loop.sendfile`` call: between two, an early answer is read and the write
#: timeout starts again. 1 MiB ran 20% slower over loopback; 16 MiB 3% faster.
_SENDFILE_SEGMENT = 4 * 2**20
#: Off: file bodies are always read and written (bench/upload_file.py compares both).
_USE_SENDFILE = True
_NO_TIMEOUT = ClientTimeout()

# Characters that may never appear raw in a URL we send (RFC 3986 §2; space and CTLs).
_URL_BAD = frozenset(' "<>\\^`{|}' + "".join(map(chr, range(0x21))) + "\x7f")
_HEX = frozenset("0123456789abcdefABCDEF")
_URL_CACHE: dict[str, URL] = {}
#: Sent unless skipped or given: a subclass may replace DEFAULT_HEADERS (aiohttp's name).
_DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": accept_encoding()}
_AUTO_HEADERS = (*_DEFAULT_HEADERS.items(), ("User-Agent", _USER_AGENT))
_URL_CACHE_SIZE = 512
#: A payload's headers that its request does not take as they are: the type follows
#: the rule of every body (caller's first, skip_auto_headers), framing is ours.
_NOT_FROM_PAYLOAD = frozenset({"content-type", "content-length", "transfer-encoding"})


def _is_encoded(url: str) -> bool:
    """True when *url* is ASCII, has no character that needs quoting, and valid ``%XX``."""
    if not url.isascii() or not _URL_BAD.isdisjoint(url):
        return False
    if "%" in url:
        for piece in url.split("%")[1:]:
            if len(piece) < 2 or piece[0] not in _HEX or piece[1] not in _HEX:
                return False
    return True


_NO_NAMES: Final[frozenset[str]] = frozenset()


def header_names(names: Iterable[str] | None) -> frozenset[str]:
    """``skip_auto_headers`` lower-cased; a lone ``str`` (an ``istr`` of ``hdrs`` too)
    is one name, not its letters (aiohttp iterates it: ``"User-Agent"`` skipped nothing)."""
    if not names:
        return _NO_NAMES
    if isinstance(names, str):
        names = (names,)
    return frozenset(name.lower() for name in names)


def make_url(url: str | URL) -> URL:
    """A ``URL`` for *url*; a validly percent-encoded string is kept byte for byte."""
    if isinstance(url, URL):
        return url
    if not isinstance(url, str):
        # Shown by its repr: the error's url is text (or a URL), as its type says.
        raise InvalidUrlClientError(short_repr(url), "url must be a str or a yarl.URL")
    cached = _URL_CACHE.get(url)
    if cached is not None:
        return cached
    try:
        result = URL(url, encoded=True) if _is_encoded(url) else URL(url)
        result.port  # noqa: B018 - yarl checks the port only when asked (99999 is refused)
    except (ValueError, TypeError) as exc:
        raise InvalidUrlClientError(url, str(exc)) from exc
    if len(_URL_CACHE) >= _URL_CACHE_SIZE:
        _URL_CACHE.clear()
    _URL_CACHE[url] = result
    return result


def _parse_version(version: HttpVersion | str) -> HttpVersion:
    """Accept aiohttp's ``version="1.1"`` spelling as well as an ``HttpVersion``.

    Raises:
        ValueError: not HTTP/1.0 or 1.1, the only versions sent in this framing (an
            ``HTTP/2.0`` request line would come back as the server's 400).
    """
    if isinstance(version, str):
        major, _, minor = version.partition(".")
        try:
            version = HttpVersion(int(major), int(minor))
        except ValueError:
            raise ValueError(f"invalid HTTP version: {version!r}") from None
    if version != HttpVersion10 and version != HttpVersion11:
        raise ValueError(f"unsupported HTTP version: {version!r}, expected 1.0 or 1.1")
    return version


def _host_header(url: URL) -> str:
    host = url.raw_host or ""
    if ":" in host:  # an IPv6 literal goes back in brackets (RFC 3986 §3.2.2)
        host = f"[{host}]"
    port = url.port
    if port is not None and port != _DEFAULT_PORTS.get(url.scheme):
        host = f"{host}:{port}"
    return host


def _with_proxy_fields(
    fields: Iterable[tuple[str, str]], extra: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The request's *fields* with the proxy's: a proxy field replaces the request's of
    that name, where it stood (a second Host would make the request invalid, RFC 9112
    §3.2), and the rest follow."""
    if not extra:
        return list(fields)
    by_name: dict[str, list[tuple[str, str]]] = {}
    for name, value in extra:
        by_name.setdefault(name.lower(), []).append((name, value))
    merged: list[tuple[str, str]] = []
    for name, value in fields:
        lower = name.lower()
        if lower not in by_name:
            merged.append((name, value))
        else:
            merged.extend(by_name.pop(lower))  # the proxy's, once, where the first stood
            by_name[lower] = []
    for group in by_name.values():
        merged.extend(group)
    return merged


class ClientRequest:
    """A request ready to be written: method, URL, headers and body, all validated.

    Created by the session for each request (and each redirect hop); pass a subclass as
    ``ClientSession(request_class=...)`` to customise it.
    """

    DEFAULT_HEADERS = _DEFAULT_HEADERS

    response_class: type[ClientResponse] = ClientResponse
    # Class defaults, set on an instance only when they differ: CPython 3.11 keeps an
    # instance's attribute dict compact (shared keys) only up to 30 attributes, and the
    # request is created for every call (measured: +0.5 µs per request past that).
    _skip_content_type = False
    #: The caller's headers ask for ``Connection: close`` (set only when they do).
    _closes_connection = False
    #: The caller's headers carry Content-Length or Transfer-Encoding (set only then).
    _framing_given = False
    # Set by the session on a request sent with upload_tracker= (each attempt).
    _upload_tracker: UploadTracker | None = None

    def __init__(
        self,
        method: str,
        url: URL,
        *,
        params: Any = None,
        headers: Any = None,
        skip_auto_headers: Iterable[str] | None = None,
        data: Any = None,
        cookies: Any = None,
        auth: BasicAuth | None = None,
        version: HttpVersion | str = HttpVersion11,
        compress: str | bool | None = None,
        chunked: bool | int | None = None,
        expect100: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        response_class: type[ClientResponse] | None = None,
        proxy: URL | None = None,
        proxy_auth: BasicAuth | None = None,
        proxy_headers: Any = None,
        ssl: Any = True,
        server_hostname: str | None = None,
        encoding: str = "utf-8",
        read_until_eof: bool = True,
        auto_decompress: bool = True,
        session: Any = None,
        traces: Any = None,
        timeout: ClientTimeout | None = None,
        limits: tuple[int | None, int | None, int | None] | None = None,
        force_close: bool = False,
        read_bufsize: int | None = None,
        **_: Any,
    ) -> None:
        # "Post" is POST; "GET" is kept as it is (upper() would copy it on every request).
        self.method = method if method.isupper() else method.upper()
        self.url = self._prepare_url(url, params)
        # As aiohttp: the URL asked for, query from params= included, fragment kept.
        if not params:
            self.original_url = url
        elif url.raw_fragment:
            self.original_url = self.url.with_fragment(url.fragment)
        else:
            self.original_url = self.url
        self.version = _parse_version(version)
        self.encoding = encoding
        self.chunked = chunked
        self.compress = compress
        self.expect100 = expect100
        self.read_until_eof = read_until_eof
        self.auto_decompress = auto_decompress
        self.loop = loop
        self.proxy = proxy
        self.proxy_auth = proxy_auth
        self.proxy_headers = proxy_headers
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.session = session
        self.traces = traces
        self.force_close = force_close
        self.timeout = timeout if timeout is not None else _NO_TIMEOUT
        self.limits = limits
        self.read_bufsize = read_bufsize
        if response_class is not None:
            self.response_class = response_class
        self.auth = auth
        userinfo = self.url.raw_user is not None or self.url.raw_password is not None  # ://:pw@
        url_auth = BasicAuth.from_url(self.url) if userinfo else None
        if url_auth is not None:
            # Credentials in the URL are used, and never sent in the request target.
            self.url = self.url.with_user(None)
            if auth is None:
                self.auth = url_auth
        skip = header_names(skip_auto_headers) if skip_auto_headers else _NO_NAMES
        self.headers = self._prepare_headers(headers, skip)
        if proxy is not None and "Proxy-Authorization" in self.headers:
            self._route_proxy_authorization()
        if cookies:
            self._add_cookie_header(cookies)
        if self.auth is not None:
            if not isinstance(self.auth, BasicAuth):
                raise TypeError(f"auth must be a BasicAuth instance, got {type_name(self.auth)}")
            self.headers["Authorization"] = self.auth.encode()
        self._body_source: Body | None = None
        self._body = b""
        if "content-type" in skip:
            self._skip_content_type = True  # else the class's False: one attribute fewer
        self._prepare_body(data)
        self._connection_key: ConnectionKey | None = None
        self._head: bytes | None = None

    # -- preparing -----------------------------------------------------------------------

    @staticmethod
    def _prepare_url(url: URL, params: Any) -> URL:
        scheme = url.scheme
        if scheme not in _HTTP_SCHEMES:
            if not scheme:
                raise InvalidUrlClientError(url, "the URL has no scheme")
            raise NonHttpUrlClientError(url, f"unsupported scheme {scheme!r}")
        if not url.raw_host:
            raise InvalidUrlClientError(url, "the URL has no host")
        if params:
            url = url.extend_query(params)
        if url.raw_fragment:
            url = url.with_fragment(None)
        return url

    def _prepare_headers(self, headers: Any, skip: frozenset[str]) -> CIMultiDict[str]:
        """The request's headers: the caller's, then the automatic ones not in *skip*
        (lower-cased names, see :func:`header_names`)."""
        if (
            not headers
            and not skip
            and not self.force_close
            and self.DEFAULT_HEADERS is _DEFAULT_HEADERS
        ):
            # The common case: only the automatic headers, in one multidict construction.
            auto = (("Host", _host_header(self.url)), *_AUTO_HEADERS)
            if self.version == HttpVersion10:
                auto = (*auto, ("Connection", "keep-alive"))
            return CIMultiDict(auto)
        result: CIMultiDict[str] = CIMultiDict()
        if "host" not in skip:
            result["Host"] = _host_header(self.url)
        if headers:
            items = headers.items() if isinstance(headers, Mapping | MultiDictProxy) else headers
            for name, value in items:
                if type(name) is not str or type(value) is not str:
                    # Checked here, before the framing and Connection logic reads them.
                    value = field_text(value, f"header value of {name}")
                    name = field_text(name, "header name")
                if name.lower() == "host":
                    result["Host"] = value
                else:
                    result.add(name, value)
        for name, value in self.DEFAULT_HEADERS.items():
            if name not in result and name.lower() not in skip:
                result[name] = value
        if "User-Agent" not in result and "user-agent" not in skip:
            result["User-Agent"] = _USER_AGENT
        if "Content-Length" in result or "Transfer-Encoding" in result:
            self._framing_given = True
        if self.force_close and "Connection" not in result:
            result["Connection"] = "close"
        elif "Connection" in result and asks_to_close(result.getall("Connection")):
            # RFC 9112 §9.6: a client that sends "close" sends no further request on the
            # connection and closes it after the response.
            self._closes_connection = True
        elif self.version == HttpVersion10 and "Connection" not in result:
            result["Connection"] = "keep-alive"
        return result

    def reread_hop_headers(self) -> None:
        """Act on the hop-by-hop fields a middleware may have set or removed since the
        request was built: ``Connection: close`` (RFC 9112 §9.6) and a
        ``Proxy-Authorization`` meant for the proxy (see ``_route_proxy_authorization``)."""
        headers = self.headers
        self._closes_connection = "Connection" in headers and asks_to_close(
            headers.getall("Connection")
        )
        if self.proxy is not None and "Proxy-Authorization" in headers:
            self._route_proxy_authorization()

    def _route_proxy_authorization(self) -> None:
        """A ``Proxy-Authorization`` among the request's headers is for the proxy (RFC 9110
        §11.7.2): it joins the proxy's fields, sent on ``CONNECT`` or with an absolute-form
        request, never inside a tunnel to the origin. ``proxy_auth=`` or one given in
        ``proxy_headers=`` wins over it (one field, not two)."""
        value = self.headers.popall("Proxy-Authorization")[-1]
        fields = proxy_headers(None, self.proxy_headers)
        if self.proxy_auth is None and all(k.lower() != "proxy-authorization" for k, _ in fields):
            self.proxy_headers = [*fields, ("Proxy-Authorization", value)]

    def _add_cookie_header(self, cookies: Any) -> None:
        if not isinstance(cookies, BaseCookie):
            # A plain mapping or pairs: quoted as the jar quotes (RFC 6265 §4.1.1).
            morsels: SimpleCookie = SimpleCookie()
            for name, value in cookies.items() if hasattr(cookies, "items") else cookies:
                morsels[name] = value
            cookies = morsels
        value = cookie_header_value(cookies)
        existing = self.headers.get("Cookie")
        self.headers["Cookie"] = f"{existing}; {value}" if existing else value

    def _prepare_body(self, data: Any) -> None:
        headers = self.headers
        if data is None or data == b"":
            # No body, nothing to chunk: a last-chunk alone would be read as a request.
            self.chunked = None
            # Nor anything to hold back until a 100 (Continue): a client must not send the
            # expectation without content (RFC 9110 §10.1.1), and waiting for an answer
            # to it would cost the connection (see send()).
            self.expect100 = False
            if self._framing_given:
                # Framing the caller set for an empty body is checked as any body's is: a
                # Content-Length of 5 with nothing behind it would make the server read
                # the next request's first bytes as this body (RFC 9112 §6.3); an
                # announced chunked body gets its last-chunk.
                self._set_framing()
            elif self.method in _BODY_METHODS:
                headers["Content-Length"] = "0"
            return
        source: Body | None = None
        content_type: str | None = None
        if isinstance(data, Body):
            self._body_source = data  # a body sent before, replayed (redirect, retry)
        elif isinstance(data, bytes | bytearray | memoryview):
            self._body = bytes(data)
            content_type = _OCTET_STREAM  # RFC 9110 §8.3, and what aiohttp sends
        elif isinstance(data, str):
            self._body = data.encode(self.encoding)
            content_type = f"text/plain; charset={self.encoding}"
        elif isinstance(data, FormData | MultipartWriter):
            source = data.body()
        elif isinstance(data, Mapping | MultiDict | MultiDictProxy | list | tuple):
            form = FormData(data, charset=self.encoding if self.encoding != "utf-8" else None)
            source = form.body()
        elif isinstance(data, Payload):  # after the common cases: they pay nothing for it
            source = self._payload_source(data)
        elif isinstance(data, io.IOBase) or (
            # Not a stream with an (async) read() too, as another response's content:
            # that one is read with readany() below, as aiohttp reads it.
            hasattr(data, "read") and callable(data.read) and not isinstance(data, AsyncIterable)
        ):
            name = getattr(data, "name", None)
            name = name if isinstance(name, str) else None
            if isinstance(data, io.TextIOBase):
                # Its text goes out encoded with the request's encoding (see FileSource):
                # the charset says which, as for str data and as aiohttp says it.
                file_type = f"{guess_type(name, 'text/plain')}; charset={self.encoding}"
            else:
                file_type = guess_type(name, _OCTET_STREAM)
            source = source_body(
                file_type,
                FileSource(data, self.encoding),
                "the request body is an unseekable file and cannot be sent again",
            )
        elif isinstance(data, AsyncIterable):
            source = source_body(
                _OCTET_STREAM,
                StreamSource(data),
                "the request body is an async iterable and cannot be sent again",
            )
        else:
            try:
                payload = get_payload(data)  # a type registered with payload_type()
            except PayloadLookupError:
                raise TypeError(
                    "data must be bytes, str, a dict, FormData, MultipartWriter, a Payload, "
                    f"a file or an async iterable, got {type(data).__name__}"
                ) from None
            source = self._payload_source(payload)
        if source is not None:
            self._body_source = source
            content_type = source.content_type
        if (
            content_type is not None
            and "Content-Type" not in headers
            and not self._skip_content_type
        ):
            headers["Content-Type"] = content_type
        self._set_framing()
        if self.expect100:
            headers["Expect"] = "100-continue"
        elif headers.get("Expect", "").lower() == "100-continue":
            self.expect100 = True

    def _payload_source(self, payload: Payload) -> Body:
        """*payload* as the body; its headers other than ``Content-Type`` (set with the
        other bodies' types) and framing join the request's unless already there, as
        aiohttp copies them."""
        headers = self.headers
        for name, value in payload.headers.items():
            if name.lower() not in _NOT_FROM_PAYLOAD and name not in headers:
                headers[name] = value
        return payload_body(payload)

    def _set_framing(self) -> None:
        headers = self.headers
        chunked_given = self.chunked
        if self.compress and (self._body or self._body_source is not None):
            if "Content-Encoding" in headers:
                # The caller's coding (already compressed data) would be replaced by ours
                # and the server would undo only one of the two (RFC 9110 §8.4).
                raise ValueError(
                    "compress can not be set if Content-Encoding header is set: "
                    f"{short_repr(', '.join(headers.getall('Content-Encoding')))}"
                )
            name = "deflate" if self.compress is True else str(self.compress)
            make_encoder(name)  # validates the name before anything is sent
            headers["Content-Encoding"] = name
            self.chunked = self.chunked or True
        size = len(self._body) if self._body_source is None else self._body_source.size
        if "Transfer-Encoding" in headers:
            if "Content-Length" in headers:
                raise LocalProtocolError("Content-Length and Transfer-Encoding cannot both be set")
            codings = headers.getall("Transfer-Encoding")
            if codings[-1].rsplit(",", 1)[-1].strip().lower() != "chunked":
                # RFC 9112 §6.1: chunked must be the final coding of a request body, or
                # the server cannot tell where the body ends.
                raise LocalProtocolError(
                    f"Transfer-Encoding must end with chunked: {short_repr(', '.join(codings))}"
                )
            self.chunked = self.chunked or True
        elif self.chunked or (size is None and "Content-Length" not in headers):
            if "Content-Length" in headers:
                given = "chunked=True" if chunked_given else "compress="
                raise LocalProtocolError(f"Content-Length cannot be set with {given}")
            if self.version == HttpVersion10:
                raise LocalProtocolError("chunked transfer encoding needs HTTP/1.1")
            self.chunked = self.chunked or True
            headers["Transfer-Encoding"] = "chunked"
        elif size is None:
            # The caller knows the length of a body we cannot measure (a generator, a
            # pipe, a text file), as a server that refuses chunked uploads needs: it is
            # streamed with their Content-Length, and checked as it goes (_write_body).
            _announced_length(headers)
        elif "Content-Length" not in headers:
            headers["Content-Length"] = str(size)
        elif (announced := headers.getall("Content-Length")) != [str(size)]:
            # More or fewer bytes than announced would desynchronise the connection: the
            # rest would be read as another request (RFC 9112 §6.3).
            raise LocalProtocolError(
                f"Content-Length header {short_repr(', '.join(announced))}"
                f" does not match the body, {size} bytes"
            )

    # -- attributes ----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The host to connect to."""
        return self.url.raw_host or ""

    @property
    def port(self) -> int | None:
        """The port to connect to."""
        return self.url.port

    def is_ssl(self) -> bool:
        """True for https:// and wss:// URLs."""
        return self.url.scheme in _SECURE_SCHEMES

    @property
    def body(self) -> bytes:
        """The body when it is held in memory (bytes or str data); ``b""`` when there is
        none or it is streamed (a form, a file, an async iterable).

        Assigning replaces it as :meth:`update_body` does.
        """
        return self._body

    @body.setter
    def body(self, data: Any) -> None:
        self._replace_body(data)

    async def update_body(self, data: Any) -> None:
        """Replace the body, for a middleware that rewrites the request (aiohttp 3.12).

        ``Content-Length`` (or chunked framing) is recomputed for the new body; a
        ``Content-Type`` already set is kept, otherwise the new body's is added. A
        chunked request stays chunked.

        Args:
            data: what ``session.request(data=...)`` accepts: bytes, str, a form, a
                file object, an async iterable, or None for no body.
        """
        self._replace_body(data)

    def _replace_body(self, data: Any) -> None:
        headers = self.headers
        headers.popall("Content-Length", None)
        if self.chunked:
            headers.popall("Transfer-Encoding", None)
        if self.compress:
            headers.popall("Content-Encoding", None)  # ours: a caller's was refused
        if self.expect100:
            headers.popall("Expect", None)  # set again unless the new body is empty
        self._body_source = None
        self._body = b""
        self._prepare_body(data)

    @property
    def connection_key(self) -> ConnectionKey:
        """What a pooled connection must match to carry this request."""
        key = self._connection_key
        if key is None:
            is_ssl = self.is_ssl()
            key = self._connection_key = ConnectionKey(
                self.host,
                self.port,
                is_ssl,
                self.ssl if is_ssl else True,
                self.proxy,
                self.proxy_auth,
                # A mapping or a list of pairs (aiohttp's LooseHeaders), as sent.
                hash(tuple(proxy_headers(None, self.proxy_headers)))
                if self.proxy_headers
                else None,
                self.server_hostname if is_ssl else None,
            )
        return key

    @property
    def request_info(self) -> RequestInfo:
        """What a response or an error reports about this request."""
        return RequestInfo(self.url, self.method, CIMultiDictProxy(self.headers), self.original_url)

    def is_replayable(self) -> bool:
        """True when the body can be sent again (redirect, retry)."""
        source = self._body_source
        return source is None or source.replayable()

    def replay_data(self) -> Any:
        """The body in a form that a new request can send again."""
        return self._body_source if self._body_source is not None else self._body

    def request_target(self) -> str:
        """The request-target: origin form (RFC 9112 §3.2.1), or absolute form when the
        request goes to an HTTP proxy as is (§3.2.2)."""
        if uses_absolute_form(self.url.scheme, self.proxy):
            return absolute_target(self.url)
        return self.url.raw_path_qs or "/"

    # -- sending ----------------------------------------------------------------------------

    def freeze_head(self) -> None:
        """Serialise the head now, once, for every :meth:`copy` of this request."""
        self._head = self._head_bytes()
        _ = self.connection_key  # computed now, so that every copy shares it

    def copy(self) -> ClientRequest:
        """A request identical to this one (the session's prepared plain requests).

        The copy shares the headers and the serialised head: neither is changed once the
        request is built.
        """
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def _head_bytes(self) -> bytes:
        if self._head is not None:
            return self._head
        fields: Iterable[tuple[str, str]] = self.headers.items()
        if uses_absolute_form(self.url.scheme, self.proxy):
            # For the proxy's eyes only: kept out of self.headers, so neither request_info
            # nor a redirect carries Proxy-Authorization on (tunnelled requests never have it).
            fields = _with_proxy_fields(fields, proxy_headers(self.proxy_auth, self.proxy_headers))
        return serialize_request_head(self.method, self.request_target(), self.version, fields)

    async def send(self, conn: Connection) -> ClientResponse:
        """Write the request on *conn* and return the response once its head arrived."""
        head = self._head_bytes()
        protocol = conn.protocol
        if protocol is None:
            raise ServerDisconnectedError("connection was released before the request was sent")
        if self._closes_connection:
            protocol.force_close()
        t_conn = _monotonic()
        timeout = self.timeout.sock_read
        waiter = protocol.expect_response(
            self.method,
            conn.release,
            read_until_eof=self.read_until_eof,
            read_timeout=timeout,
            expect_continue=self.expect100,
            limits=self.limits,
            read_bufsize=self.read_bufsize,
        )
        # The common case: the body (if any) goes with the head, no coroutine.
        with_head = self._body_source is None and not self.chunked and not self.expect100
        tracker = self._upload_tracker
        if tracker is not None and len(self._body) > _SMALL_BODY:
            # Written as a streamed body is, waiting for the socket to drain, so that the
            # tracker sees it go out and the upload ends when it is sent (as in aiohttp).
            with_head = False
        try:
            if with_head:
                body = self._body
                if len(body) <= _SMALL_BODY:
                    protocol.write(head + body if body else head)
                else:
                    protocol.write_pair(head, body)
                if tracker is not None:
                    tracker._sent_with_head(len(body))
                if protocol.write_paused and self.timeout.write is not None:
                    # The write timeout bounds a body that went with its head too.
                    try:
                        await self._wait_sent(protocol)
                    except ClientConnectionError as exc:
                        _raise_unless_answered(exc, waiter)
            else:
                try:
                    await self._write(
                        protocol if tracker is None else tracker._watch(protocol), head
                    )
                except ClientConnectionError as exc:
                    if tracker is not None:
                        tracker._attempt_failed(exc)  # the upload's error, whatever we raise
                    _raise_unless_answered(exc, waiter)
            t_sent = _monotonic()
            if self.traces:
                for trace in self.traces:
                    await trace.send_request_headers(self.method, self.url, self.headers)
                if with_head and self._body:
                    # A body written with the head is one chunk (aiohttp reports it too;
                    # streamed bodies report each piece from _write_body).
                    for trace in self.traces:
                        await trace.send_request_chunk_sent(self.method, self.url, self._body)
            # Built while the server works on the request, not after its answer arrives:
            # at one request at a time that is latency saved.
            response = self._new_response()
            result = await waiter
        except BaseException as exc:
            if tracker is not None:
                tracker._attempt_failed(exc)  # ignored once the body was sent
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                waiter.exception()  # retrieved: the error we raise tells the story
            waiter = None  # type: ignore[assignment]  # the traceback holds this frame (a cycle)
            raise
        response._start(conn, *result)
        reused = conn.reused
        response._stamps = (
            t_conn,
            t_sent,
            protocol.first_byte_at,
            _monotonic(),
            reused,
            None if reused else protocol.connect_durations,
            conn.pool_wait,
        )
        return response

    async def _write(self, protocol: Any, head: bytes) -> None:
        protocol.write(head)
        if self.expect100:
            cont = protocol.continue_waiter
            try:
                # Not wait_for: on 3.11 it returns the result when a cancel arrives just
                # after 100 Continue did, and the cancel (or total timeout) is lost.
                async with asyncio.timeout(1.0):
                    go_on = await asyncio.shield(cont)
            except TimeoutError:
                # RFC 9110 §10.1.1: a client need not wait forever for 100.
                go_on = True
            if not go_on or protocol.stop_sending:
                # A final status instead of 100, or right after it (RFC 9112 §9.6): the
                # body stays unsent, and the server may still be waiting for it, so the
                # connection cannot be reused.
                protocol.writing(False, finished=False)
                return
        protocol.writing(True)
        finished = False
        try:
            finished = await self._write_body(protocol)
        except FileEndedError as exc:  # read or sent by sendfile
            raise body_source_error(exc, str(exc)) from exc
        finally:
            protocol.writing(False, finished=finished)

    async def _write_body(self, protocol: Any) -> bool:
        """Send the body; False when it stopped early because the server answered (or the
        connection failed: the response's error then tells why)."""
        source = self._body_source
        if source is not None and source.sendfile_plan is not None:
            plan = self._sendfile_plan(source, protocol)
            if plan is not None:
                return await self._write_planned(protocol, plan)
        if source is None:
            return await self._write_pieces(protocol, _one(self._body))
        stop = _StopWaiting(protocol._loop)
        pieces = source.chunks(stop.read_file)
        if source.size is None and not self.chunked:
            # The caller's Content-Length (see _set_framing), as sent: more or fewer
            # bytes would desynchronise the connection (RFC 9112 §6.3).
            length = _announced_length(self.headers)
            pieces = exactly(
                pieces, length, "the request body", "Content-Length", stop_at_size=True
            )
        finished = False
        protocol.on_stop_sending(stop)
        try:
            finished = await self._write_pieces(protocol, pieces)
        except (Exception, asyncio.CancelledError):
            if not stop.end():
                raise
            # Cut short by stop (the cancellation, or what the source made of it): the
            # answer, or the connection's error, is the story.
        finally:
            protocol.on_stop_sending(None)
            stop.end()
            if not finished:  # stopped midway: the source's finally blocks run now
                try:
                    await close_pieces(pieces)
                except Exception:
                    # What the source made of being stopped: the answer (or the error
                    # that stopped the upload) is the story, as in aiohttp.
                    pass
        return finished

    async def _write_pieces(self, protocol: Any, pieces: AsyncIterator[bytes]) -> bool:
        """Compress, frame and send *pieces*; False when stopped early (see stop_sending)."""
        encoder = None
        if self.compress:
            encoder = make_encoder("deflate" if self.compress is True else str(self.compress))
        chunk_size = self.chunked if type(self.chunked) is int and self.chunked > 0 else None
        tracker = self._upload_tracker
        async for data in pieces:
            if protocol.stop_sending:
                # RFC 9112 §9.6: the server answered (or the connection failed) while the
                # source made this piece; the socket may be closed already.
                return False
            if tracker is not None:
                tracker._accept(len(data))  # payload bytes: before compression and framing
            if encoder is not None:
                data = encoder.compress(data)
            if data:
                await self._send_piece(protocol, data, chunk_size)
                if tracker is not None:
                    tracker._piece_written()
                if self.traces:
                    for trace in self.traces:
                        await trace.send_request_chunk_sent(self.method, self.url, data)
            if protocol.stop_sending:
                # RFC 9112 §9.6: the server answered already; stop sending what it will
                # not read (the connection is not reused), and ask the source for no more.
                return False
        if encoder is not None:
            tail = encoder.flush()
            if tail:
                if protocol.stop_sending:
                    return False
                await self._send_piece(protocol, tail, chunk_size)
        if self.chunked:
            if protocol.stop_sending:
                return False
            protocol.write(LAST_CHUNK)
        return True

    def _sendfile_plan(self, source: Body, protocol: Any) -> list[bytes | FileRange] | None:
        """*source* as pieces for sendfile when it may go that way: sent as is, exactly as
        long as announced, large enough to gain, with no trace waiting to see each chunk
        sent and no tracker counting writes, on a connection where sendfile pays (the
        socket is asked last: it costs a system call). Decided before a byte is sent."""
        size = source.size
        if (
            not _USE_SENDFILE
            or size is None
            or size < _SENDFILE_MIN
            # Chunked framing (compress= too) announces no Content-Length; a middleware may
            # have changed a body's header: then the written path sends what it sends.
            or self.headers.getall("Content-Length", None) != [str(size)]
            or (self.traces and any(trace.sends_request_chunks() for trace in self.traces))
            # The tracker counts what goes through write(); sendfile(2) bypasses it.
            or self._upload_tracker is not None
            or not protocol.sendfile_pays()
        ):
            return None
        assert source.sendfile_plan is not None
        return source.sendfile_plan(_SENDFILE_MIN)

    async def _write_planned(self, protocol: Any, plan: list[bytes | FileRange]) -> bool:
        """Send a body planned for sendfile: bytes are written, large file ranges copied by
        the kernel, smaller ones read. Where the loop cannot sendfile (TLS, uvloop), the
        rest is read and written as usual; nothing is sent twice. False when it stopped
        because the server answered.
        """
        kernel = True
        for piece in plan:
            if type(piece) is bytes:
                await self._send_piece(protocol, piece, None)
            else:
                assert isinstance(piece, FileRange)
                position, end = piece.offset, piece.offset + piece.count
                if kernel and piece.count >= _SENDFILE_MIN:  # a smaller one is read
                    position = await self._sendfile(protocol, piece)
                    if protocol.stop_sending:
                        return False
                    kernel = position == end
                if position < end:
                    piece.file.seek(position)
                    pieces = read_announced(piece.file, end - position, _read_body_file)
                    async for data in pieces:
                        await self._send_piece(protocol, data, None)
                        if protocol.stop_sending:
                            return False
            if protocol.stop_sending:
                return False
        return True

    async def _sendfile(self, protocol: Any, piece: FileRange) -> int:
        """Send *piece* with the kernel's sendfile(2), in segments; the file position
        reached: its end, or less when the server answered (``stop_sending``) or the loop
        cannot sendfile here (then nothing more of it was sent).

        The write timeout bounds a stall (see ``ResponseHandler.sendfile``), as it bounds
        each drain of a written body; between two segments the server's answer is read.
        """
        file = piece.file
        position, end = piece.offset, piece.offset + piece.count
        write_timeout = self.timeout.write
        try:
            while position < end:
                count = min(_SENDFILE_SEGMENT, end - position)
                try:
                    sent: int | None = await protocol.sendfile(file, position, count, write_timeout)
                except asyncio.SendfileNotAvailableError:
                    return position
                except (TimeoutError, ClientOSError) as exc:  # a stall, or lost as a drain
                    raise self._write_failure(protocol, exc) from exc
                except OSError as exc:
                    # sendfile(2) failed: the socket broke (the server may have answered
                    # and gone: send() then returns its answer), or the file could not be
                    # read. Part of the segment may have gone: never reuse the connection.
                    protocol.close()
                    if isinstance(exc, ConnectionError):
                        raise self._write_failure(protocol, exc) from exc
                    raise _file_failure(exc, "sending", file) from exc
                if sent is None:
                    return position
                position += sent
                if sent < count:
                    raise file_ended(file, position - piece.offset, piece.count)
                if position < end:
                    # Not after the last segment: the answer to a whole body is no early one.
                    await protocol.read_pending()
                    if protocol.stop_sending:
                        return position
            return position
        finally:
            # asyncio moved the descriptor's offset behind the file object's back: seek
            # through the object (SEEK_END first drops a BufferedReader's read-ahead) to
            # where reading the bytes sent would have left it.
            with contextlib.suppress(OSError, ValueError):  # closed meanwhile: no position
                file.seek(0, io.SEEK_END)
                file.seek(position)

    async def _send_piece(self, protocol: Any, data: bytes, chunk_size: int | None) -> None:
        if not self.chunked:
            protocol.write(data)
        elif chunk_size is None:
            protocol.write(encode_chunk(data))
        else:
            for i in range(0, len(data), chunk_size):
                protocol.write(encode_chunk(data[i : i + chunk_size]))
        if protocol.write_paused:
            await self._drain(protocol)

    async def _drain(self, protocol: Any) -> None:
        """Wait for the socket to take the body's bytes, within the write timeout."""
        write_timeout = self.timeout.write
        try:
            if write_timeout is None:
                await protocol.drain()
            else:
                async with asyncio.timeout(write_timeout):
                    await protocol.drain()
        except (TimeoutError, ClientOSError) as exc:
            raise self._write_failure(protocol, exc) from exc

    async def _wait_sent(self, protocol: Any) -> None:
        """Wait for a body written with the head to drain, as a streamed one would."""
        protocol.writing(True)
        try:
            await self._drain(protocol)
        finally:
            protocol.writing(False)

    def _write_failure(self, protocol: Any, exc: OSError) -> Exception:
        """What a body write that stalled past the write timeout (the connection is then
        closed) or lost its connection raises, on the written and the sendfile path."""
        if isinstance(exc, TimeoutError):
            protocol.close()
            return SocketTimeoutError(
                f"timeout on writing the request body after {self.timeout.write}s"
            )
        return ClientConnectionResetError(f"connection lost while sending: {exc}")

    def _new_response(self) -> ClientResponse:
        """The response object, before its head arrives (``_start`` attaches it)."""
        response = self.response_class(
            self.method,
            self.url,
            request_headers=self.headers,
            original_url=self.original_url,
            loop=self.loop,
            session=self.session,
            auto_decompress=self.auto_decompress,
            read_until_eof=self.read_until_eof,
        )
        response._traces = self.traces
        return response

    def __repr__(self) -> str:
        return f"<ClientRequest({self.method} {self.url})>"


def _raise_unless_answered(exc: ClientConnectionError, waiter: asyncio.Future[Any]) -> None:
    """The connection broke while we were sending. If the server answered first (RFC 9112
    §9.6: an early 413, then a reset), the answer wins; if the response had failed, its
    error says more than ours."""
    if not waiter.done():
        raise exc
    failure = waiter.exception()
    if failure is not None:
        raise failure from exc


class _StopWaiting:
    """The ``on_stop_sending`` callback of a body written from a source: it cancels
    whatever the writer waits for (the source's next piece, mostly) once the body must
    not be sent any further, so that the caller gets the server's answer at once, not
    whenever a slow source (a live stream, a queue) gives its next piece (aiohttp cancels
    its writer task). Never while a thread reads a file: abandoned, that read would go
    on, and a redirect's replay of the file could race it; the writer stops once it
    returned. The cancellation is told from others as ``asyncio.timeout`` tells its own
    (withdrawn by :meth:`end`; one from elsewhere stands), without its cost (on 3.11, a
    ``getpid()`` per body).
    """

    __slots__ = ("_cancelling", "_cut_made", "_handle", "_loop", "_pending", "_reading", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        task = asyncio.current_task(loop)
        assert task is not None  # (requests are sent from a task)
        self._loop = loop
        self._task = task
        self._cancelling = task.cancelling()
        self._handle: asyncio.Handle | None = None
        self._cut_made = False
        self._reading = False
        self._pending = False

    def __call__(self) -> None:
        # From a loop callback, so that the cancellation reaches the writer where it
        # waits (at once, it could reach the writer after it left).
        self._handle = self._loop.call_soon(self._cut)

    def _cut(self) -> None:
        self._handle = None
        if self._reading:
            self._pending = True
        else:
            self._cut_made = True
            self._task.cancel()

    def end(self) -> bool:
        """The writer left: nothing is cut any more. True when it was cut short by this
        alone (the cancellation is withdrawn)."""
        handle = self._handle
        if handle is not None:
            self._handle = None
            handle.cancel()
        if not self._cut_made:
            return False
        self._cut_made = False
        return self._task.uncancel() <= self._cancelling

    async def read_file(self, file: Any, n: int, offset: int | None) -> Any:
        """:func:`_read_body_file`, never cut short."""
        self._reading = True
        try:
            return await _read_body_file(file, n, offset)
        finally:
            self._reading = False
            if self._pending:
                self._pending = False
                self()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _read_body_file(file: Any, n: int, offset: int | None) -> Any:
    """:func:`.filereads.read_file`, for a body's files: a read that fails is reported as
    any body source that fails (:func:`.errors.body_source_error`), not as a bare OSError
    that says nothing of the request. A body's own async iterable raises as it raises."""
    try:
        return await read_file(file, n, offset)
    except OSError as exc:
        raise _file_failure(exc, "reading", file) from exc


def _file_failure(exc: OSError, doing: str, file: Any) -> ClientOSError:
    """The request's error for a body file that could not be read or sent."""
    name = short_repr(guess_filename(file, "?"))
    return body_source_error(exc, f"{doing} file {name} failed: {exc.strerror or exc}")


def _announced_length(headers: CIMultiDict[str]) -> int:
    """The caller's ``Content-Length`` for a body we cannot measure: one value, digits
    only (RFC 9110 §8.6), as the head will carry it."""
    values = headers.getall("Content-Length", [])
    if len(values) != 1 or not (values[0].isascii() and values[0].isdigit()):
        raise LocalProtocolError(f"invalid Content-Length header: {short_repr(', '.join(values))}")
    return int(values[0])
