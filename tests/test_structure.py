"""The package's shape: our own engine, explicit exports, imports flowing one way."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import hyperclient

SRC = pathlib.Path(hyperclient.__file__).parent

#: STYLE.md §3, left to right: a module may import only modules of its own or an earlier rank.
RANKS: dict[str, int] = {
    "values": 0,
    "typedefs": 0,
    "awaitables": 0,
    "errors": 1,
    "http1": 2,
    "ws_frames": 2,
    "ws_handshake": 2,
    "cookies": 2,
    "auth": 2,
    "proxy": 2,
    "socks": 2,
    "compression": 2,
    "formdata": 2,
    "fieldvalues": 2,
    "multipart": 2,
    "payload": 2,
    "streams": 3,
    "protocol": 4,
    "resolver": 3,
    "tls": 3,
    "timers": 3,
    "filereads": 3,
    "pool": 5,
    "tracing": 5,
    "progress": 5,
    "connector": 6,
    "response": 7,
    "request": 8,
    "websocket": 9,
    "client_middlewares": 9,
    "client_middleware_digest_auth": 9,
    "client": 10,
    "__init__": 11,
    "cli": 12,
    "demo": 12,
    "_demo_server": 12,
    "__main__": 13,
    # aiohttp-compatible facades (issue 10): re-exports only, after everything else.
    "abc": 11,
    "client_exceptions": 11,
    "cookiejar": 11,
    "hdrs": 1,
    "helpers": 11,
    "client_reqrep": 11,
    "client_ws": 11,
    "http": 11,
    "http_websocket": 11,
    "web_exceptions": 11,
}

PURE = {"http1", "ws_frames", "ws_handshake", "cookies", "auth", "proxy", "socks",
        "compression", "formdata", "fieldvalues", "multipart", "payload", "errors",
        "values"}  # fmt: skip

FORBIDDEN = ["aiohttp", "httpx", "h11", "httptools", "requests", "urllib3", "httpcore"]


def test_no_other_http_client_is_imported_at_runtime() -> None:
    code = (
        "import sys, json, hyperclient, hyperclient.client, hyperclient.connector;"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    modules = json.loads(out)
    leaked = [m for m in modules if m.split(".")[0] in FORBIDDEN]
    assert leaked == []


def test_all_is_explicit_and_complete() -> None:
    assert len(hyperclient.__all__) == len(set(hyperclient.__all__))
    for name in hyperclient.__all__:
        assert hasattr(hyperclient, name), name
    public = {n for n in vars(hyperclient) if not n.startswith("_")} - {"annotations"}
    modules = {n for n, v in vars(hyperclient).items() if type(v) is type(sys)}
    assert public - modules - set(hyperclient.__all__) == set()


#: Imports against that order made for annotations only, under ``if TYPE_CHECKING:`` (never
#: run): a type that is a live object made further up (a response, the session) cannot
#: move down to ``values`` as a value type can. Each one is named here on purpose.
ANNOTATION_ONLY = {
    ("errors", "response"),  # ClientResponseError.history: tuple[ClientResponse, ...]
    ("tracing", "client"),  # trace callbacks take the ClientSession, as aiohttp types them
    ("tracing", "response"),  # TraceRequestEndParams.response
}


def _is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` tests ``TYPE_CHECKING`` (or ``typing.TYPE_CHECKING``)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST) -> set[str]:
    """Our modules that the import statement *node* names (none for other nodes)."""
    found: set[str] = set()
    if isinstance(node, ast.ImportFrom) and node.level == 1:
        if node.module:
            found.add(node.module.split(".")[0])
        else:
            # `from . import x`: a submodule if one is named so, else the package itself.
            for alias in node.names:
                is_module = (SRC / f"{alias.name}.py").exists()
                found.add(alias.name if is_module else "__init__")
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if node.module.startswith("hyperclient."):
            found.add(node.module.split(".")[1])
        elif node.module == "hyperclient":
            found.add("__init__")
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.startswith("hyperclient."):
                found.add(alias.name.split(".")[1])
    return found


def _imports(path: pathlib.Path) -> tuple[set[str], set[str]]:
    """Our modules that *path* imports: at run time, and under ``if TYPE_CHECKING:`` only."""
    tree = ast.parse(path.read_text())
    annotation_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    runtime: set[str] = set()
    typing_only: set[str] = set()
    for node in ast.walk(tree):
        (typing_only if id(node) in annotation_only else runtime).update(_imported(node))
    return runtime, typing_only - runtime


def test_imports_flow_one_way() -> None:
    problems = []
    allowed_used = set()
    for path in sorted(SRC.glob("*.py")):
        name = path.stem
        assert name in RANKS, f"module {name} has no rank in STYLE order; add it here"
        runtime, typing_only = _imports(path)
        for dep in runtime:
            if RANKS.get(dep, 99) > RANKS[name]:
                problems.append(f"{name} imports {dep}")
        for dep in typing_only:
            if RANKS.get(dep, 99) > RANKS[name]:
                if (name, dep) in ANNOTATION_ONLY:
                    allowed_used.add((name, dep))
                else:
                    problems.append(f"{name} imports {dep} (for annotations)")
    assert problems == []
    assert allowed_used == ANNOTATION_ONLY  # no stale allowance


def test_pure_modules_never_import_asyncio() -> None:
    for name in PURE:
        path = SRC / f"{name}.py"
        if not path.exists():
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "asyncio" for n in names), f"{name} imports asyncio"
