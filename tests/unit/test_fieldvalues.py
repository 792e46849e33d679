"""Content-Disposition parsing (RFC 6266, RFC 8187, RFC 2231 continuations)."""

from __future__ import annotations

import warnings

import pytest
from aiohttp import multipart as oracle

from hyperclient.fieldvalues import content_disposition_filename, parse_content_disposition

CASES = [
    # (header, type, parameters, filename)
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
    ("attachment; filename*=bogus%20", "attachment", {}, None),
    ("attachment; filename*=no-such-charset''x; filename=y", "attachment", {"filename": "y"},
     "y"),
    # Malformed: nothing is trusted.
    ('attachment; filename="unterminated', None, {}, None),
    ("attachment; filename=a; filename=b", None, {}, None),
    ("x y; a=1", None, {}, None),
    ("attachment; a=1 b=2", None, {}, None),
    # A parameter whose name is no token is left out (as aiohttp does).
    ("attachment; =x; filename=f", "attachment", {"filename": "f"}, "f"),
    ("attachment; a b=x", "attachment", {}, None),
    ("", None, {}, None),
]  # fmt: skip


@pytest.mark.parametrize(("header", "kind", "params", "filename"), CASES)
def test_parse_content_disposition(
    header: str, kind: str | None, params: dict[str, str], filename: str | None
) -> None:
    got_kind, got_params = parse_content_disposition(header)
    assert (got_kind, got_params) == (kind, params)
    assert content_disposition_filename(got_params) == filename


#: Where we differ from aiohttp on purpose.
DIFFERS = {
    # aiohttp keeps a value in a charset Python does not know when it has no %-escape.
    "attachment; filename*=no-such-charset''x; filename=y",
}


@pytest.mark.parametrize(
    ("header", "kind", "params", "filename"), [c for c in CASES if c[0] not in DIFFERS]
)
def test_agrees_with_aiohttp(
    header: str, kind: str | None, params: dict[str, str], filename: str | None
) -> None:
    # aiohttp's parser is the oracle for what code written for aiohttp expects.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want_kind, want_params = oracle.parse_content_disposition(header)
    assert parse_content_disposition(header) == (want_kind, want_params)
    assert content_disposition_filename(want_params) == oracle.content_disposition_filename(
        want_params, "filename"
    )


def test_name_parameter() -> None:
    _, params = parse_content_disposition("form-data; name*=UTF-8''%C3%A9t%C3%A9; name=ete")
    assert content_disposition_filename(params, "name") == "été"
    assert parse_content_disposition(None) == (None, {})
