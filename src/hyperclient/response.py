"""``ClientResponse``: status, headers and body of one HTTP response.

A response is built from the parsed head and the body stream the protocol fills. Its
connection goes back to the pool by itself as soon as the whole body has been received
(the bytes wait in ``content``); releasing or closing a response whose body is still
arriving closes the connection instead, since its position in the stream is lost.
Headers, cookies and ``request_info`` are built on first use: most code reads one or two
of them.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import warnings
import weakref
from collections.abc import Callable, Generator, Iterable
from http.cookies import SimpleCookie
from time import monotonic as _monotonic
from types import MappingProxyType, SimpleNamespace, TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from .compression import make_decoder
from .cookies import parse_set_cookie, set_cookie_text
from .errors import (
    ClientConnectionError,
    ClientError,
    ClientPayloadError,
    ClientResponseError,
    ContentTypeError,
    RemoteProtocolError,
)
from .fieldvalues import (
    content_disposition_filename,
    parse_content_disposition,
    parse_content_type,
)
from .http1 import ResponseHead
from .streams import EMPTY_PAYLOAD, Decoder, StreamReader
from .tracing import ResponseTimings
from .values import HttpVersion, RequestInfo

if TYPE_CHECKING:
    from .connector import Connection

__all__ = ("ClientResponse", "ContentDisposition", "parse_mimetype")

_EMPTY_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


#: ``time.monotonic()`` stamps of the request flow, made ``ResponseTimings`` lazily: a
#: plain tuple (connection ready, head sent, first byte, head parsed, reused, the new
#: connection's (dns, connect, tls) durations, pool wait), as one is built per request.
_Stamps = tuple[
    float,
    float,
    float | None,
    float,
    bool,
    tuple[float | None, float | None, float | None] | None,
    float | None,
]


class MimeType(SimpleNamespace):
    """A parsed media type: ``type``, ``subtype``, ``suffix``, ``parameters``."""

    type: str
    subtype: str
    suffix: str
    parameters: MultiDictProxy[str]


def parse_mimetype(mimetype: str) -> MimeType:
    """Split a media type such as ``application/hal+json; charset=utf-8`` into parts."""
    from multidict import MultiDict

    if not mimetype:
        return MimeType(type="", subtype="", suffix="", parameters=MultiDictProxy(MultiDict()))
    parts = mimetype.split(";")
    params: MultiDict[str] = MultiDict()
    for item in parts[1:]:
        if not item.strip():
            continue
        key, _, value = item.partition("=")
        params.add(key.strip().lower(), value.strip(' "'))
    fulltype = parts[0].strip().lower()
    if fulltype == "*":
        fulltype = "*/*"
    mtype, _, stype = fulltype.partition("/")
    stype, _, suffix = stype.partition("+")
    return MimeType(type=mtype, subtype=stype, suffix=suffix, parameters=MultiDictProxy(params))


class ContentDisposition(SimpleNamespace):
    """A parsed Content-Disposition: ``type``, ``parameters``, ``filename``."""

    type: str | None
    parameters: MappingProxyType[str, str]
    filename: str | None


class ClientResponse:
    """The response to a request.

    Responses are created by the session; users never build them. Use ``async with`` or
    call ``release()`` when not reading the body to the end.
    """

    # Set before the head arrives so that a failure can still be described.
    status: int = 0
    reason: str | None = None
    version: HttpVersion | None = None
    content: StreamReader = EMPTY_PAYLOAD

    _connection: Connection | None = None
    _closed = True
    _body: bytes | None = None
    _head: ResponseHead | None = None
    _started: float | None = None
    _stamps: _Stamps | None = None
    _done_at: float | None = None
    # Per-response state that most responses never set: class defaults, so that building
    # a response costs only the attributes every response has.
    _headers: CIMultiDictProxy[str] | None = None
    _history: tuple[ClientResponse, ...] = ()
    _cookies: SimpleCookie | None = None
    _content_type: tuple[str, dict[str, str]] | None = None
    _on_release: list[Callable[[], None]] | None = None
    _timer: _Cancellable | None = None
    _request_info: RequestInfo | None = None
    _traces: Any = None
    _in_context = False

    def __init__(
        self,
        method: str,
        url: URL,
        *,
        request_headers: CIMultiDict[str] | None = None,
        original_url: URL | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        session: Any = None,
        auto_decompress: bool = True,
        read_until_eof: bool = True,
        **_: Any,
    ) -> None:
        self.method = method
        self._url = url
        self._original_url = original_url if original_url is not None else url
        self._request_headers = request_headers
        self._loop = loop
        self._session = session
        self._auto_decompress = auto_decompress
        self._read_until_eof = read_until_eof

    # -- set-up by the request flow ------------------------------------------------------

    def _start(
        self, connection: Connection, head: ResponseHead, payload: StreamReader | None
    ) -> None:
        """Attach the parsed head and body stream (called once by the request flow)."""
        self._head = head
        self.status = head.status
        self.reason = head.reason
        self.version = head.version
        self._connection = connection
        self._closed = False
        if payload is None:  # upgraded: the connection now belongs to another protocol
            self.content = EMPTY_PAYLOAD
            return
        self.content = payload
        if self._auto_decompress and head.content_encoding is not None:
            decoder: Decoder | None
            try:
                decoder = make_decoder(head.content_encoding.decode("latin-1"))
            except RemoteProtocolError as exc:
                # The head is fine; reading the body is what cannot work.
                decoder = _RefusingDecoder(exc)
            if decoder is not None:
                payload.set_decoder(decoder)
        if payload.is_eof():
            # The whole body came with the head (the common small response): no callback.
            self._response_eof()
            return
        # Weakly: the protocol holds the stream, and a response the caller dropped must
        # still be collected (and its connection closed) rather than kept alive by it.
        payload.on_eof(_weak_callback(self, ClientResponse._response_eof))

    def _header_value(self, lower_name: bytes) -> str | None:
        head = self._head
        if head is None:
            return None
        for name, value in head.raw_headers:
            if len(name) == len(lower_name) and name.lower() == lower_name:
                return value.decode("latin-1")
        return None

    def _response_eof(self) -> None:
        # The whole body is here: the protocol has already given the connection back, so
        # the response counts as closed (as aiohttp's does), although unread bytes still
        # wait in ``content``.
        self._connection = None
        self._closed = True
        if self._stamps is not None:
            self._done_at = _monotonic()
        if self._timer is not None:
            self._cancel_timer()
        if self._on_release:
            self._run_release_callbacks()

    def _cancel_timer(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()

    def _run_release_callbacks(self) -> None:
        callbacks = self._on_release
        if callbacks:
            self._on_release = None
            for callback in callbacks:
                callback()

    # -- attributes ---------------------------------------------------------------------------

    @property
    def url(self) -> URL:
        """The URL of the response (the request URL, redirects followed, no fragment)."""
        return self._url

    @property
    def real_url(self) -> URL:
        """The URL as requested, fragment included."""
        return self._original_url

    @property
    def url_obj(self) -> URL:
        """Deprecated alias of :attr:`url`."""
        return self._url

    @property
    def host(self) -> str:
        """The host of the URL."""
        return self._url.host or ""

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The response headers as received, as ``(name, value)`` bytes pairs."""
        head = self._head
        return head.raw_headers if head is not None else ()

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The response headers, case-insensitive, in order."""
        headers = self._headers
        if headers is None:
            if self._head is None:
                return _EMPTY_HEADERS
            md: CIMultiDict[str] = CIMultiDict()
            add = md.add
            for name, value in self._head.raw_headers:
                add(name.decode("latin-1"), value.decode("utf-8", "surrogateescape"))
            headers = self._headers = CIMultiDictProxy(md)
        return headers

    @property
    def history(self) -> tuple[ClientResponse, ...]:
        """The redirect responses that led here, oldest first."""
        return self._history

    @property
    def links(self) -> MultiDictProxy[MultiDictProxy[str | URL]]:
        """The ``Link`` header (RFC 8288), as aiohttp gives it: by ``rel`` (the URL when
        there is none), each link's parameters and its ``url``, resolved against the
        response URL."""
        return _parse_links(self.headers.getall("Link", ()), self.url)

    @property
    def cookies(self) -> SimpleCookie:
        """Cookies set by this response (``Set-Cookie``)."""
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = SimpleCookie()
            if self._head is not None:
                for name, value in self._head.raw_headers:
                    if name.lower() == b"set-cookie":
                        # Parsed as the jar parses it (a malformed one is skipped).
                        morsel = parse_set_cookie(set_cookie_text(value))
                        if morsel is not None:
                            cookies[morsel.key] = morsel
        return cookies

    @property
    def request_info(self) -> RequestInfo:
        """Method, URL and headers of the request that produced this response."""
        info = self._request_info
        if info is None:
            headers = self._request_headers if self._request_headers is not None else CIMultiDict()
            info = self._request_info = RequestInfo(
                self._url, self.method, CIMultiDictProxy(headers), self._original_url
            )
        return info

    @property
    def timings(self) -> ResponseTimings | None:
        """Where this request's time went (None for a response built by hand)."""
        stamps, start = self._stamps, self._started
        if stamps is None or start is None:
            return None
        conn, sent, first_byte, head, reused, durations, pool_wait = stamps
        dns, connect, tls = durations or (None, None, None)

        def since(t: float | None) -> float | None:
            return None if t is None else max(0.0, t - start)

        return ResponseTimings(
            start=start,
            connection=since(conn),
            pool_wait=pool_wait,
            dns=dns,
            connect=connect,
            tls=tls,
            request_sent=since(sent),
            first_byte=since(first_byte),
            headers=since(head),
            body_done=since(self._done_at),
            reused=reused,
        )

    @property
    def ok(self) -> bool:
        """True when the status is below 400."""
        return self.status < 400

    @property
    def connection(self) -> Connection | None:
        """The connection, while the body is still arriving."""
        return self._connection

    @property
    def closed(self) -> bool:
        """True once the response was released or closed."""
        return self._closed

    def _content_type_parts(self) -> tuple[str, dict[str, str]]:
        parsed = self._content_type
        if parsed is None:
            raw = self._header_value(b"content-type")
            if raw is None:
                parsed = ("application/octet-stream", {})
            else:
                parsed = parse_content_type(raw)
            self._content_type = parsed
        return parsed

    @property
    def content_type(self) -> str:
        """The media type from Content-Type (``application/octet-stream`` if absent)."""
        return self._content_type_parts()[0]

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of Content-Type, if any."""
        return self._content_type_parts()[1].get("charset")

    @property
    def content_length(self) -> int | None:
        """The Content-Length, if the response had one."""
        return self._head.content_length if self._head is not None else None

    @property
    def content_disposition(self) -> ContentDisposition | None:
        """The parsed Content-Disposition header, if present."""
        # As headers decode it (UTF-8, as servers send raw filenames), not as Latin-1.
        raw = self.headers.get("Content-Disposition")
        if raw is None:
            return None
        disposition, parameters = parse_content_disposition(raw)
        return ContentDisposition(
            type=disposition,
            parameters=MappingProxyType(parameters),
            filename=content_disposition_filename(parameters),
        )

    def get_encoding(self) -> str:
        """The charset to decode the body with: Content-Type's (its codec's name, as
        aiohttp gives it), else the session's ``fallback_charset_resolver`` once the body
        was read, else UTF-8 (also for JSON, RFC 8259 §8.1)."""
        codec = _text_codec(self.charset)
        if codec is not None:
            return codec
        mtype = self.content_type
        if mtype == "application/json" or mtype.endswith("+json"):
            return "utf-8"
        resolver = self._charset_resolver()
        if resolver is not None:
            if self._body is None:
                raise RuntimeError("cannot compute the fallback encoding of a body not read yet")
            return resolver(self, self._body)
        return "utf-8"

    def _charset_resolver(self) -> Callable[[ClientResponse, bytes], str] | None:
        return getattr(self._session, "_resolve_charset", None)

    # -- body ------------------------------------------------------------------------------------

    async def read(self, *, max_size: int | None = None) -> bytes:
        """The whole body (cached: calling again returns the same bytes).

        Args:
            max_size: refuse bodies (after decoding) longer than this many bytes.

        Raises:
            ClientPayloadError: the body is broken, or longer than *max_size*.
        """
        if self._body is None:
            if max_size is None and not self._traces:
                body = self.content.read_complete()
                if body is not None:
                    self._body = body
                    return body
            try:
                if max_size is None:
                    self._body = await self.content.read()
                else:
                    self._body = await self._read_capped(max_size)
            except BaseException as exc:
                self._abandon_body(exc)
                raise
            if self._traces:
                for trace in self._traces:
                    await trace.send_response_chunk_received(self.method, self._url, self._body)
        return self._body

    async def _read_capped(self, max_size: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            chunk = await self.content.readany()
            if not chunk:
                return b"".join(parts)
            size += len(chunk)
            if size > max_size:
                raise ClientPayloadError(
                    f"response body exceeds max_size: more than {max_size} bytes"
                )
            parts.append(chunk)

    async def text(
        self, encoding: str | None = None, errors: str = "strict", *, max_size: int | None = None
    ) -> str:
        """The body decoded with *encoding*, the Content-Type charset, or UTF-8.

        Without a declared charset, a body that is not valid UTF-8 is decoded as Latin-1,
        which never fails. *max_size* is :meth:`read`'s (a compressed body from a server
        you do not trust can inflate a thousandfold and more).
        """
        body = await self.read(max_size=max_size)
        if encoding is not None:
            return body.decode(encoding, errors)
        codec = _text_codec(self.charset)
        if codec is not None:
            return body.decode(codec, errors)
        if self._charset_resolver() is not None:
            return body.decode(self.get_encoding(), errors)
        try:
            return body.decode("utf-8", errors)
        except UnicodeDecodeError:
            return body.decode("latin-1")

    async def json(
        self,
        *,
        encoding: str | None = None,
        loads: Callable[[str], Any] = json.loads,
        content_type: str | None = "application/json",
        max_size: int | None = None,
    ) -> Any:
        """The body parsed as JSON; None for an empty body.

        Raises:
            ContentTypeError: the media type is not *content_type* (or ``+json``); pass
                ``content_type=None`` to skip the check.
            ClientPayloadError: the body (decoded) is longer than *max_size* bytes.
        """
        body = await self.read(max_size=max_size)
        if content_type:
            mtype = self.content_type
            if not (
                mtype == content_type
                or (content_type == "application/json" and mtype.endswith("+json"))
            ):
                raise ContentTypeError(
                    self.request_info,
                    self._history,
                    status=self.status,
                    # The value as sent, parameters and all, as aiohttp shows it.
                    message="Attempt to decode JSON with unexpected mimetype: "
                    + (self._header_value(b"content-type") or ""),
                    headers=self.headers,
                )
        stripped = body.strip()
        if not stripped:
            return None
        return loads(stripped.decode(encoding or self.get_encoding()))

    # -- lifecycle --------------------------------------------------------------------------------

    def release(self) -> _Noop:
        """Done with the response: free the connection (closed if the body is unfinished)."""
        self._closed = True
        if self._timer is not None:
            self._cancel_timer()
        conn = self._connection
        if conn is not None:
            self._connection = None
            if not self.content.is_eof():
                self._cut_body()
                conn.close()
            else:
                conn.release()
        if self._on_release:
            self._run_release_callbacks()
        return _NOOP

    def _abandon_body(self, exc: BaseException) -> None:
        """A read of the whole body failed part-way (too big, broken, cancelled): the bytes
        it took are gone, so every later read raises too instead of returning what is left
        as if it were the body."""
        # (The stream keeps its first error: one the read met stays.)
        error = exc if isinstance(exc, ClientError) else ClientConnectionError("Connection closed")
        self.content.set_exception(error)
        self.close()

    def _cut_body(self) -> None:
        """The application gave up on an unfinished body: a read still waiting for it (in
        another task, say) fails with "Connection closed", as in aiohttp, not with the
        truncation the closing socket would report."""
        content = self.content
        if not content.is_eof():  # (a stream keeps its first error)
            content.set_exception(ClientConnectionError("Connection closed"))

    def close(self) -> None:
        """Close the connection whatever its state."""
        self._closed = True
        self._cancel_timer()
        conn = self._connection
        if conn is not None:
            self._connection = None
            self._cut_body()
            conn.close()
        self._run_release_callbacks()

    async def wait_for_close(self) -> None:
        """Read the body to its end and release (aiohttp compatibility)."""
        try:
            await self.content.read()
        finally:
            self.release()

    def raise_for_status(self) -> None:
        """Raise ``ClientResponseError`` when the status is 400 or above."""
        if self.status >= 400:
            if not self._in_context:
                self.release()
            raise ClientResponseError(
                self.request_info,
                self._history,
                status=self.status,
                message=self.reason or "",
                headers=self.headers,
            )

    async def __aenter__(self) -> ClientResponse:
        self._in_context = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._in_context = False
        self.release()

    def __del__(self, _warnings: Any = warnings) -> None:
        if self._timer is not None:
            self._cancel_timer()  # the total budget's timer would keep it in the loop
        conn = self._connection
        if conn is not None and not conn.closed:
            conn.close()
            _warnings.warn(f"Unclosed response {self!r}", ResourceWarning, source=self)

    def __repr__(self) -> str:
        reason = f" {self.reason}" if self.reason else ""
        return f"<ClientResponse({self._url}) [{self.status}{reason}]>"


#: What a charset name may hold (RFC 2978 §2.3's characters, with the ":" of IANA names
#: such as ISO_8859-7:1987 and the "." and space Python's codec names take); IANA's
#: longest registered name has 45 characters.
_CHARSET_CHARACTERS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'+-^_`{}~.: "
)
_MAX_CHARSET_LENGTH: Final = 64


def _text_codec(charset: str | None) -> str | None:
    """The name of the text codec a declared *charset* names, or None for none.

    A name that cannot be a charset is not looked up: each name the codec registry fails
    to find is cached by it for good, so a server sending a new 8 KB name with every
    response would grow the process without end. Codecs that do not decode bytes to text
    (``base64``, ``rot13``) are no charset either.
    """
    if (
        not charset
        or len(charset) > _MAX_CHARSET_LENGTH
        or not _CHARSET_CHARACTERS.issuperset(charset)
    ):
        return None
    try:
        info = codecs.lookup(charset)
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _weak_callback(
    response: ClientResponse, method: Callable[[ClientResponse], None]
) -> Callable[[], None]:
    ref = weakref.ref(response)

    def callback() -> None:
        target = ref()
        if target is not None:
            method(target)

    return callback


class _Cancellable(Protocol):
    """A timer the response cancels once its body is complete."""

    def cancel(self) -> None: ...


def _parse_links(values: Iterable[str], base: URL) -> MultiDictProxy[MultiDictProxy[str | URL]]:
    """Parse ``Link`` field values (RFC 8288 §3): ``<uri-ref>; param=value; ...``, comma
    separated. A comma inside ``<...>`` or a quoted string does not end a link."""
    links: MultiDict[MultiDictProxy[str | URL]] = MultiDict()
    for value in values:
        pos, end = 0, len(value)
        while pos < end:
            start = value.find("<", pos)
            close = value.find(">", start + 1) if start != -1 else -1
            if close == -1:
                break  # no (complete) link left: ignore the rest, as browsers do
            target = value[start + 1 : close]
            params: MultiDict[str | URL] = MultiDict()
            pos = close + 1
            while pos < end and value[pos] != ",":
                if value[pos] != ";":
                    pos += 1
                    continue
                name, param, pos = _link_param(value, pos + 1)
                if name:
                    params.add(name, param)
            pos += 1  # past the comma
            rel = params.get("rel")
            params.add("url", base.join(URL(target)))
            links.add(str(rel) if rel else target, MultiDictProxy(params))  # rel="": by URL
    return MultiDictProxy(links)


def _link_param(value: str, pos: int) -> tuple[str, str, int]:
    """One ``name[=value]`` link parameter from *pos*; the value may be a quoted-string
    (RFC 9110 §5.6.4). Returns name (lower case), value and where parsing stopped."""
    end = len(value)
    stop = pos
    while stop < end and value[stop] not in "=;,":
        stop += 1
    name = value[pos:stop].strip().lower()
    if stop >= end or value[stop] != "=":
        return name, "", stop
    pos = stop + 1
    while pos < end and value[pos] in " \t":
        pos += 1
    if pos < end and value[pos] == '"':
        chars = []
        pos += 1
        while pos < end and value[pos] != '"':
            if value[pos] == "\\" and pos + 1 < end:
                pos += 1
            chars.append(value[pos])
            pos += 1
        return name, "".join(chars), pos + 1
    stop = pos
    while stop < end and value[stop] not in ";,":
        stop += 1
    return name, value[pos:stop].strip(), stop


class _RefusingDecoder:
    """Stands in for a decoder we do not have: reading the body raises the reason."""

    __slots__ = ("_error",)

    def __init__(self, error: RemoteProtocolError) -> None:
        self._error = error

    def decompress(self, data: bytes, max_length: int) -> bytes:
        raise RemoteProtocolError(
            f"{self._error.message} (pass auto_decompress=False to read the raw body)",
            in_body=True,
        )

    def has_pending(self) -> bool:
        return False

    def finish(self) -> bytes:
        # Reached only when no body byte came (HEAD, 204, 304, an empty body): nothing
        # to decode, in any coding. A byte would have raised in decompress().
        return b""


class _Noop:
    """``release()`` returns this so that both ``resp.release()`` and ``await`` work."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield


_NOOP = _Noop()  # stateless: one for every release()
