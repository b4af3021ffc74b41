"""What the benchmarks share: servers in subprocesses, signed load, wrk, results.

The load always comes from another process than the server's, and every
request it sends is signed in advance: wrk's Lua has no HMAC, and signing in
the load generator would steal CPU from the server on a small machine.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import psycopg
from psycopg import sql

from neuronx.ingest.signatures import Scheme, decode_secret, sign

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
EXAMPLE_CONFIG = REPO_ROOT / "examples" / "neuronx.yaml"

# The tenant, source and secret of examples/neuronx.yaml.
TENANT = "acme"
SOURCE = "forms"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HOOK_PATH = f"/v1/hooks/{TENANT}/{SOURCE}"

_MARKER = "NEURONX_BENCH_JSON "


class BenchError(Exception):
    """Something broke (a server, a tool): the run has no valid figures."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` in 0..1)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# --- signed requests -------------------------------------------------------


def lead_body(index: int) -> bytes:
    """A lead of realistic size (about 250 bytes), different for every index."""
    return orjson.dumps(
        {
            "type": "lead.created",
            "data": {
                "email": f"lead-{index:08d}@example.com",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "company": "Analytical Engines GmbH",
                "title": "Head of Growth",
                "employees": 250 + index % 1000,
                "country": "DE",
                "form": "contact-sales",
            },
        }
    )


def signed_headers(index: int, tag: str, *, timestamp: int) -> dict[str, str]:
    key = decode_secret(Scheme.STANDARD_WEBHOOKS, SECRET)
    return sign(
        Scheme.STANDARD_WEBHOOKS,
        key,
        lead_body(index),
        timestamp=timestamp,
        message_id=f"msg_{tag}_{index:08d}",
    )


def write_signed_requests(path: Path, count: int, *, tag: str) -> int:
    """Write ``count`` distinct signed requests, one per line; return the timestamp.

    A line is ``webhook-id TAB webhook-timestamp TAB webhook-signature TAB
    body``. Everything is signed now, so the file is good for the receiver's
    timestamp tolerance (300 s in the example config) from this moment on.
    """
    key = decode_secret(Scheme.STANDARD_WEBHOOKS, SECRET)
    timestamp = int(time.time())
    with path.open("wb") as handle:
        for index in range(count):
            body = lead_body(index)
            headers = sign(
                Scheme.STANDARD_WEBHOOKS,
                key,
                body,
                timestamp=timestamp,
                message_id=f"msg_{tag}_{index:08d}",
            )
            handle.write(
                "\t".join(
                    (
                        headers["webhook-id"],
                        headers["webhook-timestamp"],
                        headers["webhook-signature"],
                        "",
                    )
                ).encode()
                + body
                + b"\n"
            )
    return timestamp


def read_signed_requests(path: Path) -> Iterator[tuple[str, str, str, bytes]]:
    with path.open("rb") as handle:
        for line in handle:
            message_id, timestamp, signature, body = line.rstrip(b"\n").split(b"\t", 3)
            yield message_id.decode(), timestamp.decode(), signature.decode(), body


# --- servers ---------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    # The command name may hold spaces; fields after it start at stat(5)'s 3rd.
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, all its threads included."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process, its live children and the children it reaped.

    A PostgreSQL backend lives as long as its connection; once the postmaster
    reaps it, its time shows in the postmaster's cutime and cstime.
    """
    fields = _stat_fields(pid)
    total = sum(int(value) for value in fields[11:15])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = _stat_fields(int(entry.name))
        except OSError:
            continue
        if child[1] == str(pid):
            total += int(child[11]) + int(child[12])
    return total / os.sysconf("SC_CLK_TCK")


def _system_cpu_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine spent busy, and stolen by the hypervisor."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    ticks = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / ticks, steal / ticks


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuUsage:
    """Where the machine's CPU went during one run, in cores (CPU s / wall s).

    ``other`` is what neither the server, the load generator nor this script
    used: another program on the machine, which makes the run's figures low.
    """

    server: float = 0.0
    database: float = 0.0
    load_generator: float = 0.0
    other: float = 0.0
    steal: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "server": round(self.server, 2),
            "database": round(self.database, 2),
            "load_generator": round(self.load_generator, 2),
            "other": round(self.other, 2),
            "steal": round(self.steal, 2),
        }


@contextmanager
def cpu_usage(server_pid: int, database_pid: int | None) -> Iterator[CpuUsage]:
    """Measure CPU use around a load run whose generator is a waited-for child.

    ``database_pid`` is a PostgreSQL postmaster's, whose backends count as the
    database's; SQLite works inside the server process.
    """
    usage = CpuUsage()
    busy, steal = _system_cpu_seconds()
    server = _cpu_seconds(server_pid)
    database = _tree_cpu_seconds(database_pid) if database_pid else 0.0
    children = _children_cpu_seconds()
    own = time.process_time()
    wall = time.monotonic()
    yield usage
    wall = time.monotonic() - wall
    busy_after, steal_after = _system_cpu_seconds()
    usage.server = (_cpu_seconds(server_pid) - server) / wall
    if database_pid:
        usage.database = (_tree_cpu_seconds(database_pid) - database) / wall
    usage.load_generator = (_children_cpu_seconds() - children) / wall
    own_cores = (time.process_time() - own) / wall
    usage.steal = (steal_after - steal) / wall
    usage.other = max(
        0.0,
        (busy_after - busy) / wall
        - usage.server
        - usage.database
        - usage.load_generator
        - own_cores,
    )


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def running_server(
    name: str,
    command: Sequence[str],
    *,
    port: int,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    start_timeout: float = 60.0,
) -> Iterator[Server]:
    """Start a server process, wait until it accepts connections, stop it after."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    server = Server(name, process, port, log_path)
    try:
        _wait_for_port(server, start_timeout)
        yield server
    finally:
        _stop(process)


def _wait_for_port(server: Server, timeout: float) -> None:
    # uvicorn binds only after the lifespan startup (migrations, config) ended,
    # so an accepted connection means the app is ready.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"{server.name} exited with status {server.process.returncode}:\n"
                + server.log_tail()
            )
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(
        f"{server.name} did not listen within {timeout:.0f} s:\n" + server.log_tail()
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def post_signed(server: Server, index: int, tag: str) -> int:
    """Send one signed webhook with httpx; return the status code."""
    headers = signed_headers(index, tag, timestamp=int(time.time()))
    headers["content-type"] = "application/json"
    response = httpx.post(
        server.url + HOOK_PATH, content=lead_body(index), headers=headers, timeout=10
    )
    return response.status_code


# --- databases -------------------------------------------------------------


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


@contextmanager
def temporary_postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """Create an empty database on the cluster, yield its URL, drop it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


@contextmanager
def backends(work: Path, name: str) -> Iterator[list[tuple[str, str]]]:
    """(backend, url) of each store to measure: a SQLite file, then PostgreSQL.

    PostgreSQL is measured when ``NEURONX_BENCH_POSTGRES_URL`` names a cluster
    (``make bench`` sets it); the database is created for the run and dropped.
    """
    urls = [("sqlite", f"sqlite:///{work / (name + '.db')}")]
    admin = os.environ.get("NEURONX_BENCH_POSTGRES_URL")
    if not admin:
        print(
            f"[{name}] NEURONX_BENCH_POSTGRES_URL is unset: measuring SQLite only",
            file=sys.stderr,
            flush=True,
        )
        yield urls
        return
    with temporary_postgres_database(admin, f"nx{name}") as url:
        yield [*urls, ("postgresql", url)]


def postgres_version(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method')"
            ).fetchall()
        )
    version = str(row[0]) if row else "unknown"
    details = ", ".join(f"{key}={value}" for key, value in sorted(settings.items()))
    return f"{version} ({details})"


# Table names cannot be bound as parameters; only these are ever counted.
_COUNT_QUERIES = {
    "events": "SELECT count(*) FROM events",
    "jobs": "SELECT count(*) FROM jobs",
    "idempotency_keys": "SELECT count(*) FROM idempotency_keys",
}


def postmaster_pid(admin_url: str) -> int | None:
    """The cluster's postmaster, when it runs on this machine and is readable."""
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        pid_file = Path(str(row[0]) if row else "") / "postmaster.pid"
        pid = int(pid_file.read_text().split("\n")[0])
        _stat_fields(pid)
    except (OSError, ValueError, psycopg.Error):
        return None
    return pid


def count_rows(database_url: str, table: str) -> int:
    """Rows in ``table`` of a NeuronX database, read beside the running server."""
    query = _COUNT_QUERIES[table]
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        # Read-only, so the benchmark never takes the writer's lock.
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return int(conn.execute(query).fetchone()[0])
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0


def settled_count(database_url: str, table: str, *, quiet: float = 0.3) -> int:
    """The row count once it stopped moving, so in-flight commits are included."""
    previous = count_rows(database_url, table)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(quiet)
        current = count_rows(database_url, table)
        if current == previous:
            return current
        previous = current
    return previous


# --- wrk -------------------------------------------------------------------

# Each wrk thread keeps every n-th request of the file, so threads never send
# the same webhook-id; running past the end is reported (it would resend ids,
# and NeuronX would rightly answer them as 200 duplicates).
WRK_SCRIPT = r"""
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  local path, stride = args[1], tonumber(args[2])
  requests = {}
  statuses = {}
  wrapped = 0
  local i = 0
  for line in io.lines(path) do
    if i % stride == tid then
      local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", wrk.path, {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = id,
        ["webhook-timestamp"] = ts,
        ["webhook-signature"] = sig,
      }, body)
    end
    i = i + 1
  end
  index = 0
end

function request()
  index = index + 1
  if index > #requests then
    index = 1
    wrapped = wrapped + 1
  end
  return requests[index]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

local function quote(value)
  return '"' .. tostring(value) .. '"'
end

function done(summary, latency, requests)
  local status_parts = {}
  local totals = {}
  local wrapped_total = 0
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses") or {}) do
      totals[code] = (totals[code] or 0) + count
    end
    wrapped_total = wrapped_total + (thread:get("wrapped") or 0)
  end
  for code, count in pairs(totals) do
    status_parts[#status_parts + 1] = quote(code) .. ":" .. count
  end
  local e = summary.errors
  io.write("NEURONX_BENCH_JSON {",
    '"duration_us":', summary.duration, ",",
    '"requests":', summary.requests, ",",
    '"bytes":', summary.bytes, ",",
    '"errors":{"connect":', e.connect, ',"read":', e.read, ',"write":', e.write,
    ',"status":', e.status, ',"timeout":', e.timeout, "},",
    '"statuses":{', table.concat(status_parts, ","), "},",
    '"wrapped":', wrapped_total, ",",
    '"latency_us":{"min":', latency.min, ',"mean":', latency.mean,
    ',"max":', latency.max, ',"p50":', latency:percentile(50),
    ',"p90":', latency:percentile(90), ',"p99":', latency:percentile(99),
    ',"p999":', latency:percentile(99.9), "}}\n")
end
"""


@dataclass
class LoadResult:
    """One load run, from wrk (closed loop) or the open-loop generator."""

    tool: str
    duration_s: float
    requests: int
    statuses: dict[str, int]
    errors: dict[str, int]
    latency_ms: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def count(self, status: int) -> int:
        return self.statuses.get(str(status), 0)

    @property
    def non_2xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if not code.startswith("2"))

    @property
    def socket_errors(self) -> int:
        return sum(n for name, n in self.errors.items() if name != "status")

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "requests_per_s": round(self.rate, 1),
            "statuses": dict(sorted(self.statuses.items())),
            "non_2xx": self.non_2xx,
            "socket_errors": self.socket_errors,
            "errors": self.errors,
            "latency_ms": {k: round(v, 3) for k, v in self.latency_ms.items()},
            **self.extra,
        }


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError("wrk is not installed (Debian: apt-get install -y wrk)")
    return path


def run_wrk(
    url: str,
    requests_file: Path,
    *,
    script_dir: Path,
    threads: int,
    connections: int,
    duration_s: int,
    timeout_s: int = 5,
) -> LoadResult:
    """Run wrk closed-loop against ``url`` with the pre-signed requests."""
    wrk = require_wrk()
    script = script_dir / "signed.lua"
    script.write_text(WRK_SCRIPT)
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(script),
        url,
        "--",
        str(requests_file),
        str(threads),
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    report = _marked_json(completed.stdout)
    if completed.returncode != 0 or report is None:
        raise BenchError(
            f"wrk failed (status {completed.returncode}):\n"
            + (completed.stderr or completed.stdout)[-2000:]
        )
    latency = {
        name: float(value) / 1000 for name, value in report["latency_us"].items()
    }
    return LoadResult(
        tool="wrk",
        duration_s=report["duration_us"] / 1e6,
        requests=int(report["requests"]),
        statuses={str(k): int(v) for k, v in report["statuses"].items()},
        errors={str(k): int(v) for k, v in report["errors"].items()},
        latency_ms=latency,
        extra={
            "threads": threads,
            "connections": connections,
            "wrapped_around": int(report["wrapped"]),
        },
    )


def _marked_json(output: str) -> Any:
    for line in output.splitlines():
        if line.startswith(_MARKER):
            return json.loads(line.removeprefix(_MARKER))
    return None


# --- open-loop load at a fixed rate ----------------------------------------


def run_open_loop(
    url: str,
    requests_file: Path,
    *,
    rate: float,
    duration_s: float,
    connections: int,
) -> LoadResult:
    """Send at ``rate`` requests/s from a separate process; see ``open_loop_main``."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import _common; "
        "sys.exit(_common.open_loop_main(sys.argv[2:]))"
    )
    command = [
        sys.executable,
        "-c",
        code,
        str(BENCH_DIR),
        url,
        str(requests_file),
        str(rate),
        str(duration_s),
        str(connections),
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    report = _marked_json(completed.stdout)
    if completed.returncode != 0 or report is None:
        raise BenchError(
            f"the open-loop generator failed (status {completed.returncode}):\n"
            + completed.stderr[-2000:]
        )
    return LoadResult(
        tool="open-loop",
        duration_s=float(report["duration_s"]),
        requests=int(report["requests"]),
        statuses={str(k): int(v) for k, v in report["statuses"].items()},
        errors={str(k): int(v) for k, v in report["errors"].items()},
        latency_ms={str(k): float(v) for k, v in report["latency_ms"].items()},
        extra={
            "target_rate": rate,
            "connections": connections,
            "scheduled": int(report["scheduled"]),
            "connection_wait_ms": report["connection_wait_ms"],
            "send_lag_ms": report["send_lag_ms"],
        },
    )


class _HttpClient(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None
        self._lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("the server closed"))
        if not self._lost.done():
            self._lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 or self._waiter is None:
            return
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self._buffer) < end + 4 + length:
            return
        del self._buffer[: end + 4 + length]
        waiter, self._waiter = self._waiter, None
        if not waiter.done():
            waiter.set_result(int(head[0].split(" ", 2)[1]))

    async def exchange(self, request: bytes) -> int:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self._waiter


async def _open_loop(
    url: str, requests: list[bytes], rate: float, duration_s: float, connections: int
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    clients = [
        (await loop.create_connection(_HttpClient, host, port))[1]
        for _ in range(connections)
    ]
    scheduled = min(len(requests), int(rate * duration_s))
    latencies: list[float] = []
    waits: list[float] = []
    lags: list[float] = []
    statuses: dict[str, int] = {}
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    next_index = 0
    start = time.perf_counter()

    async def connection_loop(client: _HttpClient) -> None:
        nonlocal next_index
        while next_index < scheduled:
            index = next_index
            next_index += 1
            # Latency counts from the planned send time, not the actual one:
            # a request held back because every connection was busy waited
            # too, which is what a closed-loop tool would leave out.
            planned = start + index / rate
            picked = time.perf_counter()
            if planned > picked:
                await asyncio.sleep(planned - picked)
            sent = time.perf_counter()
            try:
                status = await asyncio.wait_for(client.exchange(requests[index]), 10)
            except TimeoutError:
                errors["timeout"] += 1
                return
            except ConnectionError:
                errors["read"] += 1
                return
            finished = time.perf_counter()
            # The timer may fire up to a millisecond early; such a request is
            # timed from when it really left, not from its later slot.
            latencies.append(finished - min(planned, sent))
            # Two kinds of lateness, told apart because only the first is the
            # server's doing: no connection was free when the request was due
            # (all were waiting for answers), or the generator itself woke late.
            waits.append(max(0.0, picked - planned))
            lags.append(max(0.0, sent - max(planned, picked)))
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status >= 400:
                errors["status"] += 1

    await asyncio.gather(*(connection_loop(client) for client in clients))
    elapsed = time.perf_counter() - start
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    latencies.sort()
    waits.sort()
    lags.sort()
    return {
        "scheduled": scheduled,
        "requests": len(latencies),
        # The schedule's length, so requests/s is the rate actually offered.
        "duration_s": max(elapsed, scheduled / rate),
        "statuses": statuses,
        "errors": errors,
        "latency_ms": _summary_ms(latencies),
        "connection_wait_ms": _summary_ms(waits),
        "send_lag_ms": _summary_ms(lags),
    }


def _summary_ms(sorted_seconds: list[float]) -> dict[str, float]:
    if not sorted_seconds:
        return {}
    values = {
        "min": sorted_seconds[0],
        "mean": sum(sorted_seconds) / len(sorted_seconds),
        "max": sorted_seconds[-1],
        "p50": percentile(sorted_seconds, 0.50),
        "p90": percentile(sorted_seconds, 0.90),
        "p99": percentile(sorted_seconds, 0.99),
        "p999": percentile(sorted_seconds, 0.999),
    }
    return {name: round(value * 1000, 3) for name, value in values.items()}


def _raw_requests(url: str, requests_file: Path) -> list[bytes]:
    parts = urlsplit(url)
    head = f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    raw = []
    for message_id, timestamp, signature, body in read_signed_requests(requests_file):
        raw.append(
            (
                head + "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                f"webhook-id: {message_id}\r\n"
                f"webhook-timestamp: {timestamp}\r\n"
                f"webhook-signature: {signature}\r\n\r\n"
            ).encode()
            + body
        )
    return raw


def open_loop_main(argv: Sequence[str]) -> int:
    """Entry point of the generator process: URL FILE RATE DURATION CONNECTIONS.

    Requests are sent on a fixed schedule, whatever the answers do, over a pool
    of keep-alive connections; a request whose turn comes while every
    connection is busy waits for one, and that wait counts in its latency.
    """
    url, requests_file, rate, duration_s, connections = argv
    requests = _raw_requests(url, Path(requests_file))
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    report = runner(
        _open_loop(url, requests, float(rate), float(duration_s), int(connections))
    )
    sys.stdout.write(_MARKER + json.dumps(report) + "\n")
    return 0


# --- the machine -----------------------------------------------------------


def machine_info(postgres: str | None) -> dict[str, Any]:
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.partition(":")[2].strip()
            break
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    wrk = shutil.which("wrk")
    wrk_version = "missing"
    if wrk is not None:
        output = subprocess.run(
            [wrk, "--version"], capture_output=True, text=True, check=False
        )
        wrk_version = (output.stdout or output.stderr).splitlines()[0].strip()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres,
        "wrk": wrk_version,
        "packages": _package_versions(
            ["uvicorn", "starlette", "uvloop", "httptools", "standardwebhooks"]
        ),
    }


def source_revision() -> str:
    """The commit measured, marked when src/ differs from it."""

    def git(*args: str) -> str:
        completed = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        return completed.stdout.strip() if completed.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + (" (src/ modified)" if git("status", "--porcelain", "src") else "")


def filesystem_of(path: Path) -> str:
    """The type of the filesystem holding ``path`` (fsync costs differ a lot)."""
    resolved = str(path.resolve())
    best, kind = "", "unknown"
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point, fs_type = fields[1], fields[2]
        inside = resolved == mount_point or resolved.startswith(
            mount_point.rstrip("/") + "/"
        )
        if inside and len(mount_point) >= len(best):
            best, kind = mount_point, f"{fs_type} on {fields[0]}"
    return kind


def _package_versions(names: Sequence[str]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "missing"
    return versions


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [
        max(len(headers[i]), *(len(row[i]) for row in rows)) if rows else len(h)
        for i, h in enumerate(headers)
    ]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        )
    return "\n".join(lines)
