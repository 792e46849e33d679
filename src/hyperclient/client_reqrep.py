"""aiohttp's ``client_reqrep`` module name: request, response and related value types."""

from __future__ import annotations

from .request import ClientRequest
from .response import ClientResponse, ContentDisposition
from .values import ConnectionKey, Fingerprint, RequestInfo

__all__ = (
    "ClientRequest",
    "ClientResponse",
    "ConnectionKey",
    "ContentDisposition",
    "Fingerprint",
    "RequestInfo",
)
