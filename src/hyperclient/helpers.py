"""aiohttp's ``helpers`` module name: the few public helpers client code imports from it.

Re-exports only; each name lives in the module that owns it.
"""

from __future__ import annotations

from .auth import BasicAuth
from .response import ContentDisposition, parse_mimetype
from .values import ClientTimeout

__all__ = ("BasicAuth", "ClientTimeout", "ContentDisposition", "parse_mimetype")
