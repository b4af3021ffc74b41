"""Queue benchmark: no-op jobs per second, 202 -> done latency, crash recovery.

1. Throughput: N no-op jobs are deferred in bulk while K idle worker
   processes wait; the clock runs from the commit until every job is
   ``succeeded``. SQLite and PostgreSQL, with 1 and 2 worker processes.
2. Latency: ``neuronx serve`` with the example config takes signed leads at
   a steady 200/s from a separate process; each event's 202 -> done time is
   read from the database (``updated_at - received_at`` of events that
   reached ``done``), through the whole lead journey. The worker is embedded
   (``--workers 1``) and, on PostgreSQL, also a process of its own beside
   ``serve --workers 0``.
3. Recovery: two workers run slow jobs; one is killed with SIGKILL; the time
   until the first of its jobs is claimed again by the other is reported.

Results go to stdout and bench/results/jobs.json. The targets are reported
as met or missed; only a broken run exits non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

import _common
from neuronx.queue.jobs import JobSpec, defer
from neuronx.store import schema
from neuronx.store.db import Database

# embedded: serve --workers 1; separate: serve --workers 0 and a worker process.
# SQLite is measured embedded only: that is its shape (one machine, one
# writer), and a worker in another process is woken there by polling alone.
SHAPES = {"sqlite": ("embedded",), "postgresql": ("embedded", "separate")}
JOBS = 20_000
BATCH = 100
RATE = 200.0
LATENCY_SECONDS = 15.0


def log(message: str) -> None:
    print(f"[queue] {message}", file=sys.stderr, flush=True)


def spawn_workers(url: str, count: int, batch: int, lease: float = 15.0) -> list[Any]:
    script = str(_common.BENCH_DIR / "_noop_worker.py")
    return [
        subprocess.Popen(
            [sys.executable, script, url, "2", str(batch), str(lease)],
            cwd=_common.REPO_ROOT,
        )
        for _ in range(count)
    ]


def stop(processes: list[Any]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def count_status(db: Database, status: str) -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(schema.jobs.c.status == status)
            ).scalar_one()
        )


def reset(db: Database) -> None:
    with db.write() as conn:
        conn.execute(schema.jobs.delete())


def throughput(db: Database, url: str, processes: int) -> dict[str, Any]:
    reset(db)
    workers = spawn_workers(url, processes, BATCH)
    try:
        time.sleep(2.0)  # let the workers import, connect and go idle
        specs = [JobSpec("bench", "bench.noop") for _ in range(JOBS)]
        with db.write() as conn:
            defer(conn, specs, now=time.time())
        started = time.perf_counter()
        deadline = started + 300
        while count_status(db, "succeeded") < JOBS:
            if time.perf_counter() > deadline:
                raise _common.BenchError("the jobs did not finish in 300 s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        stop(workers)
    return {
        "processes": processes,
        "jobs": JOBS,
        "seconds": round(elapsed, 3),
        "jobs_per_s": round(JOBS / elapsed, 1),
    }


@contextlib.contextmanager
def fresh_store(name: str, work: Path, shape: str) -> Iterator[str]:
    """An empty store of the same kind, so that no run sees another's leads."""
    if name == "sqlite":
        yield f"sqlite:///{work / f'latency-{shape}.db'}"
        return
    admin = os.environ["NEURONX_BENCH_POSTGRES_URL"]
    with _common.temporary_postgres_database(admin, f"nxlat{shape}") as url:
        yield url


def wait_for_worker(log_path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while b"worker_started" not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise _common.BenchError(f"the worker did not start: see {log_path}")
        time.sleep(0.05)


def latency(url: str, work: Path, name: str, shape: str) -> dict[str, Any]:
    """202 -> done at RATE/s, with the worker embedded in serve or on its own.

    ``embedded`` is ``serve --workers 1``, the one-process default;
    ``separate`` is ``serve --workers 0`` beside one ``neuronx worker``
    process, the scale-out shape, whose worker does not share a GIL with HTTP.
    """
    port = _common.free_port()
    neuronx = [sys.executable, "-m", "neuronx"]
    config = ["--config", str(_common.EXAMPLE_CONFIG)]
    command = [
        *neuronx,
        "serve",
        "--port",
        str(port),
        *config,
        "--workers",
        "1" if shape == "embedded" else "0",
        "--log-level",
        "warning",
    ]
    env = {"NEURONX_DATABASE_URL": url, "NEURONX_SECRET_KEY": "bench"}
    requests = work / f"latency-{name}-{shape}.tsv"
    count = int(RATE * LATENCY_SECONDS * 1.2)
    _common.write_signed_requests(requests, count, tag=f"lat{name}{shape}")
    log_path = work / f"serve-{name}-{shape}.log"
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            _common.running_server(
                "neuronx", command, port=port, log_path=log_path, env=env
            )
        )
        if shape == "separate":
            worker_log = work / f"worker-{name}.log"
            with worker_log.open("wb") as output:
                worker = subprocess.Popen(
                    [*neuronx, "worker", *config, "--concurrency", "1"],
                    env={**os.environ, **env},
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            stack.callback(stop, [worker])
            wait_for_worker(worker_log, worker)
        load = _common.run_open_loop(
            server.url + _common.HOOK_PATH,
            requests,
            rate=RATE,
            duration_s=LATENCY_SECONDS,
            connections=16,
        )
        db = Database(url)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and _pending(db) > 0:
                time.sleep(0.1)
            with db.read() as conn:
                rows = conn.execute(
                    select(
                        schema.events.c.updated_at - schema.events.c.received_at
                    ).where(schema.events.c.status == "done")
                ).all()
                stuck = _pending(db)
        finally:
            db.dispose()
    delays = sorted(float(row[0]) * 1000 for row in rows)
    return {
        "shape": shape,
        "rate": RATE,
        "accepted": load.count(202),
        "non_2xx": load.non_2xx,
        "done": len(delays),
        "not_done": stuck,
        "p50_ms": round(_common.percentile(delays, 0.50), 1),
        "p99_ms": round(_common.percentile(delays, 0.99), 1),
        "max_ms": round(delays[-1], 1) if delays else None,
    }


def _pending(db: Database) -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    schema.events.c.status.in_(("accepted", "processing"))
                )
            ).scalar_one()
        )


def recovery(db: Database, url: str) -> dict[str, Any]:
    """Seconds from SIGKILL of a worker to the first re-claim of its jobs."""
    reset(db)
    lease = 15.0
    with db.write() as conn:
        defer(
            conn,
            [JobSpec("bench", "bench.noop", {"sleep": 0.05}) for _ in range(400)],
            now=time.time(),
        )
    workers = spawn_workers(url, 2, 10, lease)
    try:
        deadline = time.monotonic() + 60
        while count_status(db, "running") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)
        victim = workers[0]
        victim.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        victim.wait(5)
        retaken = None
        while time.monotonic() < killed + 60:
            with db.read() as conn:
                taken_back = conn.execute(
                    text("SELECT count(*) FROM jobs WHERE attempts >= 2")
                ).scalar_one()
            if taken_back:
                retaken = time.monotonic() - killed
                break
            time.sleep(0.05)
        while count_status(db, "succeeded") < 400 and time.monotonic() < killed + 120:
            time.sleep(0.1)
        finished = count_status(db, "succeeded")
    finally:
        stop(workers)
    return {
        "lease_seconds": lease,
        "resumed_after_s": round(retaken, 2) if retaken is not None else None,
        "jobs_finished": finished,
        "jobs": 400,
    }


def main() -> int:
    global JOBS, LATENCY_SECONDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--latency-seconds", type=float, default=LATENCY_SECONDS)
    options = parser.parse_args()
    JOBS, LATENCY_SECONDS = options.jobs, options.latency_seconds
    results: dict[str, Any] = {
        "benchmark": "queue",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with tempfile.TemporaryDirectory(prefix="neuronx-bench-queue-") as tmp:
        work = Path(tmp)
        with _common.backends(work, "queue") as stores:
            admin = os.environ.get("NEURONX_BENCH_POSTGRES_URL")
            results["machine"] = _common.machine_info(
                _common.postgres_version(admin) if admin else None
            )
            for name, url in stores:
                db = Database(url)
                db.migrate()
                entry: dict[str, Any] = {}
                for processes in (1, 2):
                    log(f"{name}: no-op throughput with {processes} worker process(es)")
                    entry[f"throughput_{processes}"] = throughput(db, url, processes)
                log(f"{name}: recovery after SIGKILL")
                entry["recovery"] = recovery(db, url)
                reset(db)
                db.dispose()
                for shape in SHAPES[name]:
                    log(f"{name}: 202 -> done latency at {RATE:.0f}/s, {shape}")
                    with fresh_store(name, work, shape) as fresh:
                        entry[f"latency_{shape}"] = latency(fresh, work, name, shape)
                results[name] = entry
    report(results)
    _common.RESULTS_DIR.mkdir(exist_ok=True)
    (_common.RESULTS_DIR / "jobs.json").write_text(json.dumps(results, indent=2))
    return 0


def report(results: dict[str, Any]) -> None:
    rows = []
    verdicts = []
    for name in ("sqlite", "postgresql"):
        entry = results.get(name)
        if not entry:
            continue
        for processes in (1, 2):
            rate = entry[f"throughput_{processes}"]["jobs_per_s"]
            rows.append(
                [name, f"no-op, {processes} process(es)", f"{rate:.0f} jobs/s", ""]
            )
        for shape in SHAPES[name]:
            lat = entry[f"latency_{shape}"]
            notes = (
                f"{lat['done']} done, {lat['not_done']} left, {lat['non_2xx']} non-2xx"
            )
            result = f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms"
            measure = f"202->done at {lat['rate']:.0f}/s, {shape}"
            rows.append([name, measure, result, notes])
            met = lat["p50_ms"] <= 50 and lat["p99_ms"] <= 250
            verdicts.append(
                f"202->done p50<=50 ms, p99<=250 ms ({name}, {shape}): {_met(met)}"
            )
        resumed = entry["recovery"]["resumed_after_s"]
        lease = entry["recovery"]["lease_seconds"]
        rows.append([name, "SIGKILL -> re-claim", f"{resumed} s", f"lease {lease} s"])
        ok = resumed is not None and resumed <= 30
        verdicts.append(f"killed worker's jobs resume within 30 s ({name}): {_met(ok)}")
    pg = results.get("postgresql")
    if pg:
        rate = pg["throughput_2"]["jobs_per_s"]
        verdicts.append(
            f">= 5000 no-op jobs/s, PostgreSQL, 2 processes: {_met(rate >= 5000)}"
        )
    print(_common.format_table(["store", "measure", "result", "notes"], rows))
    print("\n".join(f"target {line}" for line in verdicts))


def _met(value: bool) -> str:
    return "met" if value else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
