"""aiohttp's ``abc`` module name: the client's abstract base classes, re-exported.

Only the client-side names hyperclient has (the cookie jar and resolver bases); aiohttp's
server-side ABCs (router, view, stream writer, access logger) are not part of a client.
"""

from __future__ import annotations

from .cookies import AbstractCookieJar, ClearCookiePredicate
from .resolver import AbstractResolver, ResolveResult

__all__ = ("AbstractCookieJar", "AbstractResolver", "ClearCookiePredicate", "ResolveResult")
