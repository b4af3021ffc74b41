"""A worker process whose one task leaves a countable side effect.

Run as ``python -m tests.acceptance.effect_worker URL CONCURRENCY LEASE``. Each
job of task ``test.effect`` inserts ``(n, job_id)`` into ``effects``; a job
that runs twice leaves two rows, which is how the tests count duplicates.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

from sqlalchemy import text

from neuronx.config import Settings
from neuronx.observability.logs import configure_logging
from neuronx.queue.tasks import JobContext, Registry, Task
from neuronx.queue.worker import Worker
from neuronx.store.db import Database

CREATE = (
    "CREATE TABLE IF NOT EXISTS effects (n INTEGER NOT NULL, job_id BIGINT NOT NULL)"
)


def effect(ctx: JobContext) -> None:
    delay = float(ctx.args.get("sleep", 0))
    if delay:
        time.sleep(delay)
    with ctx.db.write() as conn:
        conn.execute(
            text("INSERT INTO effects (n, job_id) VALUES (:n, :job)"),
            {"n": ctx.args["n"], "job": ctx.job_id},
        )


def main() -> None:
    url, concurrency, lease = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    configure_logging("warning")
    registry = Registry()
    registry.add(Task("test.effect", "test", effect))
    worker = Worker(
        Database(url),
        registry,
        Settings,
        concurrency=concurrency,
        lease_seconds=lease,
        heartbeat_interval=lease / 4,
        poll_interval=0.1,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.run_until_stopped(stop, deadline_seconds=10)


if __name__ == "__main__":
    main()
