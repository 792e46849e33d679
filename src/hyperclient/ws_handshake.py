"""The client side of the WebSocket opening handshake (RFC 6455 §4, RFC 7692 §5-7).

This module owns the request headers that ask for an upgrade (key, version,
subprotocols, the permessage-deflate offer) and the checks a client runs on the
server's answer before it speaks a single frame: status, ``Upgrade``, ``Connection``,
``Sec-WebSocket-Accept``, the chosen subprotocol and the accepted extension parameters.

Rules:

1. It is pure: no asyncio, no sockets. The I/O layer sends the headers from
   :func:`build_request_headers` with a GET, reads the response head and hands status
   and headers to :func:`check_response`.
2. Anything the server answers that the client did not offer fails the connection
   (RFC 6455 §4.1 "_Fail the WebSocket Connection_"), raising :class:`HandshakeError`
   with the response status, which the I/O layer turns into ``WSServerHandshakeError``.
3. The result, :class:`HandshakeResult`, says how to build the frame reader and writer:
   ``FrameReader(compress=r.server_max_window_bits,
   no_context_takeover=r.server_no_context_takeover)`` and
   ``FrameWriter(compress=r.client_max_window_bits,
   no_context_takeover=r.client_no_context_takeover)``.

Anchors read for behaviour (no code taken): websockets ``client``/``extensions``,
aiohttp ``client.ws_connect``/``_websocket/helpers``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from typing import Final

from multidict import MultiMapping

from .errors import LocalProtocolError, RemoteProtocolError, short_repr

__all__ = (
    "HandshakeError",
    "HandshakeResult",
    "accept_for",
    "build_request_headers",
    "check_response",
    "generate_key",
)

# RFC 6455 §1.3: the GUID appended to the key before hashing.
GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# RFC 7230 §3.2.6 token; subprotocols and extension names and parameters are tokens
# (RFC 6455 §4.1, §9.1).
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 7692 §7.1.2: window bits are 1*DIGIT without leading zero.
_WINDOW_BITS: Final = re.compile(r"[1-9][0-9]?")

_PMD: Final = "permessage-deflate"


class HandshakeError(RemoteProtocolError):
    """The server's answer to the upgrade request does not open a WebSocket.

    Args:
        message: what was wrong, naming the bad value.
        status: the response status, for ``WSServerHandshakeError``.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True, slots=True)
class HandshakeResult:
    """What the server agreed to.

    Attributes:
        protocol: the subprotocol the server chose, or ``None``.
        compress: the server's LZ77 window bits when permessage-deflate was accepted,
            0 when it is off (aiohttp's ``compress`` value).
        client_no_context_takeover: the client must reset its compressor per message.
        server_no_context_takeover: the server resets its compressor per message.
        server_max_window_bits: the window the server compresses with (8-15), 0 if off.
        client_max_window_bits: the window the client must compress with (9-15), 0 if
            off.
    """

    protocol: str | None = None
    compress: int = 0
    client_no_context_takeover: bool = False
    server_no_context_takeover: bool = False
    server_max_window_bits: int = 0
    client_max_window_bits: int = 0


def generate_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes in base64 (RFC 6455 §4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_for(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to *key* (RFC 6455 §4.2.2).

    Args:
        key: the ``Sec-WebSocket-Key`` the client sent.

    Returns:
        base64 of the SHA-1 of *key* followed by the RFC's GUID.
    """
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def build_request_headers(
    key: str,
    *,
    protocols: Sequence[str] = (),
    compress: int = 0,
    client_no_context_takeover: bool = False,
    origin: str | None = None,
) -> list[tuple[str, str]]:
    """The headers that turn a GET into a WebSocket upgrade request (RFC 6455 §4.1).

    With *compress* the permessage-deflate offer is, as aiohttp's,
    ``permessage-deflate; client_max_window_bits``: the bare ``client_max_window_bits``
    tells the server it may pick our window (RFC 7692 §7.1.2.2). When *compress* is
    below 15, ``; server_max_window_bits=N`` asks the server for a smaller window
    (§7.1.2.1), and *client_no_context_takeover* adds ``; client_no_context_takeover``
    (§7.1.1.2), a hint that we will reset our compressor per message.

    Args:
        key: from :func:`generate_key`.
        protocols: subprotocols to offer, in order of preference; each a token.
        compress: 0 for no compression, else the server window bits to ask for (9-15).
        client_no_context_takeover: offer ``client_no_context_takeover``.
        origin: the ``Origin`` header to send, if any.

    Returns:
        ``(name, value)`` pairs to add to the request headers.

    Raises:
        LocalProtocolError: a subprotocol is not a token or is repeated, *compress* is
            out of range, or *origin* holds a control character.
    """
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    if protocols:
        for protocol in protocols:
            if not _TOKEN.fullmatch(protocol):
                raise LocalProtocolError(f"invalid subprotocol: {short_repr(protocol)}")
        if len(set(protocols)) != len(protocols):
            # RFC 6455 §4.1: "each of which MUST be unique".
            raise LocalProtocolError(f"duplicate subprotocols: {short_repr(list(protocols))}")
        headers.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
    if compress:
        if not 9 <= compress <= 15:
            # zlib cannot deflate with an 8-bit window; aiohttp refuses 8 too.
            raise LocalProtocolError(f"invalid compress: {compress!r}, expected 9 to 15")
        offer = [_PMD, "client_max_window_bits"]
        if compress < 15:
            offer.append(f"server_max_window_bits={compress}")
        if client_no_context_takeover:
            offer.append("client_no_context_takeover")
        headers.append(("Sec-WebSocket-Extensions", "; ".join(offer)))
    if origin is not None:
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in origin):
            raise LocalProtocolError(f"invalid origin: {short_repr(origin)}")
        headers.append(("Origin", origin))
    return headers


def check_response(
    status: int,
    headers: Mapping[str, str],
    key: str,
    protocols: Sequence[str] = (),
    compress: int = 0,
    *,
    client_no_context_takeover: bool = False,
) -> HandshakeResult:
    """Check the server's answer to the upgrade request (RFC 6455 §4.1, RFC 7692 §7.1).

    Args:
        status: the response status.
        headers: the response headers, case-insensitive (a ``CIMultiDict`` gives every
            value of a repeated header).
        key: the ``Sec-WebSocket-Key`` that was sent.
        protocols: the subprotocols that were offered.
        compress: the *compress* given to :func:`build_request_headers`.
        client_no_context_takeover: the same argument given there.

    Returns:
        The negotiated subprotocol and compression parameters.

    Raises:
        HandshakeError: the status is not 101, ``Upgrade``/``Connection``/
            ``Sec-WebSocket-Accept`` are wrong, or the server picked a subprotocol or
            extension parameters that were not offered.
    """
    if status != 101:
        raise HandshakeError(f"invalid response status: {status}", status)

    upgrade = _joined(headers, "Upgrade")
    if upgrade is None:
        raise HandshakeError("missing upgrade header", status)
    if upgrade.strip().lower() != "websocket":
        raise HandshakeError(f"invalid upgrade header: {short_repr(upgrade)}", status)

    connection = _joined(headers, "Connection")
    if connection is None:
        raise HandshakeError("missing connection header", status)
    if "upgrade" not in (token.strip().lower() for token in connection.split(",")):
        raise HandshakeError(
            f"invalid connection header: {short_repr(connection)}, expected 'upgrade'", status
        )

    accept = _joined(headers, "Sec-WebSocket-Accept")
    if accept is None:
        raise HandshakeError("missing sec-websocket-accept header", status)
    expected = accept_for(key)
    if accept.strip() != expected:
        raise HandshakeError(
            f"invalid sec-websocket-accept: {short_repr(accept)}, expected {expected!r}",
            status,
        )

    protocol = _check_protocol(_joined(headers, "Sec-WebSocket-Protocol"), protocols, status)
    extensions = _joined(headers, "Sec-WebSocket-Extensions")
    if extensions is None or not extensions.strip():
        return HandshakeResult(protocol=protocol)
    return _check_deflate(extensions, protocol, compress, client_no_context_takeover, status=status)


def _joined(headers: Mapping[str, str], name: str) -> str | None:
    """Every value of header *name* joined with commas (RFC 9110 §5.3), or ``None``."""
    if isinstance(headers, MultiMapping):
        values: list[str] = headers.getall(name, [])
        return ", ".join(values) if values else None
    return headers.get(name)


def _check_protocol(value: str | None, offered: Sequence[str], status: int) -> str | None:
    """The subprotocol the server chose; it must be one we offered (RFC 6455 §4.1)."""
    if value is None:
        return None
    protocol = value.strip()
    if "," in protocol:
        raise HandshakeError(f"multiple subprotocols: {short_repr(value)}", status)
    if protocol not in offered:
        raise HandshakeError(f"unexpected subprotocol: {short_repr(protocol)}", status)
    return protocol


def _parse_extensions(value: str, status: int) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Parse ``Sec-WebSocket-Extensions`` into names with parameters (RFC 6455 §9.1)."""
    parsed: list[tuple[str, list[tuple[str, str | None]]]] = []
    # A quoted value must unquote to a token, which holds no "," or ";", so splitting
    # on them first cannot cut a valid header in the wrong place.
    for item in value.split(","):
        if not item.strip():
            continue  # RFC 9110 §5.6.1: empty list elements are ignored
        name, *raw_params = (part.strip() for part in item.split(";"))
        if not _TOKEN.fullmatch(name):
            raise HandshakeError(f"invalid extension: {short_repr(item.strip())}", status)
        params: list[tuple[str, str | None]] = []
        for raw in raw_params:
            pname, eq, pvalue = (s.strip() for s in raw.partition("="))
            if eq and len(pvalue) >= 2 and pvalue[0] == pvalue[-1] == '"':
                pvalue = pvalue[1:-1].replace("\\", "")
            if not _TOKEN.fullmatch(pname) or (eq and not _TOKEN.fullmatch(pvalue)):
                raise HandshakeError(
                    f"invalid extension parameter: {short_repr(raw)} in {name}", status
                )
            params.append((pname, pvalue if eq else None))
        parsed.append((name, params))
    return parsed


def _check_deflate(
    value: str,
    protocol: str | None,
    compress: int,
    client_no_context_takeover: bool,
    *,
    status: int,
) -> HandshakeResult:
    """Check the server's permessage-deflate response against our offer (RFC 7692 §7.1)."""
    extensions = _parse_extensions(value, status)
    if not extensions:
        return HandshakeResult(protocol=protocol)  # only empty list elements: none chosen
    for name, _ in extensions:
        if not compress or name.lower() != _PMD:
            # RFC 6455 §9.1: the server may only accept extensions the client offered.
            raise HandshakeError(f"unexpected extension: {short_repr(name)}", status)
    if len(extensions) > 1:
        raise HandshakeError(f"multiple permessage-deflate responses: {short_repr(value)}", status)

    seen: set[str] = set()
    server_bits: int | None = None
    client_bits: int | None = None
    server_no_takeover = False
    client_no_takeover = client_no_context_takeover
    for pname, pvalue in extensions[0][1]:
        lname = pname.lower()
        if lname in seen:
            # RFC 7692 §7: a response with a parameter twice is invalid.
            raise HandshakeError(
                f"duplicate permessage-deflate parameter: {short_repr(pname)}", status
            )
        seen.add(lname)
        shown = pname if pvalue is None else f"{pname}={pvalue}"
        if lname in ("server_no_context_takeover", "client_no_context_takeover"):
            if pvalue is not None:
                raise HandshakeError(
                    f"invalid permessage-deflate parameter: {short_repr(shown)}", status
                )
            if lname == "server_no_context_takeover":
                server_no_takeover = True
            else:
                # §7.1.1.2: the server may ask for this even if we did not offer it.
                client_no_takeover = True
        elif lname in ("server_max_window_bits", "client_max_window_bits"):
            if pvalue is None or not _WINDOW_BITS.fullmatch(pvalue) or not 8 <= int(pvalue) <= 15:
                raise HandshakeError(
                    f"invalid permessage-deflate parameter: {short_repr(shown)}", status
                )
            if lname == "server_max_window_bits":
                server_bits = int(pvalue)
                if compress < 15 and server_bits > compress:
                    # §7.1.2.1: the server may lower our value, never raise it.
                    raise HandshakeError(
                        f"invalid permessage-deflate parameter: {short_repr(shown)}, "
                        f"expected no more than {compress}",
                        status,
                    )
            else:
                client_bits = int(pvalue)
                if client_bits == 8:
                    # zlib silently deflates with 9 bits when asked for 8, which a
                    # peer with a 256-byte window could not inflate.
                    raise HandshakeError(
                        f"unsupported permessage-deflate parameter: {short_repr(shown)}",
                        status,
                    )
        else:
            raise HandshakeError(
                f"unknown permessage-deflate parameter: {short_repr(shown)}", status
            )
    if compress < 15 and server_bits is None:
        # §7.1.2.1: accepting an offer with server_max_window_bits means echoing it.
        raise HandshakeError(
            f"missing permessage-deflate parameter: 'server_max_window_bits', "
            f"expected no more than {compress}",
            status,
        )
    server_bits = server_bits or 15
    return HandshakeResult(
        protocol=protocol,
        compress=server_bits,
        client_no_context_takeover=client_no_takeover,
        server_no_context_takeover=server_no_takeover,
        server_max_window_bits=server_bits,
        client_max_window_bits=client_bits or 15,
    )
