"""``python -m hyperclient.demo --quick``: the newcomer's first command, run for real."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def demo_output() -> str:
    """Run the quick demo once for the module; its stdout and stderr, interleaved."""
    result = subprocess.run(
        [sys.executable, "-m", "hyperclient.demo", "--quick"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=55,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout
    return result.stdout


def test_demo_shows_every_section(demo_output: str) -> None:
    for expected in (
        "$ python -m hyperclient._demo_server",
        "== 1. A request, with its response head (-i) ==",
        "== 3. A 5 MiB download with a progress bar (-o) ==",
        "saved 5,242,880 bytes to ",
        "== 4. 500 requests over 100 connections (-Z) ==",
        "500 requests, 0 errors in ",
        "== 5. A WebSocket exchange (hyperclient ws) ==",
        "Next steps",
    ):
        assert expected in demo_output
    assert re.search(r"^\$ hyperclient -i http://127\.0\.0\.1:\d+/hello$", demo_output, re.M)
    assert "HTTP/1.1 200 OK" in demo_output
    assert "Content-Encoding: gzip" in demo_output
    assert "Set-Cookie: demo=chocolate-chip" in demo_output
    # The WebSocket step either ran (the echo came back) or said why it was skipped.
    assert (
        "from the hyperclient demo\n" in demo_output
        or "WebSocket client not available yet" in demo_output
    )


def test_demo_leaves_no_server_behind(demo_output: str) -> None:
    match = re.search(r"listening on http://127\.0\.0\.1:(\d+) \(pid (\d+)\)", demo_output)
    assert match is not None
    port, pid = int(match[1]), int(match[2])
    assert f"demo server (pid {pid}) stopped" in demo_output
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


def test_demo_server_stops_when_its_stdin_closes() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hyperclient._demo_server", "--watch-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().startswith("listening on http://127.0.0.1:")
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_cli_and_demo_import_no_other_http_library() -> None:
    code = (
        "import sys, hyperclient.cli, hyperclient.demo, hyperclient._demo_server\n"
        "print(sorted(m for m in ('aiohttp', 'httpx', 'h11', 'httptools') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert out.strip() == "[]"
