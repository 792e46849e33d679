"""HTTP method and header-name constants, as aiohttp's ``hdrs`` module offers them.

Header names are ``multidict.istr`` (case-insensitive strings), so they work as keys of
every multidict and compare equal in any case.
"""

from __future__ import annotations

import itertools
from typing import Final

from multidict import istr

METH_ANY: Final = "*"
METH_CONNECT: Final = "CONNECT"
METH_HEAD: Final = "HEAD"
METH_GET: Final = "GET"
METH_DELETE: Final = "DELETE"
METH_OPTIONS: Final = "OPTIONS"
METH_PATCH: Final = "PATCH"
METH_POST: Final = "POST"
METH_PUT: Final = "PUT"
METH_TRACE: Final = "TRACE"

METH_ALL: Final = frozenset(
    {
        METH_CONNECT,
        METH_HEAD,
        METH_GET,
        METH_DELETE,
        METH_OPTIONS,
        METH_PATCH,
        METH_POST,
        METH_PUT,
        METH_TRACE,
    }
)

ACCEPT: Final = istr("Accept")
ACCEPT_CH: Final = istr("Accept-CH")
ACCEPT_CHARSET: Final = istr("Accept-Charset")
ACCEPT_ENCODING: Final = istr("Accept-Encoding")
ACCEPT_LANGUAGE: Final = istr("Accept-Language")
ACCEPT_RANGES: Final = istr("Accept-Ranges")
ACCESS_CONTROL_MAX_AGE: Final = istr("Access-Control-Max-Age")
ACCESS_CONTROL_ALLOW_CREDENTIALS: Final = istr("Access-Control-Allow-Credentials")
ACCESS_CONTROL_ALLOW_HEADERS: Final = istr("Access-Control-Allow-Headers")
ACCESS_CONTROL_ALLOW_METHODS: Final = istr("Access-Control-Allow-Methods")
ACCESS_CONTROL_ALLOW_ORIGIN: Final = istr("Access-Control-Allow-Origin")
ACCESS_CONTROL_EXPOSE_HEADERS: Final = istr("Access-Control-Expose-Headers")
ACCESS_CONTROL_REQUEST_HEADERS: Final = istr("Access-Control-Request-Headers")
ACCESS_CONTROL_REQUEST_METHOD: Final = istr("Access-Control-Request-Method")
AGE: Final = istr("Age")
ALLOW: Final = istr("Allow")
ALT_SVC: Final = istr("Alt-Svc")
ALT_USED: Final = istr("Alt-Used")
AUTHENTICATION_INFO: Final = istr("Authentication-Info")
AUTHORIZATION: Final = istr("Authorization")
BAGGAGE: Final = istr("baggage")
CACHE_CONTROL: Final = istr("Cache-Control")
CACHE_STATUS: Final = istr("Cache-Status")
CDN_CACHE_CONTROL: Final = istr("CDN-Cache-Control")
CDN_LOOP: Final = istr("CDN-Loop")
CLEAR_SITE_DATA: Final = istr("Clear-Site-Data")
CONNECTION: Final = istr("Connection")
CONTENT_DIGEST: Final = istr("Content-Digest")
CONTENT_DISPOSITION: Final = istr("Content-Disposition")
CONTENT_ENCODING: Final = istr("Content-Encoding")
CONTENT_ID: Final = istr("Content-ID")
CONTENT_LANGUAGE: Final = istr("Content-Language")
CONTENT_LENGTH: Final = istr("Content-Length")
CONTENT_LOCATION: Final = istr("Content-Location")
CONTENT_MD5: Final = istr("Content-MD5")
CONTENT_RANGE: Final = istr("Content-Range")
CONTENT_SECURITY_POLICY: Final = istr("Content-Security-Policy")
CONTENT_SECURITY_POLICY_REPORT_ONLY: Final = istr("Content-Security-Policy-Report-Only")
CONTENT_TRANSFER_ENCODING: Final = istr("Content-Transfer-Encoding")
CONTENT_TYPE: Final = istr("Content-Type")
COOKIE: Final = istr("Cookie")
CROSS_ORIGIN_EMBEDDER_POLICY: Final = istr("Cross-Origin-Embedder-Policy")
CROSS_ORIGIN_OPENER_POLICY: Final = istr("Cross-Origin-Opener-Policy")
CROSS_ORIGIN_RESOURCE_POLICY: Final = istr("Cross-Origin-Resource-Policy")
DATE: Final = istr("Date")
DESTINATION: Final = istr("Destination")
DIGEST: Final = istr("Digest")
EARLY_DATA: Final = istr("Early-Data")
ETAG: Final = istr("Etag")
EXPECT: Final = istr("Expect")
EXPIRES: Final = istr("Expires")
FORWARDED: Final = istr("Forwarded")
FROM: Final = istr("From")
HOST: Final = istr("Host")
IF_MATCH: Final = istr("If-Match")
IF_MODIFIED_SINCE: Final = istr("If-Modified-Since")
IF_NONE_MATCH: Final = istr("If-None-Match")
IF_RANGE: Final = istr("If-Range")
IF_UNMODIFIED_SINCE: Final = istr("If-Unmodified-Since")
KEEP_ALIVE: Final = istr("Keep-Alive")
LAST_EVENT_ID: Final = istr("Last-Event-ID")
LAST_MODIFIED: Final = istr("Last-Modified")
LINK: Final = istr("Link")
LOCATION: Final = istr("Location")
MAX_FORWARDS: Final = istr("Max-Forwards")
NEL: Final = istr("NEL")
ORIGIN: Final = istr("Origin")
ORIGIN_AGENT_CLUSTER: Final = istr("Origin-Agent-Cluster")
PERMISSIONS_POLICY: Final = istr("Permissions-Policy")
PRAGMA: Final = istr("Pragma")
PRIORITY: Final = istr("Priority")
PROXY_AUTHENTICATE: Final = istr("Proxy-Authenticate")
PROXY_AUTHENTICATION_INFO: Final = istr("Proxy-Authentication-Info")
PROXY_AUTHORIZATION: Final = istr("Proxy-Authorization")
RANGE: Final = istr("Range")
REFERER: Final = istr("Referer")
REFERRER_POLICY: Final = istr("Referrer-Policy")
REPORTING_ENDPOINTS: Final = istr("Reporting-Endpoints")
REPORT_TO: Final = istr("Report-To")
REPR_DIGEST: Final = istr("Repr-Digest")
RETRY_AFTER: Final = istr("Retry-After")
SEC_CH_UA: Final = istr("Sec-CH-UA")
SEC_CH_UA_MOBILE: Final = istr("Sec-CH-UA-Mobile")
SEC_CH_UA_PLATFORM: Final = istr("Sec-CH-UA-Platform")
SEC_FETCH_DEST: Final = istr("Sec-Fetch-Dest")
SEC_FETCH_MODE: Final = istr("Sec-Fetch-Mode")
SEC_FETCH_SITE: Final = istr("Sec-Fetch-Site")
SEC_FETCH_USER: Final = istr("Sec-Fetch-User")
SEC_GPC: Final = istr("Sec-GPC")
SEC_PURPOSE: Final = istr("Sec-Purpose")
SEC_WEBSOCKET_ACCEPT: Final = istr("Sec-WebSocket-Accept")
SEC_WEBSOCKET_VERSION: Final = istr("Sec-WebSocket-Version")
SEC_WEBSOCKET_PROTOCOL: Final = istr("Sec-WebSocket-Protocol")
SEC_WEBSOCKET_EXTENSIONS: Final = istr("Sec-WebSocket-Extensions")
SEC_WEBSOCKET_KEY: Final = istr("Sec-WebSocket-Key")
SEC_WEBSOCKET_KEY1: Final = istr("Sec-WebSocket-Key1")
SERVER: Final = istr("Server")
SERVER_TIMING: Final = istr("Server-Timing")
SET_COOKIE: Final = istr("Set-Cookie")
STRICT_TRANSPORT_SECURITY: Final = istr("Strict-Transport-Security")
TE: Final = istr("TE")
TIMING_ALLOW_ORIGIN: Final = istr("Timing-Allow-Origin")
TRACEPARENT: Final = istr("traceparent")
TRACESTATE: Final = istr("tracestate")
TRAILER: Final = istr("Trailer")
TRANSFER_ENCODING: Final = istr("Transfer-Encoding")
UPGRADE: Final = istr("Upgrade")
UPGRADE_INSECURE_REQUESTS: Final = istr("Upgrade-Insecure-Requests")
URI: Final = istr("URI")
USER_AGENT: Final = istr("User-Agent")
VARY: Final = istr("Vary")
VIA: Final = istr("Via")
WANT_CONTENT_DIGEST: Final = istr("Want-Content-Digest")
WANT_DIGEST: Final = istr("Want-Digest")
WANT_REPR_DIGEST: Final = istr("Want-Repr-Digest")
WARNING: Final = istr("Warning")
WWW_AUTHENTICATE: Final = istr("WWW-Authenticate")
X_CONTENT_TYPE_OPTIONS: Final = istr("X-Content-Type-Options")
X_CORRELATION_ID: Final = istr("X-Correlation-ID")
X_FORWARDED_FOR: Final = istr("X-Forwarded-For")
X_FORWARDED_HOST: Final = istr("X-Forwarded-Host")
X_FORWARDED_PORT: Final = istr("X-Forwarded-Port")
X_FORWARDED_PROTO: Final = istr("X-Forwarded-Proto")
X_FRAME_OPTIONS: Final = istr("X-Frame-Options")
X_POWERED_BY: Final = istr("X-Powered-By")
X_RATELIMIT_LIMIT: Final = istr("X-RateLimit-Limit")
X_RATELIMIT_REMAINING: Final = istr("X-RateLimit-Remaining")
X_RATELIMIT_RESET: Final = istr("X-RateLimit-Reset")
X_REAL_IP: Final = istr("X-Real-IP")
X_REQUESTED_WITH: Final = istr("X-Requested-With")
X_REQUEST_ID: Final = istr("X-Request-ID")
X_XSS_PROTECTION: Final = istr("X-XSS-Protection")

# Case permutations of the Host header, as aiohttp's hdrs has them: for matching raw header
# names before case folding.
HOST_ALL: Final = frozenset(
    map("".join, itertools.product(*zip(HOST.upper(), HOST.lower(), strict=True)))
)
