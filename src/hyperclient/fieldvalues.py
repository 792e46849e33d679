"""Parsing of header field values that carry parameters: ``Content-Type`` and
``Content-Disposition``.

Pure: strings in, values out; no I/O. ``Content-Type`` goes through the standard
library's MIME parser, as aiohttp's does, so both agree on every odd value.
``Content-Disposition`` has its own parser: RFC 6266 §4.1 (disposition type and
parameters, RFC 9110 §5.6.6 tokens and quoted strings) with RFC 8187 extended values
(``filename*=UTF-8''na%C3%AFve.txt``) and RFC 2231 §3 continuations (``filename*0=``,
``filename*1*=``), which mail-derived servers still send. A malformed value parses to
``(None, {})`` rather than raising: the header is advice about a body that is fine.
"""

from __future__ import annotations

import codecs
import re
import sys
import warnings
from collections.abc import Mapping
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import cast
from urllib.parse import unquote, unquote_to_bytes

from .http1 import is_token

__all__ = [
    "BadContentDispositionHeader",
    "BadContentDispositionParam",
    "content_disposition_filename",
    "parse_content_disposition",
    "parse_content_type",
]


class BadContentDispositionHeader(RuntimeWarning):
    """Warned when a ``Content-Disposition`` value cannot be parsed at all."""


class BadContentDispositionParam(RuntimeWarning):
    """Warned when one ``Content-Disposition`` parameter is left out."""


def parse_content_type(raw: str) -> tuple[str, dict[str, str]]:
    """The media type (lower case) and the parameters (names lower case, quoted values
    unquoted, RFC 2231 extended values decoded, empty ones left out) of a
    ``Content-Type`` value.

    A value that names no ``type/subtype`` is ``application/octet-stream``, as for a
    missing field (RFC 9110 §8.3) and as in aiohttp; the email parser's own fallback,
    ``text/plain`` (RFC 2045 §5.2), would invite decoding binary data as text.
    """
    msg = Message()
    msg["content-type"] = raw
    media = msg.get_content_type()
    if media == "text/plain" and raw.partition(";")[0].strip().lower() != "text/plain":
        media = "application/octet-stream"
    params = {}
    # get_params gives an RFC 2231 value (charset*=utf-8''x) as a triple (typeshed
    # says str only).
    pairs = cast("list[tuple[str, str | tuple[str, str, str]]]", msg.get_params() or [])
    for name, value in pairs[1:]:
        text = collapse_rfc2231_value(value) if isinstance(value, tuple) else value
        if text and name.lower() not in params:
            # The first of a repeated parameter, as aiohttp and the email package take
            # it: a parser that took another would read a different boundary or charset.
            params[name.lower()] = text
    return media, params


# A parameter: name "=" (quoted-string / token); whitespace allowed around the parts.
_PARAM = re.compile(
    r'\s*;\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;"]+)\s*', re.S
)
_BAD_NAME_PARAM = re.compile(r'\s*;([^;="]*)=\s*("(?:[^"\\]|\\.)*"|[^\s;"]+)\s*', re.S)
_UNESCAPE = re.compile(r"\\(.)", re.S)
# RFC 8187 §3.2.1: charset "'" [ language ] "'" value-chars.
_EXT_VALUE = re.compile(r"([!#$%&+\-^_`{}~0-9A-Za-z]+)'[^']*'(.*)", re.S)
# RFC 2231 §3: name*N or name*N* for the pieces of a long value.
_CONTINUATION = re.compile(r"(.+)\*(0|[1-9][0-9]*)(\*?)")


def parse_content_disposition(header: str | None) -> tuple[str | None, dict[str, str]]:
    """Split a ``Content-Disposition`` value into its type and parameters.

    Names are lower-cased; quoted strings are unescaped; extended values (``name*``) are
    decoded from their charset and kept under their starred name, as aiohttp does.
    RFC 2231 continuation pieces are kept as sent, for :func:`content_disposition_filename`.

    Args:
        header: the field value, such as ``attachment; filename="a.txt"``.

    Returns:
        ``(type, parameters)``; ``(None, {})`` when *header* is missing or malformed
        (an unterminated quote, a parameter without a value or given twice). An extended
        value that cannot be decoded is left out.

    Warns:
        BadContentDispositionHeader: the value is malformed (as aiohttp warns).
        BadContentDispositionParam: a parameter was left out.
    """
    if not header:
        return None, {}
    disposition, sep, tail = header.partition(";")
    disposition = disposition.strip()
    if not is_token(disposition):
        return _malformed(header)
    rest = ";" + tail if sep else ""
    params: dict[str, str] = {}
    pos = 0
    while rest[pos:].strip(" \t;"):
        match = _PARAM.match(rest, pos)
        if match is None:
            skipped = _BAD_NAME_PARAM.match(rest, pos)
            if skipped is None:
                return _malformed(header)
            pos = skipped.end()  # a value under a name that is no token: left out
            _warn(BadContentDispositionParam(skipped.group().strip(" \t;")), depth=2)
            continue
        name, raw = match.group(1).lower(), match.group(2)
        pos = match.end()
        value = raw
        if name.endswith("*") and _CONTINUATION.fullmatch(name) is None:
            # RFC 8187 §3.2.1: an ext-value is never quoted; a quoted one is invalid, and
            # taken as is it would win over a valid plain filename= with its own quotes.
            decoded = None if raw.startswith('"') else _decode_ext_value(raw)
            if decoded is None:  # an undecodable extended value: skip it, as aiohttp does
                _warn(BadContentDispositionParam(f"{name}={raw}"), depth=2)
                continue
            value = decoded
        elif raw.startswith('"'):
            value = _UNESCAPE.sub(r"\1", raw[1:-1])
        if name in params:  # RFC 6266 §4.1: no parameter twice
            return _malformed(header)
        params[name] = value
    return disposition.lower(), params


def _malformed(header: str) -> tuple[None, dict[str, str]]:
    _warn(BadContentDispositionHeader(header), depth=3)
    return None, {}


#: The registry of the warnings above (which ones were shown, for the "default" action's
#: once per text and place), bounded: in the caller's ``__warningregistry__`` each new
#: value a server makes up would stay for the life of the process.
_registry: dict[str | tuple[str, type[Warning], int], int] = {}
_REGISTRY_MAX = 256


def _warn(warning: Warning, depth: int) -> None:
    """``warnings.warn(warning, stacklevel=depth)``, with :data:`_registry`."""
    if len(_registry) > _REGISTRY_MAX:
        _registry.clear()
    frame = sys._getframe(depth)
    warnings.warn_explicit(
        warning,
        type(warning),
        frame.f_code.co_filename,
        frame.f_lineno,
        module=frame.f_globals.get("__name__"),
        registry=_registry,
    )


def content_disposition_filename(params: Mapping[str, str], name: str = "filename") -> str | None:
    """The value of parameter *name* from parsed *params*, preferring the extended form.

    RFC 6266 §4.3: a recipient that understands ``filename*`` uses it over ``filename``;
    RFC 2231 §3-4 continuations (``filename*0*=UTF-8''a%20``, ``filename*1="b"``...) are
    joined in order and decoded with the first piece's charset.

    Args:
        params: the parameters from :func:`parse_content_disposition`.
        name: the parameter, ``filename`` or ``name``.

    Returns:
        The value, or None when no form of the parameter is present (or its pieces
        cannot be decoded).
    """
    extended = params.get(name + "*")
    if extended is not None:
        return extended
    if name in params:  # over continuations, as aiohttp
        return params[name]
    if f"{name}*0" in params or f"{name}*0*" in params:
        return _join_continuations(params, name)
    return None


def _join_continuations(params: Mapping[str, str], name: str) -> str | None:
    pieces: list[tuple[str, bool]] = []  # (value as sent, percent-encoded?)
    while True:
        index = len(pieces)
        encoded = params.get(f"{name}*{index}*")
        if encoded is not None:
            pieces.append((encoded, True))
        elif (plain := params.get(f"{name}*{index}")) is not None:
            pieces.append((plain, False))
        else:
            break
    if not any(is_encoded for _, is_encoded in pieces):
        return "".join(value for value, _ in pieces)
    charset = "latin-1"  # RFC 2231 §4: the charset comes with the first encoded piece
    first, first_encoded = pieces[0]
    if first_encoded:
        match = _EXT_VALUE.fullmatch(first)
        if match is None:
            return None
        charset, encoded = match.groups()
        pieces[0] = (encoded, True)
    try:
        data = b"".join(
            unquote_to_bytes(value) if is_encoded else value.encode(charset)
            for value, is_encoded in pieces
        )
        return data.decode(charset)
    except (LookupError, UnicodeError):
        return None


def _decode_ext_value(raw: str) -> str | None:
    """Decode ``charset'lang'pct-encoded`` (RFC 8187 §3.2); None when it cannot be."""
    match = _EXT_VALUE.fullmatch(raw)
    if match is None:
        return None
    charset, encoded = match.groups()
    try:
        codecs.lookup(charset)  # unquote() looks the charset up only for a '%' in the value
        return unquote(encoded, encoding=charset, errors="strict")
    except (LookupError, UnicodeDecodeError):
        return None
