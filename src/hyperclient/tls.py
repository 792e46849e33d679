"""TLS settings: building ``SSLContext`` objects and checking pinned certificates.

Building a verifying context parses the system CA bundle, which costs milliseconds; it is
done once per process, lazily, and shared by every connector that does not bring its own
context, so creating a session stays cheap.
"""

from __future__ import annotations

import functools
import os
import ssl
import warnings

from .values import Fingerprint

__all__ = ("SSLSetting", "context_for", "default_context", "insecure_context", "legacy_fingerprint")

#: What ``ssl=`` may be: True (verify), False (do not verify), a context, or a pin.
SSLSetting = bool | ssl.SSLContext | Fingerprint


def _alpn(ctx: ssl.SSLContext) -> ssl.SSLContext:
    # We only speak HTTP/1.1: say so, so an ALPN-aware server does not pick h2.
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


@functools.cache
def default_context() -> ssl.SSLContext:
    """The process-wide verifying context (system trust store), built on first use."""
    ctx = ssl.create_default_context()
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog:  # pragma: no cover - depends on the environment
        ctx.keylog_filename = keylog
    return _alpn(ctx)


@functools.cache
def insecure_context() -> ssl.SSLContext:
    """The process-wide context that checks neither the chain nor the host name."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.options |= ssl.OP_NO_COMPRESSION
    return _alpn(ctx)


def context_for(setting: SSLSetting | None) -> ssl.SSLContext:
    """The context to use for a connection with *setting*."""
    if isinstance(setting, ssl.SSLContext):
        return setting
    if setting is False:
        return insecure_context()
    # True, None, and a Fingerprint (the chain may be self-signed; the pin is the check).
    if isinstance(setting, Fingerprint):
        return insecure_context()
    return default_context()


def legacy_fingerprint(fingerprint: bytes) -> Fingerprint:
    """The spec's ``TCPConnector(fingerprint=)``: MD5 and SHA-1 still work, with a warning."""
    if len(fingerprint) in (16, 20):
        warnings.warn(
            "md5 and sha1 fingerprints are insecure; pass a sha256 digest",
            DeprecationWarning,
            stacklevel=3,
        )
    return Fingerprint._legacy(fingerprint)
