"""HTTP/1.1 for a client: a strict incremental response parser and the request writer.

This module owns the wire format of HTTP/1.1 (RFC 9112) as a client sees it: turning the
bytes a server sends into events (:class:`ResponseHead`, body ``bytes``,
:class:`EndOfMessage`...) and turning a request line, header fields and body chunks into
bytes. It must not do I/O, import asyncio, keep a clock or know about connections and
pools: bytes go in through :meth:`ResponseParser.receive_data`, events come out of
:meth:`ResponseParser.next_event` (h11's ``receive_data()``/``next_event()`` contract).

Rules the parser keeps:

1. Strict, never lenient about framing: everything that could make two parties disagree
   about where a message ends (bare LF, obs-fold, ``Content-Length`` next to
   ``Transfer-Encoding``, conflicting lengths, a malformed chunk size) is an error, in the
   spirit of RFC 9112 §11.2 (request smuggling).
2. The outcome never depends on how the input was split: one ``receive_data()`` with the
   whole response or one call per byte give the same events and the same error. Errors in
   the head are reported in stream order: the first one a byte-by-byte reader would meet.
3. Memory is bounded: a head, a header line, a chunk-size line and a trailer section are
   all limited, and the limits hold while the bytes still trickle in.
4. It is the hot path: the common response is parsed with a handful of C-level bytes
   operations (``find``, ``split``, ``translate``), and body data that arrives in a
   ``bytes`` object of its own is handed out as that same object, without a copy.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TypeAlias

from .errors import LocalProtocolError, PayloadTooBig, RemoteProtocolError, short_repr
from .values import HttpVersion, HttpVersion10, HttpVersion11

__all__ = (
    "LAST_CHUNK",
    "NEED_DATA",
    "PAUSED",
    "EndOfMessage",
    "Event",
    "InformationalResponse",
    "ResponseHead",
    "ResponseParser",
    "Sentinel",
    "asks_to_close",
    "encode_chunk",
    "field_text",
    "is_token",
    "serialize_request_head",
)


# -- character classes ---------------------------------------------------------------------

#: RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
#: "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
_TCHAR: Final = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: RFC 5234 CTL (%x00-1F / %x7F) minus HTAB: what may not appear in a field value, a reason
#: phrase or a chunk extension (RFC 9110 §5.5: field-vchar = VCHAR / obs-text).
_CTL_NO_HTAB: Final = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
_HEXDIG: Final = b"0123456789abcdefABCDEF"
_OWS: Final = b" \t"

# -- limits ---------------------------------------------------------------------------------

#: RFC 9112 §7.1: "chunk-size = 1*HEXDIG"; 16 hex digits are 64 bits, as llhttp allows.
_MAX_CHUNK_SIZE_DIGITS: Final = 16
#: 18 decimal digits stay below 2**63, the largest length any peer can mean.
_MAX_CONTENT_LENGTH_DIGITS: Final = 18
#: Header names cached as valid tokens; bounded so that a hostile server sending endless
#: distinct names cannot grow it.
_NAME_CACHE_SIZE: Final = 2048


# -- events -----------------------------------------------------------------------------------


class Sentinel(enum.Enum):
    """The two non-event answers of :meth:`ResponseParser.next_event`."""

    NEED_DATA = "NEED_DATA"
    PAUSED = "PAUSED"

    def __repr__(self) -> str:
        return self.value


#: More bytes are needed before another event can be produced.
NEED_DATA: Final = Sentinel.NEED_DATA
#: The response is complete (or the connection was upgraded): nothing more is consumed
#: until :meth:`ResponseParser.start` is called again.
PAUSED: Final = Sentinel.PAUSED


@dataclass(slots=True, frozen=True)
class ResponseHead:
    """The status line and header fields of a final (non-1xx, or 101) response.

    Attributes:
        status: the status code, 100-599.
        reason: the reason phrase, decoded as UTF-8 with ``surrogateescape`` (aiohttp does).
        version: the HTTP version of the response.
        raw_headers: ``(name, value)`` pairs as received; values stripped of OWS.
        keep_alive: whether the connection can carry another request after this response
            (RFC 9112 §9.3); False for close-delimited bodies and upgrades.
        content_length: the validated ``Content-Length``, or None.
        chunked: whether the body uses the chunked transfer coding.
        upgrade: True for 101 and for a 2xx answer to CONNECT: the following bytes belong
            to another protocol (read them from :attr:`ResponseParser.trailing_data`).
        keep_alive_timeout: ``Keep-Alive: timeout=N`` in seconds, when present and valid.
        content_encoding: the ``Content-Encoding`` field values joined by ", ", or None.
        set_cookie: whether the response carries ``Set-Cookie`` fields.
        location: the first ``Location`` field value, or None.
    """

    status: int
    reason: str
    version: HttpVersion
    raw_headers: tuple[tuple[bytes, bytes], ...]
    keep_alive: bool
    content_length: int | None
    chunked: bool
    upgrade: bool
    keep_alive_timeout: float | None
    content_encoding: bytes | None = None
    set_cookie: bool = False
    location: bytes | None = None


@dataclass(slots=True)
class InformationalResponse:
    """An interim 1xx response other than 101 (RFC 9110 §15.2); the final one follows."""

    status: int
    reason: str
    version: HttpVersion
    raw_headers: tuple[tuple[bytes, bytes], ...]


@dataclass(slots=True)
class EndOfMessage:
    """The body is complete; ``trailers`` holds the chunked trailer fields, if any."""

    trailers: list[tuple[bytes, bytes]]


#: Everything :meth:`ResponseParser.next_event` returns; body data is plain ``bytes``.
Event: TypeAlias = ResponseHead | InformationalResponse | bytes | EndOfMessage | Sentinel


# -- parser -----------------------------------------------------------------------------------


class _State(enum.Enum):
    IDLE = "idle"  # start() not called yet
    HEAD = "head"  # waiting for a status line and header fields
    BODY_LENGTH = "body-length"  # Content-Length body, self._remaining bytes to go
    CHUNK_HEADER = "chunk-header"  # waiting for a chunk-size line
    CHUNK_DATA = "chunk-data"  # inside a chunk, self._remaining bytes to go
    CHUNK_END = "chunk-end"  # waiting for the CRLF after chunk data
    TRAILERS = "trailers"  # after the last chunk, waiting for the trailer section
    BODY_EOF = "body-eof"  # close-delimited body: everything until EOF
    DONE = "done"  # message complete; paused until start()
    UPGRADED = "upgraded"  # protocol switched; paused, bytes belong to someone else
    ERROR = "error"  # a RemoteProtocolError was raised; the connection is unusable


_IDLE: Final = _State.IDLE
_HEAD: Final = _State.HEAD
_BODY_LENGTH: Final = _State.BODY_LENGTH
_CHUNK_HEADER: Final = _State.CHUNK_HEADER
_CHUNK_DATA: Final = _State.CHUNK_DATA
_CHUNK_END: Final = _State.CHUNK_END
_TRAILERS: Final = _State.TRAILERS
_BODY_EOF: Final = _State.BODY_EOF
_DONE: Final = _State.DONE
_UPGRADED: Final = _State.UPGRADED
_ERROR: Final = _State.ERROR

# Field names the framing depends on; every other valid name maps to _PLAIN.
_PLAIN: Final = 0
_CONTENT_LENGTH: Final = 1
_TRANSFER_ENCODING: Final = 2
_CONNECTION: Final = 3
_KEEP_ALIVE: Final = 4
# Not framing, but fields the client acts on: noted here so nobody rescans the head.
_CONTENT_ENCODING: Final = 5
_SET_COOKIE: Final = 6
_LOCATION: Final = 7
_SPECIAL_NAMES: Final = {
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"connection": _CONNECTION,
    b"keep-alive": _KEEP_ALIVE,
    b"content-encoding": _CONTENT_ENCODING,
    b"set-cookie": _SET_COOKIE,
    b"location": _LOCATION,
}
#: Valid field names seen so far (as received) -> kind. Filled by _classify_name().
_name_kinds: dict[bytes, int] = {}


def _classify_name(name: bytes) -> int | None:
    """The kind of a field name, or None when it is not a token; caches valid names."""
    if not name or name.translate(None, _TCHAR):
        return None
    kind = _SPECIAL_NAMES.get(name.lower(), _PLAIN)
    if len(_name_kinds) < _NAME_CACHE_SIZE:
        _name_kinds[name] = kind
    return kind


_VERSIONS: Final = {b"HTTP/1.1": HttpVersion11, b"HTTP/1.0": HttpVersion10}

#: Servers repeat the same status and field lines response after response: each line seen
#: valid is remembered with its parsed form, so the next head costs one lookup per line.
#: Only short lines, and bounded (cleared when full) so a hostile server cannot grow them;
#: never a Set-Cookie line, whose value must not outlive its response.
#: The per-head checks (control characters, sizes) still run on every head.
_LINE_CACHE_SIZE: Final = 4096
_CACHED_LINE_LENGTH: Final = 200
_status_lines: dict[bytes, tuple[HttpVersion, int, str]] = {}
_field_lines: dict[bytes, tuple[tuple[bytes, bytes], int]] = {}


def _check_status_line(line: bytes) -> tuple[HttpVersion, int, str] | None:
    """Version, status and reason of a plain "HTTP/1.x NNN[ reason]" line, else None.

    Control characters are not looked for here: the whole head is checked for them.
    """
    version = _VERSIONS.get(line[:8])
    code = line[9:12]
    if (
        version is None
        or line[8:9] != b" "
        or len(code) != 3
        or not code.isdigit()
        or not b"100" <= code <= b"599"
        or line[12:13] not in (b" ", b"")
    ):
        return None
    parsed = (version, int(code), line[13:].decode("utf-8", "surrogateescape"))
    _remember(_status_lines, line, parsed)
    return parsed


def _check_field_line(line: bytes) -> tuple[tuple[bytes, bytes], int] | None:
    """The ``(name, value)`` pair and name kind of a field line, else None (no colon, or
    the name is not a token). The value is stripped of OWS (RFC 9112 §5.1)."""
    name, colon, value = line.partition(b":")
    kind = _name_kinds.get(name)
    if kind is None:
        kind = _classify_name(name)
    if kind is None or not colon:
        return None
    # Control characters are excluded by the whole-head check, so strip() only removes OWS.
    field = ((name, value.strip()), kind)
    if kind != _SET_COOKIE:  # cookie values are per client and often secret: not kept
        _remember(_field_lines, line, field)
    return field


def _remember(cache: dict[bytes, Any], line: bytes, parsed: object) -> None:
    """Keep a short valid *line*'s parsed form; a full cache starts over (bounded)."""
    if len(line) <= _CACHED_LINE_LENGTH:
        if len(cache) >= _LINE_CACHE_SIZE:
            cache.clear()
        cache[line] = parsed


def _chunk_size_text(line: bytes) -> bytes:
    """The chunk-size of a chunk-size line, complete or not: before any ";", without the
    line's own CR and the whitespace h11 also allows after the size (RFC 9112 §7.1.1)."""
    if line.endswith(b"\r"):
        line = line[:-1]
    return line.partition(b";")[0].rstrip(_OWS)


def _check_chunk_size(size_text: bytes) -> None:
    """Raise for a chunk size (RFC 9112 §7.1: ``1*HEXDIG``) or the start of one that is
    already wrong, named up to its first wrong byte: the same error however the bytes
    were split, and as soon as it shows."""
    bad = size_text.translate(None, _HEXDIG)
    if bad:
        end = size_text.index(bad[:1]) + 1
        raise RemoteProtocolError(
            f"invalid chunk size: {short_repr(size_text[:end])}", in_body=True
        )
    zeros = len(size_text) - len(size_text.lstrip(b"0"))  # leading zeros are allowed
    if len(size_text) - zeros > _MAX_CHUNK_SIZE_DIGITS:
        end = zeros + _MAX_CHUNK_SIZE_DIGITS + 1
        raise RemoteProtocolError(
            f"chunk size has more than {_MAX_CHUNK_SIZE_DIGITS} hex digits: "
            f"{short_repr(size_text[:end])}",
            in_body=True,
        )


def _not_http(start: bytes) -> RemoteProtocolError:
    """The error for a response whose first bytes (at most 5) are not ``HTTP/``."""
    return RemoteProtocolError(f"not an HTTP response: it starts with {short_repr(start)}")


def _too_long(what: str, limit: int, line: bytes | bytearray) -> PayloadTooBig:
    """The error for a line over *limit*, the same whether its end has arrived or not
    (only its first ``limit + 1`` bytes are certain before then)."""
    start = short_repr(bytes(line[: limit + 1]))
    return PayloadTooBig(f"{what} too long: more than {limit} bytes, starting {start}")


def _parse_status_line(line: bytes, max_line: int) -> tuple[HttpVersion, int, bytes]:
    """``HTTP-version SP status-code SP [reason-phrase]`` (RFC 9112 §4), validated."""
    if line[:5] != b"HTTP/":
        raise _not_http(line[:5])  # named as ResponseParser._scan names it
    if len(line) > max_line:
        raise _too_long("status line", max_line, line)
    if line.translate(None, _CTL_NO_HTAB) != line:
        what = "bare CR" if b"\r" in line else "invalid character"
        raise RemoteProtocolError(f"{what} in status line: {short_repr(line)}")
    version_text, _, rest = line.partition(b" ")
    version = _VERSIONS.get(version_text)
    if version is None:
        # RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT; only 1.x is spoken here.
        if (
            len(version_text) == 8
            and version_text.startswith(b"HTTP/")
            and version_text[5:6].isdigit()
            and version_text[6:7] == b"."
            and version_text[7:8].isdigit()
        ):
            raise RemoteProtocolError(f"unsupported HTTP version: {short_repr(version_text)}")
        if version_text.startswith(b"HTTP/"):
            raise RemoteProtocolError(f"invalid HTTP version: {short_repr(version_text)}")
        raise RemoteProtocolError(f"invalid status line: {short_repr(line)}")
    code, _, reason = rest.partition(b" ")
    # RFC 9110 §15: status-code = 3DIGIT, and only the 1xx-5xx classes are defined.
    if len(code) != 3 or not code.isdigit() or not b"100" <= code <= b"599":
        raise RemoteProtocolError(f"invalid status code: {short_repr(code)}")
    return version, int(code), reason


def _parse_field_line(line: bytes, max_field: int, where: str) -> tuple[bytes, bytes]:
    """``field-name ":" OWS field-value OWS`` (RFC 9112 §5), validated."""
    if len(line) > max_field:
        raise _too_long("header line", max_field, line)
    if line[:1] in (b" ", b"\t"):
        # RFC 9112 §5.2: a user agent may reject obs-fold; a folded line changes the meaning
        # of the previous field for anyone who unfolds it, so we do.
        raise RemoteProtocolError(f"obs-fold is not allowed in {where}: {short_repr(line)}")
    name, colon, value = line.partition(b":")
    if not colon:
        raise RemoteProtocolError(f"missing colon in header line: {short_repr(line)}")
    if name[-1:] in (b" ", b"\t"):
        # RFC 9112 §5.1: "No whitespace is allowed between the field name and colon."
        raise RemoteProtocolError(f"whitespace before colon in header line: {short_repr(line)}")
    if not name or name.translate(None, _TCHAR):
        raise RemoteProtocolError(f"invalid header name: {short_repr(name)}")
    value = value.strip(_OWS)
    if value.translate(None, _CTL_NO_HTAB) != value:
        what = "bare CR" if b"\r" in value else "invalid character"
        raise RemoteProtocolError(f"{what} in header value: {short_repr(value)}")
    return name, value


def _parse_content_length(values: list[bytes]) -> int:
    """RFC 9110 §8.6 / RFC 9112 §6.3 rule 5: identical repeated values are one length."""
    found: set[bytes] = set()
    for value in values:
        for item in value.split(b","):
            item = item.strip(_OWS)
            if not item.isdigit() or len(item) > _MAX_CONTENT_LENGTH_DIGITS:
                raise RemoteProtocolError(f"invalid Content-Length: {short_repr(item)}")
            found.add(item)
    if len(found) > 1 and len({int(item) for item in found}) > 1:
        raise RemoteProtocolError(f"conflicting Content-Length: {short_repr(b', '.join(values))}")
    return int(found.pop())


def _check_chunked(values: tuple[bytes, ...]) -> None:
    """Refuse a Transfer-Encoding other than chunked alone.

    chunked must be last and may appear once (RFC 9112 §6.1). We also refuse what llhttp
    reads differently from the RFC: empty list elements ("chunked," is chunked by RFC 9110
    §5.6.1, not to llhttp) and parameters on chunked, which defines none. When two parsers
    can disagree on the framing, the message is refused. Any other coding is refused too:
    the recipient must decode every transfer coding (§6.1), we ask for none but chunked
    (no TE header, RFC 9110 §10.1.4), and handing the still coded bytes over as content
    would corrupt it without a word. That leaves no close-delimited body of §6.3 rule 4.
    """
    if len(values) == 1 and values[0] == b"chunked":
        return
    codings = [item.strip(_OWS).lower() for value in values for item in value.split(b",")]
    count = codings.count(b"chunked")
    if (
        b"" in codings
        or count > 1
        or (count and codings[-1] != b"chunked")
        or count != sum(c.partition(b";")[0].rstrip(_OWS) == b"chunked" for c in codings)
    ):
        raise RemoteProtocolError(f"invalid Transfer-Encoding: {short_repr(b', '.join(values))}")
    for coding in codings:
        if coding != b"chunked":
            raise RemoteProtocolError(
                f"unsupported transfer coding {short_repr(coding)} in "
                f"Transfer-Encoding: {short_repr(b', '.join(values))}"
            )


_CLOSE: Final = 1
_PERSIST: Final = 2
#: Connection values seen -> _CLOSE | _PERSIST bits; bounded like _name_kinds.
_connection_flags: dict[bytes, int] = {}


def _connection_options(value: bytes) -> int:
    """Whether a Connection list (RFC 9110 §7.6.1) holds "close" and/or "keep-alive"."""
    flags = _connection_flags.get(value)
    if flags is None:
        options = {item.strip(_OWS) for item in value.lower().split(b",")}
        flags = (b"close" in options and _CLOSE) | (b"keep-alive" in options and _PERSIST)
        if len(_connection_flags) < _NAME_CACHE_SIZE:
            _connection_flags[value] = flags
    return flags


def asks_to_close(values: Iterable[str]) -> bool:
    """Whether Connection field values given for a request hold the "close" option."""
    return any(_connection_options(value.encode("latin-1", "replace")) & _CLOSE for value in values)


#: Keep-Alive values seen -> their timeout; bounded like _name_kinds.
_keep_alive_timeouts: dict[bytes, float | None] = {}


def _keep_alive_timeout(value: bytes) -> float | None:
    """``Keep-Alive: timeout=5, max=100`` (RFC 2068 §19.7.1.1) -> 5.0; garbage is ignored."""
    try:
        return _keep_alive_timeouts[value]
    except KeyError:
        pass
    timeout = None
    for param in value.split(b","):
        key, _, number = param.partition(b"=")
        number = number.strip(_OWS)
        if (
            key.strip(_OWS).lower() == b"timeout"
            and number.replace(b".", b"", 1).isdigit()
            and len(number) <= 12
        ):
            timeout = float(number)
            break
    if len(_keep_alive_timeouts) < _NAME_CACHE_SIZE:
        _keep_alive_timeouts[value] = timeout
    return timeout


class _ParsedHead:
    """A valid final head: its status line, fields and what its special fields say about
    framing and the connection (RFC 9112 §6.3, §9.3; RFC 9110 §8.4, §10.2.2), before the
    request's method is taken into account. Once an ordinary request's response (not to
    HEAD or CONNECT, read until close) was framed by it, also that outcome (``plain``):
    the parser state, the body length and the ResponseHead (immutable, so one object
    serves every response with this head).

    Raises:
        RemoteProtocolError: an invalid ``Content-Length``.
    """

    __slots__ = (
        "codings",
        "content_encoding",
        "content_length",
        "headers",
        "keep_alive",
        "keep_alive_timeout",
        "location",
        "plain",
        "reason",
        "set_cookie",
        "status",
        "version",
    )

    def __init__(
        self,
        status: int,
        reason: str,
        version: HttpVersion,
        headers: tuple[tuple[bytes, bytes], ...],
        specials: list[tuple[int, bytes]] | None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
        self.plain: tuple[_State, int, ResponseHead] | None = None
        lengths: list[bytes] | None = None
        codings: list[bytes] | None = None
        connection = 0
        keep_alive_timeout = None
        content_encoding = location = None
        set_cookie = False
        if specials is not None:
            for kind, value in specials:
                if kind == _CONTENT_LENGTH:
                    lengths = [value] if lengths is None else [*lengths, value]
                elif kind == _TRANSFER_ENCODING:
                    codings = [value] if codings is None else [*codings, value]
                elif kind == _CONNECTION:
                    connection |= _connection_options(value)
                elif kind == _KEEP_ALIVE:
                    if keep_alive_timeout is None:
                        keep_alive_timeout = _keep_alive_timeout(value)
                elif kind == _SET_COOKIE:
                    set_cookie = True
                elif kind == _CONTENT_ENCODING:
                    # RFC 9110 §5.3: several fields are one comma-separated list.
                    content_encoding = (
                        value if content_encoding is None else content_encoding + b", " + value
                    )
                elif location is None:
                    location = value
        content_length = None
        if lengths is not None:
            value = lengths[0]
            if len(lengths) == 1 and value.isdigit() and len(value) <= _MAX_CONTENT_LENGTH_DIGITS:
                content_length = int(value)
            else:
                content_length = _parse_content_length(lengths)
        self.content_length = content_length
        self.codings = None if codings is None else tuple(codings)
        # RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
        if version is HttpVersion11:
            self.keep_alive = not connection & _CLOSE
        else:
            self.keep_alive = bool(connection & _PERSIST)
        self.keep_alive_timeout = keep_alive_timeout
        self.content_encoding = content_encoding
        self.set_cookie = set_cookie
        self.location = location


#: Servers send the same head byte for byte response after response (nginx's changes once
#: a second, with its Date field): each valid final head is remembered with its parsed
#: form, so the next one costs one lookup instead of the split, the whole-head checks and
#: a loop over its lines. One cache per set of limits (a head valid under one may not be
#: under another); each is bounded (cleared when full) and keeps only heads up to
#: _CACHED_HEAD_LENGTH bytes, so a hostile server cannot grow it; heads with Set-Cookie
#: are never kept.
_HEAD_CACHE_SIZE: Final = 256
_CACHED_HEAD_LENGTH: Final = 2048
_head_caches: dict[tuple[int, int, int, int], dict[bytes, _ParsedHead]] = {}


def _head_cache(
    max_line: int, max_field: int, max_headers: int, max_head: int
) -> dict[bytes, _ParsedHead]:
    """The head cache for these limits."""
    key = (max_line, max_field, max_headers, max_head)
    cache = _head_caches.get(key)
    if cache is None:
        if len(_head_caches) >= 8:  # one per set of limits in use: a few at most
            _head_caches.clear()
        cache = _head_caches[key] = {}
    return cache


class ResponseParser:
    """Incremental, strict parser of HTTP/1.x responses (RFC 9112), one at a time.

    Call :meth:`start` with the request method, feed bytes with :meth:`receive_data` (any
    split) and :meth:`receive_eof`, and pull events with :meth:`next_event` until it returns
    :data:`NEED_DATA` (feed more) or :data:`PAUSED` (the response is over).

    Args:
        max_line_size: longest status line, in bytes (CRLF excluded).
        max_field_size: longest header or trailer line, in bytes (CRLF excluded). 8190 is
            aiohttp's default and Apache's ``LimitRequestFieldSize``.
        max_headers: most header fields in a head (and trailer fields in a trailer section).
        max_head_size: largest head, status line to the last field line, in bytes;
            also bounds a trailer section. 256 KiB is what Chrome accepts: a response a
            browser loads (many large ``Set-Cookie`` fields) is not refused, and a hostile
            server still cannot make us buffer more per connection.
        max_chunk_ext_size: longest chunk-size line, extensions included, in bytes.
    """

    __slots__ = (
        "_base_limits",
        "_buf",
        "_checked",
        "_eof",
        "_error",
        "_expected",
        "_heads",
        "_is_connect",
        "_is_head",
        "_max_chunk_line",
        "_max_field",
        "_max_head",
        "_max_headers",
        "_max_line",
        "_nlines",
        "_plain",
        "_pos",
        "_read_until_eof",
        "_remaining",
        "_scanned",
        "_short_lines",
        "_state",
    )

    def __init__(
        self,
        *,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 128,
        max_head_size: int = 262144,
        max_chunk_ext_size: int = 4096,
    ) -> None:
        self._max_line = max_line_size
        self._max_field = max_field_size
        self._max_headers = max_headers
        self._max_head = max_head_size
        self._max_chunk_line = max_chunk_ext_size
        # A head no longer than this cannot hold a line over either limit.
        self._short_lines = min(max_line_size, max_field_size)
        self._heads = _head_cache(max_line_size, max_field_size, max_headers, max_head_size)
        self._base_limits = (max_line_size, max_field_size, max_headers)
        # Input not consumed yet is self._buf[self._pos:]. It is the caller's own bytes
        # object while that is all there is (so body data can be handed out without a
        # copy), and a bytearray once pieces have to be joined.
        self._buf: bytes | bytearray = b""
        self._pos = 0
        self._eof = False
        self._state = _IDLE
        self._error: RemoteProtocolError | None = None
        self._is_head = False
        self._is_connect = False
        self._read_until_eof = True
        self._plain = True  # none of the three above changes the framing
        self._remaining = 0  # bytes left in a Content-Length body or in the current chunk
        self._expected = 0  # the Content-Length, for the truncation message
        # While a head or trailer section is incomplete: how far (relative to _pos) the
        # terminator search got, where the first line not yet validated starts, and how
        # many lines have been validated. Keeps slow input linear and errors early.
        self._scanned = 0
        self._checked = 0
        self._nlines = 0

    # -- input ----------------------------------------------------------------------------

    def start(self, method: str, *, read_until_eof: bool = True) -> None:
        """Expect the response to a request with *method*.

        Bytes already buffered (received after the previous response) are parsed as this
        response.

        Args:
            method: the request method; ``HEAD`` and ``CONNECT`` change the framing
                (RFC 9112 §6.3 rules 1 and 2).
            read_until_eof: when the response has neither Content-Length nor
                Transfer-Encoding, read the body until the connection closes (True) or
                treat it as empty (False).

        Raises:
            RuntimeError: a response is still being parsed, or the parser failed.
        """
        if self._state is not _IDLE and self._state is not _DONE and self._state is not _UPGRADED:
            raise RuntimeError(f"cannot start a new response in state {self._state.value}")
        self._state = _HEAD
        self._is_head = method == "HEAD"
        self._is_connect = method == "CONNECT"
        self._read_until_eof = read_until_eof
        self._plain = read_until_eof and not (self._is_head or self._is_connect)
        self._scanned = self._checked = self._nlines = 0

    def set_limits(
        self, max_line_size: int | None, max_field_size: int | None, max_headers: int | None
    ) -> None:
        """Limits for the next response (None: the one given at construction)."""
        base_line, base_field, base_headers = self._base_limits
        line = base_line if max_line_size is None else max_line_size
        field = base_field if max_field_size is None else max_field_size
        headers = base_headers if max_headers is None else max_headers
        if (line, field, headers) == (self._max_line, self._max_field, self._max_headers):
            return  # a session's limits, again: keep the head cache already chosen
        self._max_line, self._max_field, self._max_headers = line, field, headers
        self._short_lines = min(self._max_line, self._max_field)
        self._heads = _head_cache(
            self._max_line, self._max_field, self._max_headers, self._max_head
        )

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes received from the server; any split is fine.

        A ``bytes`` object is kept as is (body data in it may be handed out without a
        copy); other buffers are copied.

        Raises:
            RuntimeError: after :meth:`receive_eof`.
        """
        if self._eof:
            raise RuntimeError("receive_data() called after receive_eof()")
        if not data:
            return
        buf = self._buf
        pos = self._pos
        if pos >= len(buf):
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0
        elif type(buf) is bytearray:
            if pos:
                del buf[:pos]
                self._pos = 0
            buf += data
        else:
            joined = bytearray(buf[pos:] if pos else buf)
            joined += data
            self._buf = joined
            self._pos = 0

    def receive_eof(self) -> None:
        """Record that the server closed its side of the connection."""
        self._eof = True

    # -- state ----------------------------------------------------------------------------

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """The bytes buffered but not consumed, and whether EOF was received.

        After :data:`PAUSED` these are bytes the server sent beyond the response (or, after
        an upgrade, the first bytes of the new protocol).
        """
        return bytes(self._buf[self._pos :]), self._eof

    def chunk_ended(self) -> bool:
        """Whether the body data just returned ended one of the server's chunks."""
        return self._state is _CHUNK_END

    def trailing_size(self) -> int:
        """How many bytes :attr:`trailing_data` holds, without copying them."""
        return len(self._buf) - self._pos

    def has_trailing_input(self) -> bool:
        """Whether bytes beyond the current message are buffered, or EOF was received."""
        return self._pos < len(self._buf) or self._eof

    def is_idle(self) -> bool:
        """Whether no response is in progress, nothing is buffered and EOF was not seen."""
        return (
            (self._state is _DONE or self._state is _IDLE)
            and self._pos >= len(self._buf)
            and not self._eof
        )

    # -- events ---------------------------------------------------------------------------

    def next_event(self) -> Event:
        """The next event parsed from the input.

        Returns:
            a :class:`ResponseHead`, an :class:`InformationalResponse`, a non-empty
            ``bytes`` of body, an :class:`EndOfMessage`, :data:`NEED_DATA` or
            :data:`PAUSED`.

        Raises:
            RemoteProtocolError: the response breaks HTTP/1.1; ``in_body`` is True for
                errors in the body framing. The parser is then unusable.
            PayloadTooBig: a size limit was exceeded.
        """
        state = self._state
        try:
            if state is _BODY_LENGTH:
                return self._next_length_body()
            if state is _HEAD:
                return self._next_head()
            if state is _CHUNK_DATA or state is _CHUNK_END or state is _CHUNK_HEADER:
                return self._next_chunked()
            if state is _BODY_EOF:
                return self._next_eof_body()
            if state is _TRAILERS:
                return self._next_trailers()
            if state is _ERROR:
                assert self._error is not None
                err = self._error
                raise type(err)(err.message, in_body=err.in_body)
            return PAUSED
        except RemoteProtocolError as exc:
            self._state = _ERROR
            # A copy without the traceback, whose frames hold this parser (a cycle).
            self._error = type(exc)(exc.message, in_body=exc.in_body)
            raise

    def _take(self, limit: int) -> bytes | None:
        """Up to *limit* buffered bytes (None when there are none), without copying if able."""
        buf = self._buf
        pos = self._pos
        available = len(buf) - pos
        if available <= 0:
            return None
        if available <= limit:
            if pos == 0 and type(buf) is bytes:
                data = buf
            else:
                data = bytes(buf[pos:])
            self._buf = b""
            self._pos = 0
            return data
        end = pos + limit
        self._pos = end
        return bytes(buf[pos:end])

    def _finish(self, trailers: list[tuple[bytes, bytes]]) -> EndOfMessage:
        self._state = _DONE
        if self._pos and self._pos >= len(self._buf):
            self._buf = b""
            self._pos = 0
        return EndOfMessage(trailers)

    def _next_length_body(self) -> bytes | EndOfMessage | Sentinel:
        remaining = self._remaining
        if not remaining:
            return self._finish([])
        data = self._take(remaining)
        if data is not None:
            self._remaining = remaining - len(data)
            return data
        if self._eof:
            got = self._expected - remaining
            raise RemoteProtocolError(
                f"response payload is not completed: expected {self._expected} bytes, got {got}",
                in_body=True,
            )
        return NEED_DATA

    def take_whole_body(self) -> bytes | None:
        """The rest of a Content-Length body and its end, when all of it is buffered.

        One call instead of a body event and an :class:`EndOfMessage` (the common small
        response arrives whole, head and body in one read). Returns ``None``, consuming
        nothing, unless the parser is inside a Content-Length body whose remaining bytes
        are all here; then the message is complete, as after :class:`EndOfMessage`.
        """
        remaining = self._remaining
        if self._state is not _BODY_LENGTH or len(self._buf) - self._pos < remaining:
            return None
        if not remaining:
            self._finish([])
            return b""
        data = self._take(remaining)
        self._remaining = 0
        self._finish([])
        return data

    def _next_eof_body(self) -> bytes | EndOfMessage | Sentinel:
        # RFC 9112 §6.3 rule 8: the body is everything until the server closes.
        data = self._take(len(self._buf))
        if data is not None:
            return data
        if self._eof:
            return self._finish([])
        return NEED_DATA

    def _chunked_ended_early(self) -> RemoteProtocolError:
        return RemoteProtocolError(
            "response payload is not completed: chunked body ended early", in_body=True
        )

    def _next_chunked(self) -> bytes | EndOfMessage | Sentinel:
        # RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
        while True:
            state = self._state
            if state is _CHUNK_DATA:
                data = self._take(self._remaining)
                if data is None:
                    break
                self._remaining -= len(data)
                if not self._remaining:
                    self._state = _CHUNK_END
                return data
            if state is _CHUNK_END:
                buf = self._buf
                pos = self._pos
                if len(buf) - pos < 2 and (len(buf) == pos or buf[pos] == 13):
                    break  # a wrong first byte fails now, not when the next one comes
                if buf[pos] != 13 or buf[pos + 1] != 10:  # CR LF
                    wrong = bytes(buf[pos : pos + (2 if buf[pos] == 13 else 1)])
                    raise RemoteProtocolError(
                        f"chunk data not followed by CRLF: {short_repr(wrong)}", in_body=True
                    )
                self._pos = pos + 2
                self._state = _CHUNK_HEADER
            elif state is _CHUNK_HEADER:
                size = self._parse_chunk_header()
                if size is None:
                    break
                if size:
                    self._remaining = size
                    self._state = _CHUNK_DATA
                else:
                    self._state = _TRAILERS
                    self._scanned = self._checked = self._nlines = 0
                    return self._next_trailers()
            else:  # pragma: no cover  # Defensive: only the three states above get here
                raise AssertionError(state)
        if self._eof:
            raise self._chunked_ended_early()
        return NEED_DATA

    def _parse_chunk_header(self) -> int | None:
        """The size from a complete chunk-size line, or None when the line is incomplete."""
        buf = self._buf
        pos = self._pos
        limit = self._max_chunk_line
        # The line may hold `limit` bytes, then CR at most at pos+limit and LF at pos+limit+1.
        lf = buf.find(b"\n", pos, pos + limit + 2)
        if lf == -1:
            if len(buf) - pos >= limit + 2:
                raise PayloadTooBig(
                    f"chunk size line too long: more than {limit} bytes", in_body=True
                )
            # A size already wrong fails now: the peer may send nothing more.
            _check_chunk_size(_chunk_size_text(bytes(buf[pos:])))
            return None
        size_text = extensions = b""
        if lf > pos and buf[lf - 1] == 13:
            size_text, _, extensions = bytes(buf[pos : lf - 1]).partition(b";")
            # RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ ... ] ); like
            # h11 we also allow trailing whitespace after the size without an extension.
            size_text = size_text.rstrip(_OWS)
        if (
            not size_text
            or len(size_text) > _MAX_CHUNK_SIZE_DIGITS
            or size_text.translate(None, _HEXDIG)
        ):
            # Judged as the bytes arrive: a wrong size byte before a bare LF fails first.
            size_text = _chunk_size_text(bytes(buf[pos:lf]))
            _check_chunk_size(size_text)  # what passes is a size with leading zeros
            if lf == pos or buf[lf - 1] != 13:
                raise RemoteProtocolError("bare LF in chunk size line", in_body=True)
            if not size_text:
                raise RemoteProtocolError("invalid chunk size: b''", in_body=True)
        self._pos = lf + 1
        if extensions and extensions.translate(None, _CTL_NO_HTAB) != extensions:
            raise RemoteProtocolError(
                f"invalid chunk extension: {short_repr(extensions)}", in_body=True
            )
        return int(size_text, 16)

    def _next_trailers(self) -> EndOfMessage | Sentinel:
        buf = self._buf
        pos = self._pos
        # RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), then the final CRLF.
        if buf[pos : pos + 2] == b"\r\n":
            self._pos = pos + 2
            return self._finish([])
        end = buf.find(b"\r\n\r\n", pos + self._scanned)
        if end == -1:
            self._scan_partial(trailer=True)
            if self._eof:
                raise self._chunked_ended_early()
            return NEED_DATA
        section = bytes(buf[pos:end])
        lines = section.split(b"\r\n")
        if (
            len(section) > self._max_head
            or len(lines) > self._max_headers
            or len(section.translate(None, _CTL_NO_HTAB)) != len(section) - 2 * len(lines) + 2
            or max(map(len, lines)) > self._max_field
        ):
            self._scan_complete(end, trailer=True)
        trailers = []
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon or (name not in _name_kinds and _classify_name(name) is None):
                self._scan_complete(end, trailer=True)
            trailers.append((name, value.strip(_OWS)))
        self._pos = end + 4
        return self._finish(trailers)

    # -- head -----------------------------------------------------------------------------

    def _next_head(self) -> ResponseHead | InformationalResponse | Sentinel:
        buf = self._buf
        pos = self._pos
        end = buf.find(b"\r\n\r\n", pos + self._scanned)
        if end == -1:
            if pos >= len(buf):
                if self._eof:
                    raise RemoteProtocolError("connection closed before response head")
                return NEED_DATA
            self._scan_partial(trailer=False)
            if self._eof:
                raise RemoteProtocolError("connection closed in the middle of the response head")
            return NEED_DATA
        head = buf[pos:end] if type(buf) is bytes else bytes(buf[pos:end])
        cached = self._heads.get(head)
        if cached is None:
            return self._parse_head(head, end)
        self._pos = end + 4
        self._scanned = self._checked = self._nlines = 0
        return self._framing(cached)

    def _parse_head(self, head: bytes, end: int) -> ResponseHead | InformationalResponse:
        """Validate and parse a complete *head* (it ends at *end*, before CRLFCRLF) seen
        for the first time under these limits; remember a final one (see _head_caches)."""
        lines = head.split(b"\r\n")
        nlines = len(lines)
        status_line = lines[0]
        start = _status_lines.get(status_line)
        if start is None:
            start = _check_status_line(status_line)
        # One pass of C-level checks for the whole head (no control character but the
        # CRLFs, sizes, a plain "HTTP/1.x NNN[ reason]"); anything odd goes to the slow
        # line-by-line scan, which raises the precise error in stream order.
        if (
            start is None
            or len(head) > self._max_head
            or nlines > self._max_headers + 1
            or len(head.translate(None, _CTL_NO_HTAB)) != len(head) - 2 * nlines + 2
            or (
                len(head) > self._short_lines
                and (
                    len(status_line) > self._max_line
                    or (nlines > 1 and max(map(len, lines[1:])) > self._max_field)
                )
            )
        ):
            self._scan_complete(end, trailer=False)
        headers = []
        specials = None
        known = _field_lines
        for line in lines[1:]:
            field = known.get(line)
            if field is None:
                field = _check_field_line(line)
                if field is None:
                    self._scan_complete(end, trailer=False)
            pair, kind = field
            headers.append(pair)
            if kind:
                if specials is None:
                    specials = [(kind, pair[1])]
                else:
                    specials.append((kind, pair[1]))
        self._pos = end + 4
        self._scanned = self._checked = self._nlines = 0
        version, status, reason = start
        if status < 200 and status != 101:
            # RFC 9110 §15.2: interim responses; the final response follows.
            return InformationalResponse(status, reason, version, tuple(headers))
        parsed = _ParsedHead(status, reason, version, tuple(headers), specials)
        if not parsed.set_cookie and len(head) <= _CACHED_HEAD_LENGTH:
            # Set-Cookie values are per client and often secret: never kept beyond the
            # response that carried them.
            heads = self._heads
            if len(heads) >= _HEAD_CACHE_SIZE:
                heads.clear()
            heads[head] = parsed
        return self._framing(parsed)

    def _framing(self, parsed: _ParsedHead) -> ResponseHead:
        """Decide how the body is delimited (RFC 9112 §6.3) and enter the matching state.

        The outcome depends on the head and on the request (HEAD, CONNECT, read until
        close); for an ordinary request it is remembered with the head.
        """
        if self._plain:
            plain = parsed.plain
            if plain is not None:
                self._state, self._remaining, head = plain
                self._expected = self._remaining
                return head
        status = parsed.status
        content_length = parsed.content_length
        keep_alive = parsed.keep_alive
        remaining = 0
        chunked = upgrade = False
        if status == 101 or (self._is_connect and 200 <= status < 300):
            # RFC 9112 §6.3 rule 2 and RFC 9110 §15.2.2: the bytes after this head belong to
            # the tunnel or the new protocol.
            upgrade = True
            keep_alive = False
            state = _UPGRADED
        elif self._is_head or status == 204 or status == 304:
            # RFC 9112 §6.3 rule 1: no body, whatever the framing fields say.
            state = _BODY_LENGTH
        elif parsed.codings is not None:
            if content_length is not None:
                # RFC 9112 §6.3 rule 3 lets a recipient drop Content-Length; we refuse the
                # message instead, as the two disagreeing is the classic smuggling vector.
                raise RemoteProtocolError(
                    "both Content-Length and Transfer-Encoding in response head"
                )
            _check_chunked(parsed.codings)
            chunked = True
            if parsed.version is HttpVersion10:
                # RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty
                # framing; close the connection after the message.
                keep_alive = False
            state = _CHUNK_HEADER
        elif content_length is not None or not self._read_until_eof:
            # RFC 9112 §6.3 rule 6 (or an empty body when asked not to read until close).
            remaining = content_length or 0
            state = _BODY_LENGTH
            if content_length is None:
                # Unframed: whatever the server sends next is this body, not the next
                # response (rule 8), so the connection cannot be used again.
                keep_alive = False
        else:
            # RFC 9112 §6.3 rule 8: no framing at all, the body ends when the server closes.
            keep_alive = False
            state = _BODY_EOF
        head = ResponseHead(
            status,
            parsed.reason,
            parsed.version,
            parsed.headers,
            keep_alive,
            content_length,
            chunked,
            upgrade,
            parsed.keep_alive_timeout,
            parsed.content_encoding,
            parsed.set_cookie,
            parsed.location,
        )
        self._state = state
        self._remaining = self._expected = remaining
        if self._plain:
            parsed.plain = (state, remaining, head)
        return head

    # -- slow path: head errors in stream order --------------------------------------------

    def _scan_partial(self, *, trailer: bool) -> None:
        """Validate the complete lines of an unterminated head; raise as early as possible."""
        self._checked, self._nlines = self._scan(
            self._pos + self._checked, len(self._buf), self._nlines, trailer=trailer
        )
        self._checked -= self._pos
        # The terminator may begin in the last 3 bytes searched so far.
        self._scanned = max(0, len(self._buf) - self._pos - 3)

    def _scan_complete(self, end: int, *, trailer: bool) -> NoReturn:
        """Raise the first error of the complete head ending at *end* (before CRLFCRLF)."""
        self._scan(self._pos, end + 4, 0, trailer=trailer)
        # Defensive: the fast path only comes here when the scan finds an error.
        raise RemoteProtocolError("invalid response head", in_body=trailer)  # pragma: no cover

    def _check_unended_line(self, start: int, stop: int, nlines: int, *, trailer: bool) -> None:
        """Refuse the line ``buf[start:stop]``, still without its LF, once it is longer
        than its limit (a last byte that may be its CR left out): each arrival searches
        the unended line again, so letting it grow to the head's limit would cost time
        quadratic in its length."""
        status = nlines == 0 and not trailer
        limit = self._max_line if status else self._max_field
        if stop - start - 1 > limit:
            error = _too_long(
                "status line" if status else "header line", limit, self._buf[start:stop]
            )
            error.in_body = trailer
            raise error

    def _scan(self, start: int, stop: int, nlines: int, *, trailer: bool) -> tuple[int, int]:
        """Validate the lines of ``buf[start:stop]`` one by one, as they would arrive.

        Each error is raised at the byte where a byte-by-byte reader would notice it: a bare
        LF when it arrives, an oversized head when its limit is passed without a
        terminator, anything else when its line is complete. Returns the start of the
        first incomplete line and the count of lines validated.
        """
        buf = self._buf
        where = "trailer section" if trailer else "response head"
        if not nlines and not trailer:
            # A peer that does not speak HTTP (an SSH banner, a TLS alert on a plain
            # connection) shows it in its first 5 bytes: waiting for an LF that may never
            # come would hold the request until a timeout. A line shorter than that is
            # judged (the same way) when complete.
            first = bytes(buf[start : min(start + 5, stop)])
            if len(first) == 5 and b"\n" not in first and first != b"HTTP/":
                raise _not_http(first)
        # Without a terminator, the head is at least the buffered size minus 3 bytes (a
        # possible "\r\n\r"); it is known to be too big once byte max_head + 3 arrived.
        too_big_at = self._pos + self._max_head + 3
        i = start
        while True:
            lf = buf.find(b"\n", i, stop)
            # Judge the line as it stood before its LF arrived, as a byte-at-a-time reader
            # would: the head's size and the line's are checked at each length, the
            # head's first, so whichever limit is passed first fails first.
            seen = stop if lf == -1 else lf
            if seen > too_big_at:
                limit = self._max_line if nlines == 0 and not trailer else self._max_field
                if too_big_at + 1 > i + limit + 2:  # the line's limit came first
                    self._check_unended_line(i, seen, nlines, trailer=trailer)
                raise PayloadTooBig(
                    f"{where} too long: more than {self._max_head} bytes", in_body=trailer
                )
            self._check_unended_line(i, seen, nlines, trailer=trailer)
            if lf == -1:
                return i, nlines
            if lf == i or buf[lf - 1] != 13:
                raise RemoteProtocolError(f"bare LF in {where}", in_body=trailer)
            line = bytes(buf[i : lf - 1])
            i = lf + 1
            if not line and (nlines or trailer):
                # Defensive: the fast path only scans a complete head that has an error.
                return i, nlines  # pragma: no cover
            try:
                if nlines == 0 and not trailer:
                    _parse_status_line(line, self._max_line)
                else:
                    _parse_field_line(line, self._max_field, where)
                    if nlines - (not trailer) >= self._max_headers:
                        raise PayloadTooBig(
                            f"too many header fields: more than {self._max_headers}"
                        )
            except RemoteProtocolError as exc:
                exc.in_body = trailer
                raise
            nlines += 1


# -- request side ---------------------------------------------------------------------------

#: Methods and field names already checked to be tokens; bounded like _name_kinds.
_valid_str_tokens: set[str] = set()
_VERSION_TEXT: dict[HttpVersion, str] = {
    HttpVersion11: "HTTP/1.1",
    HttpVersion10: "HTTP/1.0",
}


def is_token(name: str | bytes) -> bool:
    """Whether *name* is an RFC 9110 §5.6.2 token (a valid method or field name)."""
    if isinstance(name, str):
        if name in _valid_str_tokens:
            return True
        if not name.isascii():
            return False
        if not is_token(name.encode("ascii")):
            return False
        if len(_valid_str_tokens) < _NAME_CACHE_SIZE:
            _valid_str_tokens.add(name)
        return True
    return bool(name) and not name.translate(None, _TCHAR)


def _version_text(version: HttpVersion) -> str:
    major, minor = version
    if (
        type(major) is not int
        or type(minor) is not int
        or not 0 <= major <= 9
        or not 0 <= minor <= 9
    ):
        raise LocalProtocolError(f"invalid HTTP version: {short_repr(version)}")
    return f"HTTP/{major}.{minor}"


def serialize_request_head(
    method: str, target: str, version: HttpVersion, headers: Iterable[tuple[str, str]]
) -> bytes:
    """The request line and header section, CRLF-terminated (RFC 9112 §3 and §5).

    Names are encoded as ASCII (they are tokens), the target and values as UTF-8.

    Args:
        method: a token, such as ``GET``.
        target: the request target (origin, absolute, authority or asterisk form).
        version: the HTTP version, major and minor 0-9.
        headers: ``(name, value)`` pairs, in order.

    Raises:
        LocalProtocolError: a method or name is not a token, the target holds whitespace or
            a control character, or a value holds CR, LF, NUL or another control character
            (header injection), before any byte is produced.
        TypeError: a header name or value is not a ``str``.
    """
    version_text = _VERSION_TEXT.get(version)
    if version_text is None:
        version_text = _version_text(version)
    if method not in _valid_str_tokens and not is_token(method):
        raise LocalProtocolError(f"invalid method: {short_repr(method)}")
    if not target:
        raise LocalProtocolError("empty request target")
    if " " in target or "\t" in target:
        # RFC 9112 §3: the request line is split on SP; whitespace would shift it.
        raise LocalProtocolError(f"invalid character in request target: {short_repr(target)}")
    parts = [f"{method} {target} {version_text}"]
    for name, value in headers:
        if name not in _valid_str_tokens and not is_token(field_text(name, "header name")):
            raise LocalProtocolError(f"invalid header name: {short_repr(name)}")
        if type(value) is not str:
            # b"x" would go out as "b'x'" and None as "None" (aiohttp refuses them too).
            value = field_text(value, f"header value of {name}")
        parts.append(f"{name}: {value}")
    parts.append("\r\n")
    text = "\r\n".join(parts)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = b""  # _raise_request_error() names the culprit below
    # The only control characters may be the CRLFs we put in: 2 per line and the last one.
    if not data or len(data) - len(data.translate(None, _CTL_NO_HTAB)) != 2 * len(parts):
        _raise_request_error(target, parts)
    return data


def field_text(value: object, what: str) -> str:
    """*value*, a header name or value (*what* says which, for the message), if it is
    text (a ``str`` subclass becomes a plain ``str``); else TypeError."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, got {type(value).__name__}: {short_repr(value)}")
    return str.__str__(value)  # the text itself, not what a subclass's __str__ says


def _raise_request_error(target: str, parts: list[str]) -> None:
    """Raise LocalProtocolError naming the target or header value that cannot be sent."""
    fields = [part.partition(": ")[::2] for part in parts[1:-1]]
    for what, text in [("request target", target)] + [
        (f"header value of {name}", value) for name, value in fields
    ]:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"{what} is not valid UTF-8: {short_repr(text)}") from None
        for char in text:
            if (char < " " and char != "\t") or char == "\x7f":
                raise LocalProtocolError(f"invalid character in {what}: {short_repr(text)}")
    raise LocalProtocolError("invalid request head")  # pragma: no cover  # Defensive


def encode_chunk(data: bytes | bytearray | memoryview) -> bytes:
    """One chunk (RFC 9112 §7.1): hex size line, the data and CRLF.

    Empty data gives ``b""``: an empty chunk would be the last-chunk, which ends the body;
    send :data:`LAST_CHUNK` for that.
    """
    if not len(data):
        return b""
    return b"".join((b"%x\r\n" % len(data), data, b"\r\n"))


#: RFC 9112 §7.1: the last-chunk and an empty trailer section.
LAST_CHUNK: Final = b"0\r\n\r\n"
