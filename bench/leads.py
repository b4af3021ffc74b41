"""Lead journey benchmark: leads per second through normalize, score and route.

N signed-lead events are committed the way the receiver commits them (the
event row plus one ``leads.normalize`` job each), then one in-process worker
thread (concurrency 1, so one core of Python at most) works through the whole
journey: three atomic jobs per lead, the contact upsert and duplicate check,
scoring, the routing decision under its rotation lock and the audit rows.
The clock stops when every event is ``done``.

The baseline, measured in the same run on the same store, is the queue with
nothing behind it: the same worker settings running three no-op jobs per lead.
The ratio says how much of a lead's time is the journey's own work.

Results go to stdout and bench/results/leads.json. Only a broken run exits
non-zero; a missed target is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import _common
from neuronx.config import Settings
from neuronx.ids import new_id
from neuronx.leads.pipeline import RECEIVED, LeadPipeline
from neuronx.observability.logs import configure_logging
from neuronx.queue.jobs import JobSpec, Message, defer, publish
from neuronx.queue.retry import RetryPolicy
from neuronx.queue.tasks import JobContext, Registry, Task
from neuronx.queue.worker import Worker
from neuronx.runtime import build_registry, open_runtime
from neuronx.store import schema
from neuronx.store.db import Database
from neuronx.store.events import NewEvent, admit

LEADS = 3_000
TARGET_LEADS_PER_S = 1_000.0
STAGES = 3
BATCH_SIZE = 20


def log(message: str) -> None:
    print(f"[leads] {message}", file=sys.stderr, flush=True)


def admit_leads(db: Database, registry: Registry, count: int, tag: str) -> None:
    """Commit ``count`` lead events and their first jobs, 500 per transaction."""
    now = time.time()
    for start in range(0, count, 500):
        items = [
            NewEvent(
                event_id=new_id("evt"),
                tenant_id=_common.TENANT,
                source_id=_common.SOURCE,
                type="lead.created",
                idempotency_key=f"{tag}-{index}",
                payload=_common.lead_body(index),
                trace_id="0" * 32,
                traceparent="",
                received_at=now,
            )
            for index in range(start, min(count, start + 500))
        ]
        with db.write() as conn:
            admissions = admit(conn, items, ttl_seconds=86_400, now=now)
            messages: list[Message] = [
                (item.tenant_id, item.event_id, item.traceparent, {})
                for item, admission in zip(items, admissions, strict=True)
                if admission.status == "accepted"
            ]
            publish(
                conn,
                registry,
                RECEIVED,
                now=now,
                default_retry=RetryPolicy(),
                messages=messages,
            )


def count_where(db: Database, column: Any, value: str) -> int:
    with db.read() as conn:
        return int(
            conn.execute(select(func.count()).where(column == value)).scalar_one()
        )


def drain(db: Database, registry: Registry, done: Any, expected: int) -> float:
    """Run one worker thread until ``expected`` rows match ``done``; seconds."""
    worker = Worker(
        db,
        registry,
        Settings,
        concurrency=1,
        batch_size=BATCH_SIZE,
        poll_interval=0.05,
    )
    started = time.perf_counter()
    worker.start()
    try:
        deadline = started + 600
        while done() < expected:
            if time.perf_counter() > deadline:
                raise _common.BenchError("the journey did not finish in 600 s")
            time.sleep(0.02)
        return time.perf_counter() - started
    finally:
        worker.stop(10)


def leads_run(url: str, count: int) -> dict[str, Any]:
    runtime = open_runtime(config_path=_common.EXAMPLE_CONFIG, database_url=url)
    db = runtime.db
    try:
        registry = build_registry(LeadPipeline())
        admit_leads(db, registry, count, tag=f"leads-{time.time_ns()}")
        seconds = drain(
            db,
            registry,
            lambda: count_where(db, schema.events.c.status, "done"),
            count,
        )
        routed = count_where(db, schema.events.c.status, "done")
        dead = count_where(db, schema.jobs.c.status, "dead")
    finally:
        db.dispose()
    return {
        "leads": count,
        "routed": routed,
        "dead_jobs": dead,
        "seconds": round(seconds, 3),
        "leads_per_s": round(count / seconds, 1),
    }


def noop_run(url: str, count: int) -> dict[str, Any]:
    db = Database(url)
    try:
        with db.write() as conn:
            conn.execute(schema.jobs.delete())
        registry = Registry()
        registry.add(Task("bench.noop", "bench", atomic=_nothing))
        with db.write() as conn:
            defer(
                conn,
                [JobSpec("bench", "bench.noop") for _ in range(count * STAGES)],
                now=time.time(),
            )
        seconds = drain(
            db,
            registry,
            lambda: count_where(db, schema.jobs.c.status, "succeeded"),
            count * STAGES,
        )
    finally:
        db.dispose()
    return {
        "jobs": count * STAGES,
        "seconds": round(seconds, 3),
        "jobs_per_s": round(count * STAGES / seconds, 1),
        "leads_equivalent_per_s": round(count / seconds, 1),
    }


def _nothing(ctx: JobContext, conn: object) -> None:
    """An atomic task that does nothing: the queue's own cost per job."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=LEADS)
    options = parser.parse_args()
    configure_logging("warning")
    results: dict[str, Any] = {
        "benchmark": "leads",
        "leads": options.leads,
        "worker": {"concurrency": 1, "batch_size": BATCH_SIZE},
        "machine": _common.machine_info(os.environ.get("NEURONX_BENCH_POSTGRES_URL")),
        "stores": {},
    }
    rows: list[list[str]] = []
    verdicts: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="neuronx-bench-leads-") as tmp,
        _common.backends(Path(tmp), "leads") as urls,
    ):
        for name, url in urls:
            log(f"{name}: the lead journey, {options.leads} leads")
            journey = leads_run(url, options.leads)
            log(f"{name}: the queue alone, {options.leads * STAGES} no-op jobs")
            floor = noop_run(url, options.leads)
            ratio = journey["leads_per_s"] / floor["leads_equivalent_per_s"]
            results["stores"][name] = {
                "journey": journey,
                "queue_floor": floor,
                "ratio": round(ratio, 3),
            }
            rows.append(
                [
                    name,
                    f"{journey['leads_per_s']:.0f}",
                    f"{floor['leads_equivalent_per_s']:.0f}",
                    f"{ratio:.3f}",
                    f"{journey['routed']}/{journey['leads']}",
                    str(journey["dead_jobs"]),
                ]
            )
            if journey["routed"] != options.leads or journey["dead_jobs"]:
                raise _common.BenchError(
                    f"{name}: {journey['routed']} of {options.leads} routed, "
                    f"{journey['dead_jobs']} dead jobs"
                )
            met = journey["leads_per_s"] >= TARGET_LEADS_PER_S
            verdicts.append(
                f"target >= {TARGET_LEADS_PER_S:.0f} leads/s on one worker "
                f"thread ({name}): {'met' if met else 'MISSED'} "
                f"({journey['leads_per_s']:.0f} leads/s)"
            )
    print(
        _common.format_table(
            [
                "store",
                "leads/s",
                "queue floor leads/s",
                "x floor",
                "routed",
                "dead jobs",
            ],
            rows,
        )
    )
    print(
        "queue floor: the same worker running 3 no-op atomic jobs per lead; "
        "x floor: leads/s divided by it."
    )
    for verdict in verdicts:
        print(verdict)
    _common.RESULTS_DIR.mkdir(exist_ok=True)
    (_common.RESULTS_DIR / "leads.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except _common.BenchError as exc:
        print(f"leads benchmark failed: {exc}", file=sys.stderr)
        sys.exit(1)
