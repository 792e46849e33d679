"""Small frozen value types shared by every layer.

Nothing here does I/O or holds a reference to a live object: these are the values that
describe a request (``RequestInfo``), an endpoint (``ConnectionKey``), a time budget
(``ClientTimeout``) or a pinned certificate (``Fingerprint``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from ssl import SSLContext
from typing import Any, NamedTuple

from multidict import CIMultiDictProxy
from yarl import URL

__all__ = (
    "ClientTimeout",
    "ConnectionKey",
    "Fingerprint",
    "HttpVersion",
    "HttpVersion10",
    "HttpVersion11",
    "RequestInfo",
)


class HttpVersion(NamedTuple):
    """An HTTP version, as ``HttpVersion(major=1, minor=1)``."""

    major: int
    minor: int


HttpVersion10 = HttpVersion(1, 0)
HttpVersion11 = HttpVersion(1, 1)


@dataclasses.dataclass(frozen=True, slots=True)
class ClientTimeout:
    """Time budgets for a request, in seconds; ``None`` means no limit, and so does ``0``
    (aiohttp's meaning), which is stored as ``None`` so that no user of a budget has to
    tell the two apart.

    Attributes:
        total: wall-clock deadline for the whole request, redirects and body included.
        connect: acquiring a connection: pool wait plus connect plus TLS.
        sock_read: the longest gap between two reads from the socket; while the body
            is going out, the server acknowledging any of it (Linux) or a slow body
            source counts as activity.
        sock_connect: one TCP connect attempt (and its TLS handshake).
        pool: waiting for a free connection when the pool is at its limit.
        write: the longest a single write may stay blocked by flow control; for a file
            body sent with sendfile, the longest it may go without the server
            acknowledging any of it (on Linux; elsewhere, the longest one segment of it,
            up to 4 MiB, may take).
        ceil_threshold: budgets of at least this many seconds (``total``, and
            ``sock_connect`` on asyncio's default loop) end at the whole second after
            their deadline, so that they share one loop timer per second, as in aiohttp;
            ``float("inf")`` keeps every timer exact.
    """

    total: float | None = None
    connect: float | None = None
    sock_read: float | None = None
    sock_connect: float | None = None
    pool: float | None = None
    write: float | None = None
    ceil_threshold: float = 5

    def __post_init__(self) -> None:
        for field in ("total", "connect", "sock_read", "sock_connect", "pool", "write"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise ValueError(f"ClientTimeout.{field} must be None or >= 0, got {value!r}")
            if value == 0:
                object.__setattr__(self, field, None)
        threshold: object = self.ceil_threshold  # whatever the caller passed
        if not isinstance(threshold, int | float) or not threshold >= 0:
            raise ValueError(f"ClientTimeout.ceil_threshold must be >= 0, got {threshold!r}")


#: aiohttp 3's default: five minutes in total, 30 s per socket connect.
DEFAULT_TIMEOUT = ClientTimeout(total=5 * 60, sock_connect=30)


class ConnectionKey(NamedTuple):
    """Everything that makes two connections non-interchangeable.

    Two requests share a pooled connection only when their keys are equal.
    """

    host: str
    port: int | None
    is_ssl: bool
    #: True (default verification), False, an ``SSLContext`` or a ``Fingerprint``.
    ssl: bool | SSLContext | Fingerprint
    proxy: URL | None
    proxy_auth: Any
    proxy_headers_hash: int | None
    #: The TLS name checked and sent as SNI when it is not the URL's host (None: the host).
    server_hostname: str | None = None

    def __repr__(self) -> str:
        # Connection errors keep the key in their args, and proxy_auth holds the proxy's
        # password, in whatever type was passed (aiohttp's BasicAuth shows it): hide it.
        fields = (
            f"{name}={'<hidden>' if name == 'proxy_auth' and value is not None else repr(value)}"
            for name, value in zip(self._fields, self, strict=True)
        )
        return f"ConnectionKey({', '.join(fields)})"


class _RequestInfoFields(NamedTuple):
    url: URL
    method: str
    headers: CIMultiDictProxy[str]
    real_url: URL


class RequestInfo(_RequestInfoFields):
    """What was sent: kept by responses and errors instead of the request itself.

    A named tuple, as in aiohttp 3: ``url, method, headers, real_url = info`` and
    ``info._replace(...)`` work. *real_url* (the URL with its fragment) defaults to *url*.
    """

    __slots__ = ()

    def __new__(
        cls,
        url: URL,
        method: str,
        headers: CIMultiDictProxy[str],
        real_url: URL | None = None,
    ) -> RequestInfo:
        return tuple.__new__(cls, (url, method, headers, url if real_url is None else real_url))


_DIGESTS = {16: hashlib.md5, 20: hashlib.sha1, 32: hashlib.sha256}


class Fingerprint:
    """A pinned server certificate: the SHA-256 digest of its DER form.

    Args:
        fingerprint: 32 bytes, the SHA-256 digest.

    Raises:
        ValueError: for MD5 or SHA-1 digests (insecure) or any other length.
    """

    __slots__ = ("_fingerprint", "_hashfunc")

    def __init__(self, fingerprint: bytes) -> None:
        digestlen = len(fingerprint)
        if digestlen in (16, 20):
            raise ValueError("md5 and sha1 are insecure and not supported, use sha256")
        if digestlen != 32:
            raise ValueError(f"fingerprint has invalid length {digestlen}, expected 32 (sha256)")
        self._fingerprint = fingerprint
        self._hashfunc = hashlib.sha256

    @classmethod
    def _legacy(cls, fingerprint: bytes) -> Fingerprint:
        """The spec's ``TCPConnector(fingerprint=)``: MD5, SHA-1 or SHA-256 by length."""
        hashfunc = _DIGESTS.get(len(fingerprint))
        if hashfunc is None:
            raise ValueError(
                f"fingerprint has invalid length {len(fingerprint)}, expected 16, 20 or 32"
            )
        self = cls.__new__(cls)
        self._fingerprint = fingerprint
        self._hashfunc = hashfunc
        return self

    @property
    def fingerprint(self) -> bytes:
        """The expected digest."""
        return self._fingerprint

    def digest_of(self, der_cert: bytes) -> bytes:
        """The digest of *der_cert* computed with this fingerprint's hash."""
        return self._hashfunc(der_cert).digest()

    def matches(self, der_cert: bytes) -> bool:
        """Whether *der_cert* is the pinned certificate (constant-time compare)."""
        return hmac.compare_digest(self.digest_of(der_cert), self._fingerprint)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fingerprint) and other._fingerprint == self._fingerprint

    def __hash__(self) -> int:
        return hash(self._fingerprint)

    def __repr__(self) -> str:
        return f"<Fingerprint {self._fingerprint.hex()}>"
