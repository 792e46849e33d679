"""hyperclient: a fast, strict asyncio HTTP/1.1 and WebSocket client with aiohttp's API.

Only public names live here; each is defined in the module that owns it.
"""

from __future__ import annotations

# aiohttp's submodule names that client code imports (thin re-export modules).
from . import abc as abc
from . import client_exceptions as client_exceptions
from . import client_middleware_digest_auth as client_middleware_digest_auth
from . import client_middlewares as client_middlewares
from . import client_reqrep as client_reqrep
from . import client_ws as client_ws
from . import cookiejar as cookiejar
from . import hdrs as hdrs
from . import helpers as helpers
from . import streams as streams
from .auth import BasicAuth, DigestAuth, encode_basic_auth
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
from .client_middleware_digest_auth import DigestAuthMiddleware
from .client_middlewares import ClientHandlerType, ClientMiddlewareType
from .connector import (
    AddrInfoType,
    BaseConnector,
    Connection,
    ProxyConnector,
    SocketFactoryType,
    TCPConnector,
    UnixConnector,
)
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
    UploadAbortedError,
    WSMessageTypeError,
    WSServerHandshakeError,
)
from .formdata import FormData
from .multipart import (
    BadContentDispositionHeader,
    BadContentDispositionParam,
    BodyPartReader,
    MultipartReader,
    MultipartWriter,
    content_disposition_filename,
    parse_content_disposition,
)
from .pool import EndpointStats
from .progress import UploadTracker
from .request import ClientRequest
from .resolver import (
    AbstractResolver,
    AsyncResolver,
    DefaultResolver,
    StaticResolver,
    ThreadedResolver,
)
from .response import ClientResponse, ContentDisposition, parse_mimetype
from .streams import EMPTY_PAYLOAD, StreamReader
from .tracing import (
    ResponseTimings,
    TraceConfig,
    TraceConnectionCreateEndParams,
    TraceConnectionCreateStartParams,
    TraceConnectionQueuedEndParams,
    TraceConnectionQueuedStartParams,
    TraceConnectionReuseconnParams,
    TraceDnsCacheHitParams,
    TraceDnsCacheMissParams,
    TraceDnsResolveHostEndParams,
    TraceDnsResolveHostStartParams,
    TraceRequestChunkSentParams,
    TraceRequestEndParams,
    TraceRequestExceptionParams,
    TraceRequestHeadersSentParams,
    TraceRequestRedirectParams,
    TraceRequestStartParams,
    TraceResponseChunkReceivedParams,
)
from .values import (
    ClientTimeout,
    ConnectionKey,
    Fingerprint,
    HttpVersion,
    HttpVersion10,
    HttpVersion11,
    RequestInfo,
)
from .websocket import ClientWebSocketResponse, ClientWSTimeout
from .ws_frames import WebSocketError, WSCloseCode, WSMessage, WSMsgType

__version__ = "0.1.0"

__all__ = (
    "EMPTY_PAYLOAD",
    "AbstractCookieJar",
    "AbstractResolver",
    "AddrInfoType",
    "AsyncResolver",
    "BadContentDispositionHeader",
    "BadContentDispositionParam",
    "BaseConnector",
    "BasicAuth",
    "BodyPartReader",
    "ClientConnectionError",
    "ClientConnectionResetError",
    "ClientConnectorCertificateError",
    "ClientConnectorDNSError",
    "ClientConnectorError",
    "ClientConnectorSSLError",
    "ClientError",
    "ClientHandlerType",
    "ClientHttpProxyError",
    "ClientMiddlewareType",
    "ClientOSError",
    "ClientPayloadError",
    "ClientProxyConnectionError",
    "ClientRequest",
    "ClientResponse",
    "ClientResponseError",
    "ClientSSLError",
    "ClientSession",
    "ClientTimeout",
    "ClientWSTimeout",
    "ClientWebSocketResponse",
    "Connection",
    "ConnectionKey",
    "ConnectionTimeoutError",
    "ContentDisposition",
    "ContentTypeError",
    "CookieJar",
    "DefaultResolver",
    "DigestAuth",
    "DigestAuthMiddleware",
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
    "MultipartReader",
    "MultipartWriter",
    "NonHttpUrlClientError",
    "NonHttpUrlRedirectClientError",
    "ProxyConnector",
    "RedirectClientError",
    "RequestInfo",
    "ResponseTimings",
    "ServerConnectionError",
    "ServerDisconnectedError",
    "ServerFingerprintMismatch",
    "ServerTimeoutError",
    "SocketFactoryType",
    "SocketTimeoutError",
    "StaticResolver",
    "StreamReader",
    "TCPConnector",
    "ThreadedResolver",
    "TooManyRedirects",
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
    "UnixClientConnectorError",
    "UnixConnector",
    "UploadAbortedError",
    "UploadTracker",
    "WSCloseCode",
    "WSMessage",
    "WSMessageTypeError",
    "WSMsgType",
    "WSServerHandshakeError",
    "WebSocketError",
    "__version__",
    "content_disposition_filename",
    "delete",
    "encode_basic_auth",
    "get",
    "head",
    "options",
    "parse_content_disposition",
    "parse_mimetype",
    "patch",
    "post",
    "put",
    "request",
)
