"""Content-Disposition parsing (RFC 6266, RFC 8187, RFC 2231 continuations)."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import pytest
from aiohttp import multipart as oracle

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
