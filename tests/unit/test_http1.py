"""Tests for ``hyperclient.http1``: the response parser and the request writer.

Every response case is fed in one piece, at every split point into two pieces, and one byte
at a time; the events (with body bytes joined) and any error must be the same each way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperclient import http1
from hyperclient.errors import LocalProtocolError, PayloadTooBig, RemoteProtocolError
from hyperclient.http1 import (
    LAST_CHUNK,
    NEED_DATA,
    PAUSED,
    EndOfMessage,
    InformationalResponse,
    ResponseHead,
    ResponseParser,
    encode_chunk,
    is_token,
    serialize_request_head,
)
from hyperclient.values import HttpVersion, HttpVersion10, HttpVersion11

# -- harness --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Failed:
    """The error a parse ended with, as compared by the tests."""

    type: type[Exception]
    message: str
    in_body: bool


@dataclasses.dataclass(frozen=True)
class Trailing:
    """What the parser holds after PAUSED: trailing_data."""

    data: bytes
    eof: bool


def drain(parser: ResponseParser, events: list[Any]) -> None:
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            return
        if event is PAUSED:
            if not events or events[-1] is not PAUSED:
                events.append(PAUSED)
            return
        if isinstance(event, bytes):
            assert type(event) is bytes
            assert event, "empty body event"
            if events and isinstance(events[-1], bytearray):
                events[-1] += event
            else:
                events.append(bytearray(event))
        else:
            events.append(event)


def run(
    pieces: Iterable[bytes],
    *,
    method: str = "GET",
    eof: bool = False,
    read_until_eof: bool = True,
    **limits: int,
) -> list[Any]:
    """Feed *pieces* then maybe EOF; the events, body bytes joined, then the outcome."""
    parser = ResponseParser(**limits)
    parser.start(method, read_until_eof=read_until_eof)
    events: list[Any] = []
    try:
        for piece in pieces:
            parser.receive_data(piece)
            drain(parser, events)
        if eof:
            parser.receive_eof()
            drain(parser, events)
    except RemoteProtocolError as exc:
        events.append(Failed(type(exc), exc.message, exc.in_body))
    else:
        if events and events[-1] is PAUSED:
            events.append(Trailing(*parser.trailing_data))
    return [bytes(e) if isinstance(e, bytearray) else e for e in events]


def splits(data: bytes) -> Iterator[list[bytes]]:
    """Every way to cut *data* in two, then one byte at a time."""
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]
    yield [data[i : i + 1] for i in range(len(data))]


def run_all_splits(data: bytes, **kwargs: Any) -> list[Any]:
    """The events of a one-shot feed, after checking every split gives the same."""
    expected = run([data], **kwargs)
    for pieces in splits(data):
        assert run(pieces, **kwargs) == expected, pieces
    return expected


def head(
    status: int = 200,
    headers: Sequence[tuple[bytes, bytes]] = (),
    *,
    reason: str = "OK",
    version: HttpVersion = HttpVersion11,
    keep_alive: bool = True,
    content_length: int | None = None,
    chunked: bool = False,
    upgrade: bool = False,
    keep_alive_timeout: float | None = None,
) -> ResponseHead:
    return ResponseHead(
        status,
        reason,
        version,
        tuple(headers),
        keep_alive,
        content_length,
        chunked,
        upgrade,
        keep_alive_timeout,
    )


def done(trailing: bytes = b"", eof: bool = False, trailers: Any = ()) -> list[Any]:
    return [EndOfMessage(list(trailers)), PAUSED, Trailing(trailing, eof)]


CL5 = (b"Content-Length", b"5")
CHUNKED = (b"Transfer-Encoding", b"chunked")

# -- valid responses ------------------------------------------------------------------------

VALID: list[tuple[str, bytes, dict[str, Any], list[Any]]] = [
    (
        "content-length",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        {},
        [head(headers=[CL5], content_length=5), b"hello", *done()],
    ),
    (
        "content-length zero",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        {},
        [head(headers=[(b"Content-Length", b"0")], content_length=0), *done()],
    ),
    (
        "no headers, empty reason, no space",
        b"HTTP/1.1 200\r\n\r\n",
        {"read_until_eof": False},
        [head(reason="", keep_alive=False), *done()],
    ),
    (
        "empty reason after space",
        b"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
        {},
        [head(404, [(b"Content-Length", b"0")], reason="", content_length=0), *done()],
    ),
    (
        "reason with tab, spaces and obs-text",
        b"HTTP/1.1 200 Tout\tva tr\xc3\xa8s  bien \xff\r\nContent-Length: 0\r\n\r\n",
        {},
        [
            head(
                headers=[(b"Content-Length", b"0")],
                reason="Tout\tva très  bien \udcff",
                content_length=0,
            ),
            *done(),
        ],
    ),
    (
        "values stripped of OWS, inner whitespace kept, empty value, obs-text",
        b"HTTP/1.1 200 OK\r\nA:  x \t y \t\r\nB:\r\nC:\t\xe9t\xe9\r\nContent-Length: 0\r\n\r\n",
        {},
        [
            head(
                headers=[
                    (b"A", b"x \t y"),
                    (b"B", b""),
                    (b"C", b"\xe9t\xe9"),
                    (b"Content-Length", b"0"),
                ],
                content_length=0,
            ),
            *done(),
        ],
    ),
    (
        "odd but valid token names, case-insensitive framing names",
        b"HTTP/1.1 200 OK\r\nX-a!#$%&'*+-.^_`|~9: 1\r\ncontent-LENGTH: 2\r\n\r\nhi",
        {},
        [
            head(
                headers=[(b"X-a!#$%&'*+-.^_`|~9", b"1"), (b"content-LENGTH", b"2")],
                content_length=2,
            ),
            b"hi",
            *done(),
        ],
    ),
    (
        "identical content-lengths in a list and in two fields",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 005\r\n\r\nhello",
        {},
        [
            head(
                headers=[(b"Content-Length", b"5, 5"), (b"Content-Length", b"005")],
                content_length=5,
            ),
            b"hello",
            *done(),
        ],
    ),
    (
        "chunked with extensions, hex case, leading zeros, trailers",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;name=value;q="a b"\r\nhello\r\n'
        b"A \r\n0123456789\r\n"
        b"0000000000000001 ; x\r\n!\r\n"
        b"0;last\r\nExpires: never\r\nX-Sum:  1 \r\n\r\n",
        {},
        [
            head(headers=[CHUNKED], chunked=True),
            b"hello0123456789!",
            *done(trailers=[(b"Expires", b"never"), (b"X-Sum", b"1")]),
        ],
    ),
    (
        "chunked with upper-case hex and no trailers",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nB\r\nhello world\r\n0\r\n\r\n",
        {},
        [head(headers=[CHUNKED], chunked=True), b"hello world", *done()],
    ),
    (
        "close-delimited body",
        b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nsome body\r\n\r\n",
        {"eof": True},
        [
            head(headers=[(b"Server", b"x")], keep_alive=False),
            b"some body\r\n\r\n",
            *done(eof=True),
        ],
    ),
    (
        "close-delimited empty body",
        b"HTTP/1.1 200 OK\r\n\r\n",
        {"eof": True},
        [head(keep_alive=False), *done(eof=True)],
    ),
    (
        # The bytes after it are that unframed body: the connection is not reusable.
        "no framing and read_until_eof=False: empty body, bytes after it stay",
        b"HTTP/1.1 200 OK\r\n\r\nextra",
        {"read_until_eof": False},
        [head(keep_alive=False), *done(b"extra")],
    ),
    (
        "HEAD response with content-length has no body",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
        {"method": "HEAD"},
        [head(headers=[(b"Content-Length", b"100")], content_length=100), *done()],
    ),
    (
        "HEAD response with transfer-encoding and content-length has no body",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        {"method": "HEAD"},
        [
            head(headers=[CHUNKED, (b"Content-Length", b"3")], content_length=3),
            *done(),
        ],
    ),
    (
        "204 ignores content-length",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
        {},
        [head(204, [CL5], reason="No Content", content_length=5), *done(b"hello")],
    ),
    (
        "304 ignores transfer-encoding",
        b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
        {"eof": True},
        [head(304, [CHUNKED], reason="Not Modified"), *done(eof=True)],
    ),
    (
        "100 continue then the response",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        {},
        [
            InformationalResponse(100, "Continue", HttpVersion11, ()),
            head(headers=[CL5], content_length=5),
            b"hello",
            *done(),
        ],
    ),
    (
        "two interim responses with headers (103 early hints)",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
        b"HTTP/1.1 102 Processing\r\nContent-Length: 9\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        {},
        [
            InformationalResponse(103, "Early Hints", HttpVersion11, ((b"Link", b"</a.css>"),)),
            InformationalResponse(102, "Processing", HttpVersion11, ((b"Content-Length", b"9"),)),
            head(headers=[(b"Content-Length", b"0")], content_length=0),
            *done(),
        ],
    ),
    (
        "101 switching protocols keeps the next bytes",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        b"\x81\x05hello",
        {"eof": True},
        [
            head(
                101,
                [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")],
                reason="Switching Protocols",
                keep_alive=False,
                upgrade=True,
            ),
            PAUSED,
            Trailing(b"\x81\x05hello", True),
        ],
    ),
    (
        "2xx to CONNECT is a tunnel",
        b"HTTP/1.1 200 Connection established\r\nContent-Length: 3\r\n\r\n\x16\x03\x01",
        {"method": "CONNECT"},
        [
            head(
                headers=[(b"Content-Length", b"3")],
                reason="Connection established",
                keep_alive=False,
                content_length=3,
                upgrade=True,
            ),
            PAUSED,
            Trailing(b"\x16\x03\x01", False),
        ],
    ),
    (
        "non-2xx to CONNECT has a body",
        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 5\r\n\r\nhello",
        {"method": "CONNECT"},
        [
            head(407, [CL5], reason="Proxy Authentication Required", content_length=5),
            b"hello",
            *done(),
        ],
    ),
    (
        "HTTP/1.0 closes by default",
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        {},
        [
            head(headers=[CL5], version=HttpVersion10, keep_alive=False, content_length=5),
            b"hello",
            *done(),
        ],
    ),
    (
        "HTTP/1.0 with keep-alive and a timeout",
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: Keep-Alive\r\n"
        b"Keep-Alive: max=100, TIMEOUT = 7.5\r\n\r\nhello",
        {},
        [
            head(
                headers=[
                    CL5,
                    (b"Connection", b"Keep-Alive"),
                    (b"Keep-Alive", b"max=100, TIMEOUT = 7.5"),
                ],
                version=HttpVersion10,
                content_length=5,
                keep_alive_timeout=7.5,
            ),
            b"hello",
            *done(),
        ],
    ),
    (
        "HTTP/1.0 with chunked is parsed but not kept alive",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
        b"1\r\nx\r\n0\r\n\r\n",
        {},
        [
            head(
                headers=[CHUNKED, (b"Connection", b"keep-alive")],
                version=HttpVersion10,
                keep_alive=False,
                chunked=True,
            ),
            b"x",
            *done(),
        ],
    ),
    (
        "HTTP/1.1 connection close in a list",
        b"HTTP/1.1 200 OK\r\nConnection: Upgrade,  CLOSE \r\nContent-Length: 0\r\n\r\n",
        {},
        [
            head(
                headers=[(b"Connection", b"Upgrade,  CLOSE"), (b"Content-Length", b"0")],
                keep_alive=False,
                content_length=0,
            ),
            *done(),
        ],
    ),
    (
        "garbage keep-alive timeouts are ignored",
        b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=-1, timeout=abc, timeout=1e3\r\n"
        b"Keep-Alive: timeout=3\r\nContent-Length: 0\r\n\r\n",
        {},
        [
            head(
                headers=[
                    (b"Keep-Alive", b"timeout=-1, timeout=abc, timeout=1e3"),
                    (b"Keep-Alive", b"timeout=3"),
                    (b"Content-Length", b"0"),
                ],
                content_length=0,
                keep_alive_timeout=3.0,
            ),
            *done(),
        ],
    ),
    (
        "bytes after the message stay buffered",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n",
        {"eof": True},
        [head(headers=[CL5], content_length=5), b"hello", *done(b"HTTP/1.1 200 OK\r\n", eof=True)],
    ),
]


@pytest.mark.parametrize(
    ("raw", "kwargs", "expected"), [c[1:] for c in VALID], ids=[c[0] for c in VALID]
)
def test_valid_response(raw: bytes, kwargs: dict[str, Any], expected: list[Any]) -> None:
    assert run_all_splits(raw, **kwargs) == expected


# -- invalid responses ----------------------------------------------------------------------

RPE = RemoteProtocolError
PTB = PayloadTooBig
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

INVALID: list[tuple[str, bytes, dict[str, Any], Failed]] = [
    # status line, RFC 9112 §4
    (
        "http/2",
        b"HTTP/2.0 200 OK\r\n\r\n",
        {},
        Failed(RPE, "unsupported HTTP version: b'HTTP/2.0'", False),
    ),
    (
        "http/1.2",
        b"HTTP/1.2 200 OK\r\n\r\n",
        {},
        Failed(RPE, "unsupported HTTP version: b'HTTP/1.2'", False),
    ),
    (
        "http/1.x",
        b"HTTP/1.x 200 OK\r\n\r\n",
        {},
        Failed(RPE, "invalid HTTP version: b'HTTP/1.x'", False),
    ),
    (
        "http/01.1",
        b"HTTP/01.1 200 OK\r\n\r\n",
        {},
        Failed(RPE, "invalid HTTP version: b'HTTP/01.1'", False),
    ),
    (
        "lower-case http",
        b"http/1.1 200 OK\r\n\r\n",
        {},
        Failed(RPE, "not an HTTP response: it starts with b'http/'", False),
    ),
    (
        "icy",
        b"ICY 200 OK\r\n\r\n",
        {},
        Failed(RPE, "not an HTTP response: it starts with b'ICY 2'", False),
    ),
    (
        "short non-HTTP line",
        b"ICY\r\n",
        {},
        Failed(RPE, "not an HTTP response: it starts with b'ICY'", False),
    ),
    (
        "junk banner",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        {},
        Failed(RPE, "not an HTTP response: it starts with b'SSH-2'", False),
    ),
    (
        "empty status line",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        {},
        Failed(RPE, "not an HTTP response: it starts with b''", False),
    ),
    (
        "tab after version",
        b"HTTP/1.1\t200 OK\r\n\r\n",
        {},
        Failed(RPE, "invalid HTTP version: b'HTTP/1.1\\t200'", False),
    ),
    (
        "two-digit status",
        b"HTTP/1.1 20 OK\r\n\r\n",
        {},
        Failed(RPE, "invalid status code: b'20'", False),
    ),
    (
        "two-digit status, line end",
        b"HTTP/1.1 20\r\n\r\n",
        {},
        Failed(RPE, "invalid status code: b'20'", False),
    ),
    (
        "one-digit status, line end",
        b"HTTP/1.1 2\r\n\r\n",
        {},
        Failed(RPE, "invalid status code: b'2'", False),
    ),
    (
        "four-digit status",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        {},
        Failed(RPE, "invalid status code: b'2000'", False),
    ),
    (
        "status 600",
        b"HTTP/1.1 600 X\r\n\r\n",
        {},
        Failed(RPE, "invalid status code: b'600'", False),
    ),
    (
        "status 099",
        b"HTTP/1.1 099 X\r\n\r\n",
        {},
        Failed(RPE, "invalid status code: b'099'", False),
    ),
    (
        "status letters",
        b"HTTP/1.1 2x0 X\r\n\r\n",
        {},
        Failed(RPE, "invalid status code: b'2x0'", False),
    ),
    (
        "double space",
        b"HTTP/1.1  200 OK\r\n\r\n",
        {},
        Failed(RPE, "invalid status code: b''", False),
    ),
    ("no status", b"HTTP/1.1\r\n\r\n", {}, Failed(RPE, "invalid status code: b''", False)),
    (
        "NUL in reason",
        b"HTTP/1.1 200 O\x00K\r\n\r\n",
        {},
        Failed(RPE, "invalid character in status line: b'HTTP/1.1 200 O\\x00K'", False),
    ),
    (
        "bare CR in reason",
        b"HTTP/1.1 200 O\rK\r\n\r\n",
        {},
        Failed(RPE, "bare CR in status line: b'HTTP/1.1 200 O\\rK'", False),
    ),
    # line endings, RFC 9112 §2.2
    (
        "bare LF everywhere",
        b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        {},
        Failed(RPE, "bare LF in response head", False),
    ),
    (
        "bare LF ending a field",
        b"HTTP/1.1 200 OK\r\nA: b\n\r\n",
        {},
        Failed(RPE, "bare LF in response head", False),
    ),
    (
        "bare LF as last line",
        b"HTTP/1.1 200 OK\r\nA: b\r\n\n",
        {},
        Failed(RPE, "bare LF in response head", False),
    ),
    (
        "leading bare LF",
        b"\nHTTP/1.1 200 OK\r\n\r\n",
        {},
        Failed(RPE, "bare LF in response head", False),
    ),
    # field lines, RFC 9112 §5
    (
        "obs-fold",
        b"HTTP/1.1 200 OK\r\nA: b\r\n  c\r\n\r\n",
        {},
        Failed(RPE, "obs-fold is not allowed in response head: b'  c'", False),
    ),
    (
        "obs-fold tab first line",
        b"HTTP/1.1 200 OK\r\n\tA: b\r\n\r\n",
        {},
        Failed(RPE, "obs-fold is not allowed in response head: b'\\tA: b'", False),
    ),
    (
        "space before colon",
        b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
        {},
        Failed(RPE, "whitespace before colon in header line: b'Content-Length : 5'", False),
    ),
    (
        "tab before colon",
        b"HTTP/1.1 200 OK\r\nA\t: 5\r\n\r\n",
        {},
        Failed(RPE, "whitespace before colon in header line: b'A\\t: 5'", False),
    ),
    (
        "missing colon",
        b"HTTP/1.1 200 OK\r\nServer\r\n\r\n",
        {},
        Failed(RPE, "missing colon in header line: b'Server'", False),
    ),
    (
        "empty name",
        b"HTTP/1.1 200 OK\r\n: x\r\n\r\n",
        {},
        Failed(RPE, "invalid header name: b''", False),
    ),
    (
        "slash in name",
        b"HTTP/1.1 200 OK\r\nA/B: x\r\n\r\n",
        {},
        Failed(RPE, "invalid header name: b'A/B'", False),
    ),
    (
        "space in name",
        b"HTTP/1.1 200 OK\r\nA B: x\r\n\r\n",
        {},
        Failed(RPE, "invalid header name: b'A B'", False),
    ),
    (
        "obs-text in name",
        b"HTTP/1.1 200 OK\r\nA\xe9: x\r\n\r\n",
        {},
        Failed(RPE, "invalid header name: b'A\\xe9'", False),
    ),
    (
        "NUL in name",
        b"HTTP/1.1 200 OK\r\nA\x00: x\r\n\r\n",
        {},
        Failed(RPE, "invalid header name: b'A\\x00'", False),
    ),
    (
        "NUL in value",
        b"HTTP/1.1 200 OK\r\nA: x\x00y\r\n\r\n",
        {},
        Failed(RPE, "invalid character in header value: b'x\\x00y'", False),
    ),
    (
        "DEL in value",
        b"HTTP/1.1 200 OK\r\nA: x\x7f\r\n\r\n",
        {},
        Failed(RPE, "invalid character in header value: b'x\\x7f'", False),
    ),
    (
        "ESC in value",
        b"HTTP/1.1 200 OK\r\nA: \x1b[31m\r\n\r\n",
        {},
        Failed(RPE, "invalid character in header value: b'\\x1b[31m'", False),
    ),
    (
        "bare CR in value",
        b"HTTP/1.1 200 OK\r\nA: x\ry\r\n\r\n",
        {},
        Failed(RPE, "bare CR in header value: b'x\\ry'", False),
    ),
    (
        "first error wins",
        b"HTTP/1.1 200 OK\r\nA B: x\r\nC: \x00\r\n\r\n",
        {},
        Failed(RPE, "invalid header name: b'A B'", False),
    ),
    # limits
    (
        "status line too long",
        b"HTTP/1.1 200 " + b"x" * 8178 + b"\r\n\r\n",
        {},
        Failed(
            PTB,
            "status line too long: more than 8190 bytes, starting "
            "b'HTTP/1.1 200 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...",
            False,
        ),
    ),
    (
        "header line too long",
        b"HTTP/1.1 200 OK\r\nA: " + b"x" * 8188 + b"\r\n\r\n",
        {},
        Failed(
            PTB,
            "header line too long: more than 8190 bytes, starting "
            "b'A: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...",
            False,
        ),
    ),
    (
        "header line too long, small limit",
        b"HTTP/1.1 200 OK\r\nAbc: 12345\r\n\r\n",
        {"max_field_size": 9},
        Failed(PTB, "header line too long: more than 9 bytes, starting b'Abc: 12345'", False),
    ),
    # A line over its limit fails as it grows, before its LF (and what is wrong with it)
    # arrives; whichever of the line's and the head's limits is passed first fails.
    (
        "header line too long, then a bare LF",
        b"HTTP/1.1 200 OK\r\nA: " + b"x" * 27 + b"\n\r\n",
        {"max_field_size": 20},
        Failed(
            PTB,
            "header line too long: more than 20 bytes, starting b'A: xxxxxxxxxxxxxxxxxx'",
            False,
        ),
    ),
    (
        "head limit passed before the line's",
        b"HTTP/1.1 200 OK\r\nA: " + b"x" * 97 + b"\r\n\r\n",
        {"max_head_size": 40, "max_field_size": 30},
        Failed(PTB, "response head too long: more than 40 bytes", False),
    ),
    (
        "line limit passed before the head's",
        b"HTTP/1.1 200 OK\r\nA: " + b"x" * 97 + b"\r\n\r\n",
        {"max_head_size": 60, "max_field_size": 20},
        Failed(
            PTB,
            "header line too long: more than 20 bytes, starting b'A: xxxxxxxxxxxxxxxxxx'",
            False,
        ),
    ),
    (
        "status line too long, small limit",
        b"HTTP/1.1 200 OK\r\n\r\n",
        {"max_line_size": 14},
        Failed(PTB, "status line too long: more than 14 bytes, starting b'HTTP/1.1 200 OK'", False),
    ),
    (
        "head too long",
        b"HTTP/1.1 200 OK\r\nA: 12345678\r\n\r\n",
        {"max_head_size": 27},
        Failed(PTB, "response head too long: more than 27 bytes", False),
    ),
    (
        "head too long without terminator",
        b"HTTP/1.1 200 OK\r\nA: 1234567890123",
        {"max_head_size": 28},
        Failed(PTB, "response head too long: more than 28 bytes", False),
    ),
    (
        "too many headers",
        b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
        {"max_headers": 2},
        Failed(PTB, "too many header fields: more than 2", False),
    ),
    # framing, RFC 9112 §6.3
    (
        "content-length and transfer-encoding",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        {},
        Failed(RPE, "both Content-Length and Transfer-Encoding in response head", False),
    ),
    (
        "conflicting content-length list",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
        {},
        Failed(RPE, "conflicting Content-Length: b'5, 6'", False),
    ),
    (
        "conflicting content-length fields",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        {},
        Failed(RPE, "conflicting Content-Length: b'5, 6'", False),
    ),
    (
        "negative content-length",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        {},
        Failed(RPE, "invalid Content-Length: b'-1'", False),
    ),
    (
        "signed content-length",
        b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
        {},
        Failed(RPE, "invalid Content-Length: b'+5'", False),
    ),
    (
        "spaced content-length",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
        {},
        Failed(RPE, "invalid Content-Length: b'1 2'", False),
    ),
    (
        "hex content-length",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
        {},
        Failed(RPE, "invalid Content-Length: b'0x10'", False),
    ),
    (
        "underscore content-length",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n",
        {},
        Failed(RPE, "invalid Content-Length: b'1_0'", False),
    ),
    (
        "empty content-length",
        b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        {},
        Failed(RPE, "invalid Content-Length: b''", False),
    ),
    (
        "empty content-length list item",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5,,5\r\n\r\n",
        {},
        Failed(RPE, "invalid Content-Length: b''", False),
    ),
    (
        "19-digit content-length",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000000\r\n\r\n",
        {},
        Failed(RPE, "invalid Content-Length: b'1000000000000000000'", False),
    ),
    (
        "invalid content-length on a HEAD response",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        {"method": "HEAD"},
        Failed(RPE, "invalid Content-Length: b'x'", False),
    ),
    (
        "another transfer coding before chunked",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: br ,Chunked\r\n\r\n"
        b"1\r\nx\r\n0\r\n\r\n",
        {},
        Failed(
            RPE,
            "unsupported transfer coding b'gzip' in Transfer-Encoding: b'gzip, br ,Chunked'",
            False,
        ),
    ),
    (
        "transfer coding without chunked",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;x=1, x-chunked\r\n\r\nabc",
        {"eof": True},
        Failed(
            RPE,
            "unsupported transfer coding b'gzip;x=1' in Transfer-Encoding: b'gzip;x=1, x-chunked'",
            False,
        ),
    ),
    (
        "chunked not last",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        {},
        Failed(RPE, "invalid Transfer-Encoding: b'chunked, gzip'", False),
    ),
    (
        "chunked twice",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        {},
        Failed(RPE, "invalid Transfer-Encoding: b'chunked, chunked'", False),
    ),
    (
        "parameter on chunked",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked;x=1\r\n\r\n",
        {},
        Failed(RPE, "invalid Transfer-Encoding: b'gzip, chunked;x=1'", False),
    ),
    (
        "empty parameter on chunked",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;\r\n\r\n",
        {},
        Failed(RPE, "invalid Transfer-Encoding: b'chunked;'", False),
    ),
    (
        "parameter on chunked before another coding",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1, gzip;q=1\r\n\r\n",
        {},
        Failed(RPE, "invalid Transfer-Encoding: b'chunked;q=1, gzip;q=1'", False),
    ),
    (
        "empty transfer-encoding item",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n",
        {},
        Failed(RPE, "invalid Transfer-Encoding: b'chunked,'", False),
    ),
    (
        "empty transfer-encoding",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n",
        {},
        Failed(RPE, "invalid Transfer-Encoding: b','", False),
    ),
    # chunked body, RFC 9112 §7.1
    (
        "non-hex chunk size",
        CHUNKED_HEAD + b"zz\r\n",
        {},
        Failed(RPE, "invalid chunk size: b'z'", True),
    ),
    ("empty chunk size", CHUNKED_HEAD + b"\r\n", {}, Failed(RPE, "invalid chunk size: b''", True)),
    (
        "chunk size with only extension",
        CHUNKED_HEAD + b";a=b\r\n",
        {},
        Failed(RPE, "invalid chunk size: b''", True),
    ),
    (
        "negative chunk size",
        CHUNKED_HEAD + b"-1\r\n",
        {},
        Failed(RPE, "invalid chunk size: b'-'", True),
    ),
    (
        "0x chunk size",
        CHUNKED_HEAD + b"0x10\r\n",
        {},
        Failed(RPE, "invalid chunk size: b'0x'", True),
    ),
    (
        "plus chunk size",
        CHUNKED_HEAD + b"+5\r\n",
        {},
        Failed(RPE, "invalid chunk size: b'+'", True),
    ),
    (
        "leading space chunk size",
        CHUNKED_HEAD + b" 5\r\n",
        {},
        Failed(RPE, "invalid chunk size: b' '", True),
    ),
    (
        "17-digit chunk size",
        CHUNKED_HEAD + b"0010000000000000005\r\n",
        {},
        Failed(RPE, "chunk size has more than 16 hex digits: b'0010000000000000005'", True),
    ),
    (
        "bare LF after chunk size",
        CHUNKED_HEAD + b"5\nhello\r\n",
        {},
        Failed(RPE, "bare LF in chunk size line", True),
    ),
    (
        "bare LF first in chunk line",
        CHUNKED_HEAD + b"\n",
        {},
        Failed(RPE, "bare LF in chunk size line", True),
    ),
    (
        "CTL in chunk extension",
        CHUNKED_HEAD + b"5;a=\x01\r\nhello\r\n",
        {},
        Failed(RPE, "invalid chunk extension: b'a=\\x01'", True),
    ),
    (
        "bare CR in chunk extension",
        CHUNKED_HEAD + b"5;a\rb\r\nhello\r\n",
        {},
        Failed(RPE, "invalid chunk extension: b'a\\rb'", True),
    ),
    (
        "chunk line too long",
        CHUNKED_HEAD + b"5;" + b"x" * 20 + b"\r\n",
        {"max_chunk_ext_size": 21},
        Failed(PTB, "chunk size line too long: more than 21 bytes", True),
    ),
    (
        "chunk line too long, unterminated",
        CHUNKED_HEAD + b"5;" + b"x" * 21,
        {"max_chunk_ext_size": 21},
        Failed(PTB, "chunk size line too long: more than 21 bytes", True),
    ),
    (
        "chunk data too long",
        CHUNKED_HEAD + b"5\r\nhello!\r\n",
        {},
        Failed(RPE, "chunk data not followed by CRLF: b'!'", True),
    ),
    (
        "chunk data then CR without LF",
        CHUNKED_HEAD + b"5\r\nhello\rX0\r\n\r\n",
        {},
        Failed(RPE, "chunk data not followed by CRLF: b'\\rX'", True),
    ),
    (
        "chunk data bare LF",
        CHUNKED_HEAD + b"5\r\nhello\n0\r\n\r\n",
        {},
        Failed(RPE, "chunk data not followed by CRLF: b'\\n'", True),
    ),
    (
        "bad trailer",
        CHUNKED_HEAD + b"0\r\nA B: c\r\n\r\n",
        {},
        Failed(RPE, "invalid header name: b'A B'", True),
    ),
    (
        "trailer obs-fold",
        CHUNKED_HEAD + b"0\r\n a: c\r\n\r\n",
        {},
        Failed(RPE, "obs-fold is not allowed in trailer section: b' a: c'", True),
    ),
    (
        "bare LF in trailers",
        CHUNKED_HEAD + b"0\r\nA: b\n\r\n",
        {},
        Failed(RPE, "bare LF in trailer section", True),
    ),
    (
        "bare LF ends trailers",
        CHUNKED_HEAD + b"0\r\n\n",
        {},
        Failed(RPE, "bare LF in trailer section", True),
    ),
    (
        "NUL in trailer value",
        CHUNKED_HEAD + b"0\r\nA: \x00\r\n\r\n",
        {},
        Failed(RPE, "invalid character in header value: b'\\x00'", True),
    ),
    (
        "trailer line too long",
        CHUNKED_HEAD + b"0\r\nA: " + b"x" * 24 + b"\r\n\r\n",
        {"max_field_size": 26},
        Failed(
            PTB,
            "header line too long: more than 26 bytes, starting b'A: xxxxxxxxxxxxxxxxxxxxxxxx'",
            True,
        ),
    ),
    (
        "too many trailers",
        CHUNKED_HEAD + b"0\r\nA: 1\r\nB: 2\r\n\r\n",
        {"max_headers": 1},
        Failed(PTB, "too many header fields: more than 1", True),
    ),
    (
        "trailers too long",
        CHUNKED_HEAD + b"0\r\nA: 1\r\nB: " + b"x" * 40 + b"\r\n\r\n",
        {"max_head_size": 47},
        Failed(PTB, "trailer section too long: more than 47 bytes", True),
    ),
    # EOF
    (
        "eof before head",
        b"",
        {"eof": True},
        Failed(RPE, "connection closed before response head", False),
    ),
    (
        "eof mid head",
        b"HTTP/1.1 200 OK\r\n",
        {"eof": True},
        Failed(RPE, "connection closed in the middle of the response head", False),
    ),
    (
        "eof after interim response",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        {"eof": True},
        Failed(RPE, "connection closed before response head", False),
    ),
    (
        "eof in content-length body",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 40,
        {"eof": True},
        Failed(RPE, "response payload is not completed: expected 100 bytes, got 40", True),
    ),
    (
        "eof in chunk size",
        CHUNKED_HEAD + b"5",
        {"eof": True},
        Failed(RPE, "response payload is not completed: chunked body ended early", True),
    ),
    (
        "eof in chunk data",
        CHUNKED_HEAD + b"5\r\nhel",
        {"eof": True},
        Failed(RPE, "response payload is not completed: chunked body ended early", True),
    ),
    (
        "eof after chunk data",
        CHUNKED_HEAD + b"5\r\nhello\r",
        {"eof": True},
        Failed(RPE, "response payload is not completed: chunked body ended early", True),
    ),
    (
        "eof in trailers",
        CHUNKED_HEAD + b"0\r\nA: b\r\n",
        {"eof": True},
        Failed(RPE, "response payload is not completed: chunked body ended early", True),
    ),
    (
        "eof before last CRLF",
        CHUNKED_HEAD + b"0\r\n",
        {"eof": True},
        Failed(RPE, "response payload is not completed: chunked body ended early", True),
    ),
]


@pytest.mark.parametrize(
    ("raw", "kwargs", "error"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_response(raw: bytes, kwargs: dict[str, Any], error: Failed) -> None:
    events = run_all_splits(raw, **kwargs)
    assert events[-1] == error
    assert all(not isinstance(e, Failed) for e in events[:-1])


def test_limits_are_inclusive() -> None:
    raw = b"HTTP/1.1 200 OK\r\nAbc: 12345\r\n\r\n"
    limits = {"max_field_size": 10, "max_line_size": 15, "max_head_size": 27, "max_headers": 1}
    assert len(raw) - 4 == 27
    events = run_all_splits(raw, read_until_eof=False, **limits)
    assert events == [head(headers=[(b"Abc", b"12345")], keep_alive=False), *done()]


def test_chunk_line_limit_is_inclusive() -> None:
    raw = CHUNKED_HEAD + b"1;" + b"x" * 19 + b"\r\na\r\n0\r\n\r\n"
    events = run_all_splits(raw, max_chunk_ext_size=21)
    assert events == [head(headers=[CHUNKED], chunked=True), b"a", *done()]


def test_trailers_limit_is_inclusive() -> None:
    raw = CHUNKED_HEAD + b"0\r\nA: 1\r\nB: " + b"x" * 40 + b"\r\n\r\n"
    events = run_all_splits(raw, max_head_size=49, max_field_size=43, max_headers=2)
    trailers = [(b"A", b"1"), (b"B", b"x" * 40)]
    assert events == [head(headers=[CHUNKED], chunked=True), *done(trailers=trailers)]


# -- early errors and bounded buffering -----------------------------------------------------


def test_junk_banner_fails_without_waiting_for_the_head_end() -> None:
    parser = ResponseParser()
    parser.start("GET")
    parser.receive_data(b"SSH-2.0-OpenSSH_9.6\r\n")
    with pytest.raises(
        RemoteProtocolError, match=r"^not an HTTP response: it starts with b'SSH-2'$"
    ):
        parser.next_event()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"SSH-2", "not an HTTP response: it starts with b'SSH-2'"),
        (
            b"\x15\x03\x01\x00\x02",
            "not an HTTP response: it starts with b'\\x15\\x03\\x01\\x00\\x02'",
        ),
        (CHUNKED_HEAD + b"ZZ", "invalid chunk size: b'Z'"),
        (CHUNKED_HEAD + b"-5", "invalid chunk size: b'-'"),
        (CHUNKED_HEAD + b"5\rX", "invalid chunk size: b'5\\r'"),
        (CHUNKED_HEAD + b"3\r\nabcX", "chunk data not followed by CRLF: b'X'"),
        (CHUNKED_HEAD + b"1" * 17, "chunk size has more than 16 hex digits: b'11111111111111111'"),
    ],
)
def test_wrong_bytes_fail_before_their_line_ends(data: bytes, message: str) -> None:
    # The peer may send nothing more: waiting for the LF held the request until a timeout.
    parser = ResponseParser()
    parser.start("GET")
    parser.receive_data(data)

    def events() -> list[object]:
        seen = []
        while (event := parser.next_event()) is not NEED_DATA:
            seen.append(event)
        return seen

    with pytest.raises(RemoteProtocolError) as info:
        events()
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("prefix", "limits", "what"),
    [
        (b"", {"max_line_size": 100}, "status line"),
        (b"HTTP/1.1 200 OK\r\n", {"max_field_size": 100}, "header line"),
        (CHUNKED_HEAD + b"0\r\n", {"max_field_size": 100}, "header line"),  # a trailer
    ],
)
def test_an_unended_line_fails_once_past_its_limit(
    prefix: bytes, limits: dict[str, int], what: str
) -> None:
    """A line without its LF, arriving a byte at a time, is refused once it passes its
    own limit, not the head's (256 KiB): each arrival searches the unended line again."""
    parser = ResponseParser(**limits)
    parser.start("GET")
    parser.receive_data(prefix)
    line = b"HTTP/1.1 200 " if not prefix else b"A: "

    def feed_until_refused() -> int:
        for fed, byte in enumerate(line + b"x" * 1000, 1):
            parser.receive_data(bytes([byte]))
            try:
                while parser.next_event() is not NEED_DATA:
                    pass
            except PayloadTooBig:
                return fed
        raise AssertionError("never refused")

    # The 101st byte may be the line's CR; the 102nd shows it is longer than 100.
    assert feed_until_refused() == 102
    with pytest.raises(PayloadTooBig, match=f"^{what} too long: more than 100 bytes") as info:
        parser.next_event()
    assert info.value.in_body == (prefix.startswith(CHUNKED_HEAD))


def test_partial_lines_that_may_still_be_right_wait() -> None:
    for data in (b"HTTP", CHUNKED_HEAD + b"0000000000000000000000005", CHUNKED_HEAD + b'5 ;x="y'):
        parser = ResponseParser()
        parser.start("GET")
        parser.receive_data(data)
        while (event := parser.next_event()) is not NEED_DATA:
            assert not isinstance(event, bytes)


def test_bad_header_fails_before_the_head_ends() -> None:
    parser = ResponseParser()
    parser.start("GET")
    parser.receive_data(b"HTTP/1.1 200 OK\r\nA B: c\r\n")
    with pytest.raises(RemoteProtocolError, match=r"^invalid header name: b'A B'$"):
        parser.next_event()


def trickle(parser: ResponseParser, data: bytes) -> None:
    """Feed *data* one byte at a time, each must leave the parser needing more."""
    for byte in data:
        parser.receive_data(bytes([byte]))
        assert parser.next_event() is NEED_DATA


@pytest.mark.parametrize("size", [8, 100, 1000])
def test_slow_head_is_bounded(size: int) -> None:
    """A head that never ends fails as soon as it cannot fit, however it trickles in."""
    parser = ResponseParser(max_head_size=size, max_field_size=10 * size)
    parser.start("GET")
    data = b"HTTP/1.1 200 OK\r\nX: " + b"a" * (2 * size)
    with pytest.raises(PayloadTooBig, match=rf"^response head too long: more than {size} bytes$"):
        trickle(parser, data)
    assert len(parser.trailing_data[0]) == size + 4


def test_slow_chunk_line_is_bounded() -> None:
    parser = ResponseParser(max_chunk_ext_size=10)
    parser.start("GET")
    parser.receive_data(CHUNKED_HEAD)
    assert isinstance(parser.next_event(), ResponseHead)
    with pytest.raises(PayloadTooBig) as info:
        trickle(parser, b"1;" + b"x" * 100)
    assert info.value.in_body
    assert parser.trailing_data[0] == b"1;" + b"x" * 10


def test_byte_by_byte_head_is_linear() -> None:
    """Trickling a big head byte by byte does not rescan it each time (would take minutes)."""
    parser = ResponseParser(max_head_size=1 << 20, max_headers=100_000)
    parser.start("GET")
    raw = b"HTTP/1.1 200 OK\r\n" + b"X-Long-Header-Name: some value here\r\n" * 5000 + b"\r\n"
    trickle(parser, raw[:-1])
    parser.receive_data(raw[-1:])
    event = parser.next_event()
    assert isinstance(event, ResponseHead)
    assert len(event.raw_headers) == 5000


# -- body handling --------------------------------------------------------------------------


def test_body_bytes_are_not_copied_when_they_arrive_alone() -> None:
    parser = ResponseParser()
    parser.start("GET")
    parser.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n")
    assert isinstance(parser.next_event(), ResponseHead)
    assert parser.next_event() is NEED_DATA
    piece = b"a" * 100000
    parser.receive_data(piece)
    assert parser.next_event() is piece
    rest = b"b" * 100000 + b"HTTP/1.1"
    parser.receive_data(rest)
    event = parser.next_event()
    assert event == b"b" * 100000
    assert isinstance(parser.next_event(), EndOfMessage)
    assert parser.next_event() is PAUSED
    assert parser.trailing_data == (b"HTTP/1.1", False)


def test_chunk_data_is_not_copied_when_it_arrives_alone() -> None:
    parser = ResponseParser()
    parser.start("GET")
    parser.receive_data(CHUNKED_HEAD + b"10000\r\n")
    assert isinstance(parser.next_event(), ResponseHead)
    assert parser.next_event() is NEED_DATA
    piece = b"z" * 0x10000
    parser.receive_data(piece)
    assert parser.next_event() is piece


def test_close_delimited_body_is_not_copied() -> None:
    parser = ResponseParser()
    parser.start("GET")
    parser.receive_data(b"HTTP/1.1 200 OK\r\n\r\n")
    assert isinstance(parser.next_event(), ResponseHead)
    piece = b"q" * 1000
    parser.receive_data(piece)
    assert parser.next_event() is piece
    assert parser.next_event() is NEED_DATA
    parser.receive_eof()
    assert parser.next_event() == EndOfMessage([])
    assert parser.next_event() is PAUSED


def test_body_is_yielded_as_it_arrives() -> None:
    parser = ResponseParser()
    parser.start("GET")
    parser.receive_data(CHUNKED_HEAD + b"a\r\n012")
    assert isinstance(parser.next_event(), ResponseHead)
    assert parser.next_event() == b"012"
    assert parser.next_event() is NEED_DATA
    parser.receive_data(bytearray(b"3456789\r\n0\r\n\r\n"))
    event = parser.next_event()
    assert type(event) is bytes
    assert event == b"3456789"
    assert parser.next_event() == EndOfMessage([])


# -- connection reuse -----------------------------------------------------------------------


def test_pipelined_responses() -> None:
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    second = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    for pieces in splits(first + second):
        parser = ResponseParser()
        parser.start("GET")
        events: list[Any] = []
        for piece in pieces:
            parser.receive_data(piece)
            drain(parser, events)
        assert events == [
            head(headers=[CL5], content_length=5),
            bytearray(b"hello"),
            EndOfMessage([]),
            PAUSED,
        ]
        assert parser.trailing_data == (second, False)
        assert not parser.is_idle()
        parser.start("GET")
        events = []
        drain(parser, events)
        assert events == [
            head(404, [CHUNKED], reason="Not Found", chunked=True),
            bytearray(b"abc"),
            EndOfMessage([]),
            PAUSED,
        ]
        assert parser.trailing_data == (b"", False)
        assert parser.is_idle()


def test_is_idle() -> None:
    parser = ResponseParser()
    assert parser.is_idle()
    assert parser.next_event() is PAUSED  # before start(), nothing is consumed
    parser.start("GET")
    assert not parser.is_idle()
    parser.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n")
    assert isinstance(parser.next_event(), ResponseHead)
    assert not parser.is_idle()
    parser.receive_data(b"x")
    assert parser.next_event() == b"x"
    assert not parser.is_idle()
    assert parser.next_event() == EndOfMessage([])
    assert parser.is_idle()
    parser.receive_data(b"junk")
    assert not parser.is_idle()


def test_not_idle_after_eof() -> None:
    parser = ResponseParser()
    parser.receive_eof()
    assert not parser.is_idle()
    assert parser.trailing_data == (b"", True)


def test_data_before_start_is_kept_for_the_response() -> None:
    parser = ResponseParser()
    parser.receive_data(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert not parser.is_idle()
    assert parser.next_event() is PAUSED
    parser.start("GET")
    assert parser.next_event() == head(204, reason="No Content")
    assert parser.next_event() == EndOfMessage([])
    assert parser.is_idle()


def test_start_after_upgrade() -> None:
    parser = ResponseParser()
    parser.start("CONNECT")
    parser.receive_data(b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert parser.next_event().upgrade  # type: ignore[union-attr]
    assert parser.next_event() is PAUSED
    assert not parser.is_idle()
    parser.start("GET")
    assert parser.next_event() == head(headers=[(b"Content-Length", b"0")], content_length=0)


def test_start_in_the_middle_of_a_response_is_refused() -> None:
    parser = ResponseParser()
    parser.start("GET")
    with pytest.raises(RuntimeError, match="cannot start a new response in state head"):
        parser.start("GET")


def test_data_after_eof_is_refused() -> None:
    parser = ResponseParser()
    parser.receive_eof()
    with pytest.raises(RuntimeError, match=r"receive_data\(\) called after receive_eof\(\)"):
        parser.receive_data(b"x")


def test_errors_are_final() -> None:
    parser = ResponseParser()
    parser.start("GET")
    parser.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
    for _ in range(2):
        with pytest.raises(RemoteProtocolError, match=r"^invalid Content-Length: b'x'$") as info:
            parser.next_event()
        assert not info.value.in_body
    with pytest.raises(RuntimeError):
        parser.start("GET")


def test_payload_too_big_stays_payload_too_big() -> None:
    parser = ResponseParser(max_headers=0)
    parser.start("GET")
    parser.receive_data(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n")
    for _ in range(2):
        with pytest.raises(PayloadTooBig):
            parser.next_event()


def test_empty_data_is_ignored() -> None:
    parser = ResponseParser()
    parser.start("GET")
    parser.receive_data(b"")
    assert parser.next_event() is NEED_DATA
    assert parser.is_idle() is False


def test_first_valid_keep_alive_timeout_wins() -> None:
    raw = b"HTTP/1.1 204 No Content\r\nKeep-Alive: timeout=2\r\nKeep-Alive: timeout=9\r\n\r\n"
    event = run([raw])[0]
    assert isinstance(event, ResponseHead)
    assert event.keep_alive_timeout == 2.0


def test_full_caches_are_not_grown(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server sending endless new names or values cannot grow the module caches."""
    monkeypatch.setattr(http1, "_NAME_CACHE_SIZE", 0)
    raw = (
        b"HTTP/1.1 200 OK\r\nX-Never-Seen: 1\r\nConnection: x-new, close\r\n"
        b"Keep-Alive: timeout=42\r\nContent-Length: 0\r\n\r\n"
    )
    events = run_all_splits(raw)
    assert events[0].keep_alive is False
    assert events[0].keep_alive_timeout == 42.0
    assert b"X-Never-Seen" not in http1._name_kinds
    assert b"x-new, close" not in http1._connection_flags
    assert b"timeout=42" not in http1._keep_alive_timeouts
    assert is_token("X-Never-Seen-Str")
    assert "X-Never-Seen-Str" not in http1._valid_str_tokens
    assert serialize_request_head("GET", "/", HttpVersion11, [("X-Never-2", "1")])
    assert "X-Never-2" not in http1._valid_str_tokens


def test_sentinel_repr() -> None:
    assert repr(NEED_DATA) == "NEED_DATA"
    assert repr(PAUSED) == "PAUSED"


# -- property tests -------------------------------------------------------------------------

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
FRAMING = {b"content-length", b"transfer-encoding", b"connection", b"keep-alive"}

names = (
    st.text(TOKEN_CHARS, min_size=1, max_size=20)
    .map(str.encode)
    .filter(lambda n: n.lower() not in FRAMING)
)
values = st.binary(max_size=30).map(
    lambda v: bytes(b for b in v if b == 9 or 32 <= b < 127 or b >= 128).strip(b" \t")
)
reasons = st.binary(max_size=20).map(
    lambda v: bytes(b for b in v if b == 9 or 32 <= b < 127 or b >= 128)
)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    """A valid response and what parsing it must give."""
    status = draw(st.sampled_from([200, 201, 204, 206, 301, 304, 400, 404, 500, 503]))
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]))
    reason = draw(reasons)
    fields = draw(st.lists(st.tuples(names, values), max_size=8))
    ows = draw(st.lists(st.sampled_from([b"", b" ", b"\t", b"  "]), min_size=2, max_size=2))
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked", "eof"]))
    no_body = status in (204, 304)
    raw_fields = list(fields)
    trailers: list[tuple[bytes, bytes]] = []
    encoded = b""
    if framing == "length":
        raw_fields.append((b"Content-Length", str(len(body)).encode()))
        encoded = body
    elif framing == "chunked":
        raw_fields.append((b"Transfer-Encoding", b"chunked"))
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=5)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        for piece in pieces:
            if piece:
                ext = draw(st.sampled_from([b"", b";a=b", b" ; x", b';q="1 2"']))
                encoded += b"%x%b\r\n%b\r\n" % (len(piece), ext, piece)
        trailers = draw(st.lists(st.tuples(names, values), max_size=3))
        encoded += b"0\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in trailers) + b"\r\n"
    else:
        encoded = body
    order = draw(st.permutations(range(len(raw_fields))))
    raw_fields = [raw_fields[i] for i in order]
    raw = b"%b %d %b\r\n" % (version, status, reason)
    raw += b"".join(n + b":" + ows[0] + v + ows[1] + b"\r\n" for n, v in raw_fields)
    raw += b"\r\n"
    if not no_body:
        raw += encoded
    expected = {
        "status": status,
        "reason": reason.decode("utf-8", "surrogateescape"),
        "version": HttpVersion11 if version == b"HTTP/1.1" else HttpVersion10,
        "headers": raw_fields,
        "body": b"" if no_body else body,
        "trailers": [] if no_body else trailers,
        "eof": framing == "eof" and not no_body,
        "chunked": framing == "chunked" and not no_body,
    }
    return raw, expected


@st.composite
def cut_points(draw: st.DrawFn, size: int) -> list[int]:
    return sorted(draw(st.lists(st.integers(0, size), max_size=6)))


@given(responses(), st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_valid_responses_round_trip(
    case: tuple[bytes, dict[str, Any]], data: st.DataObject
) -> None:
    raw, expected = case
    cuts = data.draw(cut_points(len(raw)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    events = run(pieces, eof=True)
    assert events == run([raw], eof=True)
    first = events[0]
    assert isinstance(first, ResponseHead)
    assert first.status == expected["status"]
    assert first.reason == expected["reason"]
    assert first.version == expected["version"]
    assert list(first.raw_headers) == expected["headers"]
    assert first.chunked == expected["chunked"]
    body = b"".join(e for e in events if isinstance(e, bytes))
    assert body == expected["body"]
    assert events[-3] == EndOfMessage(expected["trailers"])
    assert events[-2:] == [PAUSED, Trailing(b"", True)]
    if expected["eof"]:
        assert not first.keep_alive


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw, _ = draw(responses())
    data = bytearray(raw)
    interesting = st.sampled_from(
        [b"\r", b"\n", b"\r\n", b" ", b"\t", b":", b"\x00", b";", b"0", b"\xff", b"-", b","]
    )
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        at = draw(st.integers(0, len(data)))
        if action == "insert":
            data[at:at] = draw(interesting | st.binary(min_size=1, max_size=3))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 4))]
        else:
            data[at : at + 1] = draw(interesting)
    return bytes(data)


@given(mutated(), st.sampled_from(["GET", "HEAD", "CONNECT"]))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_responses_parse_or_raise_protocol_errors(raw: bytes, method: str) -> None:
    """Only RemoteProtocolError escapes, and the same one whatever the input split."""
    one_shot = run([raw], method=method, eof=True, max_head_size=200, max_field_size=60)
    bytewise = run(
        [raw[i : i + 1] for i in range(len(raw))],
        method=method,
        eof=True,
        max_head_size=200,
        max_field_size=60,
    )
    assert bytewise == one_shot


# -- request side ---------------------------------------------------------------------------


def test_serialize_request_head() -> None:
    data = serialize_request_head(
        "GET",
        "/path?q=1",
        HttpVersion11,
        [("Host", "example.com"), ("X-Empty", ""), ("X-Utf8", "café\t!")],
    )
    assert data == (
        b"GET /path?q=1 HTTP/1.1\r\n"
        b"Host: example.com\r\nX-Empty: \r\nX-Utf8: caf\xc3\xa9\t!\r\n\r\n"
    )


def test_serialize_request_head_without_headers() -> None:
    assert (
        serialize_request_head("OPTIONS", "*", HttpVersion10, []) == b"OPTIONS * HTTP/1.0\r\n\r\n"
    )


def test_serialize_request_head_takes_an_iterator_and_any_version() -> None:
    headers = iter([("A", "1"), ("B", "2")])
    data = serialize_request_head("CONNECT", "example.com:443", HttpVersion(2, 0), headers)
    assert data == b"CONNECT example.com:443 HTTP/2.0\r\nA: 1\r\nB: 2\r\n\r\n"


def test_serialized_request_round_trips_through_h11() -> None:
    h11 = pytest.importorskip("h11")
    data = serialize_request_head(
        "POST", "/x", HttpVersion11, [("Host", "a"), ("Content-Length", "0")]
    )
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    event = conn.next_event()
    assert event.method == b"POST"
    assert event.target == b"/x"
    assert event.headers == [(b"host", b"a"), (b"content-length", b"0")]


@pytest.mark.parametrize(
    ("method", "target", "headers", "message"),
    [
        ("GET\r\nX: y", "/", [], "invalid method: 'GET\\r\\nX: y'"),
        ("GE T", "/", [], "invalid method: 'GE T'"),
        ("G\x00ET", "/", [], "invalid method: 'G\\x00ET'"),
        ("", "/", [], "invalid method: ''"),
        ("GÉT", "/", [], "invalid method: 'GÉT'"),
        ("GET", "/a b", [], "invalid character in request target: '/a b'"),
        ("GET", "/a\tb", [], "invalid character in request target: '/a\\tb'"),
        ("GET", "/a\r\nX: y", [], "invalid character in request target: '/a\\r\\nX: y'"),
        ("GET", "/a\nb", [], "invalid character in request target: '/a\\nb'"),
        ("GET", "/a\x00", [], "invalid character in request target: '/a\\x00'"),
        ("GET", "/a\x7f", [], "invalid character in request target: '/a\\x7f'"),
        ("GET", "", [], "empty request target"),
        ("GET", "/\udcff", [], "request target is not valid UTF-8: '/\\udcff'"),
        ("GET", "/", [("X-A\r\nB", "c")], "invalid header name: 'X-A\\r\\nB'"),
        ("GET", "/", [("X A", "c")], "invalid header name: 'X A'"),
        ("GET", "/", [("X:A", "c")], "invalid header name: 'X:A'"),
        ("GET", "/", [("", "c")], "invalid header name: ''"),
        ("GET", "/", [("X\x00", "c")], "invalid header name: 'X\\x00'"),
        ("GET", "/", [("Nämé", "c")], "invalid header name: 'Nämé'"),
        (
            "GET",
            "/",
            [("A", "ok"), ("X", "a\r\nSet-Cookie: x")],
            "invalid character in header value of X: 'a\\r\\nSet-Cookie: x'",
        ),
        ("GET", "/", [("X", "a\rb")], "invalid character in header value of X: 'a\\rb'"),
        ("GET", "/", [("X", "a\nb")], "invalid character in header value of X: 'a\\nb'"),
        ("GET", "/", [("X", "a\x00b")], "invalid character in header value of X: 'a\\x00b'"),
        ("GET", "/", [("X", "a\x1bb")], "invalid character in header value of X: 'a\\x1bb'"),
        ("GET", "/", [("X", "a\x7f")], "invalid character in header value of X: 'a\\x7f'"),
        ("GET", "/", [("X", "\udc80")], "header value of X is not valid UTF-8: '\\udc80'"),
    ],
)
def test_serialize_request_head_refuses_injection(
    method: str, target: str, headers: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(LocalProtocolError) as info:
        serialize_request_head(method, target, HttpVersion11, headers)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([("X-Token", b"abc")], "header value of X-Token must be str, got bytes: b'abc'"),
        ([("X-Token", None)], "header value of X-Token must be str, got NoneType: None"),
        ([("X-Page", 2)], "header value of X-Page must be str, got int: 2"),
        ([("X", ["a", "b"])], "header value of X must be str, got list: ['a', 'b']"),
        ([(b"X-Token", "abc")], "header name must be str, got bytes: b'X-Token'"),
    ],
)
def test_serialize_request_head_refuses_values_that_are_not_text(
    headers: list[tuple[object, object]], message: str
) -> None:
    # Formatted, b"abc" went out as "X-Token: b'abc'" and None as "None".
    with pytest.raises(TypeError) as info:
        serialize_request_head("GET", "/", HttpVersion11, headers)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_serialize_request_head_sends_str_subclasses_as_text() -> None:
    class Tag(str):
        def __str__(self) -> str:
            return "not this"

    head = serialize_request_head("GET", "/", HttpVersion11, [("X-Tag", Tag("v1"))])
    assert head == b"GET / HTTP/1.1\r\nX-Tag: v1\r\n\r\n"


@pytest.mark.parametrize("version", [HttpVersion(10, 1), HttpVersion(1, -1), HttpVersion("1", 1)])  # type: ignore[arg-type]
def test_serialize_request_head_refuses_bad_versions(version: HttpVersion) -> None:
    with pytest.raises(LocalProtocolError, match=r"^invalid HTTP version: "):
        serialize_request_head("GET", "/", version, [])


def test_is_token() -> None:
    assert is_token("Content-Type")
    assert is_token(b"X-a!#$%&'*+-.^_`|~9")
    assert is_token("GET")
    for bad in ["", "A B", "A:B", "A\r", "é", "A\x00", "(x)", "a/b", "a@b", "{}", 'a"b']:
        assert not is_token(bad), bad
        assert not is_token(bad.encode()), bad


def test_encode_chunk() -> None:
    assert encode_chunk(b"hello") == b"5\r\nhello\r\n"
    assert encode_chunk(bytearray(b"x" * 26)) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert encode_chunk(memoryview(b"abc")) == b"3\r\nabc\r\n"
    assert encode_chunk(b"") == b""
    assert LAST_CHUNK == b"0\r\n\r\n"


@given(st.lists(st.binary(max_size=100), max_size=5))
def test_encoded_chunks_parse_back(chunks: list[bytes]) -> None:
    raw = CHUNKED_HEAD + b"".join(encode_chunk(c) for c in chunks) + LAST_CHUNK
    assert run([raw]) == [
        head(headers=[CHUNKED], chunked=True),
        *([b"".join(chunks)] if any(chunks) else []),
        *done(),
    ]


# -- remembered lines -------------------------------------------------------------------------


def _head(parser: ResponseParser, data: bytes) -> ResponseHead:
    parser.start("GET")
    parser.receive_data(data)
    event = parser.next_event()
    assert isinstance(event, ResponseHead)
    return event


def test_remembered_lines_still_meet_each_parsers_limits() -> None:
    line = b"X-Long: " + b"v" * 60
    data = b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 0\r\n\r\n"
    head = _head(ResponseParser(), data)  # valid: now remembered
    assert head.raw_headers[0] == (b"X-Long", b"v" * 60)
    assert line in http1._field_lines
    strict = ResponseParser(max_line_size=40, max_field_size=40)
    strict.start("GET")
    strict.receive_data(data)
    with pytest.raises(PayloadTooBig, match="40"):
        strict.next_event()
    few = ResponseParser(max_headers=1)
    few.start("GET")
    few.receive_data(data)
    with pytest.raises(PayloadTooBig, match="too many header fields"):
        few.next_event()


def test_remembered_lines_do_not_hide_control_characters() -> None:
    good = b"HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 0\r\n\r\n"
    _head(ResponseParser(), good)
    parser = ResponseParser()
    parser.start("GET")
    parser.receive_data(good.replace(b"X-A: b", b"X-A: b\x00"))
    with pytest.raises(RemoteProtocolError, match="invalid character"):
        parser.next_event()


def test_remembered_status_lines_keep_their_parsed_form() -> None:
    for reason in (b"OK", b"Created", b""):
        status_line = b"HTTP/1.0 201" + (b" " + reason if reason else b"")
        for _ in range(2):
            head = _head(ResponseParser(), status_line + b"\r\nContent-Length: 0\r\n\r\n")
            assert (head.status, head.reason, head.version) == (201, reason.decode(), HttpVersion10)


def test_line_caches_are_bounded() -> None:
    parser = ResponseParser()
    for i in range(http1._LINE_CACHE_SIZE + 10):
        head = _head(parser, b"HTTP/1.1 200 R%d\r\nX-N: %d\r\nContent-Length: 0\r\n\r\n" % (i, i))
        assert head.raw_headers[0] == (b"X-N", b"%d" % i)
        assert parser.next_event() == EndOfMessage([])
    assert 0 < len(http1._field_lines) <= http1._LINE_CACHE_SIZE
    assert 0 < len(http1._status_lines) <= http1._LINE_CACHE_SIZE
    long_line = b"X-Big: " + b"x" * http1._CACHED_LINE_LENGTH
    _head(ResponseParser(), b"HTTP/1.1 200 OK\r\n" + long_line + b"\r\n\r\n")
    assert long_line not in http1._field_lines


# -- remembered heads --------------------------------------------------------------------------

_REPEATED = b"HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nContent-Length: 5\r\n\r\n"


def _cached(data: bytes) -> bool:
    head = data[: data.index(b"\r\n\r\n")]
    return any(head in cache for cache in http1._head_caches.values())


def test_remembered_heads_still_meet_each_parsers_limits() -> None:
    first = _head(ResponseParser(), _REPEATED)
    assert _cached(_REPEATED)
    assert _head(ResponseParser(), _REPEATED) == first
    few = ResponseParser(max_headers=2)
    for _ in range(2):  # the limit at construction, then the same limit for one response
        few.start("GET")
        few.receive_data(_REPEATED)
        with pytest.raises(PayloadTooBig, match="too many header fields"):
            few.next_event()
        few = ResponseParser()
        few.set_limits(None, None, 2)
    small = ResponseParser(max_head_size=30)
    small.start("GET")
    small.receive_data(_REPEATED)
    with pytest.raises(PayloadTooBig, match="30"):
        small.next_event()


def test_remembered_heads_are_framed_for_each_request() -> None:
    parser = ResponseParser()
    parser.receive_data(_REPEATED + b"hello" + _REPEATED)
    for method, body in (("GET", [b"hello"]), ("HEAD", [])):
        parser.start(method)
        event = parser.next_event()
        assert isinstance(event, ResponseHead)
        assert event.content_length == 5
        assert [*_events(parser)] == [*body, EndOfMessage([])]
    # The other way round: a HEAD response first, then an ordinary one.
    parser = ResponseParser()
    parser.receive_data(_REPEATED + _REPEATED + b"hello")
    for method, body in (("HEAD", []), ("GET", [b"hello"])):
        parser.start(method)
        assert isinstance(parser.next_event(), ResponseHead)
        assert [*_events(parser)] == [*body, EndOfMessage([])]
    # Unframed: read until close, or (read_until_eof=False) an empty body.
    unframed = b"HTTP/1.1 200 OK\r\nX-U: 1\r\n\r\n"
    for read_until_eof in (True, False, True):
        parser = ResponseParser()
        parser.start("GET", read_until_eof=read_until_eof)
        parser.receive_data(unframed + b"rest")
        event = parser.next_event()
        assert isinstance(event, ResponseHead)
        assert not event.keep_alive
        expected = [b"rest"] if read_until_eof else [EndOfMessage([])]
        assert [parser.next_event()] == expected
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.status = 500  # type: ignore[misc]  # shared by responses: immutable
    connect = ResponseParser()
    connect.start("CONNECT")
    connect.receive_data(_REPEATED + b"tunnel")
    event = connect.next_event()
    assert isinstance(event, ResponseHead)
    assert event.upgrade
    assert not event.keep_alive
    assert connect.trailing_data == (b"tunnel", False)


def _events(parser: ResponseParser) -> Iterator[Any]:
    while (event := parser.next_event()) is not PAUSED:
        assert event is not NEED_DATA
        yield event


def test_heads_refused_are_refused_every_time() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
    for _ in range(2):
        parser = ResponseParser()
        parser.start("GET")
        parser.receive_data(data)
        with pytest.raises(RemoteProtocolError, match="Content-Length"):
            parser.next_event()
    assert not _cached(data)


def test_heads_with_set_cookie_are_not_remembered() -> None:
    data = b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=s3cret\r\nContent-Length: 0\r\n\r\n"
    assert _head(ResponseParser(), data).set_cookie
    assert _head(ResponseParser(), data).raw_headers == (
        (b"Set-Cookie", b"sid=s3cret"),
        (b"Content-Length", b"0"),
    )
    assert not _cached(data)
    assert not any(b"s3cret" in line for line in http1._field_lines)


def test_head_cache_is_bounded() -> None:
    parser = ResponseParser()
    for i in range(http1._HEAD_CACHE_SIZE + 10):
        head = _head(parser, b"HTTP/1.1 200 OK\r\nX-N: %d\r\nContent-Length: 0\r\n\r\n" % i)
        assert head.raw_headers[0] == (b"X-N", b"%d" % i)
        assert parser.next_event() == EndOfMessage([])
    assert 0 < len(parser._heads) <= http1._HEAD_CACHE_SIZE
    big = b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * http1._CACHED_HEAD_LENGTH + b"\r\n\r\n"
    _head(ResponseParser(), big)
    assert not _cached(big)


def test_take_whole_body_only_when_all_of_it_is_here() -> None:
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    for cut in range(len(response) - 5, len(response)):
        parser = ResponseParser()
        head_event = _head(parser, response[:cut])
        assert head_event.content_length == 5
        assert parser.take_whole_body() is None  # part of the body is missing
        parser.receive_data(response[cut:] + b"HTTP/1.1")
        assert parser.take_whole_body() == b"hello"
        # The message is over: the next bytes are the next response's.
        assert parser.next_event() is PAUSED
        assert parser.trailing_data == (b"HTTP/1.1", False)


def test_take_whole_body_of_empty_bodies_and_outside_length_bodies() -> None:
    # No body: Content-Length 0, a 204, a 304 and a HEAD response (RFC 9112 §6.3).
    for method, raw in (
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
        ("GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"),
    ):
        parser = ResponseParser()
        parser.start(method)
        parser.receive_data(raw)
        assert isinstance(parser.next_event(), ResponseHead)
        assert parser.take_whole_body() == b""
        assert parser.is_idle()
    # Chunked and close-delimited bodies are left to next_event().
    for raw in (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nuntil close",
    ):
        parser = ResponseParser()
        _head(parser, raw)
        assert parser.take_whole_body() is None
        assert parser.next_event() != NEED_DATA


def test_take_whole_body_after_part_was_read_as_events() -> None:
    parser = ResponseParser()
    _head(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab")
    assert parser.next_event() == b"ab"
    parser.receive_data(b"cdef")
    assert parser.take_whole_body() == b"cdef"
    assert parser.next_event() is PAUSED
