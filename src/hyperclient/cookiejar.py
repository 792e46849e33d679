"""aiohttp's ``cookiejar`` module name: re-exports of :mod:`hyperclient.cookies`."""

from __future__ import annotations

from .cookies import CookieJar, DummyCookieJar

__all__ = ("CookieJar", "DummyCookieJar")
