"""The ``hyperclient`` command: curl-like HTTP requests and a WebSocket client.

Built only on the public API (``ClientSession``, ``ClientTimeout``, connectors, auth,
``FormData``, the exception tree), so it doubles as an example of using it. The command
owns argument parsing, terminal output and exit codes; it must not reach into private
attributes of the library. Exit codes follow curl's where curl has one (see
``docs/cli.md``), so scripts written for curl keep their error handling.

``rich`` (the ``cli`` extra) is optional: progress bars and colour are shown only when
it is importable and the stream they go to is a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import dataclasses
import getpass
import hashlib
import io
import math
import netrc
import os
import re
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import IO, Any, NoReturn, TextIO, TypeVar

from multidict import CIMultiDict
from yarl import URL

from . import (
    BaseConnector,
    BasicAuth,
    BytesPayload,
    ClientConnectorCertificateError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ClientError,
    ClientHandlerType,
    ClientPayloadError,
    ClientProxyConnectionError,
    ClientRequest,
    ClientResponse,
    ClientSession,
    ClientSSLError,
    ClientTimeout,
    DigestAuth,
    Fingerprint,
    FormData,
    InvalidURL,
    ServerDisconnectedError,
    ServerFingerprintMismatch,
    TCPConnector,
    TooManyRedirects,
    TraceConfig,
    TraceRequestHeadersSentParams,
    TraceRequestRedirectParams,
    UnixClientConnectorError,
    UnixConnector,
    __version__,
)
from .proxy import absolute_target, proxy_for, uses_absolute_form
from .request import make_url

__all__ = ("main",)

PROG = "hyperclient"

# Exit codes: curl's numbers where curl has one (man curl, "EXIT CODES").
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_URL = 3
EXIT_DNS = 6
EXIT_CONNECT = 7
EXIT_PARTIAL = 18
EXIT_HTTP = 22
EXIT_WRITE = 23
EXIT_READ = 26
EXIT_TIMEOUT = 28
EXIT_TLS = 35
EXIT_REDIRECTS = 47
EXIT_EMPTY_REPLY = 52
EXIT_CERT = 60
EXIT_PIN = 90
EXIT_INTERRUPTED = 130

_CHUNK = 2**16
_RANGE = re.compile(r"\[(\d+)-(\d+)\]")


class CliError(Exception):
    """A failure with the exit code to report it with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Most specific first: the TLS and DNS errors are ClientConnectorErrors too.
_EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ClientConnectorDNSError, EXIT_DNS),
    (ClientConnectorCertificateError, EXIT_CERT),
    (ClientSSLError, EXIT_TLS),
    (ServerFingerprintMismatch, EXIT_PIN),
    (ClientConnectorError, EXIT_CONNECT),
    (TimeoutError, EXIT_TIMEOUT),
    (TooManyRedirects, EXIT_REDIRECTS),
    (ServerDisconnectedError, EXIT_EMPTY_REPLY),
    (ClientPayloadError, EXIT_PARTIAL),
    (InvalidURL, EXIT_URL),
)


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an exception raised while performing a request."""
    if isinstance(exc, CliError):
        return exc.code
    if _pin_mismatch(exc) is not None:
        return EXIT_PIN
    for kind, code in _EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return EXIT_ERROR


def describe(exc: BaseException) -> str:
    """A one-line description of *exc* for the error message."""
    if isinstance(exc, CliError):
        return exc.message
    mismatch = _pin_mismatch(exc)
    if mismatch is not None:
        return f"ServerFingerprintMismatch: {mismatch}"
    if isinstance(exc, TimeoutError) and not str(exc):
        return "operation timed out"
    if isinstance(exc, InvalidURL) and exc.description:
        reason = exc.description[:1].lower() + exc.description[1:]
        return f"bad URL {str(exc.url)!r:.200}: {reason}"
    if isinstance(exc, ServerFingerprintMismatch):
        # In --pin's own form, so that the digest the server has can be pasted.
        return (
            f"ServerFingerprintMismatch: the certificate of {exc.host}:{exc.port} is "
            f"{_pin_text(exc.got)}, not the {_pin_text(exc.expected)} given with --pin"
        )
    if isinstance(exc, ClientConnectorError):
        return f"{type(exc).__name__}: {_connect_failure(exc)}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _connect_failure(exc: ClientConnectorError) -> str:
    # The library's str() shows the TLS setting, an SSLContext's repr with its address
    # included ("ssl:<ssl.SSLContext object at 0x7f...>"): noise for a command line user.
    if isinstance(exc, UnixClientConnectorError):
        where = f"unix socket {exc.path}"
    elif isinstance(exc, ClientProxyConnectionError):
        where = f"proxy {exc.host}:{exc.port}"
    else:
        where = f"host {exc.host}:{exc.port}"
    error = exc.os_error
    reason = error.strerror or str(error) or type(error).__name__
    return f"cannot connect to {where}: {reason}"


# -- terminal helpers ---------------------------------------------------------------------


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def _fancy(stream: IO[str]) -> bool:
    """Colour and progress bars: only on a terminal, only with rich installed.

    rich itself honours ``NO_COLOR`` (no colour, progress bars kept).
    """
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and _rich_available()


class _Progress:
    """One progress bar on stderr, or nothing at all when *enabled* is false."""

    def __init__(self, enabled: bool, description: str, *, transfer: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
        if transfer:
            columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
        else:
            columns += [MofNCompleteColumn(), TaskProgressColumn(), TimeRemainingColumn()]
        self._bar = Progress(*columns, console=Console(stderr=True), transient=False)
        self._task = self._bar.add_task(description, total=None)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def set_total(self, total: int | None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def update(self, completed: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=completed)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns


def _status_line(resp: ClientResponse) -> bytes:
    version = resp.version
    proto = f"HTTP/{version.major}.{version.minor}" if version is not None else "HTTP/1.1"
    line = f"{proto} {resp.status} {resp.reason or ''}".rstrip()
    # The parser decoded the reason as UTF-8 with surrogateescape: this gives its bytes back.
    return line.encode("utf-8", "surrogateescape")


def response_head_lines(resp: ClientResponse) -> list[bytes]:
    """The status line and headers as received: the bytes of the wire, in their order."""
    return [_status_line(resp), *(name + b": " + value for name, value in resp.raw_headers)]


def request_head_lines(
    method: str, url: URL, headers: CIMultiDict[str], *, absolute: bool = False
) -> list[bytes]:
    """The request line and headers, encoded as the library sends them (UTF-8); with
    *absolute*, the request target is the whole URL (as sent to a proxy)."""
    target = absolute_target(url) if absolute else (url.raw_path_qs or "/")
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return [line.encode("utf-8", "surrogateescape") for line in lines]


def _write_out(stream: TextIO | None, data: bytes, what: str) -> None:
    """Write *data* to stdout (or stderr) as bytes; a failure is curl's exit 23."""
    if stream is None:  # started with the descriptor closed (">&-")
        raise CliError(EXIT_WRITE, f"failed writing {what}: the output is closed")
    try:
        stream.flush()  # text already written through the text layer goes first
        stream.buffer.write(data)
        stream.buffer.flush()
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            _drop(stream)
        raise CliError(EXIT_WRITE, f"failed writing {what}: {exc.strerror or exc}") from exc


def _drop(stream: TextIO) -> None:
    """Point *stream*'s descriptor, a pipe nobody reads any more, at /dev/null: Python
    flushes stdout once more at exit, which printed "Exception ignored ...
    BrokenPipeError" and exited 120 after our one line."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)


class _Printer:
    """Writes response heads and diagnostics; colours them on a terminal."""

    def __init__(self, *, silent: bool, show_error: bool) -> None:
        self.silent = silent
        self.show_error = show_error
        self._out_console: Any = None
        self._err_console: Any = None
        if _fancy(sys.stdout):
            from rich.console import Console

            self._out_console = Console(highlight=False, soft_wrap=True)
        if _fancy(sys.stderr):
            from rich.console import Console

            self._err_console = Console(stderr=True, highlight=False, soft_wrap=True)

    def head(self, lines: list[bytes], *, to_stderr: bool, prefix: str = "") -> None:
        """A head, each line with *prefix*, ending with an empty line.

        On stdout (``-i``) the lines end with CRLF as on the wire; header bytes are
        written as they are, not decoded and encoded again (that doubled UTF-8).
        """
        console = self._err_console if to_stderr else self._out_console
        if console is None:
            end = b"\n" if to_stderr else b"\r\n"
            start = prefix.encode()
            data = b"".join(start + line + end for line in lines) + start.rstrip() + end
            if to_stderr:
                # Diagnostics must not fail the transfer: a closed stderr loses them only.
                with contextlib.suppress(CliError):
                    _write_out(sys.stderr, data, "to stderr")
            else:
                _write_out(sys.stdout, data, "the response head")
            return
        from rich.markup import escape

        # A terminal shows UTF-8; bytes that are not are shown as U+FFFD.
        first, *rest = (line.decode("utf-8", "replace") for line in lines)
        try:
            console.print(f"{escape(prefix)}[bold]{escape(first)}[/bold]")
            for line in rest:
                name, _, value = line.partition(":")
                console.print(f"{escape(prefix)}[cyan]{escape(name)}[/cyan]:{escape(value)}")
            console.print(escape(prefix.rstrip()))
        except OSError as exc:
            if not to_stderr:
                raise CliError(EXIT_WRITE, f"failed writing the response head: {exc}") from exc

    def note(self, text: str) -> None:
        """A diagnostic line on stderr (``* `` prefixed, as curl -v)."""
        self._stderr(f"* {text}", "dim")

    def error(self, code: int, text: str) -> None:
        if self.silent and not self.show_error:
            return
        self._stderr(f"{PROG}: ({code}) {text}", "red")

    def _stderr(self, text: str, style: str) -> None:
        # print(file=None) would write to stdout: with stderr closed, say nothing.
        if sys.stderr is None:
            return
        with contextlib.suppress(OSError):
            if self._err_console is not None:
                from rich.markup import escape

                self._err_console.print(f"[{style}]{escape(text)}[/{style}]")
            else:
                print(text, file=sys.stderr, flush=True)


# -- argument parsing -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors in curl's format and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{PROG}: error: {message}\n")


def _seconds(text: str) -> float:
    """A duration: a finite number of seconds, 0 or more (0 is "no limit" for -m, as curl)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds: {text!r}") from None
    # float() takes "inf" and "nan": nan made every deadline expire at once (and --linger
    # never end), inf overflowed the timer.
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, got {text!r}")
    return value


def _integer(minimum: int, meaning: str = "") -> Callable[[str], int]:
    """An argparse type: an integer of at least *minimum* (*meaning* says what it is)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{meaning}, got {text!r}")
        return value

    return parse


# --max-redirs: a count, or -1 for "no limit" (curl's; MAX_REDIRECTS here).
_redirect_limit = _integer(-1, " (-1: no limit)")
_positive_int = _integer(1)


def _add_tls_options(parser: argparse.ArgumentParser) -> None:
    tls = parser.add_argument_group("TLS")
    tls.add_argument(
        "-k", "--insecure", action="store_true", help="do not verify the server certificate"
    )
    tls.add_argument("--cacert", metavar="FILE", help="trust the CA certificates in FILE (PEM)")
    tls.add_argument(
        "-E", "--cert", metavar="FILE", help="client certificate (PEM, may include the key)"
    )
    tls.add_argument("--key", metavar="FILE", help="private key of --cert, if separate")
    tls.add_argument(
        "--pin",
        metavar="sha256//BASE64",
        help="accept only a server certificate whose DER form has this SHA-256 digest",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``hyperclient [options] URL...``."""
    parser = _Parser(
        prog=PROG,
        usage=f"%(prog)s [options] URL...\n       {PROG} ws [options] URL",
        allow_abbrev=False,  # a later option must not change what an abbreviation means
        description="Transfer a URL with hyperclient (curl-like). "
        f"'{PROG} ws URL' opens an interactive WebSocket session.",
        epilog="Exit codes: 0 ok, 2 usage, 6 DNS, 7 connect, 22 HTTP error (--fail), "
        "28 timeout, 1 other; see docs/cli.md for the full list.",
    )
    parser.add_argument("urls", nargs="*", metavar="URL", help="URL(s) to fetch")
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")

    req = parser.add_argument_group("request")
    req.add_argument("-X", "--request", metavar="METHOD", help="request method")
    req.add_argument(
        "-H", "--header", action="append", default=[], metavar="'Name: value'",
        help="extra header (repeatable); 'Name:' removes a header the command would send",
    )  # fmt: skip
    req.add_argument(
        "-A", "--user-agent", metavar="NAME", help="User-Agent to send ('' sends none)"
    )
    req.add_argument(
        "-b", "--cookie", action="append", default=[], metavar="NAME=VALUE",
        help="send a cookie (repeatable; 'a=1; b=2' works too)",
    )  # fmt: skip
    req.add_argument(
        "-I", "--head", action="store_true", help="send HEAD and print the response head"
    )
    req.add_argument(
        "-G", "--get", action="store_true", help="put -d data in the query string, send GET"
    )
    body = parser.add_argument_group("request body (one kind per request)")
    body.add_argument(
        "-d", "--data", action="append", default=[], metavar="DATA",
        help="form data, POST by default; '@file' reads a file (newlines stripped), '@-' stdin",
    )  # fmt: skip
    body.add_argument(
        "--data-binary", action="append", default=[], metavar="DATA",
        help="like -d, but '@file' is sent exactly as is",
    )  # fmt: skip
    body.add_argument(
        "--json", action="append", default=[], metavar="DATA",
        help="JSON body ('@file' works); sets Content-Type and Accept to application/json",
    )  # fmt: skip
    body.add_argument(
        "-F", "--form", action="append", default=[], metavar="NAME=VALUE",
        help="multipart/form-data field (repeatable): 'name=value[;type=T]'; "
        "'name=@file[;type=T][;filename=F]' uploads a file, 'name=<file' sends its content",
    )  # fmt: skip
    body.add_argument(
        "-T", "--upload-file", metavar="FILE",
        help="stream FILE as the body ('-': stdin), PUT by default",
    )  # fmt: skip

    resp = parser.add_argument_group("response")
    resp.add_argument("-o", "--output", metavar="FILE", help="write the body to FILE")
    resp.add_argument(
        "-i", "--include", action="store_true", help="print the response head before the body"
    )
    resp.add_argument(
        "-f", "--fail", action="store_true",
        help="exit 22 without printing the body when the status is 400 or more",
    )  # fmt: skip
    resp.add_argument(
        "--compressed", action="store_true",
        help="ask for a compressed response (gzip, deflate, ...) and decompress it",
    )  # fmt: skip
    resp.add_argument(
        "-L", "--location", action="store_true", help="follow redirects (not followed by default)"
    )
    resp.add_argument(
        "--max-redirs", type=_redirect_limit, default=50, metavar="N",
        help="maximum redirects to follow with -L (default 50; -1: 1000, curl's no limit)",
    )  # fmt: skip

    auth = parser.add_argument_group("authentication")
    auth.add_argument("-u", "--user", metavar="USER[:PASSWORD]", help="server credentials")
    auth.add_argument("--digest", action="store_true", help="use Digest instead of Basic")
    auth.add_argument(
        "-n", "--netrc", action="store_true",
        help="use the credentials of ~/.netrc ($NETRC) for hosts without -u",
    )  # fmt: skip

    conn = parser.add_argument_group("connection")
    conn.add_argument(
        "-x",
        "--proxy",
        metavar="URL",
        help="use this proxy (http, https, socks5, socks5h, socks4, socks4a; host:port is "
        "http); without it, $http_proxy, $https_proxy, $all_proxy and $no_proxy apply",
    )
    conn.add_argument(
        "--unix-socket", metavar="PATH", help="connect to this Unix socket (no TLS: http:// only)"
    )
    conn.add_argument(
        "-m", "--max-time", type=_seconds, metavar="SECONDS",
        help="limit the whole transfer (ClientTimeout.total; 0: no limit)",
    )  # fmt: skip
    conn.add_argument(
        "--connect-timeout", type=_seconds, metavar="SECONDS",
        help="limit connecting (ClientTimeout.connect; 0: no limit)",
    )  # fmt: skip
    _add_tls_options(parser)

    par = parser.add_argument_group("many URLs")
    par.add_argument(
        "-Z", "--parallel", action="store_true",
        help="fetch the URLs concurrently; prints one progress bar and a summary",
    )  # fmt: skip
    par.add_argument(
        "--parallel-max", type=_positive_int, default=50, metavar="N",
        help="most transfers (and connections) at once with -Z (default 50)",
    )  # fmt: skip
    par.add_argument(
        "--fail-early", action="store_true",
        help="with several URLs, stop at the first that fails (default: carry on)",
    )  # fmt: skip
    par.add_argument(
        "-K", "--url-file", metavar="FILE", help="read URLs from FILE, one per line ('-': stdin)"
    )
    par.add_argument(
        "-g", "--globoff", action="store_true", help="do not expand [N-M] ranges in URLs"
    )

    out = parser.add_argument_group("output")
    out.add_argument(
        "-v", "--verbose", action="store_true", help="print request and response heads to stderr"
    )
    out.add_argument("--timings", action="store_true", help="print where the time went to stderr")
    out.add_argument(
        "-s", "--silent", action="store_true", help="no progress bar and no error messages"
    )
    out.add_argument("-S", "--show-error", action="store_true", help="with -s, still print errors")
    out.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    return parser


def build_ws_parser() -> argparse.ArgumentParser:
    """The parser of ``hyperclient ws [options] URL``."""
    parser = _Parser(
        prog=f"{PROG} ws",
        allow_abbrev=False,
        description="Interactive WebSocket client: each line read from stdin is sent as a "
        "text message; each message received is printed on stdout.",
    )
    parser.add_argument("url", metavar="URL", help="ws:// or wss:// URL (ws:// when none)")
    parser.add_argument(
        "-H", "--header", action="append", default=[], metavar="'Name: value'",
        help="extra handshake header (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "-p", "--protocol", action="append", default=[], metavar="NAME",
        help="offer this subprotocol (repeatable)",
    )  # fmt: skip
    parser.add_argument("-u", "--user", metavar="USER[:PASSWORD]", help="Basic credentials")
    parser.add_argument(
        "--unix-socket", metavar="PATH", help="connect to this Unix socket (no TLS: ws:// only)"
    )
    parser.add_argument(
        "--linger", type=_seconds, default=1.0, metavar="SECONDS",
        help="after stdin ends, wait this long for more messages before closing (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print the handshake and close to stderr"
    )
    _add_tls_options(parser)
    return parser


# -- turning options into session and request arguments ---------------------------------

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

# RFC 3986 §3.4: the bytes a query may hold as they are. '%' is kept too: -d data is
# already URL-encoded, and -G appends it unchanged, as curl does.
_QUERY_SAFE = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%"
)


def with_default_scheme(url: str, scheme: str = "http") -> str:
    """*url* with ``scheme://`` in front when it has no scheme (curl: ``host:8080/x``)."""
    return url if _SCHEME.match(url) else f"{scheme}://{url}"


def _read_stdin() -> bytes:
    """All of stdin. Called before the event loop starts, so that Ctrl-C interrupts it."""
    if sys.stdin is None:  # started with "<&-"
        raise CliError(EXIT_READ, "cannot read stdin: it is closed")
    try:
        return sys.stdin.buffer.read()
    except OSError as exc:
        raise CliError(EXIT_READ, f"cannot read stdin: {exc.strerror or exc}") from exc


def _open_file(path: str) -> io.BufferedReader:
    """*path* opened for reading; a failure is curl's exit 26, naming the file."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise CliError(EXIT_READ, f"cannot read {path!r}: {exc.strerror or exc}") from exc


def _read_source(spec: str, *, binary: bool, strip_newlines: bool) -> bytes:
    """The bytes of an ``@file`` or ``@-`` argument, or the argument itself."""
    if not spec.startswith("@"):
        return spec.encode("utf-8", "surrogateescape")
    name = spec[1:]
    if name == "-":
        data = _read_stdin()
    else:
        with _open_file(name) as f:
            try:
                data = f.read()
            except OSError as exc:
                raise CliError(EXIT_READ, f"cannot read {name!r}: {exc.strerror or exc}") from exc
    if strip_newlines and not binary:
        data = data.replace(b"\r", b"").replace(b"\n", b"")
    return data


def _parse_header(text: str) -> tuple[str, str | None]:
    """``'Name: value'`` -> (name, value); ``'Name:'`` -> (name, None), a removal."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not name:
        raise CliError(EXIT_USAGE, f"invalid header {text!r}, expected 'Name: value'")
    value = value.strip()
    return name, (value if value else None)


@dataclasses.dataclass(frozen=True)
class FormField:
    """One -F field, parsed once; a file is opened again by each request that sends it."""

    name: str
    value: str | bytes = ""  # text, or bytes (the content of '<file', or '@-')
    path: str | None = None  # '@file': streamed from disk, never held in memory
    filename: str | None = None
    content_type: str | None = None


def _form_options(value: str) -> tuple[str, dict[str, str]]:
    """``'v;type=T;filename=F'`` -> ``('v', {'type': 'T', 'filename': 'F'})``.

    Only the options curl knows are taken off the end; any other ``;`` stays in the value.
    """
    pieces = value.split(";")
    options: dict[str, str] = {}
    while len(pieces) > 1:
        key, eq, option = pieces[-1].strip().partition("=")
        if not eq or key.lower() not in ("type", "filename"):
            break
        options.setdefault(key.lower(), option)
        pieces.pop()
    return ";".join(pieces), options


def parse_form_field(spec: str) -> FormField:
    """A -F argument: ``name=value``, ``name=@file`` (a file part) or ``name=<file`` (the
    file's content as a plain field), each with curl's ``;type=`` and ``;filename=``."""
    name, eq, raw = spec.partition("=")
    if not eq or not name:
        raise CliError(EXIT_USAGE, f"invalid form field {spec!r}, expected NAME=VALUE")
    value, options = _form_options(raw)
    content_type = options.get("type")
    if not value.startswith(("@", "<")):
        return FormField(name, value, content_type=content_type)
    path = value[1:]
    if value.startswith("<"):
        # The bytes as they are (curl): decoding them as UTF-8 replaced what was not.
        data = _read_source("@" + path, binary=True, strip_newlines=False)
        return FormField(name, data, content_type=content_type)
    filename = options.get("filename", os.path.basename(path) if path != "-" else "stdin")
    if path == "-":
        return FormField(name, _read_stdin(), filename=filename, content_type=content_type)
    _open_file(path).close()  # refuse an unreadable file before anything is sent
    return FormField(name, path=path, filename=filename, content_type=content_type)


def build_form(fields: Sequence[FormField], opened: list[IO[bytes]]) -> FormData:
    """A new ``FormData`` for one request; the files it opens are added to *opened*."""
    # curl's -F is always multipart/form-data: a form of text fields alone went out
    # urlencoded, which upload endpoints refuse.
    form = FormData(default_to_multipart=True)
    for field in fields:
        if field.path is not None:
            file = _open_file(field.path)
            opened.append(file)
            form.add_field(
                field.name, file, filename=field.filename, content_type=field.content_type
            )
        elif isinstance(field.value, bytes) and field.filename is None:
            # A payload, since bytes given to add_field() would become a file part.
            payload = BytesPayload(field.value, content_type=field.content_type or "text/plain")
            form.add_field(field.name, payload)
        else:
            form.add_field(
                field.name, field.value, filename=field.filename, content_type=field.content_type
            )
    return form


def _credentials(user: str | None) -> tuple[str, str] | None:
    """``-u USER[:PASSWORD]``; the password is asked for on a terminal when not given.

    Called before the event loop starts: there Ctrl-C interrupts the prompt (inside the
    loop, asyncio only cancelled the main task, which a blocking read never noticed).
    """
    if user is None:
        return None
    login, colon, password = user.partition(":")
    if not colon:
        if sys.stdin is not None and sys.stdin.isatty():
            try:
                password = getpass.getpass(f"Enter password for user '{login}': ")
            except EOFError:  # Ctrl-D at the prompt
                print(file=sys.stderr)
                raise CliError(EXIT_USAGE, f"no password given for user {login!r}") from None
        else:
            password = ""
    return login, password


# -- TLS ------------------------------------------------------------------------------------


class PinMismatch(ssl.SSLError):
    """The server certificate is not the one given with --pin (raised in the handshake)."""

    def __str__(self) -> str:
        return str(self.args[0])  # SSLError's own shows the args tuple


def _pin_text(digest: bytes) -> str:
    return "sha256//" + base64.b64encode(digest).decode("ascii")


def _pin_mismatch(exc: BaseException) -> PinMismatch | None:
    """The PinMismatch behind *exc*: the library reports it as a TLS connection error."""
    if isinstance(exc, PinMismatch):
        return exc
    if isinstance(exc, ClientConnectorError) and isinstance(exc.os_error, PinMismatch):
        return exc.os_error
    return None


def _parse_pin(text: str) -> bytes:
    algo, sep, digest = text.partition("//")
    if not sep or algo.lower() != "sha256":
        raise CliError(EXIT_USAGE, f"invalid --pin {text!r}, expected sha256//BASE64")
    try:
        raw = base64.b64decode(digest, validate=True)
        Fingerprint(raw)  # checks the length
    except (binascii.Error, ValueError) as exc:
        raise CliError(EXIT_USAGE, f"invalid --pin {text!r}: {exc}") from exc
    return raw


def _pinned_ssl_object(pin: bytes) -> type[ssl.SSLObject]:
    """An ``SSLObject`` class that ends the handshake unless the server has the *pin*.

    The library's ``Fingerprint`` is a whole ``ssl=`` setting: it cannot go with a client
    certificate, which needs an ``SSLContext``. A context can check the pin itself: its
    ``sslobject_class`` runs the handshake, so a mismatch stops the connection before a
    byte of the request is sent, as ``Fingerprint`` does.
    """

    class PinnedSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()
            der = self.getpeercert(binary_form=True)
            got = hashlib.sha256(der).digest() if der else b""
            if got != pin:
                raise PinMismatch(
                    f"the server certificate is {_pin_text(got)}, "
                    f"not the {_pin_text(pin)} given with --pin"
                )

    return PinnedSSLObject


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext:
    """A context trusting --cacert (else the system's CAs) and presenting --cert."""
    try:
        ctx = ssl.create_default_context(cafile=args.cacert)
    except (OSError, ssl.SSLError) as exc:
        reason = _tls_file_error(exc)
        raise CliError(EXIT_READ, f"cannot load --cacert {args.cacert!r}: {reason}") from exc
    if args.cert:
        try:
            ctx.load_cert_chain(args.cert, args.key)
        except (OSError, ssl.SSLError) as exc:
            files = f"{args.cert!r}" + (f" with --key {args.key!r}" if args.key else "")
            reason = _tls_file_error(exc)
            raise CliError(EXIT_READ, f"cannot load --cert {files}: {reason}") from exc
    return ctx


def _tls_file_error(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        # OpenSSL's own words ("[SSL] PEM lib (_ssl.c:3926)") do not say what is wrong.
        return f"not a PEM file with what is needed ({exc.reason or exc})"
    return exc.strerror or str(exc)


def ssl_setting(args: argparse.Namespace) -> bool | ssl.SSLContext | Fingerprint:
    """The ``ssl=`` argument for -k, --cacert, --cert/--key and --pin; with SSLKEYLOGFILE
    set, a context that logs the TLS secrets there (curl does; Wireshark reads them)."""
    pin = _parse_pin(args.pin) if args.pin else None
    if pin is not None and not args.cert:
        return Fingerprint(pin)
    keylog = os.environ.get("SSLKEYLOGFILE")
    if not (args.cacert or args.cert or keylog):
        return not args.insecure
    ctx = _tls_context(args)
    if keylog:
        ctx.keylog_filename = keylog
    if args.insecure or pin is not None:
        # With --pin the pin is the check, in place of the chain (as Fingerprint does).
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if pin is not None:
        ctx.sslobject_class = _pinned_ssl_object(pin)
    return ctx


# -- the request ------------------------------------------------------------------------------


def make_connector(args: argparse.Namespace, limit: int = 100) -> BaseConnector:
    """A ``UnixConnector`` for --unix-socket, otherwise a ``TCPConnector``."""
    if args.unix_socket is not None:
        return UnixConnector(args.unix_socket, limit=limit)
    return TCPConnector(limit=limit)


def _check_no_tls_over_unix(
    args: argparse.Namespace, url: URL | str, code: int = EXIT_USAGE
) -> None:
    # The UnixConnector has no TLS: an https:// URL went out in clear text, with --pin,
    # --cacert and -k silently ignored.
    if args.unix_socket is None:
        return
    scheme = url.scheme if isinstance(url, URL) else url.partition("://")[0].lower()
    if scheme in ("https", "wss"):
        raise CliError(
            code,
            f"--unix-socket has no TLS: refusing to send {str(url)!r:.200} in clear text "
            f"(use {'ws' if scheme == 'wss' else 'http'}://)",
        )


def _tls_guard(args: argparse.Namespace) -> Any:
    """A middleware refusing https:// over --unix-socket, redirects included."""

    async def refuse_tls(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        # What a server answered, not a usage error: the other URLs are still fetched
        # (curl's exit 1 for a protocol it cannot use).
        _check_no_tls_over_unix(args, request.url, EXIT_ERROR)
        return await handler(request)

    return refuse_tls


def _without_credentials(url: URL) -> URL:
    if url.raw_user is None and url.raw_password is None:
        return url
    return url.with_user(None)


def _query_text(data: bytes) -> str:
    """-G data for the query string: as given, with only bytes a URL cannot hold encoded."""
    return "".join(chr(byte) if byte in _QUERY_SAFE else f"%{byte:02X}" for byte in data)


def _with_query(url: URL, query: str) -> URL:
    """*url* with -G's *query* appended, not encoded again (``%26`` stays ``%26``)."""
    base = url.with_fragment(None)
    text = str(base)
    sep = "&" if base.raw_query_string else ("" if text.endswith("?") else "?")
    return URL(text + sep + query, encoded=True)


async def _stdin_chunks() -> AsyncIterator[bytes]:
    """stdin as it comes (``-T -``), read in a thread so that the loop never waits on it."""
    stream = sys.stdin
    if stream is None:
        raise CliError(EXIT_READ, "cannot read stdin: it is closed")
    fd = stream.fileno()
    async for chunk in _from_thread(lambda: iter(lambda: os.read(fd, _CHUNK), b"")):
        yield chunk


_T = TypeVar("_T")


async def _from_thread(items: Callable[[], Iterator[_T]]) -> AsyncIterator[_T]:
    """What ``items()`` yields, produced in a daemon thread, a few items ahead at most.

    For blocking reads of stdin: the loop never waits on them, Ctrl-C still ends the
    command, and the exit does not wait for a read in progress (it would for a thread of
    the default executor). The thread waits while 8 items are unclaimed, so a producer
    faster than the network cannot fill memory.
    """
    loop = asyncio.get_running_loop()
    # (item,) for an item, None at the end, or the read error.
    queue: asyncio.Queue[tuple[_T] | BaseException | None] = asyncio.Queue()
    slots = threading.Semaphore(8)

    def produce() -> None:
        try:
            for item in items():
                slots.acquire()
                loop.call_soon_threadsafe(queue.put_nowait, (item,))
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass
        except (OSError, ValueError) as exc:  # a read error, or stdin closed under us
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, exc)

    threading.Thread(target=produce, name="hyperclient-stdin", daemon=True).start()
    while True:
        entry = await queue.get()
        if entry is None:
            return
        if isinstance(entry, BaseException):
            raise CliError(EXIT_READ, f"cannot read stdin: {entry}")
        slots.release()
        yield entry[0]


@dataclasses.dataclass
class RequestPlan:
    """Everything ``session.request()`` needs, derived from the options once."""

    method: str
    headers: CIMultiDict[str]
    skip_auto_headers: list[str]
    kwargs: dict[str, Any]
    query: str | None = None  # -G data, URL-encoded, appended to each URL
    upload: str | None = None  # a -T file ('-': stdin), opened for each attempt
    form: list[FormField] | None = None  # -F fields, a new FormData for each attempt
    digest: DigestAuth | None = None
    basic: BasicAuth | None = None
    env_proxy: bool = False  # the proxy variables apply (no -x, no --unix-socket)
    netrc: netrc.netrc | None = None  # -n's file, for hosts without -u
    replaces_credentials: bool = False  # -u or -H 'Authorization: ...' given
    env_proxies: dict[tuple[str, str | None, int | None], URL | None] = dataclasses.field(
        default_factory=dict
    )

    def url_for(self, url: str) -> URL:
        """*url* as requested (parsed as the library parses it: kept as given when validly
        encoded): -u or -H 'Authorization: ...' replaces its credentials (as in curl; the
        library refuses two sources together), and -G data is appended."""
        target = make_url(url)
        if self.replaces_credentials:
            target = _without_credentials(target)
        return target if self.query is None else _with_query(target, self.query)

    def auth_for(self, target: URL) -> Any:
        """The ``auth=`` for *target*: -u's, else -n's entry for its host."""
        auth: Any = self.digest or self.basic
        host = target.raw_host
        if auth is None and self.netrc is not None and target.raw_user is None and host:
            entry = self.netrc.authenticators(host)
            if entry is not None:
                auth = BasicAuth(entry[0], entry[2] or "", encoding="utf-8")
        return auth

    def proxy_for(self, target: URL) -> URL | None:
        """The proxy the proxy variables name for *target*, if they apply. Resolved here,
        not by ``trust_env``: that would also send ~/.netrc credentials to an environment
        proxy, which curl never does. Cached per origin, as the library's lookup is."""
        if not self.env_proxy:
            return None
        key = (target.scheme, target.raw_host, target.port)
        if key in self.env_proxies:
            return self.env_proxies[key]
        try:
            proxy = proxy_for(target, os.environ)
        except ValueError as exc:
            raise CliError(EXIT_USAGE, f"invalid proxy variable: {exc}") from exc
        if len(self.env_proxies) >= _PROXY_CACHE_SIZE:
            self.env_proxies.clear()
        self.env_proxies[key] = proxy
        return proxy

    def request_kwargs(self, opened: list[IO[bytes]]) -> dict[str, Any]:
        """The request's arguments; the files opened for its body are added to *opened*."""
        kwargs = dict(self.kwargs)
        if self.upload == "-":
            kwargs["data"] = _stdin_chunks()
        elif self.upload is not None:
            file = _open_file(self.upload)
            opened.append(file)
            kwargs["data"] = file
        elif self.form is not None:
            kwargs["data"] = build_form(self.form, opened)
        return kwargs


def _header_options(args: argparse.Namespace) -> tuple[CIMultiDict[str], list[str]]:
    """-H, -A, -b and --compressed: the headers to send and the ones to leave out."""
    headers: CIMultiDict[str] = CIMultiDict()
    skip: list[str] = []
    for text in args.header:
        name, value = _parse_header(text)
        if value is None:
            skip.append(name)
        else:
            headers.add(name, value)
    if args.user_agent == "":
        skip.append("User-Agent")  # curl: -A '' sends no User-Agent at all
    elif args.user_agent is not None:
        _add_default(headers, skip, "User-Agent", args.user_agent)
    if not args.compressed:
        # Like curl: no Accept-Encoding unless asked; a compressed body is still decoded.
        skip.append("Accept-Encoding")
    if args.cookie:
        _add_default(headers, skip, "Cookie", "; ".join(args.cookie))
    return headers, skip


def _add_default(headers: CIMultiDict[str], skip: list[str], name: str, value: str) -> None:
    """A header the command adds itself: -H 'Name: x' replaces it and -H 'Name:' removes
    it, as in curl (``skip_auto_headers`` alone only affects the library's own headers)."""
    if name.lower() not in (removed.lower() for removed in skip):
        headers.setdefault(name, value)


def _body_kind(args: argparse.Namespace) -> str | None:
    """The one kind of body asked for, if any; conflicting options are usage errors."""
    kinds = [
        k
        for k, given in (
            ("-d", args.data or args.data_binary),
            ("--json", args.json),
            ("-F", args.form),
            ("-T", args.upload_file),
        )
        if given
    ]
    if len(kinds) > 1:
        raise CliError(EXIT_USAGE, f"{' and '.join(kinds)} cannot be combined")
    kind = kinds[0] if kinds else None
    if args.get and kind not in (None, "-d"):
        raise CliError(EXIT_USAGE, f"-G puts -d data in the URL; it cannot take {kind}")
    if args.head and kind is not None and not args.get:
        # curl refuses it too: a HEAD request with a body is not what anyone wants.
        raise CliError(EXIT_USAGE, f"-I sends HEAD, which has no body: it cannot take {kind}")
    return kind


def _plan_body(args: argparse.Namespace, plan: RequestPlan, kind: str | None) -> None:
    """The method, body and body headers for *kind* (reads files and stdin now)."""
    skip, headers = plan.skip_auto_headers, plan.headers
    if kind == "-d":
        pieces = [_read_source(d, binary=False, strip_newlines=True) for d in args.data]
        pieces += [_read_source(d, binary=True, strip_newlines=False) for d in args.data_binary]
        data = b"&".join(pieces)
        if args.get:
            plan.query = _query_text(data)
        else:
            plan.method = "POST"
            plan.kwargs["data"] = data
            _add_default(headers, skip, "Content-Type", "application/x-www-form-urlencoded")
    elif kind == "--json":
        plan.method = "POST"
        plan.kwargs["data"] = b"".join(
            _read_source(d, binary=True, strip_newlines=False) for d in args.json
        )
        _add_default(headers, skip, "Content-Type", "application/json")
        _add_default(headers, skip, "Accept", "application/json")
    elif kind == "-F":
        plan.method = "POST"
        plan.form = [parse_form_field(spec) for spec in args.form]
    elif kind == "-T":
        plan.method = "PUT"
        plan.upload = args.upload_file
        if plan.upload != "-":
            _open_file(plan.upload).close()  # refuse an unreadable file before sending


def plan_request(args: argparse.Namespace) -> RequestPlan:
    """Check the option combination and derive the method, headers and body.

    Reads the files and stdin that -d, --json and -F name, and asks for the -u password:
    the caller runs it before the event loop starts, so that Ctrl-C interrupts it.
    """
    headers, skip = _header_options(args)
    plan = RequestPlan("GET", headers, skip, {})
    kind = _body_kind(args)
    # curl: an Authorization given with -H replaces the one -u would make (the library
    # refuses the two together), so no password is asked for then.
    removed = "authorization" in (name.lower() for name in skip)  # -H 'Authorization:'
    user = None if "Authorization" in headers or removed else args.user
    creds = _credentials(user)  # the prompt first, then a body typed on the terminal
    _plan_body(args, plan, kind)
    if args.head:
        plan.method = "HEAD"
    if args.request:
        plan.method = args.request.upper() if args.request.islower() else args.request

    if creds is not None:
        if args.digest:
            plan.digest = DigestAuth(*creds)
        else:
            try:
                # UTF-8, as curl sends it (RFC 7617 §2.1 charset="UTF-8"); the latin-1
                # default cannot encode most names and failed with a traceback.
                plan.basic = BasicAuth(*creds, encoding="utf-8")
            except ValueError as exc:
                raise CliError(EXIT_USAGE, f"invalid --user: {exc}") from exc
    plan.replaces_credentials = creds is not None or "Authorization" in headers
    plan.kwargs["ssl"] = ssl_setting(args)
    if args.proxy:
        plan.kwargs["proxy"] = with_default_scheme(args.proxy)  # curl: host:port is http
    # The proxy variables, as curl: not with -x (-x '' is no proxy) nor a Unix socket,
    # where an absolute-form request line would reach a local daemon.
    plan.env_proxy = args.proxy is None and args.unix_socket is None
    if args.netrc and creds is None and "Authorization" not in headers:
        plan.netrc = _read_netrc()
    plan.kwargs["allow_redirects"] = bool(args.location)
    # curl: -1 is no limit; a finite one here, as each hop is kept in the history (a
    # redirect loop would grow the process without end).
    plan.kwargs["max_redirects"] = MAX_REDIRECTS if args.max_redirs < 0 else args.max_redirs
    return plan


#: Origins whose environment proxy a run keeps (the library's lookup keeps as many).
_PROXY_CACHE_SIZE = 256

#: What ``--max-redirs -1`` ("no limit" in curl) follows at most.
MAX_REDIRECTS = 1000


def _read_netrc() -> netrc.netrc | None:
    """-n's file: $NETRC or ~/.netrc; None when there is none (curl carries on)."""
    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        return netrc.netrc(path)
    except FileNotFoundError:
        return None
    except (netrc.NetrcParseError, OSError, UnicodeDecodeError) as exc:
        raise CliError(EXIT_READ, f"cannot read the netrc file {path!r}: {exc}") from exc


# Each globbed URL is a request: one pattern making more than this is taken for a typo
# ([1-99999999] would run for days) and refused before anything is sent.
MAX_GLOB_URLS = 1_000_000


class UrlList:
    """The URLs to fetch, ``[N-M]`` ranges expanded lazily, one URL at a time.

    ``len()`` is computed from the ranges without expanding them; bad and oversized
    ranges are refused when the list is made (curl's exit 3 for globbing errors).
    """

    def __init__(self, urls: Sequence[str], *, globbing: bool) -> None:
        self._urls = tuple(urls)
        self._ranges = [_glob_ranges(url) if globbing else [] for url in self._urls]
        self._count = 0
        for url, ranges in zip(self._urls, self._ranges, strict=True):
            count = 1
            for _, lo, hi in ranges:
                count *= hi - lo + 1
            if count > MAX_GLOB_URLS:
                raise CliError(
                    EXIT_URL,
                    f"[globbing] {url!r:.200} expands to {count:,} URLs, more than "
                    f"{MAX_GLOB_URLS:,} (use -g to turn globbing off)",
                )
            self._count += count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        for url, ranges in zip(self._urls, self._ranges, strict=True):
            for expanded in _expand_ranges(url, ranges):
                yield with_default_scheme(expanded)


def expand_urls(args: argparse.Namespace) -> UrlList:
    """The URLs from the arguments and --url-file, with ``[N-M]`` ranges expanded."""
    urls: list[str] = list(args.urls)
    if args.url_file:
        data = _read_source("@" + args.url_file, binary=True, strip_newlines=False)
        name = "stdin" if args.url_file == "-" else repr(args.url_file)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CliError(
                EXIT_READ, f"cannot read {name}: not UTF-8 text (byte {exc.start} is invalid)"
            ) from exc
        urls += [line.strip() for line in text.splitlines() if line.strip() and line[:1] != "#"]
    return UrlList(urls, globbing=not args.globoff)


_Range = tuple["re.Match[str]", int, int]


def _glob_ranges(url: str) -> list[_Range]:
    """The ``[N-M]`` ranges of *url*; a descending one is an error, as in curl."""
    ranges = [(m, int(m[1]), int(m[2])) for m in _RANGE.finditer(url)]
    for match, lo, hi in ranges:
        if lo > hi:
            raise CliError(
                EXIT_URL,
                f"[globbing] bad range {match[0]!r} in column {match.start() + 1} "
                f"of {url!r:.200}, expected the lower bound first",
            )
    return ranges


def _expand_ranges(url: str, ranges: list[_Range]) -> Iterator[str]:
    """curl's numeric globbing: ``/item/[1-3]`` -> ``/item/1``, ``/item/2``, ``/item/3``."""
    if not ranges:
        yield url
        return
    for values in _odometer([(lo, hi) for _, lo, hi in ranges]):
        out, pos = [], 0
        for (match, _, _), value in zip(ranges, values, strict=True):
            width = len(match[1]) if match[1].startswith("0") else 0
            out += [url[pos : match.start()], str(value).zfill(width)]
            pos = match.end()
        out.append(url[pos:])
        yield "".join(out)


def _odometer(bounds: list[tuple[int, int]]) -> Iterator[tuple[int, ...]]:
    """``itertools.product`` of the ranges, without materialising them first."""
    if not bounds:
        yield ()
        return
    (lo, hi), rest = bounds[0], bounds[1:]
    for value in range(lo, hi + 1):
        for tail in _odometer(rest):
            yield (value, *tail)


def _timeout(args: argparse.Namespace) -> ClientTimeout:
    # No total budget unless asked: a big download may legitimately take hours (curl too).
    # 0 is curl's "no limit" for both.
    return ClientTimeout(total=args.max_time or None, connect=args.connect_timeout or None)


# -- one transfer ---------------------------------------------------------------------------


def _isatty(stream: IO[Any] | None) -> bool:
    return stream is not None and stream.isatty()


class _Output:
    """Where the body goes: stdout, or a file opened on the first byte.

    The file is not touched before then: a failed transfer (refused connection, -f on
    an HTTP error) leaves an existing file as it was, as curl does.
    """

    def __init__(self, path: str | None) -> None:
        self.path = None if path in (None, "-") else path
        self._file: IO[bytes] | None = None
        self.written = 0

    def write(self, data: bytes) -> None:
        if self.path is None:
            _write_out(sys.stdout, data, "body")
        else:
            try:
                if self._file is None:
                    self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
                self._file.write(data)
            except OSError as exc:
                raise self._error(exc) from exc
        self.written += len(data)

    def finish(self) -> None:
        """The transfer succeeded: an empty body still creates the file, as curl does."""
        if self.path is not None and self._file is None:
            self.write(b"")

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: OSError) -> CliError:
        return CliError(EXIT_WRITE, f"failed writing body to {self.path!r}: {exc.strerror or exc}")


async def _send(
    session: ClientSession, url: str, plan: RequestPlan, timeout: ClientTimeout
) -> ClientResponse:
    """Perform the request (a --digest challenge is answered by the session's auth=)."""
    opened: list[IO[bytes]] = []
    target = plan.url_for(url)
    auth = plan.auth_for(target)
    proxy = plan.proxy_for(target)
    try:
        kwargs = plan.request_kwargs(opened)
        if proxy is not None:
            kwargs["proxy"] = proxy
        resp: ClientResponse = await session.request(
            plan.method,
            target,
            headers=CIMultiDict(plan.headers),
            skip_auto_headers=plan.skip_auto_headers,
            auth=auth,
            timeout=timeout,
            trace_request_ctx=kwargs.get("proxy"),  # for -v's request line
            **kwargs,
        )
    finally:
        for file in opened:
            file.close()
    return resp


async def _copy_body(
    resp: ClientResponse, output: _Output, progress: _Progress, *, check_binary: bool
) -> None:
    progress.set_total(resp.content_length)
    async for chunk in resp.content.iter_chunked(_CHUNK):
        # Every chunk, as curl checks every write: a NUL after the first 2 KiB reached
        # the terminal.
        if check_binary and b"\0" in chunk:
            raise CliError(
                EXIT_WRITE,
                "binary output can mess up your terminal: use '-o FILE' or '-o -' to force it",
            )
        output.write(chunk)
        # Wire bytes, so the bar matches Content-Length even for a compressed body.
        progress.update(resp.content.total_raw_bytes)


def _print_timings(resp: ClientResponse, started: float, head_at: float, done_at: float) -> None:
    timings = getattr(resp, "timings", None)
    rows: list[tuple[str, float | None]] = []
    if timings is not None:
        rows = [
            ("dns", getattr(timings, "dns", None)),
            ("connect", getattr(timings, "connect", None)),
            ("tls", getattr(timings, "tls", None)),
            ("first byte", getattr(timings, "first_byte", None)),
        ]
    else:
        rows = [("response head", head_at - started)]
    rows.append(("total", done_at - started))
    width = max(len(name) for name, _ in rows)
    lines = []
    if timings is not None and getattr(timings, "reused", False):
        lines.append("(connection reused)")
    for name, value in rows:
        shown = f"{'-':>9}   " if value is None else f"{value * 1000:9.3f} ms"
        lines.append(f"{name + ':':<{width + 1}} {shown}")
    if timings is None:
        lines.append("(DNS, connect and TLS times need resp.timings)")
    if sys.stderr is not None:
        print("\n".join(lines), file=sys.stderr)


async def fetch(
    session: ClientSession,
    url: str,
    plan: RequestPlan,
    args: argparse.Namespace,
    printer: _Printer,
    output: _Output,
) -> int:
    """One transfer as curl does it; returns the exit code.

    With -v the request heads (and the heads of redirects) are printed by the session's
    trace as they happen (see ``_verbose_trace``); this prints the final response head.
    """
    timeout = _timeout(args)
    started = time.perf_counter()
    resp = await _send(session, url, plan, timeout)
    head_at = time.perf_counter()
    async with resp:
        if args.verbose:
            printer.head(response_head_lines(resp), to_stderr=True, prefix="< ")
        if args.include or args.head:
            for hop in [*resp.history, resp]:
                printer.head(response_head_lines(hop), to_stderr=False)
        if args.fail and resp.status >= 400:
            raise CliError(EXIT_HTTP, f"the requested URL returned error: {resp.status}")
        if plan.method != "HEAD":
            enabled = (
                output.path is not None
                and not (args.silent or args.no_progress)
                and _fancy(sys.stderr)
            )
            name = os.path.basename(output.path or "") or "body"
            with _Progress(enabled, name, transfer=True) as progress:
                await _copy_body(
                    resp,
                    output,
                    progress,
                    check_binary=output.path is None and _isatty(sys.stdout) and not args.output,
                )
        output.finish()
    if args.timings:
        _print_timings(resp, started, head_at, time.perf_counter())
    return EXIT_OK


async def fetch_each(
    session: ClientSession,
    urls: UrlList,
    plan: RequestPlan,
    args: argparse.Namespace,
    printer: _Printer,
) -> int:
    """The URLs one after the other, as curl: a failure is reported and the next URL is
    still fetched (unless --fail-early); the exit code is the last URL's (curl's rule)."""
    code = EXIT_OK
    for url in urls:
        output = _Output(args.output)
        try:
            try:
                code = await fetch(session, url, plan, args, printer, output)
            finally:
                output.close()
        except (ClientError, OSError, TimeoutError, CliError, ValueError) as exc:
            code = exit_code_for(exc)
            if code == EXIT_USAGE:
                raise  # the same for every URL
            printer.error(code, describe(exc))
            if args.fail_early:
                return code
    return code


# -- many transfers at once (-Z) ----------------------------------------------------------


@dataclasses.dataclass
class ParallelStats:
    """What -Z reports at the end."""

    done: int = 0
    bytes: int = 0
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)
    errors: Counter[str] = dataclasses.field(default_factory=Counter)
    first_error: dict[str, str] = dataclasses.field(default_factory=dict)
    first_code: int = EXIT_OK

    def failed(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.errors[name] += 1
        if name not in self.first_error:
            self.first_error[name] = describe(exc)
        if self.first_code == EXIT_OK:
            self.first_code = exit_code_for(exc)


async def fetch_parallel(
    session: ClientSession, urls: UrlList, plan: RequestPlan, args: argparse.Namespace
) -> int:
    """Fetch *urls* with at most --parallel-max at once; print a summary."""
    stats = ParallelStats()
    timeout = _timeout(args)
    todo = iter(urls)
    enabled = not (args.silent or args.no_progress) and _fancy(sys.stderr)
    started = time.perf_counter()

    async def worker(progress: _Progress) -> None:
        for url in todo:
            try:
                resp = await _send(session, url, plan, timeout)
                async with resp:
                    # Counted as it streams: read() kept up to --parallel-max bodies in
                    # memory at once.
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        stats.bytes += len(chunk)
                stats.statuses[resp.status] += 1
            except (ClientError, OSError, TimeoutError, CliError, ValueError) as exc:
                stats.failed(exc)
            stats.done += 1
            progress.advance()

    with _Progress(enabled, "requests", transfer=False) as progress:
        progress.set_total(len(urls))
        workers = min(args.parallel_max, len(urls))
        await asyncio.gather(*(worker(progress) for _ in range(workers)))
    elapsed = time.perf_counter() - started
    _print_summary(stats, elapsed)
    if stats.first_code != EXIT_OK:
        return stats.first_code
    if args.fail and any(status >= 400 for status in stats.statuses):
        return EXIT_HTTP
    return EXIT_OK


def _print_summary(stats: ParallelStats, elapsed: float) -> None:
    errors = sum(stats.errors.values())
    rate = stats.done / elapsed if elapsed > 0 else 0.0
    lines = [
        f"{stats.done} requests, {errors} errors in {elapsed:.2f} s: "
        f"{rate:,.0f} req/s, {_human_bytes(stats.bytes)} received "
        f"({_human_bytes(stats.bytes / elapsed if elapsed > 0 else 0)}/s)",
    ]
    statuses = ", ".join(f"{status} x{n}" for status, n in sorted(stats.statuses.items()))
    if statuses:
        lines.append(f"status: {statuses}")
    for name, n in stats.errors.most_common():
        lines.append(f"error: {name} x{n} (first: {stats.first_error[name]})")
    _write_out(sys.stdout, "".join(f"{line}\n" for line in lines).encode(), "the summary")


# -- entry points ----------------------------------------------------------------------------


def _verbose_trace(printer: _Printer) -> TraceConfig:
    """-v: each request head as it is sent, and each redirect's response head as it comes,
    so that a request which then hangs or fails is still shown (as curl -v)."""
    config = TraceConfig()

    async def headers_sent(
        session: ClientSession, context: Any, params: TraceRequestHeadersSentParams
    ) -> None:
        # The request line the proxy, if any, gets (the -x or environment proxy, given as
        # the request's trace_request_ctx).
        proxy = context.trace_request_ctx
        absolute = uses_absolute_form(params.url.scheme, None if proxy is None else URL(proxy))
        lines = request_head_lines(params.method, params.url, params.headers, absolute=absolute)
        printer.head(lines, to_stderr=True, prefix="> ")

    async def redirected(
        session: ClientSession, context: Any, params: TraceRequestRedirectParams
    ) -> None:
        printer.head(response_head_lines(params.response), to_stderr=True, prefix="< ")

    config.on_request_headers_sent.append(headers_sent)
    config.on_request_redirect.append(redirected)
    return config


def _session(args: argparse.Namespace, printer: _Printer, limit: int = 100) -> ClientSession:
    """The session. Not ``trust_env``: the request plan resolves the proxy variables and
    -n itself, and SSLKEYLOGFILE is applied to the TLS settings (see ``ssl_setting``)."""
    traces = [_verbose_trace(printer)] if args.verbose else []
    middlewares = [_tls_guard(args)] if args.unix_socket is not None else []
    return ClientSession(
        connector=make_connector(args, limit),
        trace_configs=traces,
        middlewares=middlewares,
    )


async def run_http(
    args: argparse.Namespace, urls: UrlList, plan: RequestPlan, printer: _Printer
) -> int:
    """The default command: fetch one or more URLs."""
    limit = args.parallel_max if args.parallel else 100
    async with _session(args, printer, limit) as session:
        if args.parallel:
            return await fetch_parallel(session, urls, plan, args)
        return await fetch_each(session, urls, plan, args, printer)


def _stdin_lines() -> Iterator[bytes]:
    """The lines of stdin, without their LF.

    Read with ``os.read``: a daemon thread blocked in ``sys.stdin.buffer.readline()``
    holds the buffer's lock, which the interpreter takes at exit ("Fatal Python error:
    could not acquire lock", exit 134).
    """
    if sys.stdin is None:
        return
    fd = sys.stdin.fileno()
    pending = bytearray()
    while chunk := os.read(fd, _CHUNK):
        pending += chunk
        end = pending.rfind(b"\n")
        if end >= 0:
            lines = pending[:end].split(b"\n")
            del pending[: end + 1]
            yield from (bytes(line) for line in lines)
    if pending:
        yield bytes(pending)


async def run_ws(args: argparse.Namespace, creds: tuple[str, str] | None, printer: _Printer) -> int:
    """``hyperclient ws URL``: send stdin lines, print the messages received."""
    headers: CIMultiDict[str] = CIMultiDict()
    for text in args.header:
        name, value = _parse_header(text)
        headers.add(name, value or "")
    async with _session(args, printer) as session:
        # The WebSocket client may be missing from a development checkout.
        ws_connect: Any = getattr(session, "ws_connect", None)
        if ws_connect is None:
            raise CliError(EXIT_ERROR, "WebSocket client not available yet")
        options: dict[str, Any] = {"headers": headers, "ssl": ssl_setting(args)}
        if args.protocol:
            options["protocols"] = tuple(args.protocol)
        if creds is not None:
            options["auth"] = BasicAuth(*creds, encoding="utf-8")
        async with ws_connect(args.url, **options) as ws:
            if args.verbose:
                printer.note(f"connected to {args.url}")
                protocol = getattr(ws, "protocol", None)
                if protocol:
                    printer.note(f"subprotocol: {protocol}")
            return await _ws_session(ws, args, printer)


def _ws_print(text: str) -> None:
    _write_out(sys.stdout, f"{text}\n".encode("utf-8", "surrogateescape"), "a message")


async def _ws_send_lines(ws: Any, sent: Callable[[], None]) -> None:
    """Send each stdin line as a text message; a line that is not UTF-8 stops the sending
    (a text message must be UTF-8, RFC 6455 §5.6)."""
    number = 0
    async for raw in _from_thread(_stdin_lines):
        number += 1
        try:
            line = raw.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError as exc:
            raise CliError(
                EXIT_READ,
                f"line {number} of stdin is not UTF-8 text (byte {exc.start} of the line is "
                f"invalid): it and the lines after it were not sent",
            ) from exc
        await ws.send_str(line)
        sent()


async def _ws_session(ws: Any, args: argparse.Namespace, printer: _Printer) -> int:
    loop = asyncio.get_running_loop()
    last_activity = loop.time()
    prefix = "< " if _isatty(sys.stdout) else ""
    closing = False  # True once we started the close handshake

    async def receive() -> None:
        nonlocal last_activity
        while True:
            msg = await ws.receive()
            last_activity = loop.time()
            kind = getattr(msg.type, "name", str(msg.type)).upper()
            if kind == "TEXT":
                _ws_print(f"{prefix}{msg.data}")
            elif kind == "BINARY":
                _ws_print(f"{prefix}<binary, {len(msg.data)} bytes> {msg.data[:32].hex()}")
            elif kind in ("CLOSE", "CLOSING", "CLOSED", "ERROR"):
                if args.verbose and not closing:
                    printer.note(f"the server ended the session: {kind} {msg.data!r}")
                return

    def sent() -> None:
        nonlocal last_activity
        last_activity = loop.time()

    receiver = asyncio.create_task(receive())
    sender = asyncio.create_task(_ws_send_lines(ws, sent))
    failure: BaseException | None = None
    try:
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if sender.done() and not receiver.done():
            # stdin ended (or could not be read): the replies to what was sent are still
            # on their way; give the server --linger seconds of quiet to answer.
            failure = sender.exception()
            while not receiver.done():
                quiet_for = loop.time() - last_activity
                if quiet_for >= args.linger:
                    break
                await asyncio.wait({receiver}, timeout=args.linger - quiet_for)
        sender.cancel()
        if not receiver.done():
            # Closing from here is the API's way: the pending receive() sees the close.
            closing = True
            await ws.close()
            await asyncio.wait({receiver}, timeout=5)
        receiver.result()
    finally:
        for task in (sender, receiver):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    await ws.close()
    if args.verbose:
        printer.note(f"closed with code {getattr(ws, 'close_code', None)}")
    if failure is not None:
        raise failure
    return EXIT_OK


def _prepare_http(args: argparse.Namespace) -> tuple[UrlList, RequestPlan]:
    """The URLs and the request plan: everything that reads stdin, files or the terminal."""
    if "ws" in args.urls and any(u.startswith(("ws://", "wss://")) for u in args.urls):
        raise CliError(EXIT_USAGE, "'ws' must come first: hyperclient ws [options] URL")
    urls = expand_urls(args)
    if not urls:
        raise CliError(EXIT_USAGE, "no URL specified (try 'hyperclient --help')")
    if args.output and len(urls) > 1:
        raise CliError(EXIT_USAGE, "-o takes one URL; use -Z to fetch many")
    if args.parallel and (args.output or args.include or args.head or args.verbose):
        raise CliError(EXIT_USAGE, "-Z cannot be combined with -o, -i, -I or -v")
    if args.upload_file == "-" and (args.parallel or len(urls) > 1):
        # stdin can be read once: several requests would each get a part of it.
        raise CliError(EXIT_USAGE, "-T - reads stdin once: give one URL, without -Z")
    return urls, plan_request(args)


def _run(args: argparse.Namespace, is_ws: bool, printer: _Printer) -> int:
    # Prompts and stdin bodies are read here, before the event loop: inside it, the first
    # Ctrl-C only cancelled the main task, which a blocking read never noticed.
    if is_ws:
        args.url = with_default_scheme(args.url, "ws")
        _check_no_tls_over_unix(args, args.url)
        creds = _credentials(args.user)
        return asyncio.run(run_ws(args, creds, printer))
    urls, plan = _prepare_http(args)
    return asyncio.run(run_http(args, urls, plan, printer))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (``sys.exit(main())``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    is_ws = bool(argv) and argv[0] == "ws"
    parser = build_ws_parser() if is_ws else build_parser()
    args = parser.parse_args(argv[1:] if is_ws else argv)
    printer = _Printer(
        silent=getattr(args, "silent", False), show_error=getattr(args, "show_error", False)
    )
    try:
        return _run(args, is_ws, printer)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (ClientError, OSError, TimeoutError, CliError, ValueError) as exc:
        code = exit_code_for(exc)
        if isinstance(exc, CliError) and code == EXIT_USAGE:
            if sys.stderr is not None:
                print(f"{PROG}: error: {exc.message}", file=sys.stderr)
            return code
        printer.error(code, describe(exc))
        return code
