"""TLS settings: building ``SSLContext`` objects and checking pinned certificates.

Building a verifying context parses the system CA bundle, which costs milliseconds (22 ms
on the development machine); it is done once per process, lazily, and shared by every
connector that does not bring its own context, so creating a session stays cheap. The
connector asks through :func:`load_context`, which builds it in a thread of the event
loop's default executor: a first HTTPS connection does not stall the other connections on
the loop for those milliseconds.

The environment is read only when asked to: ``ssl.create_default_context()`` honours
``SSLKEYLOGFILE`` by itself, which would write every session key of every program using
this library to a file named by whoever controls the environment. The shared contexts
are built without it; a session created with ``trust_env=True`` gets a separate context that
logs keys to ``SSLKEYLOGFILE`` (the NSS key log format Wireshark reads).

A context given by the caller is used as it is: never modified, never copied.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
import warnings

from .errors import type_name
from .values import Fingerprint

__all__ = (
    "SSLSetting",
    "context_for",
    "default_context",
    "insecure_context",
    "legacy_fingerprint",
    "load_context",
)

#: What ``ssl=`` may be: True (verify), False (do not verify), a context, or a pin.
SSLSetting = bool | ssl.SSLContext | Fingerprint


def _build(verified: bool, keylog: str | None) -> ssl.SSLContext:
    # What create_default_context() does, minus reading SSLKEYLOGFILE (which would create
    # the file even if we reset the setting afterwards).
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # TLS 1.2+, no compression, hostname check
    if verified:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if keylog is not None:
        ctx.keylog_filename = keylog
    # We only speak HTTP/1.1: say so, so an ALPN-aware server does not pick h2 (RFC 7301).
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


_built: dict[tuple[bool, str | None], ssl.SSLContext] = {}
_building = threading.Lock()  # two threads building at once would parse the bundle twice


def _context(verified: bool, keylog: str | None) -> ssl.SSLContext:
    context = _built.get((verified, keylog))
    if context is None:
        with _building:
            context = _built.get((verified, keylog))
            if context is None:
                context = _built[verified, keylog] = _build(verified, keylog)
    return context


def default_context() -> ssl.SSLContext:
    """The process-wide verifying context (system trust store), built on first use."""
    return _context(True, None)


def insecure_context() -> ssl.SSLContext:
    """The process-wide context that checks neither the chain nor the host name."""
    return _context(False, None)


def context_for(setting: SSLSetting | None, *, trust_env: bool = False) -> ssl.SSLContext:
    """The context to use for a connection with *setting*.

    Args:
        setting: True or None (verify with the system trust store), False (no
            verification), a ``Fingerprint`` (no chain check: the pin is the check), or a
            caller's ``SSLContext`` (returned unchanged).
        trust_env: when True and ``SSLKEYLOGFILE`` is set, a context that logs session keys
            to that file.
    """
    if isinstance(setting, ssl.SSLContext):
        return setting
    return _context(*_shared_key(setting, trust_env))


async def load_context(setting: SSLSetting | None, *, trust_env: bool = False) -> ssl.SSLContext:
    """:func:`context_for` for a coroutine: a shared context not built yet is built in a
    thread of the running loop's default executor, not in the loop's thread."""
    if isinstance(setting, ssl.SSLContext):
        return setting
    key = _shared_key(setting, trust_env)
    context = _built.get(key)
    if context is None:
        context = await asyncio.get_running_loop().run_in_executor(None, _context, *key)
    return context


def checked_ssl(setting: object, what: str = "ssl") -> SSLSetting | None:
    """*setting* when it is an ``ssl=`` value: an ``SSLContext``, a bool, a ``Fingerprint``
    or None. Anything else is a ``TypeError`` naming its type, never "do not verify"
    (``ssl=1``, ``ssl="yes"``, a raw digest or another library's Fingerprint)."""
    if setting is None or setting is True or setting is False:
        return setting
    if isinstance(setting, ssl.SSLContext | Fingerprint):
        return setting
    raise TypeError(
        f"{what} must be an SSLContext, bool, Fingerprint or None, got {type_name(setting)}"
    )


def checked_context(context: object, what: str = "ssl_context") -> ssl.SSLContext | None:
    """*context* when it is an ``SSLContext`` or None, else a ``TypeError`` naming it."""
    if context is None or isinstance(context, ssl.SSLContext):
        return context
    raise TypeError(f"{what} must be an SSLContext or None, got {type_name(context)}")


def _shared_key(setting: SSLSetting | None, trust_env: bool) -> tuple[bool, str | None]:
    """Which shared context *setting* uses: (verified, key log file)."""
    # Unverified only when asked for: False, or a pin checked in place of the chain.
    verified = setting is not False and not isinstance(setting, Fingerprint)
    keylog = os.environ.get("SSLKEYLOGFILE") or None if trust_env else None
    return verified, keylog


def merge_ssl_options(
    ssl: object, verify_ssl: bool | None, ssl_context: object, fingerprint: bytes | None
) -> SSLSetting:
    """One ``ssl=`` setting from it and the reference's ``verify_ssl``, ``ssl_context`` and
    ``fingerprint`` (as aiohttp's ``_merge_ssl_params``): ``ssl=None`` is the default,
    True, which those refine; given with any other ``ssl=`` they are a ``ValueError``."""
    if ssl is True and verify_ssl is None and ssl_context is None and fingerprint is None:
        return True  # every plain request: nothing to check or merge
    checked = checked_ssl(ssl)
    setting: SSLSetting = True if checked is None else checked
    context = checked_context(ssl_context)
    if verify_ssl is not False and context is None and fingerprint is None:
        return setting
    if setting is not True:
        raise ValueError("ssl= cannot be combined with verify_ssl, ssl_context or fingerprint")
    if context is not None:
        return context
    if fingerprint is not None:
        return legacy_fingerprint(fingerprint, stacklevel=4)
    return False


def legacy_fingerprint(fingerprint: bytes, stacklevel: int = 3) -> Fingerprint:
    """The spec's ``TCPConnector(fingerprint=)``: MD5 and SHA-1 still work, with a warning."""
    if len(fingerprint) in (16, 20):
        warnings.warn(
            "md5 and sha1 fingerprints are insecure; pass a sha256 digest",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
    return Fingerprint._legacy(fingerprint)
