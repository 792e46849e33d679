"""Run real aiohttp client libraries' own test suites on aiohttp, then on hyperclient.

For each library below: make a venv under ``.compat/<lib>/venv`` with the library at a
pinned version, aiohttp and its test dependencies; fetch its tests from its source
distribution (``pip download --no-binary :all: --no-deps``) into ``.compat/<lib>/src``;
run the selected tests twice, once on real aiohttp (baseline) and once with aiohttp's
client swapped for hyperclient (``compat/compat_swap.py``, loaded as ``-p compat_swap``
with ``src`` on ``PYTHONPATH``, so the working tree is what is tested); print a table.
Nothing of those projects is committed: everything lives in ``.compat/`` (gitignored)
and is recreated on demand.  Venvs are reused while their requirement list is unchanged.

Usage: ``python compat/run.py [--only gql,geopy] [--timeout 240] [--show-failures]``.
Exit status is 1 when a test passes on aiohttp but not on hyperclient.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import venv
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".compat"
AIOHTTP = "aiohttp==3.14.5"


@dataclasses.dataclass(frozen=True)
class Library:
    name: str  # the PyPI name
    version: str
    install: tuple[str, ...]  # requirements besides the library itself
    tests: tuple[str, ...]  # test paths inside the sdist
    swap: str  # "client": keep aiohttp.web for the tests' servers; "full": no aiohttp left
    extra_args: tuple[str, ...] = ()
    why: str = ""
    # Tests known to fail on hyperclient only, with the reason (test id -> why); they are
    # reported but do not fail the run.
    known: dict[str, str] = dataclasses.field(default_factory=dict)
    from_sdist: tuple[str, ...] = ()  # directories in the sdist to pip install (test servers)

    @property
    def slug(self) -> str:
        return self.name.replace("-", "_").lower()


LIBRARIES = (
    Library(
        name="gql",
        version="4.4.0",
        install=(
            "gql[aiohttp,websockets]==4.4.0",
            "parse==1.20.2",
            "packaging",
            "pytest==9.1.1",
            "pytest-asyncio==1.4.0",
            "pytest-console-scripts==1.4.1",
            "vcrpy==8.2.1",
            "aiofiles",
        ),
        # Every aiohttp test module except the online ones (they need the internet):
        # HTTP queries, batching, file uploads, and the aiohttp WebSocket transport
        # against aiohttp.web and `websockets` servers.
        tests=(
            "tests/test_aiohttp.py",
            "tests/test_aiohttp_batch.py",
            "tests/test_aiohttp_multipart.py",
            "tests/test_aiohttp_websocket_exceptions.py",
            "tests/test_aiohttp_websocket_graphqlws_exceptions.py",
            "tests/test_aiohttp_websocket_graphqlws_subscription.py",
            "tests/test_aiohttp_websocket_query.py",
            "tests/test_aiohttp_websocket_subscription.py",
        ),
        swap="client",
        known={
            "tests.test_aiohttp_websocket_subscription::test_subscribe_on_closing_transport": (
                "the test sets aiohttp's private ws._writer._closing to fake a closing "
                "socket; hyperclient's writer has no such flag"
            ),
            "tests.test_aiohttp_websocket_subscription::"
            "test_aiohttp_websocket_subscription_sync_graceful_shutdown": (
                "timing: the server (another thread) ends the countdown and closes while the "
                "sync client is paused; hyperclient answers a close frame on arrival (RFC 6455 "
                "5.5.1, as websockets does), aiohttp only once the app reads CLOSE, so gql's "
                "late 'stop' send fails instead of going to a closing peer"
            ),
        },
        why="GraphQL client; AIOHTTPTransport and AIOHTTPWebsocketsTransport tested "
        "against in-process aiohttp.web and websockets servers",
    ),
    Library(
        name="elastic-transport",
        version="9.4.2",
        install=(
            "elastic-transport==9.4.2",
            "pytest==9.1.1",
            "pytest-asyncio==1.4.0",
            "pytest-mock",
            "pytest-httpbin==2.1.0",
            "pytest-httpserver",
            "trustme",
            "requests",
            "httpx",
            "respx",
            "anyio",
            "orjson",
        ),
        # AiohttpHttpNode's tests (argument mapping and requests against a local
        # pytest-httpbin server, TLS fingerprints) and the TLS server test; the
        # TLS-version tests need badssl.com and the rest of the suite is not aiohttp.
        tests=(
            "tests/node/test_http_aiohttp.py",
            "tests/async_/test_httpserver.py",
            "tests/node/test_tls_versions.py::test_ssl_version_value_error",
        ),
        swap="full",
        extra_args=("-o", "addopts="),  # the sdist's addopts want pytest-cov
        why="Elasticsearch's transport; AiohttpHttpNode is its default async node; "
        "tests run pytest-httpbin (WSGI) and a stdlib TLS server",
    ),
    Library(
        name="geopy",
        version="2.5.0",
        install=("geopy[aiohttp]==2.5.0", "pytest==9.1.1", "pytest-asyncio==1.4.0"),
        # The adapter tests, run for the AioHTTPAdapter only (the others are requests and
        # urllib): JSON, errors, timeouts and HTTP/HTTPS proxies against local servers.
        tests=("test/adapters/",),
        swap="full",
        extra_args=("--skip-tests-requiring-internet", "-k", "AioHTTP"),
        why="geocoding; AioHTTPAdapter tested against stdlib HTTP and proxy servers",
    ),
    Library(
        name="azure-core",
        version="1.41.0",
        install=(
            "azure-core[aio]==1.41.0",
            "pytest==9.1.1",
            "pytest-asyncio==1.4.0",
            "requests",
            "flask==2.2.5",
            "werkzeug<3",
            "packaging",
            "opentelemetry-api",
            "opentelemetry-sdk",
        ),
        from_sdist=("tests/testserver_tests/coretestserver",),
        # The async tests whose transport is AioHttpTransport, against the suite's Flask
        # test server (started in a subprocess by its conftest); the backcompat module is
        # left out because it needs pytest-trio for its trio half.
        tests=(
            "tests/async_tests/test_basic_transport_async.py",
            "tests/async_tests/test_rest_http_response_async.py",
            "tests/async_tests/test_rest_headers_async.py",
            "tests/async_tests/test_stream_generator_async.py",
            "tests/async_tests/test_testserver_async.py",
        ),
        swap="full",
        # Unclosed-session warnings from the suite's own fixtures turn into errors on
        # aiohttp as well; they are not what is being compared.
        # setup.cfg has no pytest section: naming it keeps pytest from climbing up to
        # hyperclient's own pyproject.toml and its settings.
        extra_args=("-c", "setup.cfg", "-W", "ignore::pytest.PytestUnraisableExceptionWarning"),
        known={
            "tests.async_tests.test_basic_transport_async::test_aiohttp_timeout_response": (
                "the test mock.patch.object()es aiohttp's internal ClientResponse.start, "
                "which hyperclient's response does not have"
            ),
        },
        why="Azure SDK core; AioHttpTransport is its default async transport; tests run a "
        "Flask server",
    ),
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(cmd: list[str]) -> None:
    """Run a set-up command quietly; show its output only if it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        log(done.stdout + done.stderr)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}")


def prepare(lib: Library) -> tuple[Path, Path]:
    """Return (venv python, unpacked sdist), creating either when missing or stale."""
    base = WORK / lib.slug
    env = base / "venv"
    python = env / "bin" / "python"
    pip = [str(python), "-m", "pip"]
    src = base / "src" / f"{lib.slug}-{lib.version}"
    stamp = env / ".requirements"
    wanted = "\n".join((AIOHTTP, "pytest-timeout==2.4.0", *lib.install, *lib.from_sdist)) + "\n"
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        log(f"[{lib.name}] creating {env.relative_to(ROOT)}")
        shutil.rmtree(env, ignore_errors=True)
        venv.create(env, with_pip=True)
        run([*pip, "install", "-q", "--upgrade", "pip"])
        run([*pip, "install", "-q", AIOHTTP, "pytest-timeout==2.4.0", *lib.install])
        stamp.unlink(missing_ok=True)
    if not src.exists():
        log(f"[{lib.name}] fetching the {lib.version} sdist")
        dl = base / "download"
        shutil.rmtree(dl, ignore_errors=True)
        shutil.rmtree(base / "src", ignore_errors=True)
        requirement = f"{lib.name}=={lib.version}"
        run(
            [
                *pip,
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                "-d",
                str(dl),
                requirement,
            ]
        )
        (archive,) = dl.glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(base / "src", filter="data")
        (unpacked,) = (p for p in (base / "src").iterdir() if p.is_dir())
        if unpacked != src:
            unpacked.rename(src)
    if not stamp.exists():
        for local in lib.from_sdist:  # test helpers shipped inside the sdist
            run([*pip, "install", "-q", str(src / local)])
        stamp.write_text(wanted)
    return python, src


@dataclasses.dataclass
class Outcome:
    passed: set[str] = dataclasses.field(default_factory=set)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # id -> first line
    skipped: int = 0
    note: str = ""
    seconds: float = 0.0
    sessions: int = 0  # hyperclient.ClientSession instances the swapped run created


def run_suite(
    lib: Library, python: Path, src: Path, swapped: bool, timeout: float, per_test: int
) -> Outcome:
    label = "hyperclient" if swapped else "aiohttp"
    report = WORK / lib.slug / f"junit-{label}.xml"
    report.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHON"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # The suites run the libraries' console scripts (gql-cli) as subprocesses.
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
    cmd = [str(python), "-m", "pytest", *lib.tests, *lib.extra_args]
    cmd += ["-q", "-p", "no:cacheprovider", f"--timeout={per_test}", f"--junitxml={report}"]
    if swapped:
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "compat")])
        env["HYPERCLIENT_COMPAT_SWAP"] = lib.swap
        marker = WORK / lib.slug / "swap-marker.txt"
        marker.unlink(missing_ok=True)
        env["HYPERCLIENT_COMPAT_MARKER"] = str(marker)
        cmd += ["-p", "compat_swap"]
    log(f"[{lib.name}] {label}: {' '.join(cmd[1:])}")
    started = time.monotonic()
    out = WORK / lib.slug / f"output-{label}.txt"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            cmd, cwd=src, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout)
            note = ""
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            note = f"killed after {timeout:.0f} s"
    outcome = parse_junit(report) if report.exists() else Outcome()
    outcome.seconds = time.monotonic() - started
    if not report.exists() and not note:
        note = f"no report (exit {proc.returncode}), see {out.relative_to(ROOT)}"
    if swapped:
        marker = WORK / lib.slug / "swap-marker.txt"
        names, sessions = marker.read_text().split() if marker.exists() else ("0", "0")
        outcome.sessions = int(sessions)
        if not int(names) or not int(sessions):
            note = (note + "; " if note else "") + "the swap did not take effect"
    outcome.note = note
    return outcome


def parse_junit(report: Path) -> Outcome:
    outcome = Outcome()
    for case in ET.parse(report).iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        problem = next((c for c in case if c.tag in ("failure", "error")), None)
        if problem is not None:
            lines = (problem.get("message") or problem.tag).strip().splitlines()
            outcome.failed[name] = lines[0][:160] if lines else problem.tag
        elif any(c.tag == "skipped" for c in case):
            outcome.skipped += 1
        else:
            outcome.passed.add(name)
    return outcome


def _base_id(name: str) -> str:
    """A test id without its parameters: ``mod::test[x]`` -> ``mod::test``."""
    return name.split("[", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated library names")
    parser.add_argument("--timeout", type=float, default=240, help="seconds per suite run")
    parser.add_argument("--per-test-timeout", type=int, default=30)
    parser.add_argument("--show-failures", action="store_true", help="list every failure")
    args = parser.parse_args()
    chosen = [lib for lib in LIBRARIES if not args.only or lib.name in args.only.split(",")]
    rows = []
    regressions = 0
    for lib in chosen:
        python, src = prepare(lib)
        base = run_suite(lib, python, src, False, args.timeout, args.per_test_timeout)
        hyper = run_suite(lib, python, src, True, args.timeout, args.per_test_timeout)
        only_hyper = sorted(set(hyper.failed) - set(base.failed))
        regressions += len([name for name in only_hyper if _base_id(name) not in lib.known])
        rows.append((lib, base, hyper, only_hyper))

    print()
    header = f"{'library':<26}{'swap':<8}{'aiohttp pass/fail/skip':>24}"
    print(header + f"{'hyperclient pass/fail/skip':>28}  sessions  seconds")
    print("-" * (len(header) + 47))
    for lib, base, hyper, _ in rows:
        cells = [f"{len(o.passed)}/{len(o.failed)}/{o.skipped}" for o in (base, hyper)]
        secs = f"{base.seconds:.0f}+{hyper.seconds:.0f}"
        name = f"{lib.name}=={lib.version}"
        print(f"{name:<26}{lib.swap:<8}{cells[0]:>24}{cells[1]:>28}  {hyper.sessions:>8}  {secs}")
        for label, o in (("aiohttp", base), ("hyperclient", hyper)):
            if o.note:
                print(f"    {label}: {o.note}")
    print("(sessions: hyperclient.ClientSession instances the swapped run created)")
    for lib, base, hyper, only_hyper in rows:
        known = [name for name in only_hyper if _base_id(name) in lib.known]
        unknown = [name for name in only_hyper if _base_id(name) not in lib.known]
        if unknown:
            print(f"\n{lib.name}: failing on hyperclient only")
            for name in unknown:
                print(f"  {name}\n      {hyper.failed[name]}")
        if known:
            print(f"\n{lib.name}: known differences (failing on hyperclient only, by design)")
            for name in known:
                print(f"  {name}\n      {lib.known[_base_id(name)]}")
        if args.show_failures:
            for label, o in (("aiohttp", base), ("hyperclient", hyper)):
                for name in sorted(o.failed):
                    print(f"  [{label}] {name}\n      {o.failed[name]}")
        fixed = sorted(set(base.failed) - set(hyper.failed))
        if fixed:
            print(f"\n{lib.name}: failing on aiohttp only: {', '.join(fixed)}")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
