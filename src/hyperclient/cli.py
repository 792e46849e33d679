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
import io
import os
import re
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import IO, Any, NoReturn

from multidict import CIMultiDict

from . import (
    BaseConnector,
    BasicAuth,
    ClientConnectorCertificateError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ClientError,
    ClientPayloadError,
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
    UnixConnector,
    __version__,
)

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


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an exception raised while performing a request."""
    # Most specific first: the TLS and DNS errors are ClientConnectorErrors too.
    table: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int], ...] = (
        (CliError, EXIT_ERROR),
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
    if isinstance(exc, CliError):
        return exc.code
    for kind, code in table:
        if isinstance(exc, kind):
            return code
    return EXIT_ERROR


def describe(exc: BaseException) -> str:
    """A one-line description of *exc* for the error message."""
    if isinstance(exc, CliError):
        return exc.message
    if isinstance(exc, TimeoutError) and not str(exc):
        return "operation timed out"
    if isinstance(exc, InvalidURL) and exc.description:
        reason = exc.description[:1].lower() + exc.description[1:]
        return f"bad URL {str(exc.url)!r:.200}: {reason}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


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


def _status_line(resp: ClientResponse) -> str:
    version = resp.version
    proto = f"HTTP/{version.major}.{version.minor}" if version is not None else "HTTP/1.1"
    return f"{proto} {resp.status} {resp.reason or ''}".rstrip()


def response_head_lines(resp: ClientResponse) -> list[str]:
    """The status line and headers as received (names keep their case and order)."""
    lines = [_status_line(resp)]
    for name, value in resp.raw_headers:
        lines.append(f"{name.decode('latin-1')}: {value.decode('latin-1')}")
    return lines


def request_head_lines(resp: ClientResponse) -> list[str]:
    """The request line and headers that produced *resp*."""
    info = resp.request_info
    lines = [f"{info.method} {info.url.raw_path_qs or '/'} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in info.headers.items()]
    return lines


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

    def head(self, lines: list[str], *, to_stderr: bool, prefix: str = "") -> None:
        console = self._err_console if to_stderr else self._out_console
        if console is None:
            stream = sys.stderr if to_stderr else sys.stdout
            if not to_stderr:
                sys.stdout.flush()
            end = "\n" if to_stderr else "\r\n"
            stream.write("".join(f"{prefix}{line}{end}" for line in lines))
            stream.write(f"{prefix.rstrip()}{end}" if prefix else end)
            stream.flush()
            return
        from rich.markup import escape

        first, *rest = lines
        console.print(f"{escape(prefix)}[bold]{escape(first)}[/bold]")
        for line in rest:
            name, _, value = line.partition(":")
            console.print(f"{escape(prefix)}[cyan]{escape(name)}[/cyan]:{escape(value)}")
        console.print(escape(prefix.rstrip()))

    def note(self, text: str) -> None:
        """A diagnostic line on stderr (``* `` prefixed, as curl -v)."""
        if self._err_console is not None:
            from rich.markup import escape

            self._err_console.print(f"[dim]* {escape(text)}[/dim]")
        else:
            print(f"* {text}", file=sys.stderr, flush=True)

    def error(self, code: int, text: str) -> None:
        if self.silent and not self.show_error:
            return
        message = f"{PROG}: ({code}) {text}"
        if self._err_console is not None:
            from rich.markup import escape

            self._err_console.print(f"[red]{escape(message)}[/red]")
        else:
            print(message, file=sys.stderr, flush=True)


# -- argument parsing -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors in curl's format and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{PROG}: error: {message}\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


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
        help="extra header (repeatable); 'Name:' removes an automatic header",
    )  # fmt: skip
    req.add_argument("-A", "--user-agent", metavar="NAME", help="User-Agent to send")
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
        help="multipart field (repeatable); 'name=@file[;type=T][;filename=F]' uploads a file",
    )  # fmt: skip
    body.add_argument(
        "-T", "--upload-file", metavar="FILE", help="stream FILE as the body, PUT by default"
    )

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
        "--max-redirs", type=int, default=50, metavar="N",
        help="maximum redirects to follow with -L (default 50)",
    )  # fmt: skip

    auth = parser.add_argument_group("authentication")
    auth.add_argument("-u", "--user", metavar="USER[:PASSWORD]", help="server credentials")
    auth.add_argument("--digest", action="store_true", help="use Digest instead of Basic")

    conn = parser.add_argument_group("connection")
    conn.add_argument(
        "-x",
        "--proxy",
        metavar="URL",
        help="use this proxy (http, https, socks5, socks5h, socks4, socks4a)",
    )
    conn.add_argument("--unix-socket", metavar="PATH", help="connect to this Unix socket")
    conn.add_argument(
        "-m", "--max-time", type=_positive_float, metavar="SECONDS",
        help="limit the whole transfer (ClientTimeout.total)",
    )  # fmt: skip
    conn.add_argument(
        "--connect-timeout", type=_positive_float, metavar="SECONDS",
        help="limit connecting (ClientTimeout.connect)",
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
        description="Interactive WebSocket client: each line read from stdin is sent as a "
        "text message; each message received is printed on stdout.",
    )
    parser.add_argument("url", metavar="URL", help="ws:// or wss:// URL")
    parser.add_argument(
        "-H", "--header", action="append", default=[], metavar="'Name: value'",
        help="extra handshake header (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "-p", "--protocol", action="append", default=[], metavar="NAME",
        help="offer this subprotocol (repeatable)",
    )  # fmt: skip
    parser.add_argument("-u", "--user", metavar="USER[:PASSWORD]", help="Basic credentials")
    parser.add_argument("--unix-socket", metavar="PATH", help="connect to this Unix socket")
    parser.add_argument(
        "--linger", type=float, default=1.0, metavar="SECONDS",
        help="after stdin ends, wait this long for more messages before closing (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print the handshake and close to stderr"
    )
    _add_tls_options(parser)
    return parser


# -- turning options into session and request arguments ---------------------------------


def _read_source(spec: str, *, binary: bool, strip_newlines: bool) -> bytes:
    """The bytes of an ``@file`` or ``@-`` argument, or the argument itself."""
    if not spec.startswith("@"):
        return spec.encode("utf-8")
    name = spec[1:]
    try:
        if name == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(name, "rb") as f:
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


def _form_field(form: FormData, spec: str) -> None:
    name, eq, value = spec.partition("=")
    if not eq or not name:
        raise CliError(EXIT_USAGE, f"invalid form field {spec!r}, expected NAME=VALUE")
    if not value.startswith(("@", "<")):
        form.add_field(name, value)
        return
    # curl: name=@file uploads the file, name=<file sends its content as a text field.
    path, *params = value[1:].split(";")
    options = dict(p.strip().partition("=")[::2] for p in params if "=" in p)
    data = _read_source("@" + path, binary=True, strip_newlines=False)
    if value.startswith("<"):
        form.add_field(name, data.decode("utf-8", "replace"))
        return
    filename = options.get("filename", os.path.basename(path) if path != "-" else "stdin")
    form.add_field(name, data, filename=filename, content_type=options.get("type"))


def _credentials(user: str | None) -> tuple[str, str] | None:
    if user is None:
        return None
    login, colon, password = user.partition(":")
    if not colon:
        if sys.stdin.isatty():
            password = getpass.getpass(f"Enter password for user '{login}': ")
        else:
            password = ""
    return login, password


def ssl_setting(args: argparse.Namespace) -> bool | ssl.SSLContext | Fingerprint:
    """The ``ssl=`` argument for -k, --cacert, --cert/--key and --pin."""
    if args.pin:
        algo, sep, digest = args.pin.partition("//")
        if not sep or algo.lower() != "sha256":
            raise CliError(EXIT_USAGE, f"invalid --pin {args.pin!r}, expected sha256//BASE64")
        try:
            raw = base64.b64decode(digest, validate=True)
            return Fingerprint(raw)
        except (binascii.Error, ValueError) as exc:
            raise CliError(EXIT_USAGE, f"invalid --pin {args.pin!r}: {exc}") from exc
    if not (args.cacert or args.cert):
        return not args.insecure
    try:
        ctx = ssl.create_default_context(cafile=args.cacert)
        if args.cert:
            ctx.load_cert_chain(args.cert, args.key)
    except (OSError, ssl.SSLError) as exc:
        raise CliError(EXIT_READ, f"cannot load TLS file: {exc}") from exc
    if args.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_connector(args: argparse.Namespace, limit: int = 100) -> BaseConnector:
    """A ``UnixConnector`` for --unix-socket, otherwise a ``TCPConnector``."""
    if args.unix_socket:
        return UnixConnector(args.unix_socket, limit=limit)
    return TCPConnector(limit=limit)


@dataclasses.dataclass
class RequestPlan:
    """Everything ``session.request()`` needs, derived from the options once."""

    method: str
    headers: CIMultiDict[str]
    skip_auto_headers: list[str]
    kwargs: dict[str, Any]
    upload: str | None = None  # a -T file, opened for each attempt
    digest: DigestAuth | None = None
    basic: BasicAuth | None = None

    def request_kwargs(self) -> dict[str, Any]:
        kwargs = dict(self.kwargs)
        if self.upload is not None:
            try:
                kwargs["data"] = open(self.upload, "rb")  # noqa: SIM115 - closed by the caller
            except OSError as exc:
                raise CliError(EXIT_READ, f"cannot read {self.upload!r}: {exc.strerror}") from exc
        return kwargs


def plan_request(args: argparse.Namespace) -> RequestPlan:
    """Check the option combination and derive the method, headers and body."""
    headers: CIMultiDict[str] = CIMultiDict()
    skip: list[str] = []
    for text in args.header:
        name, value = _parse_header(text)
        if value is None:
            skip.append(name)
        else:
            headers.add(name, value)
    if args.user_agent:
        headers["User-Agent"] = args.user_agent
    if not args.compressed:
        # Like curl: no Accept-Encoding unless asked; a compressed body is still decoded.
        skip.append("Accept-Encoding")
    if args.cookie:
        headers.add("Cookie", "; ".join(args.cookie))

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

    kwargs: dict[str, Any] = {}
    method = "GET"
    upload = None
    if args.data or args.data_binary:
        pieces = [_read_source(d, binary=False, strip_newlines=True) for d in args.data]
        pieces += [_read_source(d, binary=True, strip_newlines=False) for d in args.data_binary]
        data = b"&".join(pieces)
        if args.get:
            kwargs["params"] = data.decode("utf-8")
        else:
            method = "POST"
            kwargs["data"] = data
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif args.json:
        method = "POST"
        kwargs["data"] = b"".join(
            _read_source(d, binary=True, strip_newlines=False) for d in args.json
        )
        headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Accept", "application/json")
    elif args.form:
        method = "POST"
        form = FormData()
        for spec in args.form:
            _form_field(form, spec)
        kwargs["data"] = form
    elif args.upload_file:
        method = "PUT"
        upload = args.upload_file
    if args.head:
        method = "HEAD"
    if args.request:
        method = args.request.upper() if args.request.islower() else args.request

    plan = RequestPlan(method, headers, skip, kwargs, upload)
    creds = _credentials(args.user)
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
    kwargs["ssl"] = ssl_setting(args)
    if args.proxy:
        kwargs["proxy"] = args.proxy
    kwargs["allow_redirects"] = bool(args.location)
    kwargs["max_redirects"] = max(args.max_redirs, 0)
    return plan


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
            yield from _expand_ranges(url, ranges)


def expand_urls(args: argparse.Namespace) -> UrlList:
    """The URLs from the arguments and --url-file, with ``[N-M]`` ranges expanded."""
    urls: list[str] = list(args.urls)
    if args.url_file:
        try:
            if args.url_file == "-":
                text = sys.stdin.read()
            else:
                with open(args.url_file, encoding="utf-8") as f:
                    text = f.read()
        except OSError as exc:
            raise CliError(EXIT_READ, f"cannot read {args.url_file!r}: {exc.strerror}") from exc
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
    return ClientTimeout(total=args.max_time, connect=args.connect_timeout)


# -- one transfer ---------------------------------------------------------------------------


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
        try:
            if self.path is None:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            else:
                if self._file is None:
                    self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
                self._file.write(data)
        except OSError as exc:
            raise CliError(EXIT_WRITE, f"failed writing body: {exc.strerror or exc}") from exc
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
            raise CliError(EXIT_WRITE, f"failed writing body: {exc.strerror or exc}") from exc


async def _send(
    session: ClientSession, url: str, plan: RequestPlan, timeout: ClientTimeout
) -> ClientResponse:
    """Perform the request (a --digest challenge is answered by the session's auth=)."""
    kwargs = plan.request_kwargs()
    try:
        resp: ClientResponse = await session.request(
            plan.method,
            url,
            headers=CIMultiDict(plan.headers),
            skip_auto_headers=plan.skip_auto_headers,
            auth=plan.digest or plan.basic,
            timeout=timeout,
            **kwargs,
        )
    finally:
        _close_upload(kwargs)
    return resp


def _close_upload(kwargs: dict[str, Any]) -> None:
    data = kwargs.get("data")
    if isinstance(data, io.BufferedReader):
        data.close()


async def _copy_body(
    resp: ClientResponse, output: _Output, progress: _Progress, *, check_binary: bool
) -> None:
    progress.set_total(resp.content_length)
    first = True
    async for chunk in resp.content.iter_chunked(_CHUNK):
        if first and check_binary and b"\0" in chunk[:2048]:
            raise CliError(
                EXIT_WRITE,
                "binary output can mess up your terminal: use '-o FILE' or '-o -' to force it",
            )
        first = False
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
        if getattr(timings, "reused", False):
            rows.insert(0, ("(connection reused)", None))
    else:
        rows = [("response head", head_at - started)]
    rows.append(("total", done_at - started))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        shown = "-" if value is None else f"{value * 1000:9.3f} ms"
        if name.startswith("("):
            print(name, file=sys.stderr)
        else:
            print(f"{name + ':':<{width + 1}} {shown}", file=sys.stderr)
    if timings is None:
        print("(DNS, connect and TLS times need resp.timings)", file=sys.stderr)


async def fetch(
    session: ClientSession,
    url: str,
    plan: RequestPlan,
    args: argparse.Namespace,
    printer: _Printer,
    output: _Output,
) -> int:
    """One transfer as curl does it; returns the exit code."""
    timeout = _timeout(args)
    started = time.perf_counter()
    resp = await _send(session, url, plan, timeout)
    head_at = time.perf_counter()
    async with resp:
        hops = [*resp.history, resp] if (args.include or args.head or args.verbose) else [resp]
        for hop in hops:
            if args.verbose:
                printer.head(request_head_lines(hop), to_stderr=True, prefix="> ")
                printer.head(response_head_lines(hop), to_stderr=True, prefix="< ")
            if args.include or args.head:
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
                    check_binary=output.path is None and sys.stdout.isatty() and not args.output,
                )
        output.finish()
    if args.timings:
        _print_timings(resp, started, head_at, time.perf_counter())
    return EXIT_OK


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
        self.first_error.setdefault(name, describe(exc))
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
                    body = await resp.read()
                stats.statuses[resp.status] += 1
                stats.bytes += len(body)
            except (ClientError, OSError, TimeoutError, CliError) as exc:
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
    print("\n".join(lines), flush=True)


# -- entry points ----------------------------------------------------------------------------


async def run_http(args: argparse.Namespace, printer: _Printer) -> int:
    """The default command: fetch one or more URLs."""
    urls = expand_urls(args)
    if not urls:
        raise CliError(EXIT_USAGE, "no URL specified (try 'hyperclient --help')")
    if args.output and len(urls) > 1:
        raise CliError(EXIT_USAGE, "-o takes one URL; use -Z to fetch many")
    if args.parallel and (args.output or args.include or args.head or args.verbose):
        raise CliError(EXIT_USAGE, "-Z cannot be combined with -o, -i, -I or -v")
    plan = plan_request(args)
    limit = args.parallel_max if args.parallel else 100
    async with ClientSession(connector=make_connector(args, limit)) as session:
        if args.parallel:
            return await fetch_parallel(session, urls, plan, args)
        code = EXIT_OK
        for url in urls:
            output = _Output(args.output)
            try:
                code = await fetch(session, url, plan, args, printer, output)
            finally:
                output.close()
        return code


async def _stdin_lines() -> AsyncIterator[str | None]:
    """Lines of stdin, then None; a daemon thread reads so that exit never waits on it."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except (RuntimeError, ValueError, OSError):  # the loop is gone, or stdin closed
            pass

    threading.Thread(target=read, name="hyperclient-stdin", daemon=True).start()
    while True:
        line = await queue.get()
        yield line
        if line is None:
            return


async def run_ws(args: argparse.Namespace, printer: _Printer) -> int:
    """``hyperclient ws URL``: send stdin lines, print the messages received."""
    headers: CIMultiDict[str] = CIMultiDict()
    for text in args.header:
        name, value = _parse_header(text)
        headers.add(name, value or "")
    creds = _credentials(args.user)
    async with ClientSession(connector=make_connector(args)) as session:
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


async def _ws_session(ws: Any, args: argparse.Namespace, printer: _Printer) -> int:
    loop = asyncio.get_running_loop()
    last_activity = loop.time()
    prefix = "< " if sys.stdout.isatty() else ""
    closing = False  # True once we started the close handshake

    async def receive() -> None:
        nonlocal last_activity
        while True:
            msg = await ws.receive()
            last_activity = loop.time()
            kind = getattr(msg.type, "name", str(msg.type)).upper()
            if kind == "TEXT":
                print(f"{prefix}{msg.data}", flush=True)
            elif kind == "BINARY":
                print(f"{prefix}<binary, {len(msg.data)} bytes> {msg.data[:32].hex()}", flush=True)
            elif kind in ("CLOSE", "CLOSING", "CLOSED", "ERROR"):
                if args.verbose and not closing:
                    printer.note(f"the server ended the session: {kind} {msg.data!r}")
                return

    async def send() -> None:
        nonlocal last_activity
        async for line in _stdin_lines():
            if line is None:
                return
            await ws.send_str(line)
            last_activity = loop.time()

    receiver = asyncio.create_task(receive())
    sender = asyncio.create_task(send())
    try:
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if sender.done() and not receiver.done():
            sender.result()
            # stdin ended: give the server --linger seconds of quiet to answer.
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
    return EXIT_OK


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
        return asyncio.run(run_ws(args, printer) if is_ws else run_http(args, printer))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (ClientError, OSError, TimeoutError, CliError, ValueError) as exc:
        code = exit_code_for(exc)
        if isinstance(exc, CliError) and code == EXIT_USAGE:
            print(f"{PROG}: error: {exc.message}", file=sys.stderr)
            return code
        printer.error(code, describe(exc))
        return code
