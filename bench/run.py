"""hyperclient benchmark harness.

Starts the servers (nginx, or bench/server.py when nginx is missing, plus the
WebSocket echo server) pinned to CPU 1, then runs every selected
(loop, workload, client) combination ``--repeat`` times, each in a fresh
bench/worker.py process pinned to CPU 0, and prints one markdown table per
event loop with the medians.  See bench/README.md.

    python bench/run.py                      # full run (~20 min)
    python bench/run.py --quick              # smoke test (~2 min)
    python bench/run.py --clients hyperclient,aiohttp --workloads small_c1,small_c64
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import queue
import resource
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from common import (
    ALL_CLIENTS,
    BENCH_DIR,
    CLIENT_CPU,
    MIB_PATH,
    ONE_MIB,
    SERVER_CPU,
    SLOW_PATH,
    SMALL_BODY,
    SMALL_PATH,
    STREAM_PATH,
    UPLOAD_PATH,
    UPLOAD_REPLY,
    WORKLOADS,
    Workload,
    applicable,
    pin_prefix,
    proc_cpu_seconds,
    system_busy_seconds,
    worker_env,
)

PYTHON = sys.executable
LOOPS = ("asyncio", "uvloop")

# --------------------------------------------------------------------------- #
# servers
# --------------------------------------------------------------------------- #


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on port {port} within {timeout} s")


def start_python_server(script: str, args: list[str], tmp: Path) -> Server:
    """Start bench/<script>, which prints {"port": ...} once listening."""
    log = tmp / f"{Path(script).stem}.log"
    cmd = [*pin_prefix(SERVER_CPU), PYTHON, str(BENCH_DIR / script), *args]
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=worker_env())
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline() if ready else b""
    if not line:
        proc.kill()
        raise RuntimeError(f"{script} failed to start: {log.read_text()[-2000:]}")
    port = int(json.loads(line)["port"])
    wait_listening(port, proc)
    return Server(Path(script).stem, proc, port, log)


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile {nofile};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{
    worker_connections {connections};
    multi_accept on;
}}
http {{
    access_log off;
    log_not_found off;
    server_tokens off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {tmp}/www;
        location = {small} {{
            default_type text/plain;
            return 200 "{small_body}";
        }}
        # POST: the mirror module reads the whole request body (precontent
        # phase) before the static handler refuses POST with 405, which
        # error_page turns into a 200 with a tiny body.
        location = {upload} {{
            client_max_body_size 2m;
            client_body_buffer_size 2m;
            mirror /_drain;
            mirror_request_body on;
            error_page 405 =200 /_ok;
        }}
        location = /_drain {{
            internal;
            return 204;
        }}
        location = /_ok {{
            internal;
            default_type text/plain;
            return 200 "{upload_reply}";
        }}
    }}
}}
"""


def nginx_escape(body: bytes) -> str:
    return body.decode().replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def start_nginx(tmp: Path, stream_size: int) -> Server:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    www = tmp / "www"
    www.mkdir()
    (www / MIB_PATH.lstrip("/")).write_bytes(os.urandom(ONE_MIB))
    with (www / STREAM_PATH.lstrip("/")).open("wb") as fh:
        for _ in range(stream_size // ONE_MIB):
            fh.write(os.urandom(ONE_MIB))
        fh.write(os.urandom(stream_size % ONE_MIB))
    (www / UPLOAD_PATH.lstrip("/")).write_bytes(b"")  # exists, so POST gets 405
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            tmp=tmp,
            port=port,
            nofile=nofile,
            connections=max(1024, nofile - 100),
            small=SMALL_PATH,
            small_body=nginx_escape(SMALL_BODY),
            upload=UPLOAD_PATH,
            upload_reply=nginx_escape(UPLOAD_REPLY),
        )
    )
    log = tmp / "nginx-stderr.log"
    cmd = [*pin_prefix(SERVER_CPU), nginx, "-p", str(tmp), "-e", str(log), "-c", str(conf)]
    with log.open("ab") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_listening(port, proc)
    except RuntimeError as exc:
        proc.kill()
        raise RuntimeError(f"nginx: {exc}: {log.read_text()[-2000:]}") from exc
    return Server("nginx", proc, port, log)


def nginx_version() -> str | None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        return None
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")


def install_nginx() -> None:
    if nginx_version() is not None:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print("nginx missing and cannot install it (needs root + apt-get)", file=sys.stderr)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "nginx"]
    if subprocess.run(cmd, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        subprocess.run(cmd, env=env, check=False)


# --------------------------------------------------------------------------- #
# route self-check
# --------------------------------------------------------------------------- #


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    body = bytearray(rest)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed before response body")
        body += chunk
    if len(body) != length:
        raise RuntimeError("response longer than Content-Length")
    return status, bytes(body)


def check_http_server(port: int, stream_size: int, slow: bool = False) -> list[str]:
    """Verify the routes on one keep-alive connection; return warnings."""
    warnings: list[str] = []
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        gets = [(SMALL_PATH, len(SMALL_BODY)), (MIB_PATH, ONE_MIB), (STREAM_PATH, stream_size)]
        if slow:
            gets.append((SLOW_PATH, len(SMALL_BODY)))
        for path, size in gets:
            sock.sendall(f"GET {path} HTTP/1.1\r\n".encode() + host + b"\r\n")
            status, body = read_response(sock)
            if status != 200 or len(body) != size:
                raise RuntimeError(f"GET {path}: status {status}, {len(body)} bytes, want {size}")
        # The server must read the whole 1 MiB body before it answers.
        payload = os.urandom(ONE_MIB)
        sock.sendall(
            f"POST {UPLOAD_PATH} HTTP/1.1\r\nContent-Length: {ONE_MIB}\r\n".encode()
            + host
            + b"\r\n"
            + payload[: ONE_MIB // 2]
        )
        early, _, _ = select.select([sock], [], [], 0.3)
        if early:
            warnings.append("server answers POST /upload before reading the whole body")
        sock.sendall(payload[ONE_MIB // 2 :])
        status, body = read_response(sock)
        if status != 200 or body != UPLOAD_REPLY:
            raise RuntimeError(f"POST {UPLOAD_PATH}: status {status}, body {body[:40]!r}")
        # Still in sync after the upload (body fully consumed, keep-alive intact).
        sock.sendall(f"GET {SMALL_PATH} HTTP/1.1\r\n".encode() + host + b"\r\n")
        status, body = read_response(sock)
        if status != 200 or body != SMALL_BODY:
            raise RuntimeError("keep-alive broken after POST")
    return warnings


# --------------------------------------------------------------------------- #
# one worker run
# --------------------------------------------------------------------------- #


@dataclass
class Settings:
    duration: float
    warmup: float
    repeat: int
    inflight: int
    stream_size: int
    inflight_timeout: float
    http_url: str = ""
    slow_url: str = ""
    ws_url: str = ""


def _pump(stream: IO[bytes], out: queue.Queue[bytes | None]) -> None:
    for line in stream:
        out.put(line)
    out.put(None)


def run_worker(
    client: str, loop: str, wl: Workload, server: Server | None, cfg: Settings, tmp: Path
) -> dict[str, Any]:
    url = cfg.slow_url if wl.kind == "inflight" else cfg.http_url
    cmd = [
        *pin_prefix(CLIENT_CPU), PYTHON, str(BENCH_DIR / "worker.py"),
        "--client", client, "--loop", loop, "--workload", wl.name,
        "--url", url, "--ws-url", cfg.ws_url,
        "--duration", str(cfg.duration), "--warmup", str(cfg.warmup),
        "--stream-size", str(cfg.stream_size), "--inflight", str(cfg.inflight),
    ]  # fmt: skip
    base: dict[str, Any] = {"client": client, "loop": loop, "workload": wl.name}
    if server is not None and not server.alive():
        return {**base, "status": "error", "reason": f"{server.name} server is not running"}
    timeout = cfg.warmup + cfg.duration + (cfg.inflight_timeout if wl.kind == "inflight" else 90)
    err_path = tmp / "worker-stderr.log"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=worker_env())
    assert proc.stdout is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + timeout
    marks: dict[str, tuple[float, float | None, float | None]] = {}
    result: dict[str, Any] | None = None
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            proc.kill()
            result = {
                "status": "error",
                "reason": f"worker timed out after {timeout:.0f} s",
                "timeout": True,
            }
            break
        if line is None:
            break
        now = time.monotonic()
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if "event" in obj:
            srv_cpu = proc_cpu_seconds(server.pid) if server else None
            marks[obj["event"]] = (now, srv_cpu, system_busy_seconds())
        else:
            result = obj
    proc.wait()
    if result is None:
        tail = err_path.read_text(errors="replace")[-1500:]
        result = {"status": "error", "reason": f"worker exited {proc.returncode}: {tail}"}
    result = {**base, **result}
    if "start" in marks and "end" in marks:
        (t0, c0, s0), (t1, c1, s1) = marks["start"], marks["end"]
        if t1 > t0:
            srv = (c1 - c0) if c0 is not None and c1 is not None else 0.0
            if c0 is not None and c1 is not None:
                result["server_cpu_pct"] = 100.0 * srv / (t1 - t0)
            if s0 is not None and s1 is not None and "cpu" in result:
                # Everything else on the machine: other processes (and this one).
                other = (s1 - s0) - srv - float(result["cpu"])
                result["background_cpu_pct"] = max(0.0, 100.0 * other / (t1 - t0))
    if result["status"] == "ok":
        add_metrics(wl, result)
    return result


def add_metrics(wl: Workload, r: dict[str, Any]) -> None:
    count, nbytes, cpu, elapsed = r["count"], r["bytes"], r["cpu"], r["elapsed"]
    if wl.kind == "inflight":
        r["throughput"] = r["peak_rss_kib"] / 1024
        r["cpu_per_unit"] = cpu / count * 1e6 if count else None
    elif wl.unit == "MB/s":
        r["throughput"] = nbytes / elapsed / 1e6
        if wl.kind == "ws":
            r["cpu_per_unit"] = cpu / count * 1e6 if count else None
        else:
            r["cpu_per_unit"] = cpu / (nbytes / 1e9) if nbytes else None
    else:
        r["throughput"] = count / elapsed
        r["cpu_per_unit"] = cpu / count * 1e6 if count else None


# --------------------------------------------------------------------------- #
# aggregation and report
# --------------------------------------------------------------------------- #


@dataclass
class Cell:
    status: str  # ok | n/a | error | skip
    reason: str = ""
    throughput: float | None = None
    cpu: float | None = None
    server_cpu: float | None = None
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    runs: int = 0


def median(values: list[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.median(clean) if clean else None


def aggregate(runs: list[dict[str, Any]]) -> Cell:
    if not runs:
        return Cell("skip")
    for r in runs:
        if r["status"] == "n/a":
            return Cell("n/a", r.get("reason", ""))
    ok = [r for r in runs if r["status"] == "ok"]
    errors = sum(int(r.get("errors", 0)) for r in runs)
    samples: list[str] = []
    for r in runs:
        for s in r.get("error_samples", []):
            if s not in samples:
                samples.append(s)
    failed = [r for r in runs if r["status"] != "ok"]
    if not ok:
        return Cell("error", failed[0].get("reason", ""), errors=errors, error_samples=samples)
    cell = Cell(
        "ok",
        throughput=median([r["throughput"] for r in ok]),
        cpu=median([r["cpu_per_unit"] for r in ok]),
        server_cpu=median([r.get("server_cpu_pct") for r in ok]),
        errors=errors + len(failed),
        error_samples=samples + [f.get("reason", "")[:200] for f in failed],
        runs=len(ok),
    )
    if not any(r["count"] for r in ok):
        cell.status = "error"
        cell.reason = samples[0] if samples else "no successful requests"
    return cell


def fmt_num(value: float | None) -> str:
    if value is None:
        return "?"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(value: float | None, ref: float | None) -> str:
    if value is None or not ref:
        return ""
    return f" (x{value / ref:.2f})"


def render_table(
    loop: str,
    workloads: list[Workload],
    clients: list[str],
    cells: dict[tuple[str, str], Cell],
    notes: list[str],
) -> str:
    header = ["workload", "unit"]
    for client in clients:
        header += [client, f"{client} CPU", "srv"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for wl in workloads:
        ref = cells.get((wl.name, "aiohttp"))
        ref_ok = ref is not None and ref.status == "ok"
        row = [wl.name, f"{wl.unit} · {wl.cpu_unit}"]
        for client in clients:
            cell = cells.get((wl.name, client), Cell("skip"))
            if cell.status == "skip":
                row += ["—", "", ""]
                continue
            if cell.status in ("n/a", "error"):
                text = f"{cell.status} {cell.reason}".strip()
                if text not in notes:
                    notes.append(text)
                row += [f"{cell.status} [{notes.index(text) + 1}]", "", ""]
                continue
            show_ratio = ref_ok and client != "aiohttp"
            tput = fmt_num(cell.throughput)
            cpu = fmt_num(cell.cpu)
            if show_ratio and ref is not None:
                tput += fmt_ratio(cell.throughput, ref.throughput)
                cpu += fmt_ratio(cell.cpu, ref.cpu)
            if cell.errors:
                text = f"{client}/{wl.name}/{loop}: " + "; ".join(cell.error_samples[:3])
                notes.append(text)
                tput += f" ⚠{cell.errors} err [{len(notes)}]"
            srv = "" if cell.server_cpu is None else f"{cell.server_cpu:.0f}%"
            row += [tput, cpu, srv]
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version(), "nginx": nginx_version()}
    for dist in ("aiohttp", "httpx", "uvloop", "websockets", "hyperclient"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


# --------------------------------------------------------------------------- #
# main
# --------------------------------------------------------------------------- #


def parse_list(text: str, allowed: tuple[str, ...] | list[str], what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad:
        raise SystemExit(f"unknown {what}: {', '.join(bad)} (choose from {', '.join(allowed)})")
    return items


@contextlib.contextmanager
def servers(
    args: argparse.Namespace, cfg: Settings, wls: list[Workload], tmp: Path
) -> Iterator[dict[str, Server | None]]:
    started: list[Server] = []
    try:
        kinds = {w.kind for w in wls}
        http: Server | None = None
        python_srv: Server | None = None
        needs_http = bool(kinds - {"ws", "sessions", "inflight"})
        use_nginx = args.server == "nginx" or (args.server == "auto" and nginx_version())
        if needs_http and use_nginx:
            http = start_nginx(tmp, cfg.stream_size)
            started.append(http)
        if "inflight" in kinds or (needs_http and http is None):
            python_srv = start_python_server(
                "server.py", ["--stream-size", str(cfg.stream_size)], tmp
            )
            started.append(python_srv)
            if http is None and needs_http:
                http = python_srv
        ws: Server | None = None
        if "ws" in kinds:
            ws = start_python_server("ws_server.py", ["--impl", args.ws_impl], tmp)
            started.append(ws)
        yield {"http": http, "slow": python_srv, "ws": ws}
    finally:
        for srv in started:
            srv.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 0.5 s, 1 repeat")
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 3)")
    parser.add_argument("--warmup", type=float, help="seconds before measuring (default 0.5)")
    parser.add_argument("--repeat", type=int, help="runs per cell; median reported (default 3)")
    parser.add_argument("--inflight", type=int, help="concurrent requests (default 10000)")
    parser.add_argument(
        "--inflight-timeout",
        type=float,
        default=120.0,
        help="give up on an in-flight run after this many seconds (default 120)",
    )
    parser.add_argument("--stream-mib", type=int, help="stream download size (default 64)")
    parser.add_argument("--clients", default=",".join(ALL_CLIENTS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--loops", default=",".join(LOOPS))
    parser.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    parser.add_argument("--ws-impl", choices=("raw", "websockets"), default="raw")
    parser.add_argument("--install-nginx", action="store_true", help="apt-get nginx if missing")
    parser.add_argument("--json", type=Path, help="write all raw numbers here")
    parser.add_argument("--output", type=Path, help="also write the markdown report here")
    args = parser.parse_args()

    quick = args.quick
    cfg = Settings(
        duration=args.duration if args.duration is not None else (0.5 if quick else 3.0),
        warmup=args.warmup if args.warmup is not None else (0.25 if quick else 0.5),
        repeat=args.repeat if args.repeat is not None else (1 if quick else 3),
        inflight=args.inflight if args.inflight is not None else (1000 if quick else 10_000),
        stream_size=(args.stream_mib or (16 if quick else 64)) * ONE_MIB,
        inflight_timeout=args.inflight_timeout,
    )
    clients = parse_list(args.clients, ALL_CLIENTS, "client")
    wls = [WORKLOADS[n] for n in parse_list(args.workloads, list(WORKLOADS), "workload")]
    loops = parse_list(args.loops, LOOPS, "loop")
    if args.install_nginx:
        install_nginx()
    if args.server == "nginx" and nginx_version() is None:
        raise SystemExit("--server nginx: nginx is not installed (try --install-nginx)")

    pinned = bool(pin_prefix(SERVER_CPU))
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "pinned": pinned,
        "versions": versions(),
        "settings": cfg.__dict__,
        "clients": clients,
        "workloads": [w.name for w in wls],
        "loops": loops,
    }
    all_runs: list[dict[str, Any]] = []
    report: list[str] = []
    warnings: list[str] = []
    if not pinned:
        warnings.append("taskset missing or < 2 CPUs: processes are NOT pinned")

    with tempfile.TemporaryDirectory(prefix="hyperclient-bench-") as tmpdir:
        tmp = Path(tmpdir)
        with servers(args, cfg, wls, tmp) as srv:
            http, slow, ws = srv["http"], srv["slow"], srv["ws"]
            if http is not None:
                cfg.http_url = f"http://127.0.0.1:{http.port}"
                warnings += check_http_server(http.port, cfg.stream_size)
            if slow is not None:
                cfg.slow_url = f"http://127.0.0.1:{slow.port}"
                if slow is not http:
                    warnings += check_http_server(slow.port, cfg.stream_size, slow=True)
            if ws is not None:
                cfg.ws_url = f"ws://127.0.0.1:{ws.port}/"
            meta["http_server"] = http.name if http else None
            meta["ws_server"] = f"ws_server.py --impl {args.ws_impl}" if ws else None
            log(
                f"servers: http={meta['http_server']} slow={slow and slow.name} ws={ws and ws.name}"
            )

            summary: dict[str, dict[str, dict[str, Any]]] = {}
            for loop in loops:
                cells: dict[tuple[str, str], Cell] = {}
                for wl in wls:
                    server = {"ws": ws, "inflight": slow, "sessions": None}.get(wl.kind, http)
                    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
                    for rep in range(cfg.repeat):
                        for client in clients:
                            if not applicable(client, wl):
                                continue
                            prev = runs[client]
                            if prev and (prev[-1]["status"] == "n/a" or prev[-1].get("timeout")):
                                continue  # no point repeating a missing feature or a hang
                            r = run_worker(client, loop, wl, server, cfg, tmp)
                            r["repeat"] = rep
                            prev.append(r)
                            all_runs.append(r)
                            log(progress(r, wl, rep, cfg.repeat))
                    for client in clients:
                        cells[wl.name, client] = aggregate(runs[client])
                notes: list[str] = []
                table = render_table(loop, wls, clients, cells, notes)
                report.append(f"### loop: {loop}\n\n{table}\n")
                bg = [
                    r["background_cpu_pct"]
                    for r in all_runs
                    if r["loop"] == loop and "background_cpu_pct" in r
                ]
                if bg:
                    report.append(
                        f"CPU used by other processes during measured windows: median "
                        f"{statistics.median(bg):.0f}%, max {max(bg):.0f}% of one core"
                        + (" (noisy machine: rerun when idle)" if max(bg) > 20 else "")
                        + "\n"
                    )
                if notes:
                    report.append("\n".join(f"[{i}] {n}" for i, n in enumerate(notes, 1)) + "\n")
                summary[loop] = {f"{w}/{c}": cell.__dict__ for (w, c), cell in cells.items()}

    head = [
        "## hyperclient benchmark",
        "",
        f"{meta['started']} · {meta['cpus']} CPUs · pinned: {pinned} · "
        f"http server: {meta['http_server']} · ws server: {meta['ws_server']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v),
        f"duration {cfg.duration} s after {cfg.warmup} s warm-up, median of {cfg.repeat}; "
        f"in-flight {cfg.inflight}; stream {cfg.stream_size // ONE_MIB} MiB",
        "cells: throughput (xaiohttp) | CPU per unit (xaiohttp, lower is better) | "
        "server CPU % of one core. inflight row: peak RSS MiB (lower is better).",
        "",
    ]
    head += [f"> warning: {w}" for w in warnings]
    text = "\n".join(head) + "\n" + "\n".join(report)
    print(text)
    if args.output:
        args.output.write_text(text)
    if args.json:
        meta["warnings"] = warnings
        args.json.write_text(
            json.dumps({"meta": meta, "summary": summary, "runs": all_runs}, indent=1)
        )


def progress(r: dict[str, Any], wl: Workload, rep: int, total: int) -> str:
    where = f"[{r['loop']}] {wl.name:<11} {r['client']:<11} {rep + 1}/{total}"
    if r["status"] != "ok":
        return f"{where}: {r['status']}: {r.get('reason', '')[:160]}"
    srv = r.get("server_cpu_pct")
    return (
        f"{where}: {fmt_num(r['throughput'])} {wl.unit}, {fmt_num(r['cpu_per_unit'])} "
        f"{wl.cpu_unit}, srv {'-' if srv is None else f'{srv:.0f}%'}, errors {r['errors']}"
    )


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
