"""``make demo`` / ``python -m hyperclient.demo``: hyperclient in under a minute, offline.

Starts the bundled demo server (``hyperclient._demo_server``) in a subprocess on a free
local port, then runs the real ``hyperclient`` command against it, echoing each command
line as a newcomer would type it: a request with its response head, a few features
(redirects, compression, cookies), a download with a progress bar, 10,000 requests over
100 connections with a throughput summary, and a WebSocket exchange. It stops the server
and removes its temporary files whatever happens, and exits 0 only if every step worked.

``--quick`` (for CI) makes the download 5 MiB and the concurrent run 500 requests.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import IO, Any

from . import ClientSession

__all__ = ("main",)

_MiB = 2**20
_STEP_TIMEOUT = 120  # seconds; a step of the demo takes about one


class _Console:
    """Section titles and notes: rich on a terminal, plain text elsewhere."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._rich: Any = None
        isatty = getattr(stream, "isatty", None)
        if isatty is not None and isatty():  # rich honours NO_COLOR itself
            try:
                from rich.console import Console
            except ImportError:
                pass
            else:
                self._rich = Console(file=stream, highlight=False, soft_wrap=True)

    def title(self, text: str) -> None:
        if self._rich is not None:
            self._rich.print()
            self._rich.rule(f"[bold]{text}", align="left")
        else:
            self._stream.write(f"\n== {text} ==\n")
        self._stream.flush()

    def note(self, text: str) -> None:
        if self._rich is not None:
            from rich.markup import escape

            self._rich.print(f"[dim]{escape(text)}[/dim]")
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def command(self, text: str) -> None:
        if self._rich is not None:
            from rich.markup import escape

            self._rich.print(f"[bold green]$[/bold green] [bold]{escape(text)}[/bold]")
        else:
            self._stream.write(f"$ {text}\n")
        self._stream.flush()


class DemoFailed(Exception):
    """A step of the demo did not do what it should."""


class DemoServer:
    """The demo server in a subprocess that dies with us (it watches its stdin)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hyperclient._demo_server", "--watch-stdin"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"listening on (http://\S+) \(pid (\d+)\)", line)
        if match is None:
            self.stop()
            raise DemoFailed(f"the demo server did not start: {line!r}")
        self.url = match[1]
        self.pid = int(match[2])
        self.banner = line.strip()

    def stop(self) -> None:
        """Close its stdin (it exits by itself); terminate it if it lingers."""
        process = self.process
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if the server hangs
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


class Demo:
    """The steps of the demo, run against one server."""

    def __init__(self, console: _Console, server: DemoServer, workdir: str, quick: bool) -> None:
        self.console = console
        self.server = server
        self.workdir = workdir
        self.requests = 500 if quick else 10_000
        self.file_size = (5 if quick else 50) * _MiB

    def run(self, args: Sequence[str], *, stdin: str | None = None, expect: int = 0) -> None:
        """Run ``hyperclient ARGS`` as a real subprocess, showing the command line."""
        shown = shlex.join(["hyperclient", *args])
        if stdin is not None:
            escaped = stdin.replace("\n", "\\n")  # as printf reads it
            shown = f"printf {shlex.quote(escaped)} | {shown}"
        self.console.command(shown)
        sys.stdout.flush()
        # stdout and stderr are ours: on a terminal, the command shows its progress bars.
        result = subprocess.run(
            [sys.executable, "-m", "hyperclient", *args],
            input=stdin.encode() if stdin is not None else None,
            timeout=_STEP_TIMEOUT,
            check=False,
        )
        if result.returncode != expect:
            raise DemoFailed(f"'{shown}' exited with {result.returncode}, expected {expect}")

    def request(self) -> None:
        self.console.title("1. A request, with its response head (-i)")
        self.run(["-i", f"{self.server.url}/hello"])

    def features(self) -> None:
        self.console.title("2. Redirects (-L), compression (--compressed), cookies")
        url = self.server.url
        self.run(["-L", f"{url}/redirect/3"])
        self.run(["-I", "--compressed", f"{url}/gzip"])
        self.run(["-i", "-b", "flavour=oatmeal", f"{url}/cookie"])

    def download(self) -> None:
        size = self.file_size
        self.console.title(f"3. A {size // _MiB} MiB download with a progress bar (-o)")
        path = os.path.join(self.workdir, f"demo-{size // _MiB}MiB.bin")
        self.run(["-o", path, f"{self.server.url}/file?size={size}"])
        got = os.path.getsize(path)
        if got != size:
            raise DemoFailed(f"downloaded {got} bytes, expected {size}")
        self.console.note(f"saved {got:,} bytes to {path}")

    def concurrency(self) -> None:
        n = self.requests
        self.console.title(f"4. {n:,} requests over 100 connections (-Z)")
        self.console.note("[1-N] expands to N URLs, as in curl; -Z fetches them concurrently")
        self.run(["-Z", "--parallel-max", "100", f"{self.server.url}/hello?n=[1-{n}]"])

    def websocket(self) -> None:
        self.console.title("5. A WebSocket exchange (hyperclient ws)")
        url = self.server.url.replace("http://", "ws://", 1) + "/ws"
        if not hasattr(ClientSession, "ws_connect"):
            self.console.note("WebSocket client not available yet: skipped")
            return
        self.console.note("each line of stdin is sent; each message received is printed")
        self.run(["ws", "--linger", "0.5", url], stdin="hello\nfrom the hyperclient demo\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m hyperclient.demo", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smaller counts: 500 requests, a 5 MiB file"
    )
    args = parser.parse_args(argv)
    console = _Console(sys.stdout)
    started = time.perf_counter()
    console.title("hyperclient demo: everything runs locally, no network needed")
    console.command("python -m hyperclient._demo_server")
    server: DemoServer | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="hyperclient-demo-") as workdir:
            server = DemoServer()
            console.note(server.banner)
            demo = Demo(console, server, workdir, args.quick)
            for step in (
                demo.request,
                demo.features,
                demo.download,
                demo.concurrency,
                demo.websocket,
            ):
                step()
    except DemoFailed as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if server is not None:
            server.stop()
            console.note(f"\ndemo server (pid {server.pid}) stopped")
    console.title(f"Done in {time.perf_counter() - started:.1f} s. Next steps")
    for line in (
        "hyperclient --help                  every curl-like flag (docs/cli.md)",
        "python -m hyperclient._demo_server  this server, to experiment against",
        "docs/guide.md                       the user guide: sessions, streaming, auth, TLS...",
        "docs/api.md                         every public name",
    ):
        console.note(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
