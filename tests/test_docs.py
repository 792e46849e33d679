"""The documentation stays true: every public name is in docs/api.md, and every Python
example of README.md runs against a real local server.

README examples may use ``http://127.0.0.1:8080`` as their base URL: it is replaced by
the URL of the functional test application (``tests/functional/conftest.py:make_app``:
/json, /echo, /text, /big, /redirect/{n}, /set-cookie, /cookies, /gzip, ...). A block
may be a script (``asyncio.run(main())``) or use top-level ``await``. A block whose first
line is a comment containing ``skip-test`` is not run.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import hyperclient

from .functional.conftest import make_app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
API_DOC = ROOT / "docs" / "api.md"
PLACEHOLDER = "http://127.0.0.1:8080"
_FENCE = re.compile(r"^```(?:python|py)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)

# Runs one example in a fresh interpreter: a script, or top-level await in asyncio.run().
_RUNNER = """
import ast, asyncio, sys
path, name = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    code = compile(f.read(), name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
namespace = {"__name__": "__main__"}
result = eval(code, namespace)
if asyncio.iscoroutine(result):
    asyncio.run(result)
"""


def readme_blocks() -> list[tuple[int, str]]:
    """(line number, code) of each fenced python block of the README."""
    if not README.exists():
        return []
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m[1]) for m in _FENCE.finditer(text)]


def test_every_public_name_has_a_heading_in_the_api_reference() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    headings = {m[1] for m in re.finditer(r"^###\s+`?([A-Za-z_][A-Za-z0-9_]*)", text, re.M)}
    missing = [name for name in hyperclient.__all__ if name not in headings]
    assert not missing, f"docs/api.md has no '### name' heading for: {missing}"


def test_the_api_reference_documents_no_name_that_does_not_exist() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    headings = re.findall(r"^###\s+`?([A-Za-z_][A-Za-z0-9_]*)", text, re.M)
    unknown = [name for name in headings if name not in hyperclient.__all__]
    assert not unknown, f"docs/api.md documents names missing from __all__: {unknown}"


def test_readme_has_python_examples() -> None:
    assert readme_blocks(), "README.md has no ```python example to test"


@pytest.mark.parametrize(
    ("line", "code"), readme_blocks(), ids=[f"README.md:{n}" for n, _ in readme_blocks()]
)
async def test_readme_example_runs(
    line: int, code: str, aiohttp_server: Callable[..., Any], tmp_path: Path
) -> None:
    first = code.lstrip().splitlines()[0] if code.strip() else ""
    if first.startswith("#") and "skip-test" in first:
        pytest.skip("marked skip-test")
    server = await aiohttp_server(make_app())
    script = tmp_path / "example.py"
    script.write_text(code.replace(PLACEHOLDER, f"http://127.0.0.1:{server.port}"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _RUNNER, str(script), f"README.md:{line}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path, env={**os.environ, "PYTHONWARNINGS": "error::ResourceWarning"},
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, f"README.md:{line} failed:\n{out.decode(errors='replace')}"
