"""aiohttp's ``client_reqrep`` module name: request, response, upload tracker and related
value types."""

from __future__ import annotations

from .progress import UploadTracker
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
    "UploadTracker",
)
