"""The worker: claims jobs in batches, runs their tasks, keeps its leases alive.

One worker per process, with ``concurrency`` threads that each claim a small
batch, run it, and mark the successes done in one statement. A heartbeat
thread renews this worker's leases, puts back the jobs of workers that died
(their leases ran out), refreshes the queue gauges and prunes old rows.

Wake-ups: on PostgreSQL a LISTEN connection turns each commit that defers jobs
into an immediate claim; the embedded worker on SQLite is woken in-process by
the receiver. Polling every ``poll_interval`` covers whatever a notification
misses (another process on SQLite, a dropped LISTEN connection).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy import Connection

from neuronx.config import Settings
from neuronx.errors import NeuronXError, PermanentJobError, RetryJob
from neuronx.observability.metrics import (
    DEAD_LETTERS,
    JOBS,
    QUEUE_DEPTH,
    QUEUE_OLDEST_AGE,
)
from neuronx.queue import store
from neuronx.queue.retry import RetryPolicy
from neuronx.queue.store import ClaimedJob
from neuronx.queue.tasks import JobContext, Registry
from neuronx.store import raw
from neuronx.store.db import Database

__all__ = ["Wakeup", "Worker", "refresh_queue_gauges"]

log = logging.getLogger("neuronx.queue")

# The jobs that succeeded (with their contexts), those that failed, and the
# next batch claimed in the same commit.
_AtomicOutcome = tuple[
    list[tuple[ClaimedJob, JobContext]],
    list[tuple[ClaimedJob, Exception]],
    list[ClaimedJob],
]


def refresh_queue_gauges(db: Database, queues: list[str]) -> None:
    """Set depth, oldest age and dead letters per queue from the store.

    Both the API and the workers call it, so whichever process Prometheus
    scrapes reports the queues.
    """
    now = time.time()
    with db.read() as conn:
        stats = store.queue_stats(conn, now=now)
        dead = store.dead_letter_counts(conn)
    for queue in {*queues, *stats, *dead}:
        depth, oldest = stats.get(queue, (0, 0.0))
        QUEUE_DEPTH.labels(queue).set(depth)
        QUEUE_OLDEST_AGE.labels(queue).set(oldest)
        DEAD_LETTERS.labels(queue).set(dead.get(queue, 0))


class Wakeup:
    """A doorbell: producers ring it, idle worker threads wait on it."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._rings = 0

    def ring(self) -> None:
        with self._condition:
            self._rings += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """Wait until rung after ``seen`` (or ``timeout``); return the new count."""
        with self._condition:
            if self._rings == seen:
                self._condition.wait(timeout)
            return self._rings

    @property
    def rings(self) -> int:
        return self._rings


class Worker:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        settings: Callable[[], Settings],
        *,
        concurrency: int = 1,
        batch_size: int = 20,
        poll_interval: float = 1.0,
        lease_seconds: float = 15.0,
        heartbeat_interval: float = 5.0,
        succeeded_retention_seconds: float = 3600.0,
        wakeup: Wakeup | None = None,
        queues: list[str] | None = None,
        chain_rounds: int = 3,
    ) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.heartbeat_interval = heartbeat_interval
        self.succeeded_retention_seconds = succeeded_retention_seconds
        self.chain_rounds = chain_rounds
        self.wakeup = wakeup or Wakeup()
        self.queues = queues or registry.queues
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_prune = 0.0

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        for index in range(self.concurrency):
            self._spawn(self._claim_loop, f"neuronx-worker-{index}")
        self._spawn(self._heartbeat_loop, "neuronx-heartbeat")
        if not self.db.is_sqlite:
            self._spawn(self._listen_loop, "neuronx-listen")
        log.info(
            "Worker started",
            extra={
                "action": "worker_started",
                "worker_id": self.worker_id,
                "concurrency": self.concurrency,
                "queues": self.queues,
            },
        )

    def stop(self, deadline_seconds: float = 30.0) -> None:
        """Stop claiming; let running jobs finish until the deadline.

        Claimed jobs not started yet are released at once. A job still running
        at the deadline keeps its lease until it runs out, then another worker
        takes it: nothing is lost, it may run twice.
        """
        self._stopping.set()
        self.wakeup.ring()
        until = time.monotonic() + deadline_seconds
        for thread in self._threads:
            thread.join(max(0.0, until - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        log.info(
            "Worker stopped",
            extra={
                "action": "worker_stopped",
                "worker_id": self.worker_id,
                "left": alive,
            },
        )

    def run_until_stopped(self, stop: threading.Event, deadline_seconds: float) -> None:
        self.start()
        stop.wait()
        self.stop(deadline_seconds)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- claiming and running ------------------------------------------------

    def _claim_loop(self) -> None:
        seen = self.wakeup.rings
        while not self._stopping.is_set():
            try:
                batch = self._claim()
            except NeuronXError as exc:
                log.warning(
                    "Could not claim jobs",
                    extra={"action": "job_claim_failed", "reason": exc.detail},
                )
                self._stopping.wait(self.poll_interval)
                continue
            if not batch:
                seen = self.wakeup.wait(seen, self.poll_interval)
            # A batch of atomic jobs claims the next one in its own commit.
            while batch and not self._stopping.is_set():
                batch = self._run_batch(batch)
            if batch:
                self._release(batch)

    def _claim(self) -> list[ClaimedJob]:
        # A claim lost in a power cut only leaves its jobs available again.
        with self.db.write(durable=False) as conn:
            return self._claim_in(conn)

    def _claim_in(self, conn: Connection) -> list[ClaimedJob]:
        return store.claim(
            conn,
            self.queues,
            worker_id=self.worker_id,
            limit=self.batch_size,
            now=time.time(),
            lease_seconds=self.lease_seconds,
        )

    def _run_batch(self, batch: list[ClaimedJob]) -> list[ClaimedJob]:
        """Run a claimed batch; return the next batch if one was claimed with it."""
        atomic = [job for job in batch if self._is_atomic(job)]
        plain = [job for job in batch if not self._is_atomic(job)]
        succeeded: list[ClaimedJob] = []
        for index, job in enumerate(plain):
            if self._stopping.is_set():
                self._release(plain[index:])
                break
            if self._run(job):
                succeeded.append(job)
        self._finish(succeeded)
        if atomic:
            return self._run_atomic(atomic)
        return []

    def _is_atomic(self, job: ClaimedJob) -> bool:
        task = self.registry.tasks.get(job.task)
        return task is not None and task.atomic is not None

    def _context(self, job: ClaimedJob) -> JobContext:
        return JobContext(
            job_id=job.id,
            task=job.task,
            queue=job.queue,
            attempt=job.attempts,
            max_attempts=job.max_attempts,
            args=job.args,
            tenant_id=job.tenant_id,
            event_id=job.event_id,
            traceparent=job.traceparent,
            db=self.db,
            registry=self.registry,
        )

    def _run(self, job: ClaimedJob) -> bool:
        task = self.registry.tasks.get(job.task)
        if task is None or task.handler is None:
            self._fail(job, f"unknown_task: no task named {job.task!r}", permanent=True)
            return False
        try:
            task.handler(self._context(job))
        except Exception as exc:  # the handler's bug or outage must not kill the worker
            self._fail_with(job, exc)
            return False
        return True

    def _run_atomic(self, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        """Run a batch in one transaction that also marks the successes done.

        One commit (one fsync) serves the whole batch, and a job's effects
        commit with its completion, so they happen exactly once. The same
        commit claims the next batch, which is returned: a busy worker pays
        for one transaction per batch, not two.

        On PostgreSQL the batch first runs unfenced: its writes are pipelined
        across jobs and no savepoint costs a round trip. If anything in it
        fails, that transaction is rolled back whole and the batch runs again
        fenced, each job under its own savepoint, so that a failing job's
        writes roll back alone and the others commit.
        """
        outcome = None
        if not self.db.is_sqlite:
            outcome = self._atomic_transaction(jobs, fenced=False)
        if outcome is None:
            outcome = self._atomic_transaction(jobs, fenced=True)
        if outcome is None:
            return []
        succeeded, failed, ahead = outcome
        for job, context in succeeded:
            JOBS.labels(job.queue, "success").inc()
            for callback in context.committed:
                callback()
        for job, error in failed:
            self._fail_with(job, error)
        return ahead

    def _atomic_transaction(
        self, jobs: list[ClaimedJob], *, fenced: bool
    ) -> _AtomicOutcome | None:
        """One try at the batch's transaction; None when it did not commit.

        The transaction goes on with the atomic jobs it claims next, often
        the next stages of the jobs it just ran, for up to ``chain_rounds``
        batches: a lead's three stages then cost one commit, not three.
        """
        succeeded: list[tuple[ClaimedJob, JobContext]] = []
        failed: list[tuple[ClaimedJob, Exception]] = []
        ahead: list[ClaimedJob] = []
        rounds = self.chain_rounds
        try:
            with self.db.write() as conn, raw.pipelined(conn):
                batch = jobs
                for round_ in range(1, rounds + 1):
                    self._run_round(conn, batch, succeeded, failed, fenced=fenced)
                    # Failed jobs are recorded after this commit, one by one;
                    # a batch with failures lets the loop claim afresh after.
                    if failed or self._stopping.is_set():
                        break
                    ahead = self._claim_in(conn)
                    if round_ == rounds or not all(map(self._is_atomic, ahead)):
                        break
                    batch, ahead = ahead, []
                store.finish_succeeded(
                    conn,
                    [job.id for job, _ in succeeded],
                    worker_id=self.worker_id,
                    now=time.time(),
                )
        except Exception as exc:
            if not fenced:
                # Whatever it was, the fenced run meets it again and records it.
                return None
            if not isinstance(exc, NeuronXError):
                raise
            log.warning(
                "A batch could not commit; its leases will run out and it will rerun",
                extra={"action": "job_batch_failed", "reason": exc.detail},
            )
            return None
        return succeeded, failed, ahead

    def _run_round(
        self,
        conn: Connection,
        jobs: list[ClaimedJob],
        succeeded: list[tuple[ClaimedJob, JobContext]],
        failed: list[tuple[ClaimedJob, Exception]],
        *,
        fenced: bool,
    ) -> None:
        for index, job in enumerate(jobs):
            if self._stopping.is_set():
                ids = [j.id for j in jobs[index:]]
                store.release(conn, ids, worker_id=self.worker_id)
                return
            context = self._context(job)
            error = self._run_in(conn, job, context, fenced=fenced)
            if error is None:
                succeeded.append((job, context))
            else:
                failed.append((job, error))

    def _run_in(
        self, conn: Connection, job: ClaimedJob, context: JobContext, *, fenced: bool
    ) -> Exception | None:
        """Run one atomic job in the batch's transaction; its error, if fenced."""
        task = self.registry.tasks[job.task]
        assert task.atomic is not None
        if not fenced:
            task.atomic(context, conn)
            return None
        # Plain SQL rather than Connection.begin_nested(): Core compiles a
        # savepoint statement each time, which costs more than most jobs'
        # own writes. The release sends whatever the job still has queued,
        # so an error in any of its writes is raised here, inside its fence.
        raw.savepoint(conn)
        try:
            task.atomic(context, conn)
            raw.release_savepoint(conn)
        except Exception as exc:  # recorded after the commit
            raw.rollback_to_savepoint(conn)
            return exc
        return None

    def _fail_with(self, job: ClaimedJob, exc: Exception) -> None:
        if isinstance(exc, PermanentJobError):
            self._fail(job, exc.reason, permanent=True)
        elif isinstance(exc, RetryJob):
            self._fail(job, exc.reason, delay=exc.delay_seconds)
        else:
            self._fail(job, f"{type(exc).__name__}: {exc}"[:500])

    def _finish(self, succeeded: list[ClaimedJob]) -> None:
        if not succeeded:
            return
        try:
            with self.db.write(durable=False) as conn:
                store.finish_succeeded(
                    conn,
                    [job.id for job in succeeded],
                    worker_id=self.worker_id,
                    now=time.time(),
                )
        except NeuronXError as exc:
            # The jobs ran; their leases will run out and they will run again,
            # which their idempotent effects absorb.
            log.warning(
                "Could not mark jobs done",
                extra={"action": "job_finish_failed", "reason": exc.detail},
            )
            return
        for job in succeeded:
            JOBS.labels(job.queue, "success").inc()
        log.debug(
            "Jobs done",
            extra={"action": "job_success", "count": len(succeeded)},
        )

    def _release(self, jobs: list[ClaimedJob]) -> None:
        try:
            with self.db.write(durable=False) as conn:
                store.release(conn, [job.id for job in jobs], worker_id=self.worker_id)
        except NeuronXError as exc:
            log.warning(
                "Could not release jobs; their leases will run out",
                extra={"action": "job_release_failed", "reason": exc.detail},
            )

    def _policy(self, job: ClaimedJob) -> RetryPolicy:
        task = self.registry.tasks.get(job.task)
        if task is not None and task.retry is not None:
            return task.retry
        return RetryPolicy.from_settings(self.settings().retry)

    def _fail(
        self,
        job: ClaimedJob,
        error: str,
        *,
        permanent: bool = False,
        delay: float | None = None,
    ) -> None:
        now = time.time()
        retry_at: float | None = None
        if not permanent and job.attempts < job.max_attempts:
            wait = delay if delay is not None else self._policy(job).delay(job.attempts)
            retry_at = None if wait is None else now + wait
        try:
            self._record(job, error, now=now, retry_at=retry_at)
        except NeuronXError as exc:
            log.warning(
                "Could not record a failed attempt; the lease will run out",
                extra={"action": "job_failure_not_recorded", "reason": exc.detail},
            )

    def _record(
        self, job: ClaimedJob, error: str, *, now: float, retry_at: float | None
    ) -> None:
        task = self.registry.tasks.get(job.task)
        with self.db.write() as conn:
            outcome = store.record_failure(conn, job, error, now=now, retry_at=retry_at)
            if outcome == "dead" and task is not None and task.on_dead is not None:
                task.on_dead(conn, job, error)
        context = {
            "job_id": job.id,
            "task": job.task,
            "queue": job.queue,
            "attempt": job.attempts,
            "event_id": job.event_id,
            "error": error,
        }
        if outcome == "dead":
            JOBS.labels(job.queue, "dead").inc()
            log.error(
                "Job dead-lettered",
                extra={"action": "job_dead", **context},
            )
        else:
            JOBS.labels(job.queue, "retry").inc()
            log.info(
                "Job will be retried",
                extra={"action": "job_retry", "retry_at": retry_at, **context},
            )

    # -- upkeep ----------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        while not self._stopping.wait(self.heartbeat_interval):
            try:
                self._heartbeat()
            except NeuronXError as exc:
                log.warning(
                    "Heartbeat could not reach the store",
                    extra={"action": "worker_heartbeat_failed", "reason": exc.detail},
                )

    def _heartbeat(self) -> None:
        now = time.time()
        with self.db.write(durable=False) as conn:
            store.renew_leases(
                conn,
                worker_id=self.worker_id,
                now=now,
                lease_seconds=self.lease_seconds,
            )
        self.reclaim_expired()
        self.update_gauges()
        if now - self._last_prune > 60:
            self._prune(now)
            self._last_prune = now

    def reclaim_expired(self) -> int:
        """Retry (or dead-letter) the jobs of workers whose leases ran out."""
        now = time.time()
        with self.db.write() as conn:
            expired = store.reclaim_expired(conn, now=now)
            for job in expired:
                retry_at = now if job.attempts < job.max_attempts else None
                outcome = store.record_failure(
                    conn,
                    job,
                    "lease_expired: the worker running it stopped answering",
                    now=now,
                    retry_at=retry_at,
                )
                task = self.registry.tasks.get(job.task)
                if outcome == "dead" and task is not None and task.on_dead is not None:
                    task.on_dead(conn, job, "lease_expired")
        for job in expired:
            log.warning(
                "Job taken back from a lost worker",
                extra={
                    "action": "job_lease_expired",
                    "job_id": job.id,
                    "queue": job.queue,
                },
            )
        if expired:
            self.wakeup.ring()
        return len(expired)

    def update_gauges(self) -> None:
        refresh_queue_gauges(self.db, self.registry.queues)

    def _prune(self, now: float) -> None:
        retention = self.settings().dead_letter_retention_seconds
        with self.db.write(durable=False) as conn:
            pruned = store.prune_succeeded(
                conn, older_than=now - self.succeeded_retention_seconds
            )
            purged = store.purge_dead_letters(
                conn, tenant_id=None, older_than=now - retention
            )
        if pruned or purged:
            log.info(
                "Old jobs pruned",
                extra={"action": "jobs_pruned", "succeeded": pruned, "dead": purged},
            )

    def _listen_loop(self) -> None:
        import psycopg

        url = self.db.writer.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute("LISTEN neuronx_jobs")
                    self.wakeup.ring()
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.wakeup.ring()
            except psycopg.Error as exc:
                log.warning(
                    "Lost the LISTEN connection; polling until it is back",
                    extra={"action": "worker_listen_failed", "reason": str(exc)[:200]},
                )
                self._stopping.wait(self.poll_interval)
