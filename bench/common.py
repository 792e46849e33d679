"""Pieces shared by the benchmark orchestrator, servers, workers and soak test."""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
SRC_DIR = REPO_DIR / "src"

# Routes every HTTP server (nginx or bench/server.py) provides.
SMALL_BODY = b"hello, world!\n"
ONE_MIB = 1024 * 1024
SMALL_PATH = "/small"
MIB_PATH = "/1m"
STREAM_PATH = "/stream"
UPLOAD_PATH = "/upload"
SLOW_PATH = "/slow"  # bench/server.py only: answers after SLOW_DELAY seconds
SLOW_DELAY = 1.0
UPLOAD_REPLY = b"ok\n"

SERVER_CPU = "1"
CLIENT_CPU = "0"


def raise_nofile() -> int:
    """Raise RLIMIT_NOFILE to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def pin_prefix(cpu: str) -> list[str]:
    """Command prefix pinning a child to ``cpu``, or [] when pinning is impossible."""
    taskset = shutil.which("taskset")
    if taskset is None or (os.cpu_count() or 1) <= int(cpu):
        return []
    return [taskset, "-c", cpu]


def proc_cpu_seconds(pid: int) -> float | None:
    """utime+stime of a process from /proc/<pid>/stat, or None if unavailable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields resume after ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def system_busy_seconds() -> float | None:
    """CPU seconds all CPUs spent in user+nice+system+steal (from /proc/stat).

    irq/softirq are left out: loopback networking runs there and is not
    charged to any process, so it would blur the "other processes" figure.
    """
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()[1:]
    except OSError:
        return None
    user, nice, system = int(fields[0]), int(fields[1]), int(fields[2])
    steal = int(fields[7]) if len(fields) > 7 else 0
    return (user + nice + system + steal) / os.sysconf("SC_CLK_TCK")


def emit(obj: dict[str, Any]) -> None:
    """Write one JSON line to stdout and flush (child -> orchestrator protocol)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def worker_env() -> dict[str, str]:
    """Environment for child Python processes: the working tree's src/ first."""
    env = dict(os.environ)
    if SRC_DIR.is_dir():
        parts = [str(SRC_DIR)]
        if env.get("PYTHONPATH"):
            parts.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(parts)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


@dataclass(frozen=True, slots=True)
class Workload:
    """One benchmark scenario; ``kind`` selects the driver in bench/worker.py."""

    name: str
    title: str
    kind: str  # get | newconn | post | stream | ws | sessions | inflight
    _: KW_ONLY
    unit: str
    cpu_unit: str
    concurrency: int = 1
    path: str = SMALL_PATH
    method: str = "GET"
    size: int = 0  # WebSocket message size


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("small_c1", "small GET, keep-alive, c=1", "get", unit="req/s", cpu_unit="µs/req"),
        Workload(
            "small_c64",
            "small GET, keep-alive, c=64",
            "get",
            concurrency=64,
            unit="req/s",
            cpu_unit="µs/req",
        ),
        Workload(
            "get1m_c8", "1 MiB GET, c=8", "get", concurrency=8, path=MIB_PATH,
            unit="MB/s", cpu_unit="s/GB",
        ),
        Workload(
            "stream", "stream download, iter_chunked(64 KiB), c=1", "stream", path=STREAM_PATH,
            unit="MB/s", cpu_unit="s/GB",
        ),
        Workload(
            "post1m_c8", "1 MiB POST, c=8", "post", concurrency=8, path=UPLOAD_PATH,
            method="POST", unit="MB/s", cpu_unit="s/GB",
        ),
        Workload(
            "newconn_c8", "new connection per request, c=8", "newconn", concurrency=8,
            unit="req/s", cpu_unit="µs/req",
        ),
        Workload(
            "ws32_c1", "WebSocket echo 32 B, c=1", "ws", size=32, unit="msg/s",
            cpu_unit="µs/msg",
        ),
        Workload(
            "ws16k_c1", "WebSocket echo 16 KiB, c=1", "ws", size=16 * 1024, unit="MB/s",
            cpu_unit="µs/msg",
        ),
        Workload(
            "sessions", "session create+close", "sessions", unit="sessions/s",
            cpu_unit="µs/session",
        ),
        Workload(
            "inflight", "in-flight GETs (1 s server delay), peak RSS", "inflight", path=SLOW_PATH,
            unit="MiB RSS", cpu_unit="µs/req",
        ),
    )
}  # fmt: skip

HTTP_CLIENTS = ("hyperclient", "aiohttp", "httpx", "floor")
WS_CLIENTS = ("hyperclient", "aiohttp", "websockets", "floor")
ALL_CLIENTS = ("hyperclient", "aiohttp", "httpx", "floor", "websockets")


def applicable(client: str, workload: Workload) -> bool:
    if workload.kind == "ws":
        return client in WS_CLIENTS
    if workload.kind == "sessions":
        return client in ("hyperclient", "aiohttp", "httpx")
    return client in HTTP_CLIENTS
