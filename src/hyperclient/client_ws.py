"""aiohttp's ``client_ws`` module name: re-exports of :mod:`hyperclient.websocket`."""

from __future__ import annotations

from .websocket import DEFAULT_WS_CLIENT_TIMEOUT, ClientWebSocketResponse, ClientWSTimeout
from .ws_frames import WSCloseCode, WSMessage, WSMsgType

__all__ = (
    "DEFAULT_WS_CLIENT_TIMEOUT",
    "ClientWSTimeout",
    "ClientWebSocketResponse",
    "WSCloseCode",
    "WSMessage",
    "WSMsgType",
)
