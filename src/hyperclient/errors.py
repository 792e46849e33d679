"""Every exception hyperclient raises.

The public tree keeps aiohttp 3's names and builtin bases, so ``except`` clauses written
for aiohttp keep working::

    ClientError
    ├── ClientConnectionError
    │   ├── ClientOSError (OSError)
    │   │   └── ClientConnectorError            host, port, os_error
    │   │       ├── ClientConnectorDNSError
    │   │       ├── ClientProxyConnectionError
    │   │       ├── UnixClientConnectorError     path
    │   │       └── ClientSSLError
    │   │           ├── ClientConnectorSSLError (ssl.SSLError)
    │   │           └── ClientConnectorCertificateError (ssl.CertificateError)
    │   ├── ClientConnectionResetError (ConnectionResetError)
    │   └── ServerConnectionError
    │       ├── ServerDisconnectedError
    │       ├── ServerFingerprintMismatch        expected, got, host, port
    │       └── ServerTimeoutError (TimeoutError = asyncio.TimeoutError)
    │           ├── ConnectionTimeoutError       connect / sock_connect / pool
    │           └── SocketTimeoutError           sock_read / write
    ├── ClientResponseError                      request_info, history, status, message, headers
    │   ├── ContentTypeError
    │   ├── WSServerHandshakeError
    │   ├── ClientHttpProxyError
    │   └── TooManyRedirects
    ├── ClientPayloadError
    │   └── RedirectBodyError (also a RedirectClientError)
    ├── RedirectClientError
    ├── UploadAbortedError                       held by UploadTracker.upload_complete
    └── InvalidURL (ValueError)                   url, description
        ├── InvalidUrlClientError
        │   └── InvalidUrlRedirectClientError
        └── NonHttpUrlClientError
            └── NonHttpUrlRedirectClientError

The pure protocol modules (``http1``, ``ws_frames``, ...) never raise the classes above:
they raise the small set at the bottom of this module (``LocalProtocolError`` for input we
were asked to send, ``RemoteProtocolError`` for bytes a peer sent), and the asyncio layer
translates them once, chaining the cause.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from multidict import CIMultiDict, CIMultiDictProxy, MultiMapping
from yarl import URL

from .typedefs import StrOrURL
from .values import ConnectionKey, Fingerprint, RequestInfo

if TYPE_CHECKING:
    # For annotations only, never imported at run time: a response is made far above
    # this module (STYLE.md section 3), and cannot move down as a value type can.
    from .response import ClientResponse

__all__ = (
    "ClientConnectionError",
    "ClientConnectionResetError",
    "ClientConnectorCertificateError",
    "ClientConnectorDNSError",
    "ClientConnectorError",
    "ClientConnectorSSLError",
    "ClientError",
    "ClientHttpProxyError",
    "ClientOSError",
    "ClientPayloadError",
    "ClientProxyConnectionError",
    "ClientResponseError",
    "ClientSSLError",
    "ConnectionTimeoutError",
    "ContentTypeError",
    "FileEndedError",
    "InvalidURL",
    "InvalidUrlClientError",
    "InvalidUrlRedirectClientError",
    "LocalProtocolError",
    "NonHttpUrlClientError",
    "NonHttpUrlRedirectClientError",
    "PayloadTooBig",
    "RedirectBodyError",
    "RedirectClientError",
    "RemoteProtocolError",
    "ServerConnectionError",
    "ServerDisconnectedError",
    "ServerFingerprintMismatch",
    "ServerTimeoutError",
    "SocketTimeoutError",
    "TooManyRedirects",
    "UnixClientConnectorError",
    "UploadAbortedError",
    "WSMessageTypeError",
    "WSServerHandshakeError",
)


def short_repr(value: object, limit: int = 50) -> str:
    """``repr(value)`` cut to about *limit* characters, for error messages."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def type_name(value: object) -> str:
    """The qualified name of *value*'s type, for errors that must not show the value (a
    password) or whose value looks like ours (``aiohttp.ClientTimeout``)."""
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


# -- pure-layer errors --------------------------------------------------------------------


class LocalProtocolError(ValueError):
    """We were asked to send something HTTP or WebSocket does not allow (CR in a header...)."""


class RemoteProtocolError(Exception):
    """The peer sent bytes that break the protocol; the connection cannot be trusted."""

    def __init__(self, message: str, *, in_body: bool = False) -> None:
        super().__init__(message)
        self.message = message
        #: True when the error is in the body framing (then it surfaces as a payload error).
        self.in_body = in_body


class PayloadTooBig(RemoteProtocolError):
    """A size limit (head, frame, message, decompressed body) was exceeded."""


class FileEndedError(RuntimeError):
    """A file in a body ended before the size announced for it (it shrank after it was
    measured); a request reports it as :func:`body_source_error` says."""


# -- public hierarchy ---------------------------------------------------------------------


class ClientError(Exception):
    """Base class for every client error."""


#: ``request_info`` of an error made without one: no URL, no method, no headers.
_UNKNOWN_REQUEST = RequestInfo(URL(), "", CIMultiDictProxy(CIMultiDict()))


class ClientResponseError(ClientError):
    """A response was received but is an error (status >= 400, bad head, wrong type).

    Args:
        request_info: the request that led to it. None (an error made by hand, or by a
            connector given a request object without ``request_info``) is kept in
            ``args`` as given, and ``request_info`` is then an empty ``RequestInfo``
            (no URL, method ``""``), so that handlers reading ``exc.request_info.url``
            work on every error, as aiohttp types it.
        history: the redirect responses before it.
        status: the HTTP status (0 when not known).
        message: the reason phrase or a description.
        headers: the response headers, if any.
    """

    def __init__(
        self,
        request_info: RequestInfo | None,
        history: tuple[ClientResponse, ...] = (),
        *,
        status: int | None = None,
        message: str = "",
        headers: MultiMapping[str] | None = None,
    ) -> None:
        # None is stored as given: the placeholder (its headers proxy cannot be pickled)
        # must not travel in __dict__ when the error crosses a process boundary.
        self._request_info = request_info
        self.history = history
        self.status = status if status is not None else 0
        self.message = message
        self.headers = headers
        super().__init__(request_info, history)  # aiohttp's args

    @property
    def request_info(self) -> RequestInfo:
        """The request that led to the error (an empty one when none was given)."""
        info = self._request_info
        return info if info is not None else _UNKNOWN_REQUEST

    @request_info.setter
    def request_info(self, value: RequestInfo | None) -> None:
        self._request_info = value

    @property
    def code(self) -> int:
        """Alias of :attr:`status` (aiohttp 2 name)."""
        return self.status

    def __str__(self) -> str:
        return f"{self.status}, message={self.message!r}, url={str(self.request_info.real_url)!r}"

    def __repr__(self) -> str:
        args = f"{self.args[0]!r}, {self.history!r}"
        if self.status != 0:
            args += f", status={self.status!r}"
        if self.message:
            args += f", message={self.message!r}"
        if self.headers is not None:
            args += f", headers={self.headers!r}"
        return f"{type(self).__name__}({args})"


class ContentTypeError(ClientResponseError):
    """``json()`` was called on a response whose Content-Type is not JSON."""


class WSServerHandshakeError(ClientResponseError):
    """The server refused or botched the WebSocket handshake."""


class ClientHttpProxyError(ClientResponseError):
    """The HTTP proxy answered a CONNECT (or a request) with an error status."""


class TooManyRedirects(ClientResponseError):
    """More redirects than ``max_redirects`` were offered."""


class ClientConnectionError(ClientError):
    """Base class for errors on the connection (as opposed to in the response)."""


class ClientConnectionResetError(ClientConnectionError, ConnectionResetError):
    """The connection was reset while we were writing to it."""


class ClientOSError(ClientConnectionError, OSError):
    """An OS-level error on a client socket."""


def body_source_error(exc: Exception, reason: str) -> ClientOSError:
    """What a request raises when its body cannot be produced: a file that cannot be read
    (read, or sent by sendfile) or that ended early (:class:`FileEndedError`), or a
    payload's ``write()`` that raised an ``OSError``. One ``ClientOSError`` for all of
    them, keeping the OS error's errno (None for a file that ended), as aiohttp's "Can not
    write request body"; the connection is not reused.

    Args:
        exc: the error, kept by the caller as ``__cause__``.
        reason: what failed, naming the file or payload.
    """
    errno = exc.errno if isinstance(exc, OSError) else None
    return ClientOSError(errno, f"can not write request body: {reason}")


class ClientConnectorError(ClientOSError):
    """Could not connect to *host*:*port*; the OS error is kept as ``os_error``.

    Args:
        connection_key: the endpoint we tried to reach.
        os_error: the underlying error.
    """

    def __init__(self, connection_key: ConnectionKey, os_error: OSError) -> None:
        self._conn_key = connection_key
        self._os_error = os_error
        super().__init__(os_error.errno, os_error.strerror)
        self.args = (connection_key, os_error)

    @property
    def os_error(self) -> OSError:
        """The underlying OS error."""
        return self._os_error

    @property
    def host(self) -> str:
        """The host we tried to reach."""
        return self._conn_key.host

    @property
    def port(self) -> int | None:
        """The port we tried to reach."""
        return self._conn_key.port

    @property
    def ssl(self) -> ssl.SSLContext | bool | Fingerprint:
        """The TLS setting of the attempt."""
        return self._conn_key.ssl

    def __str__(self) -> str:
        return (
            f"Cannot connect to host {self.host}:{self.port} "
            f"ssl:{'default' if self.ssl is True else self.ssl} [{self.strerror or self._os_error}]"
        )

    __reduce__ = BaseException.__reduce__


class ClientConnectorDNSError(ClientConnectorError):
    """Name resolution for the host failed."""


class ClientProxyConnectionError(ClientConnectorError):
    """Could not connect to the proxy."""


class UnixClientConnectorError(ClientConnectorError):
    """Could not connect to the Unix socket *path*."""

    def __init__(self, path: str, connection_key: ConnectionKey, os_error: OSError) -> None:
        self._path = path
        super().__init__(connection_key, os_error)

    @property
    def path(self) -> str:
        """The socket path."""
        return self._path

    def __str__(self) -> str:
        return (
            f"Cannot connect to unix socket {self.path} "
            f"ssl:{'default' if self.ssl is True else self.ssl} [{self.strerror or self._os_error}]"
        )


class ClientSSLError(ClientConnectorError):
    """The TLS handshake failed."""


class ClientConnectorSSLError(ClientSSLError, ssl.SSLError):
    """A TLS error other than certificate verification."""


class ClientConnectorCertificateError(ClientSSLError, ssl.CertificateError):
    """The server certificate did not verify (untrusted, wrong host, expired).

    Args:
        connection_key: the endpoint.
        certificate_error: the verification error.
    """

    def __init__(self, connection_key: ConnectionKey, certificate_error: Exception) -> None:
        self._conn_key = connection_key
        self._certificate_error = certificate_error
        err = (
            certificate_error
            if isinstance(certificate_error, OSError)
            else OSError(0, str(certificate_error))
        )
        super().__init__(connection_key, err)
        self.args = (connection_key, certificate_error)

    @property
    def certificate_error(self) -> Exception:
        """The underlying verification error."""
        return self._certificate_error

    def __str__(self) -> str:
        return (
            f"Cannot connect to host {self.host}:{self.port} ssl:{self.ssl} "
            f"[{type(self._certificate_error).__name__}: {self._certificate_error}]"
        )


class ServerConnectionError(ClientConnectionError):
    """Base class for errors caused by the server side of the connection."""


class ServerDisconnectedError(ServerConnectionError):
    """The server closed the connection before the response was complete."""

    def __init__(self, message: str | None = None) -> None:
        if message is None:
            message = "Server disconnected"
        self.message = message
        super().__init__(message)


class ServerFingerprintMismatch(ServerConnectionError):
    """The server certificate's digest is not the pinned one."""

    def __init__(self, expected: bytes, got: bytes, host: str, port: int | None) -> None:
        self.expected = expected
        self.got = got
        self.host = host
        self.port = port
        super().__init__(expected, got, host, port)

    def __str__(self) -> str:
        return (
            f"certificate fingerprint mismatch for {self.host}:{self.port}: "
            f"expected {self.expected.hex()}, got {self.got.hex()}"
        )


class ServerTimeoutError(ServerConnectionError, TimeoutError):
    # asyncio.TimeoutError is the builtin TimeoutError since Python 3.11.
    """A timeout expired while talking to the server."""


class ConnectionTimeoutError(ServerTimeoutError):
    """Connecting (or waiting for a pooled connection) took too long."""


class SocketTimeoutError(ServerTimeoutError):
    """Reading from or writing to the socket stalled too long."""


class ClientPayloadError(ClientError):
    """The response body is broken: truncated, bad framing, bad compression."""


class UploadAbortedError(ClientError):
    """The request body was not fully sent: an ``UploadTracker``'s ``upload_complete``
    holds it when the final attempt was cut short (the server answered first, the request
    was cancelled) or never started writing (the connection could not be made)."""


class InvalidURL(ClientError, ValueError):
    """The URL cannot be used for a request.

    Args:
        url: the offending URL.
        description: what is wrong with it.
    """

    def __init__(self, url: StrOrURL, description: str | None = None) -> None:
        self._url = url
        self._description = description
        if description:
            super().__init__(url, description)
        else:
            super().__init__(url)

    @property
    def url(self) -> StrOrURL:
        """The offending URL."""
        return self._url

    @property
    def description(self) -> str | None:
        """Why it was refused."""
        return self._description

    def __str__(self) -> str:
        if self._description:
            return f"{self._url} - {self._description}"
        return str(self._url)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"


class InvalidUrlClientError(InvalidURL):
    """The request URL is malformed."""


class RedirectClientError(ClientError):
    """Base for errors about a redirect target."""


class NonHttpUrlClientError(InvalidURL):
    """The URL's scheme is not one this client speaks."""


class InvalidUrlRedirectClientError(InvalidUrlClientError, RedirectClientError):
    """A redirect's Location is malformed."""


class NonHttpUrlRedirectClientError(NonHttpUrlClientError, RedirectClientError):
    """A redirect points to a scheme this client does not follow."""


class RedirectBodyError(RedirectClientError, ClientPayloadError):
    """A redirect keeps the method and body (307, 308), and the body is a stream that
    cannot be sent again: a ``ClientPayloadError``, as aiohttp 3.14 raises."""


class WSMessageTypeError(TypeError):
    """``receive_str``/``receive_bytes``/``receive_json`` got another kind of message."""
