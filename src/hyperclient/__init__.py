"""hyperclient: a fast, strict asyncio HTTP/1.1 and WebSocket client with aiohttp's API.

Only public names live here; each is defined in the module that owns it.
"""

from __future__ import annotations

from .auth import BasicAuth, DigestAuth
from .client import (
    ClientSession,
    delete,
    get,
    head,
    options,
    patch,
    post,
    put,
    request,
)
from .connector import BaseConnector, Connection, TCPConnector, UnixConnector
from .cookies import AbstractCookieJar, CookieJar, DummyCookieJar
from .errors import (
    ClientConnectionError,
    ClientConnectionResetError,
    ClientConnectorCertificateError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ClientError,
    ClientHttpProxyError,
    ClientOSError,
    ClientPayloadError,
    ClientProxyConnectionError,
    ClientResponseError,
    ClientSSLError,
    ConnectionTimeoutError,
    ContentTypeError,
    InvalidURL,
    InvalidUrlClientError,
    InvalidUrlRedirectClientError,
    NonHttpUrlClientError,
    NonHttpUrlRedirectClientError,
    RedirectClientError,
    ServerConnectionError,
    ServerDisconnectedError,
    ServerFingerprintMismatch,
    ServerTimeoutError,
    SocketTimeoutError,
    TooManyRedirects,
    UnixClientConnectorError,
    WSMessageTypeError,
    WSServerHandshakeError,
)
from .formdata import FormData
from .pool import EndpointStats
from .request import ClientRequest
from .resolver import AbstractResolver, ThreadedResolver
from .response import ClientResponse, ContentDisposition, parse_mimetype
from .streams import EMPTY_PAYLOAD, StreamReader
from .values import (
    ClientTimeout,
    ConnectionKey,
    Fingerprint,
    HttpVersion,
    HttpVersion10,
    HttpVersion11,
    RequestInfo,
)

__version__ = "0.1.0"

__all__ = (
    "EMPTY_PAYLOAD",
    "AbstractCookieJar",
    "AbstractResolver",
    "BaseConnector",
    "BasicAuth",
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
    "ClientRequest",
    "ClientResponse",
    "ClientResponseError",
    "ClientSSLError",
    "ClientSession",
    "ClientTimeout",
    "Connection",
    "ConnectionKey",
    "ConnectionTimeoutError",
    "ContentDisposition",
    "ContentTypeError",
    "CookieJar",
    "DigestAuth",
    "DummyCookieJar",
    "EndpointStats",
    "Fingerprint",
    "FormData",
    "HttpVersion",
    "HttpVersion10",
    "HttpVersion11",
    "InvalidURL",
    "InvalidUrlClientError",
    "InvalidUrlRedirectClientError",
    "NonHttpUrlClientError",
    "NonHttpUrlRedirectClientError",
    "RedirectClientError",
    "RequestInfo",
    "ServerConnectionError",
    "ServerDisconnectedError",
    "ServerFingerprintMismatch",
    "ServerTimeoutError",
    "SocketTimeoutError",
    "StreamReader",
    "TCPConnector",
    "ThreadedResolver",
    "TooManyRedirects",
    "UnixClientConnectorError",
    "UnixConnector",
    "WSMessageTypeError",
    "WSServerHandshakeError",
    "__version__",
    "delete",
    "get",
    "head",
    "options",
    "parse_mimetype",
    "patch",
    "post",
    "put",
    "request",
)
