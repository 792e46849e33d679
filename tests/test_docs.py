"""The documentation stays true: every public name is in docs/api.md, every Python example
of README.md and docs/guide.md runs against the bundled demo server, and every URL the
README, the guide and docs/cli.md show exists there.

Examples use ``http://127.0.0.1:8080`` (``ws://`` too), as the docs say: it is replaced by
the address of ``python -m hyperclient._demo_server``, started once for the module. A
block that calls ``asyncio.run()`` is a script; any other block is the body of an
``async def`` with ``asyncio`` and ``hyperclient`` imported, ``session`` an open
``ClientSession`` and ``url`` a URL of the demo server, as the guide's introduction says.
Each runs in a fresh interpreter, in a temporary directory holding the input files the
examples name (``_INPUT_FILES``), with ResourceWarning as an error: an example that leaves
a file or a session open fails. Only the blocks of ``_NEEDS_OUTSIDE`` are skipped, each
for a reason, once they have compiled.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import hyperclient
from hyperclient.demo import DemoServer

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
API_DOC = ROOT / "docs" / "api.md"
GUIDE = ROOT / "docs" / "guide.md"
CLI_DOC = ROOT / "docs" / "cli.md"
RUN_DOCS = (README, GUIDE)
PLACEHOLDER = "127.0.0.1:8080"
_FENCE = re.compile(r"^```(?:python|py)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_EXAMPLE_URL = re.compile(r"(?:http|ws)://127\.0\.0\.1:8080(/[^\s\"'`?)]*)")

# Blocks that need something outside this machine's reach, found by a line they contain.
_NEEDS_OUTSIDE = {
    'proxy="http://proxy.internal:3128"': "needs an HTTP proxy at proxy.internal",
    'ssl.create_default_context(cafile="internal-ca.pem")': (
        "needs a private CA, a client certificate and an https server at internal.example"
    ),
}

# Files the examples read, made in the example's working directory.
_INPUT_FILES = {"big.iso": 3 * 2**20, "report.pdf": 100 * 1024}

# Runs one example in a fresh interpreter: argv is the file, its name and the server URL.
# Objects left unclosed warn in a finaliser, where an error cannot propagate: the hook
# collects them, and the exit status says so.
_RUNNER = r"""
import ast, asyncio, gc, sys
import hyperclient
path, name, base = sys.argv[1:4]
leaks = []
sys.unraisablehook = lambda u: leaks.append(f"{u.err_msg or 'unraisable'}: {u.exc_value!r}")
with open(path, encoding="utf-8") as f:
    source = f.read()
code = compile(source, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
namespace = {"__name__": "__main__", "asyncio": asyncio, "hyperclient": hyperclient}
if "asyncio.run(" in source:
    result = eval(code, namespace)
    if asyncio.iscoroutine(result):
        asyncio.run(result)
else:
    async def main():
        async with hyperclient.ClientSession() as session:
            namespace.update(session=session, url=base + "/hello")
            result = eval(code, namespace)
            if asyncio.iscoroutine(result):
                await result
    asyncio.run(main())
namespace.clear()
gc.collect()
if leaks:
    sys.exit("left open:\n" + "\n".join(leaks))
"""


def _blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, code) of each fenced python block of a Markdown file."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m[1]) for m in _FENCE.finditer(text)]


def readme_blocks() -> list[tuple[int, str]]:
    """(line number, code) of each fenced python block of the README."""
    return _blocks(README)


def _examples() -> list[tuple[str, str]]:
    return [
        (f"{path.relative_to(ROOT)}:{line}", code)
        for path in RUN_DOCS
        for line, code in _blocks(path)
    ]


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    """``python -m hyperclient._demo_server`` on a free port, for the module."""
    server = DemoServer()
    try:
        yield server.url
    finally:
        server.stop()


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


@pytest.mark.parametrize(("name", "code"), _examples(), ids=[n for n, _ in _examples()])
def test_example_runs_against_the_demo_server(
    name: str, code: str, demo_url: str, tmp_path: Path
) -> None:
    for needle, reason in _NEEDS_OUTSIDE.items():
        if needle in code:
            compile(code, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)  # at least
            pytest.skip(reason)
    for filename, size in _INPUT_FILES.items():
        (tmp_path / filename).write_bytes(bytes(range(256)) * (size // 256))
    script = tmp_path / "example.py"
    script.write_text(code.replace(PLACEHOLDER, demo_url.split("://", 1)[1]), encoding="utf-8")
    argv = [sys.executable, "-W", "error::ResourceWarning", "-c", _RUNNER, str(script), name]
    try:
        result = subprocess.run(
            [*argv, demo_url],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=tmp_path, timeout=20, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace")
        pytest.fail(f"{name} did not finish in {exc.timeout} s:\n{output}", pytrace=False)
    output = result.stdout.decode(errors="replace")
    assert result.returncode == 0, f"{name} failed:\n{output}"
    assert "Task was destroyed" not in output, f"{name} left a task pending:\n{output}"


def test_every_example_skipped_is_still_there() -> None:
    code = "".join(block for _, block in _examples())
    stale = [needle for needle in _NEEDS_OUTSIDE if needle not in code]
    assert not stale, f"_NEEDS_OUTSIDE names blocks that no longer exist: {stale}"


async def test_every_example_url_is_a_route_of_the_demo_server(demo_url: str) -> None:
    paths = set()
    for doc in (README, GUIDE, CLI_DOC):
        paths.update(_EXAMPLE_URL.findall(doc.read_text(encoding="utf-8")))
    assert {"/json", "/big", "/echo", "/ws"} <= paths
    async with hyperclient.ClientSession() as session:
        statuses: dict[str, int] = {}
        for path in sorted(paths):
            # HEAD, since /big is 64 MiB; /ws answers a request that is no handshake with 400.
            async with session.head(demo_url + path) as resp:
                statuses[path] = resp.status
    missing = [path for path, status in statuses.items() if status == 404]
    assert not missing, f"example URLs the demo server does not serve: {missing}"
