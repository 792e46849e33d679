"""Parsing of header field values that carry parameters: ``Content-Type`` and
``Content-Disposition``.

Pure: strings in, values out; no I/O. Both fields share one parameter scanner, RFC 9110
§5.6.6 (``*( OWS ";" OWS [ parameter ] )``, values a token or a §5.6.4 quoted-string),
that reads the value once from left to right: a server controls these values, and the
standard library's MIME parser, which ``Content-Type`` went through before, recounts the
quotes from the start of the value at each ``;`` inside a quoted string (half a second
of CPU for 32 KB), misreads ``\\\\"`` at the end of a quoted string and raises ``TypeError`` for
``a*=x; a*0=y``. Extended values (RFC 8187 ``filename*=UTF-8''na%C3%AFve.txt``) and RFC 2231
§3 continuations (``filename*0=``, ``filename*1*=``), which mail-derived servers still
send, are understood in both fields.

``Content-Type`` is read leniently, as the email parser read it: text that is no parameter
is skipped and the rest still counts. ``Content-Disposition`` follows RFC 6266 §4.1
strictly: a malformed value parses to ``(None, {})`` rather than raising, since the header
is advice about a body that is fine.
"""

from __future__ import annotations

import codecs
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
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
    unquoted, RFC 8187 extended values decoded and RFC 2231 continuations joined, empty
    ones left out) of a ``Content-Type`` value.

    A value that names no ``type/subtype`` is ``application/octet-stream``, as for a
    missing field (RFC 9110 §8.3) and as in aiohttp; the email parser's fallback,
    ``text/plain`` (RFC 2045 §5.2), would invite decoding binary data as text. Text that
    is no parameter (``; x``, ``a=1 b``) is skipped, as the email parser skipped it, so
    that a stray word does not cost the boundary or the charset after it.
    """
    if not raw.isascii():
        # A part's header bytes that are not UTF-8 arrive as lone surrogates
        # (surrogateescape): U+FFFD instead, as the email parser gave, so that a charset
        # made of them is an unknown codec name (LookupError), not an unencodable one.
        raw = _SURROGATE.sub("\ufffd", raw)
    head, sep, _ = raw.partition(";")
    media = head.strip().lower()
    if media.count("/") != 1:
        media = "application/octet-stream"
    if not sep:  # most values: nothing more to read
        return media, {}
    params: dict[str, str] = {}
    starred: dict[str, str] = {}  # RFC 2231 names (name*, name*0...), resolved below
    for item in _parameters(raw, len(head)):
        if isinstance(item, str):
            continue  # not a parameter: skipped
        name, value = item
        if "*" in name:
            starred.setdefault(name, value)
            continue
        if value.startswith('"'):  # _param_value's unstarred case, inline: per response
            value = _UNESCAPE.sub(r"\1", value[1:-1])
        if value and name not in params:
            # The first of a repeated parameter, as aiohttp and the email package take
            # it: a parser that took another would read a different boundary or charset.
            params[name] = value
    if starred:
        _resolve_starred(starred, params)
    return media, params


def _resolve_starred(starred: dict[str, str], params: dict[str, str]) -> None:
    """Add to *params* the values of RFC 2231 parameters (*starred*: name -> value as
    sent), for the names *params* has no plain value of; the email parser also gave a
    plain value precedence over an extended one."""
    pieces: dict[str, str] = {}  # as parse_content_disposition keeps them
    bases: dict[str, None] = {}  # the names they are the value of, in order
    for name, raw in starred.items():
        value = _param_value(name, raw)
        continuation = _CONTINUATION.fullmatch(name)
        if continuation is not None:
            base = continuation.group(1)
        elif name.endswith("*"):
            base = name[:-1]
        else:  # "a*b": a plain name that happens to hold a star
            if value and name not in params:
                params[name] = value
            continue
        if value is not None:
            pieces[name] = value
            bases[base] = None
    for base in bases:
        if base not in params and (value := content_disposition_filename(pieces, base)):
            params[base] = value


# A parameter after its ";": name "=" (quoted-string / token); whitespace allowed around
# the parts. The value is read more leniently than a token (any run of non-space, non-";"
# characters): servers send "boundary=----=_Part_1" unquoted, as the email parser took it.
# Possessive quantifiers (++, *+): giving characters back could never make a match (a name
# never ends before a name character, a quoted string's text before a plain character),
# so a failing match (an unterminated quote) costs one pass instead of two, and runs of
# plain characters are taken at C speed.
_PARAM = re.compile(
    r'\s*;\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]++)\s*=\s*("(?:[^"\\]++|\\.)*+"|[^\s;"]+)\s*', re.S
)
# What _PARAM refuses at a position: up to the next ";" outside a quoted string (an
# unterminated quote runs to the end). It cannot fail, so the engine never backtracks.
_NOT_PARAM = re.compile(r'\s*;?(?:[^;"]++|"(?:[^"\\]++|\\.)*+"?)*+', re.S)
# A parameter whose name is no token (Content-Disposition leaves it out with a warning).
_BAD_NAME_PARAM = re.compile(r'\s*;([^;="]*+)=\s*("(?:[^"\\]++|\\.)*+"|[^\s;"]++)\s*', re.S)
_UNESCAPE = re.compile(r"\\(.)", re.S)
# RFC 8187 §3.2.1: charset "'" [ language ] "'" value-chars.
_EXT_VALUE = re.compile(r"([!#$%&+\-^_`{}~0-9A-Za-z]+)'[^']*'(.*)", re.S)
# RFC 2231 §3: name*N or name*N* for the pieces of a long value.
_CONTINUATION = re.compile(r"(.+)\*(0|[1-9][0-9]*)(\*?)")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _parameters(value: str, pos: int) -> Iterator[tuple[str, str] | str]:
    """The parameters of *value* from offset *pos* (its first ``;``), in one pass.

    Yields ``(name, raw value)`` for each well-formed one (the name lower case, the value
    as sent, quotes included), and for text that is none the text itself, up to the next
    ``;`` outside a quoted string. Trailing ``;`` and whitespace end the list. Each step
    starts where the last one ended: slicing the rest off per parameter, or searching it
    again, would cost time quadratic in the length of the value.
    """
    end = len(value.rstrip(" \t;"))
    while pos < end:
        match = _PARAM.match(value, pos)
        if match is not None:
            yield match.group(1).lower(), match.group(2)
        else:
            match = _NOT_PARAM.match(value, pos)
            assert match is not None  # it matches an empty string too
            yield match.group()
        # Never empty: at pos there is a ";", whitespace or text, which one of them takes.
        pos = match.end()


def _param_value(name: str, raw: str) -> str | None:
    """The value of parameter *name* sent as *raw*: a quoted string unescaped (RFC 9110
    §5.6.4), an extended value (``name*``) decoded (RFC 8187 §3.2); None when the
    extended value cannot be, or is quoted (RFC 8187 §3.2.1: an ext-value never is)."""
    if name.endswith("*") and _CONTINUATION.fullmatch(name) is None:
        return None if raw.startswith('"') else _decode_ext_value(raw)
    if raw.startswith('"'):
        return _UNESCAPE.sub(r"\1", raw[1:-1])
    return raw


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
    head = header.partition(";")[0]
    disposition = head.strip()
    if not is_token(disposition):
        return _malformed(header)
    params: dict[str, str] = {}
    for item in _parameters(header, len(head)):
        if isinstance(item, str):
            if _BAD_NAME_PARAM.fullmatch(item) is None:
                return _malformed(header)
            # A value under a name that is no token: left out, as aiohttp does.
            _warn(BadContentDispositionParam(item.strip(" \t;")), depth=2)
            continue
        name, raw = item
        value = _param_value(name, raw)
        if value is None:  # an undecodable extended value: skip it, as aiohttp does
            # Taken as is, a quoted one would win over a valid plain filename= with its
            # own quotes.
            _warn(BadContentDispositionParam(f"{name}={raw}"), depth=2)
            continue
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
