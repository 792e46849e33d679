"""File uploads: hyperclient with sendfile, hyperclient reading the file, aiohttp.

POSTs one temporary file (64 MiB by default, in the page cache) N times to
``bench/server.py`` (which discards the body), server pinned to CPU 1, client to
CPU 0, default asyncio loop in the client. Each run is a fresh client process;
variants alternate, and the table shows the median of the runs::

    python bench/upload_file.py                  # 64 MiB x 20 posts, 5 runs per variant
    python bench/upload_file.py --mib 0.0625 --posts 2000   # 64 KiB files

Variants: ``hyperclient`` (sendfile, the default), ``hyperclient-read`` (the same
client with sendfile switched off: the file is read in 64 KiB pieces and written),
``aiohttp`` (``data=open(path, "rb")``). MB is 10^6 bytes, GB 10^9; CPU is the
client process's user+sys time (getrusage, all threads) over the measured posts.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    BENCH_DIR,
    CLIENT_CPU,
    SERVER_CPU,
    UPLOAD_PATH,
    emit,
    pin_prefix,
    proc_cpu_seconds,
    worker_env,
)

VARIANTS = ("hyperclient", "hyperclient-read", "aiohttp")
TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)  # Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(
    variant: str,
    url: str,
    path: str,
    posts: int,
    warmup: int,
    segment: int | None,
    congestion: str | None,
    sendfile_min: int | None,
) -> dict[str, Any]:
    """POST *path* to *url* *posts* times (after *warmup* posts) on one session."""
    if variant.startswith("hyperclient"):
        import hyperclient as client

        # The request module: hyperclient.request is the module-level function.
        request_module = importlib.import_module("hyperclient.request")
        request_module._USE_SENDFILE = variant == "hyperclient"  # type: ignore[attr-defined]
        if segment:
            request_module._SENDFILE_SEGMENT = segment  # type: ignore[attr-defined]
        if sendfile_min is not None:
            request_module._SENDFILE_MIN = sendfile_min  # type: ignore[attr-defined]
    else:
        import aiohttp as client  # type: ignore[no-redef]

    def make_socket(addr_info: Any) -> socket.socket:
        family, type_, proto = addr_info[:3]
        sock = socket.socket(family, type_, proto)
        assert congestion is not None
        sock.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, congestion.encode())
        return sock

    # Both clients take aiohttp 3.12's socket_factory: the congestion control is chosen
    # before connecting, so it runs from the first byte.
    connector = client.TCPConnector(socket_factory=make_socket) if congestion else None
    async with client.ClientSession(connector=connector) as session:

        async def post() -> None:
            with open(path, "rb") as fobj:  # noqa: ASYNC230 - opening a local file is instant
                async with session.post(url, data=fobj) as resp:
                    assert resp.status == 200, resp.status
                    await resp.read()

        for _ in range(warmup):
            await post()
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        for _ in range(posts):
            await post()
        cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    return {"cpu": cpu, "wall": wall}


def worker(args: argparse.Namespace) -> None:
    segment = int(args.segment_kib * 1024) if args.segment_kib else None
    sendfile_min = int(args.min_kib * 1024) if args.min_kib is not None else None
    result = asyncio.run(
        measure(
            args.worker,
            args.url,
            args.path,
            args.posts,
            args.warmup,
            segment,
            args.congestion,
            sendfile_min,
        )
    )
    emit(result)


def start_server(stderr: Any) -> tuple[subprocess.Popen[bytes], int]:
    cmd = [*pin_prefix(SERVER_CPU), sys.executable, str(BENCH_DIR / "server.py")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, env=worker_env())
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("bench/server.py did not start")
    return proc, int(json.loads(line)["port"])


def run_one(variant: str, url: str, path: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        *pin_prefix(CLIENT_CPU),
        sys.executable,
        __file__,
        "--worker",
        variant,
        "--url",
        url,
        "--path",
        path,
        "--posts",
        str(args.posts),
        "--warmup",
        str(args.warmup),
        "--segment-kib",
        str(args.segment_kib or 0),
        *(["--congestion", args.congestion] if args.congestion else []),
        *(["--min-kib", str(args.min_kib)] if args.min_kib is not None else []),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, env=worker_env())
    result: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=float, default=64.0, help="file size in MiB")
    parser.add_argument("--posts", type=int, default=20, help="measured posts per run")
    parser.add_argument("--warmup", type=int, default=2, help="posts before measuring")
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant (median)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--segment-kib", type=float, help="bytes per loop.sendfile call (default: the client's)"
    )
    parser.add_argument(
        "--min-kib", type=float, help="smallest file sent by sendfile (default: the client's)"
    )
    parser.add_argument(
        "--congestion",
        help="TCP congestion control of the client's connection (default: the system's;"
        " see net.ipv4.tcp_congestion_control)",
    )
    parser.add_argument("--json", help="also write the raw numbers here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    variants = args.variants.split(",")
    size = int(args.mib * 2**20)
    total = size * args.posts
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "upload.bin")
        with open(path, "wb") as fobj:
            fobj.write(os.urandom(size))
        Path(path).read_bytes()  # in the page cache before any run
        with open(os.path.join(tmp, "server.err"), "wb") as err:
            server, port = start_server(err)
        url = f"http://127.0.0.1:{port}{UPLOAD_PATH}"
        try:
            for _ in range(args.repeat):
                for variant in variants:  # alternate, so drift hits every variant alike
                    before = proc_cpu_seconds(server.pid)
                    result = run_one(variant, url, path, args)
                    after = proc_cpu_seconds(server.pid)
                    if before is not None and after is not None:
                        result["server_cpu"] = after - before
                    runs[variant].append(result)
        finally:
            server.terminate()
            server.wait()

    congestion = args.congestion or Path("/proc/sys/net/ipv4/tcp_congestion_control").read_text()
    print(
        f"{args.posts} POSTs of a {size / 2**20:g} MiB file per run, median of {args.repeat}"
        f" runs; client on CPU {CLIENT_CPU}, server on CPU {SERVER_CPU}; asyncio loop;"
        f" client TCP congestion control {congestion.strip()}"
    )
    print(f"{'variant':<18} {'MB/s':>8} {'client CPU s/GB':>16} {'server CPU s/GB':>16}")
    for variant, results in runs.items():
        mbps = statistics.median(total / r["wall"] / 1e6 for r in results)
        cpu = statistics.median(r["cpu"] / (total / 1e9) for r in results)
        server_cpu = [r["server_cpu"] / (total / 1e9) for r in results if "server_cpu" in r]
        srv = f"{statistics.median(server_cpu):16.3f}" if server_cpu else f"{'—':>16}"
        print(f"{variant:<18} {mbps:8.0f} {cpu:16.3f} {srv}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
