"""Content-Type and Content-Disposition parsing (RFC 9110 §5.6.6 parameters, RFC 6266,
RFC 8187, RFC 2231 continuations)."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any, cast
from urllib.parse import quote

import pytest
from aiohttp import multipart as oracle
from hypothesis import given
from hypothesis import strategies as st

from hyperclient import fieldvalues
from hyperclient.fieldvalues import (
    content_disposition_filename,
    parse_content_disposition,
    parse_content_type,
)

CASES = [
    # (header, type, parameters, filename[, the warning's class name])
    ('attachment; filename="a.txt"', "attachment", {"filename": "a.txt"}, "a.txt"),
    ("ATTACHMENT; FileName=A.txt", "attachment", {"filename": "A.txt"}, "A.txt"),
    ('inline; filename="a \\"b\\".txt"', "inline", {"filename": 'a "b".txt'}, 'a "b".txt'),
    ('form-data; name="f"; filename="x;y.txt"', "form-data", {"name": "f", "filename": "x;y.txt"},
     "x;y.txt"),
    # RFC 6266 §4.3: filename* wins over filename, wherever it stands.
    ("attachment; filename*=UTF-8''na%C3%AFve.txt; filename=\"naive.txt\"", "attachment",
     {"filename*": "naïve.txt", "filename": "naive.txt"}, "naïve.txt"),
    ("attachment; filename*=ISO-8859-1'en'%A3%20rates", "attachment", {"filename*": "£ rates"},
     "£ rates"),
    # RFC 2231 §3-4: continuations, the charset from the first encoded piece.
    ("attachment; filename*0*=UTF-8''na%C3; filename*1*=%AFve; filename*2=\".txt\"",
     "attachment", {"filename*0*": "UTF-8''na%C3", "filename*1*": "%AFve", "filename*2": ".txt"},
     "naïve.txt"),
    ('attachment; filename*0="long"; filename*1="name.txt"', "attachment",
     {"filename*0": "long", "filename*1": "name.txt"}, "longname.txt"),
    ("attachment", "attachment", {}, None),
    ("attachment;", "attachment", {}, None),
    # An extended value that cannot be decoded is left out; the rest stands.
    ("attachment; filename*=bogus%20", "attachment", {}, None, "BadContentDispositionParam"),
    ("attachment; filename*=no-such-charset''x; filename=y", "attachment", {"filename": "y"},
     "y", "BadContentDispositionParam"),
    # RFC 8187: an ext-value is never quoted; a quoted one is left out, not taken as is
    # over the valid plain filename.
    ("attachment; filename=\"good.txt\"; filename*=\"UTF-8''bad%20name.txt\"", "attachment",
     {"filename": "good.txt"}, "good.txt", "BadContentDispositionParam"),
    # Malformed: nothing is trusted.
    ('attachment; filename="unterminated', None, {}, None, "BadContentDispositionHeader"),
    ("attachment; filename=a; filename=b", None, {}, None, "BadContentDispositionHeader"),
    ("x y; a=1", None, {}, None, "BadContentDispositionHeader"),
    ("attachment; a=1 b=2", None, {}, None, "BadContentDispositionHeader"),
    # A parameter whose name is no token is left out (as aiohttp does).
    ("attachment; =x; filename=f", "attachment", {"filename": "f"}, "f",
     "BadContentDispositionParam"),
    ("attachment; a b=x", "attachment", {}, None, "BadContentDispositionParam"),
    ("", None, {}, None),
]  # fmt: skip


def _parse(header: str) -> tuple[tuple[str | None, dict[str, str]], list[str]]:
    """Parse, returning the result and the class names of the warnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = parse_content_disposition(header)
    return result, [type(w.message).__name__ for w in caught]


@pytest.mark.parametrize("case", CASES, ids=[c[0] or "empty" for c in CASES])
def test_parse_content_disposition(case: tuple[Any, ...]) -> None:
    header, kind, params, filename, *warned = case
    (got_kind, got_params), got_warned = _parse(header)
    assert (got_kind, got_params) == (kind, params)
    assert got_warned == warned  # malformed values warn as aiohttp's do, once
    assert content_disposition_filename(got_params) == filename


#: Where we differ from aiohttp on purpose.
DIFFERS = {
    # aiohttp keeps a value in a charset Python does not know when it has no %-escape.
    "attachment; filename*=no-such-charset''x; filename=y",
    # aiohttp warns about a trailing ";" (and refuses one followed by a space).
    "attachment;",
}


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c[0] not in DIFFERS],
    ids=[c[0] or "empty" for c in CASES if c[0] not in DIFFERS],
)
def test_agrees_with_aiohttp(case: tuple[Any, ...]) -> None:
    # aiohttp's parser is the oracle for what code written for aiohttp expects.
    header = case[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        want = oracle.parse_content_disposition(header)
    assert _parse(header) == (want, [type(w.message).__name__ for w in caught])
    assert content_disposition_filename(want[1]) == oracle.content_disposition_filename(
        want[1], "filename"
    )


def test_name_parameter_and_order() -> None:
    _, params = parse_content_disposition("form-data; name*=UTF-8''%C3%A9t%C3%A9; name=ete")
    assert content_disposition_filename(params, "name") == "été"
    assert parse_content_disposition(None) == (None, {})
    # A plain value wins over continuations, as in aiohttp.
    _, params = parse_content_disposition('attachment; filename*0="a"; filename="b"')
    assert content_disposition_filename(params) == "b"


def test_content_type() -> None:
    assert parse_content_type('Multipart/Form-Data; Boundary="a b"; charset=utf-8') == (
        "multipart/form-data",
        {"boundary": "a b", "charset": "utf-8"},
    )
    # No type/subtype: as if absent (RFC 9110 §8.3), as in aiohttp; not text/plain.
    assert parse_content_type("garbage") == ("application/octet-stream", {})
    assert parse_content_type("") == ("application/octet-stream", {})
    assert parse_content_type(" Text/Plain ") == ("text/plain", {})
    # RFC 2231 extended values come out as text (the email parser gives triples); empty
    # values are left out, as aiohttp's charset is None for them.
    assert parse_content_type("text/plain; charset*=utf-8''latin-1") == (
        "text/plain",
        {"charset": "latin-1"},
    )
    assert parse_content_type("application/json; charset*=''; x=") == ("application/json", {})


def test_a_new_bad_value_each_time_does_not_grow_a_warning_registry() -> None:
    """A server can make up a new malformed value per response: the warnings' registry
    (which texts were shown, kept per module by ``warnings.warn``) stays bounded."""

    def registered() -> int:
        modules = list(sys.modules.values())
        return sum(len(getattr(m, "__warningregistry__", None) or ()) for m in modules)

    before = registered()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        for i in range(2000):
            assert parse_content_disposition(f"attachment; filename=a b {i}") == (None, {})
    assert len(shown) == 2000  # each distinct value is still shown once, naming it
    assert "filename=a b 1999" in str(shown[-1].message)
    assert shown[-1].filename == __file__  # where it was asked for
    assert registered() - before + len(fieldvalues._registry) <= 300


# -- Content-Type: the parameter parser of our own, against the email parser it replaced --


def _parse_with_email(raw: str) -> tuple[str, dict[str, str]]:
    """parse_content_type as it was, through the standard library's email parser (whose
    parameter splitting is quadratic): the oracle for well-formed values."""
    msg = Message()
    msg["content-type"] = raw
    media = msg.get_content_type()
    if media == "text/plain" and raw.partition(";")[0].strip().lower() != "text/plain":
        media = "application/octet-stream"
    params: dict[str, str] = {}
    pairs = cast("list[tuple[str, str | tuple[str, str, str]]]", msg.get_params() or [])
    for name, value in pairs[1:]:
        text = collapse_rfc2231_value(value) if isinstance(value, tuple) else value
        if text and name.lower() not in params:
            params[name.lower()] = text
    return media, params


_TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_token = st.text(_TCHAR, min_size=1, max_size=6)
_ows = st.sampled_from(["", " ", "\t", "  "])
# RFC 9110 §5.6.4 qdtext, obs-text included. The only quoted-pair is \": the email
# parser unescapes no other, and miscounts quotes after "\\".
_qdtext = st.sampled_from(["\t", " ", "!", "#", "[", "]", "~", "a", "Z", ";", "=", "'", "\xe9"])
_quoted = st.lists(st.one_of(_qdtext, st.just('\\"')), max_size=5).map(
    lambda chars: '"' + "".join(chars) + '"'
)
# Names without "*" (the email parser takes \w+\* names for RFC 2231 ones); a few, so
# that they repeat.
_name = st.sampled_from(["charset", "Boundary", "a", "x_1", "q.q"])
_base = st.sampled_from(["charset", "boundary", "a"])  # RFC 2231 names: \w+ only
_text = st.text(st.sampled_from("aZ0 -%'\"\\éü€"), max_size=4)


def _pct(text: str, charset: str) -> str:
    """RFC 8187 §3.2.1 value-chars: attr-char kept, the rest percent-encoded."""
    return quote(text.encode(charset), safe="!#$&+-.^_`|~")


@st.composite
def _extended(draw: st.DrawFn) -> list[str]:
    """An RFC 8187 extended parameter, or RFC 2231 continuations, for one name."""
    base = draw(_base)
    charset = draw(st.sampled_from(["UTF-8", "utf-8", "ISO-8859-1"]))
    texts = draw(st.lists(_text, min_size=1, max_size=3))
    # What the charset can encode; a piece after the first is never empty (a token).
    texts = [text.encode(charset, "ignore").decode(charset) or "a" for text in texts]
    lang = draw(st.sampled_from(["", "en"]))
    if len(texts) == 1 and draw(st.booleans()):
        return [f"{base}*={charset}'{lang}'{_pct(texts[0], charset)}"]
    if not draw(st.booleans()):  # plain pieces: ASCII tokens or quoted strings
        return [f"{base}*{i}={draw(st.one_of(_token, _quoted))}" for i in range(len(texts))]
    # The first piece names the charset (RFC 2231 §4); later ones encoded or ASCII tokens.
    first = f"{base}*0*={charset}'{lang}'{_pct(texts[0], charset)}"
    pieces = [first]
    for i, text in enumerate(texts[1:], 1):
        if draw(st.booleans()):
            pieces.append(f"{base}*{i}*={_pct(text, charset)}")
        else:
            pieces.append(f"{base}*{i}={draw(_token)}")
    return pieces


@st.composite
def _content_types(draw: st.DrawFn) -> str:
    media = f"{draw(_token)}/{draw(_token)}"
    params = draw(
        st.lists(
            st.one_of(
                st.tuples(_name, st.one_of(_token, _quoted)).map("=".join).map(lambda p: [p]),
                _extended(),
                st.just([""]),  # RFC 9110 §5.6.6: "*( OWS ";" OWS [ parameter ] )"
            ),
            max_size=5,
            unique_by=lambda group: group[0].partition("*")[0] if "*" in group[0] else id(group),
        )
    )
    flat = [param for group in params for param in group]
    value = draw(_ows) + media
    for param in flat:
        value += draw(_ows) + ";" + draw(_ows) + param
    return value + draw(_ows)


@given(_content_types())
def test_content_type_agrees_with_the_email_parser_on_well_formed_values(raw: str) -> None:
    assert parse_content_type(raw) == _parse_with_email(raw)


@pytest.mark.parametrize(
    ("raw", "params"),
    [
        ("text/plain", {}),
        # RFC 9110 §5.6.4: every quoted-pair is undone; the email parser undid only \\
        # and \", and took the "\\" before a closing quote for an escaped quote, which
        # swallowed the next parameter.
        ('text/plain; a="x\\y"; b="c:\\\\"; c=d', {"a": "xy", "b": "c:\\", "c": "d"}),
        # Text that is no parameter is skipped, keeping what follows it.
        ("multipart/mixed; charset=utf-8 junk; boundary=b", {"charset": "utf-8", "boundary": "b"}),
        ("text/plain; x; a b=c; =d;; charset=latin-1", {"charset": "latin-1"}),
        # An unterminated quote runs to the end of the value, its ";" included.
        ('text/plain; charset=utf-8; a="x; boundary=b', {"charset": "utf-8"}),
        # RFC 2231: the plain value first (as the email parser), an extended one without
        # it, continuations joined (a name given both ways raised TypeError in the email
        # parser's sort); a quoted or undecodable extended value is left out (RFC 8187).
        ("text/plain; charset*=utf-8''a; charset=b", {"charset": "b"}),
        ("text/plain; a*=x; a*0=y", {"a": "y"}),
        ("text/plain; a*=utf-8''%FF; b*=\"utf-8''x\"; c*=x", {}),
        ("text/plain; t*0*=utf-8''%C3; t*1*=%A9; t*2=x", {"t": "\u00e9x"}),
        # A part's header bytes that are not UTF-8 (lone surrogates) read as U+FFFD, as
        # the email parser gave them: an unknown codec name, not an unencodable one.
        ("text/plain; charset=\udce9", {"charset": "\ufffd"}),
    ],
)
def test_content_type_parameters(raw: str, params: dict[str, str]) -> None:
    assert parse_content_type(raw) == (raw.partition(";")[0], params)


def _chars_scanned(parse: Callable[[str], object], value: str) -> int:
    """The length of every string a str method was called on while *parse* ran: a count
    of the characters it may have scanned (regex matching, linear here, is left out)."""
    total = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal total
        if event == "c_call" and isinstance(owner := getattr(arg, "__self__", None), str):
            total += len(owner)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sys.setprofile(profile)
        try:
            parse(value)
        finally:
            sys.setprofile(None)
    return total


@pytest.mark.parametrize(
    ("parse", "make"),
    [
        # ";" inside an unterminated quote: the email parser recounted the quotes from
        # the start of the value at each one.
        (parse_content_type, lambda n: 'text/plain; a="' + ";" * n),
        (parse_content_type, lambda n: "text/plain" + "".join(f"; p{i:05}=v" for i in range(n))),
        # Each parameter re-sliced the rest of the value.
        (parse_content_disposition, lambda n: "inline" + "".join(f"; p{i:05}=v" for i in range(n))),
    ],
    ids=["ct-open-quote", "ct-many-params", "cd-many-params"],
)
def test_parameter_parsing_is_linear(
    parse: Callable[[str], object], make: Callable[[int], str]
) -> None:
    """A value 4 times as long costs about 4 times the work, not 16: a server controls
    the value, 8 KB of it in each multipart part header."""
    small, large = _chars_scanned(parse, make(1000)), _chars_scanned(parse, make(4000))
    assert small > 0
    assert large <= 5 * small
