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
from . import payload as payload
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
from .payload import (
    PAYLOAD_REGISTRY,
    AsyncIterablePayload,
    BufferedReaderPayload,
    BytesIOPayload,
    BytesPayload,
    IOBasePayload,
    JsonPayload,
    Payload,
    StringIOPayload,
    StringPayload,
    TextIOPayload,
    get_payload,
    payload_type,
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
    "PAYLOAD_REGISTRY",
    "AbstractCookieJar",
    "AbstractResolver",
    "AddrInfoType",
    "AsyncIterablePayload",
    "AsyncResolver",
    "BadContentDispositionHeader",
    "BadContentDispositionParam",
    "BaseConnector",
    "BasicAuth",
    "BodyPartReader",
    "BufferedReaderPayload",
    "BytesIOPayload",
    "BytesPayload",
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
    "IOBasePayload",
    "InvalidURL",
    "InvalidUrlClientError",
    "InvalidUrlRedirectClientError",
    "JsonPayload",
    "MultipartReader",
    "MultipartWriter",
    "NonHttpUrlClientError",
    "NonHttpUrlRedirectClientError",
    "Payload",
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
    "StringIOPayload",
    "StringPayload",
    "TCPConnector",
    "TextIOPayload",
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
    "get_payload",
    "head",
    "options",
    "parse_content_disposition",
    "parse_mimetype",
    "patch",
    "payload_type",
    "post",
    "put",
    "request",
)


def _resolve_annotations() -> None:
    """Give the modules that name ``ClientResponse`` and ``ClientSession`` in annotations
    only (imported there for type checkers, to keep imports flowing one way) the names at
    run time too, so ``typing.get_type_hints()`` resolves them (typeguard, cattrs,
    sphinx autodoc), as it does for aiohttp."""
    from . import client as _client
    from . import errors as _errors
    from . import response as _response
    from . import tracing as _tracing

    vars(_errors).setdefault("ClientResponse", _response.ClientResponse)
    vars(_tracing).setdefault("ClientResponse", _response.ClientResponse)
    vars(_tracing).setdefault("ClientSession", _client.ClientSession)


_resolve_annotations()
