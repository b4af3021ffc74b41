"""A worker process for the queue benchmark: one task that does nothing.

``python bench/_noop_worker.py URL CONCURRENCY BATCH [LEASE]``; it stops on
SIGTERM. With ``sleep`` in a job's args, the job sleeps that long, which the
crash measurement uses to keep jobs in flight.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

from neuronx.config import Settings
from neuronx.observability.logs import configure_logging
from neuronx.queue.tasks import JobContext, Registry, Task
from neuronx.queue.worker import Worker
from neuronx.store.db import Database


def nothing(ctx: JobContext) -> None:
    delay = float(ctx.args.get("sleep", 0))
    if delay:
        time.sleep(delay)


def main() -> None:
    url, concurrency, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lease = float(sys.argv[4]) if len(sys.argv) > 4 else 15.0
    configure_logging("warning")
    registry = Registry()
    registry.add(Task("bench.noop", "bench", nothing))
    worker = Worker(
        Database(url),
        registry,
        Settings,
        concurrency=concurrency,
        batch_size=batch,
        lease_seconds=lease,
        heartbeat_interval=min(5.0, lease / 3),
        poll_interval=0.2,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.run_until_stopped(stop, deadline_seconds=10)


if __name__ == "__main__":
    main()
