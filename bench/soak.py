"""Soak test: many keep-alive requests plus connection churn; watch RSS and errors.

    python bench/soak.py                                  # 1,000,000 requests + 10,000 churns
    python bench/soak.py --requests 100000 --churns 2000  # shorter
    python bench/soak.py --client aiohttp                 # same run against aiohttp

The work is split into ten equal slices; each slice runs its share of
keep-alive GETs (one session, ``--concurrency`` connections) and of
new-connection GETs (a second session with ``force_close=True``).  RSS
(VmRSS), peak RSS (VmHWM), open file descriptors and live asyncio tasks are
printed at the start, after every slice (10 %) and at the end.  Exit status is
1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from common import CLIENT_CPU, SMALL_BODY, SMALL_PATH, SRC_DIR, raise_nofile
from run import Server, nginx_version, start_nginx, start_python_server


def proc_status() -> dict[str, int]:
    out: dict[str, int] = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def snapshot(label: str, done_req: int, done_churn: int, errors: int, t0: float) -> dict[str, Any]:
    status = proc_status()
    row = {
        "at": label,
        "requests": done_req,
        "churns": done_churn,
        "errors": errors,
        "rss_mib": status.get("VmRSS", 0) / 1024,
        "peak_mib": status.get("VmHWM", 0) / 1024,
        "fds": len(os.listdir("/proc/self/fd")),
        "tasks": len(asyncio.all_tasks()),
        "elapsed_s": time.perf_counter() - t0,
    }
    print(
        f"{label:>5}  req {done_req:>9,}  churn {done_churn:>7,}  err {errors:>5}  "
        f"RSS {row['rss_mib']:7.1f} MiB  peak {row['peak_mib']:7.1f} MiB  "
        f"fds {row['fds']:>5}  tasks {row['tasks']:>4}  {row['elapsed_s']:7.1f} s",
        flush=True,
    )
    return row


async def soak(mod: ModuleType, url: str, args: argparse.Namespace) -> int:
    errors = 0
    samples: list[str] = []

    def fail(exc: BaseException) -> None:
        nonlocal errors
        errors += 1
        text = f"{type(exc).__name__}: {exc}"[:200]
        if len(samples) < 5 and text not in samples:
            samples.append(text)

    async def run_many(session: Any, total: int, concurrency: int) -> None:
        remaining = total

        async def one_worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                try:
                    async with session.get(url) as resp:
                        body = await resp.read()
                        if resp.status != 200 or body != SMALL_BODY:
                            raise RuntimeError(f"bad response: {resp.status} {body[:40]!r}")
                except Exception as exc:
                    fail(exc)

        await asyncio.gather(*(one_worker() for _ in range(min(concurrency, max(total, 1)))))

    t0 = time.perf_counter()
    rows = [snapshot("start", 0, 0, 0, t0)]
    keep = mod.TCPConnector(limit=args.concurrency)
    churn = mod.TCPConnector(limit=args.concurrency, force_close=True)
    async with mod.ClientSession(connector=keep) as ka, mod.ClientSession(connector=churn) as nc:
        done_req = done_churn = 0
        for i in range(1, 11):
            req_target = args.requests * i // 10
            churn_target = args.churns * i // 10
            await run_many(ka, req_target - done_req, args.concurrency)
            await run_many(nc, churn_target - done_churn, args.concurrency)
            done_req, done_churn = req_target, churn_target
            rows.append(snapshot(f"{i * 10}%", done_req, done_churn, errors, t0))
    await asyncio.sleep(0.1)  # let closed transports finish
    rows.append(snapshot("end", done_req, done_churn, errors, t0))
    growth = rows[-1]["rss_mib"] - rows[1]["rss_mib"]
    print(f"RSS growth after the first 10 %: {growth:+.1f} MiB; errors: {errors}")
    for text in samples:
        print(f"  error: {text}")
    return 1 if errors else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--churns", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--client", default="hyperclient", choices=("hyperclient", "aiohttp"))
    parser.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"))
    parser.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    args = parser.parse_args()

    if SRC_DIR.is_dir():
        sys.path.insert(0, str(SRC_DIR))  # the working tree, as bench/run.py does
    try:
        mod = importlib.import_module(args.client)
        mod.ClientSession  # noqa: B018
        mod.TCPConnector  # noqa: B018
    except Exception as exc:
        raise SystemExit(f"{args.client} is not usable: {type(exc).__name__}: {exc}") from exc
    raise_nofile()
    if (os.cpu_count() or 1) > 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop

    with tempfile.TemporaryDirectory(prefix="hyperclient-soak-") as tmpdir:
        tmp = Path(tmpdir)
        use_nginx = args.server == "nginx" or (args.server == "auto" and nginx_version())
        server: Server = (
            start_nginx(tmp, 1024 * 1024)
            if use_nginx
            else start_python_server("server.py", ["--stream-size", "1048576"], tmp)
        )
        try:
            print(
                f"soak: {args.client} on {args.loop}, server {server.name}, "
                f"{args.requests:,} keep-alive requests + {args.churns:,} new connections, "
                f"concurrency {args.concurrency}",
                flush=True,
            )
            url = f"http://127.0.0.1:{server.port}{SMALL_PATH}"
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                rc = runner.run(soak(mod, url, args))
        finally:
            server.stop()
    sys.exit(rc)


if __name__ == "__main__":
    main()
