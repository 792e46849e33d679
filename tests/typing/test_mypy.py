"""Users' code type-checks against hyperclient as against aiohttp 3.

One ``mypy --strict`` run (the project's mypy settings) over ``user_code.py``, which must
pass, and over a file of misuse written to the test's temporary directory (so that no
linter or type checker of the project reads it), where each line marked ``# E: <code>``
must be an error of that code and no other line may be. A request method returning
``Any`` again, or taking any keyword, fails both halves.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import hyperclient

ROOT = Path(__file__).resolve().parents[2]
USER_CODE = Path(__file__).with_name("user_code.py")
#: Where the hyperclient under test is imported from: mypy must check that one.
PACKAGE_ROOT = Path(hyperclient.__file__).resolve().parent.parent

MISUSE = """\
from __future__ import annotations

from types import SimpleNamespace

import hyperclient


async def on_end(
    session: hyperclient.ClientSession,
    ctx: SimpleNamespace,
    params: hyperclient.TraceRequestEndParams,
) -> None:
    pass


async def misuse(session: hyperclient.ClientSession, url: str) -> None:
    await session.get(url, alow_redirects=False)  # E: call-arg
    await session.post(url, jsn={"a": 1})  # E: call-arg
    await session.request("GET", url, time_out=5)  # E: call-arg
    await session.get(url, allow_redirects="no")  # E: arg-type
    await session.get(url, params=object())  # E: arg-type
    await session.get(url, ssl="yes")  # E: arg-type
    await session.ws_connect(url, heartbeet=1.0)  # E: call-arg
    await hyperclient.get(url, verfy_ssl=False)  # E: call-arg
    await hyperclient.post(url, connecter=None)  # E: call-arg
    trace = hyperclient.TraceConfig()
    trace.on_request_start.append(on_end)  # E: arg-type
    trace.on_response_chunk_received.insert(0, on_end)  # E: arg-type
    resp = await session.get(url)
    print(resp.statuz)  # E: attr-defined
    code: str = resp.status  # E: assignment
    print(code)


def misread(exc: hyperclient.ClientResponseError) -> None:
    print(exc.request_info.methd)  # E: attr-defined
    print(exc.history[0].statuz)  # E: attr-defined
"""

_ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")
_EXPECTED = re.compile(r"# E: (?P<code>[a-z-]+)$")


def test_user_code_type_checks_and_misuse_does_not(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    misuse = tmp_path / "misuse.py"
    misuse.write_text(MISUSE, encoding="utf-8")
    env = dict(os.environ)
    if PACKAGE_ROOT.name != "site-packages":  # a source tree: mypy refuses site-packages
        env["MYPYPATH"] = str(PACKAGE_ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--strict", "--no-pretty", "--no-error-summary", "--hide-error-context",
         "--cache-dir", str(tmp_path / "mypy_cache"), str(USER_CODE), str(misuse)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=50,
    )  # fmt: skip
    errors: dict[str, set[tuple[int, str]]] = {}
    for line in proc.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            name = Path(match["path"]).name
            errors.setdefault(name, set()).add((int(match["line"]), match["code"]))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 2: mypy itself failed
    assert errors.pop("user_code.py", set()) == set(), proc.stdout
    expected = {
        (number, match["code"])
        for number, text in enumerate(MISUSE.splitlines(), 1)
        if (match := _EXPECTED.search(text))
    }
    assert errors.pop("misuse.py", set()) == expected, proc.stdout
    assert errors == {}, proc.stdout  # none in hyperclient itself


def _keywords(function: Callable[..., object]) -> set[str]:
    parameters = inspect.signature(function).parameters.values()
    return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def test_typed_keywords_are_every_keyword_a_request_takes() -> None:
    """The TypedDicts of ``**kwargs`` name every keyword argument the request flow takes
    (mypy checks the other way: each of their keys reaches ``_request``)."""
    from hyperclient import client

    taken = _keywords(client.ClientSession._request)
    own_session = _keywords(client.request)  # the module-level functions' own session
    assert set(client._RequestKwargs.__optional_keys__) == taken
    assert set(client._VerbKwargs.__optional_keys__) == taken - {"allow_redirects"}
    assert set(client._BodyVerbKwargs.__optional_keys__) == taken - {"data"}
    assert set(client._OneShotKwargs.__optional_keys__) == own_session
    assert set(client._OneShotRequestKwargs.__optional_keys__) == taken - own_session
    assert set(client._OneShotVerbKwargs.__optional_keys__) == taken | own_session
    assert set(client._OneShotBodyVerbKwargs.__optional_keys__) == (taken | own_session) - {"data"}


def test_annotations_resolve_at_run_time() -> None:
    """``typing.get_type_hints`` (typeguard, cattrs, sphinx autodoc) resolves the names
    that lower modules import for type checkers only."""
    import typing

    import hyperclient
    from hyperclient import tracing

    for obj in (
        hyperclient.TraceRequestEndParams,
        hyperclient.TraceRequestRedirectParams,
        hyperclient.ClientResponseError.__init__,
        tracing.Signal.append,
        hyperclient.ClientSession.get,
    ):
        hints = typing.get_type_hints(obj)
        assert hints, obj
    end = typing.get_type_hints(hyperclient.TraceRequestEndParams)
    assert end["response"] is hyperclient.ClientResponse
