"""The worker against a real store: retries, dead letters, replay, leases, drain."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, select, text

from neuronx.config import Settings
from neuronx.errors import PermanentJobError, RetryJob
from neuronx.queue import deadletters, store
from neuronx.queue.jobs import JobSpec, defer
from neuronx.queue.retry import RetryPolicy
from neuronx.queue.tasks import JobContext, Registry, Task
from neuronx.queue.worker import Worker
from neuronx.store import raw, schema
from neuronx.store.db import Database

FAST = RetryPolicy(max_attempts=4, base_seconds=0.2, max_seconds=0.8)


class Recorder:
    """A handler that fails a set number of times, noting when each attempt began."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or RuntimeError("boom")
        self.starts: list[tuple[int, int, float]] = []
        self.lock = threading.Lock()

    def __call__(self, ctx: JobContext) -> None:
        with self.lock:
            self.starts.append((ctx.job_id, ctx.attempt, time.monotonic()))
            failing = (
                sum(1 for job, _, _ in self.starts if job == ctx.job_id)
                <= self.failures
            )
        if failing:
            raise self.error


def registry_with(
    handler: Callable[[JobContext], None], retry: RetryPolicy = FAST
) -> Registry:
    registry = Registry()
    registry.add(Task("test.task", "test", handler, retry=retry))
    return registry


def enqueue(db: Database, count: int = 1, *, max_attempts: int = 4) -> list[int]:
    with db.write() as conn:
        defer(
            conn,
            [
                JobSpec("test", "test.task", {"n": n}, max_attempts=max_attempts)
                for n in range(count)
            ],
            now=time.time(),
        )
        rows = conn.execute(select(schema.jobs.c.id).order_by(schema.jobs.c.id)).all()
    return [row.id for row in rows]


def statuses(db: Database) -> dict[int, str]:
    with db.read() as conn:
        rows = conn.execute(select(schema.jobs.c.id, schema.jobs.c.status)).all()
    return {row.id: row.status for row in rows}


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@contextmanager
def running(db: Database, registry: Registry, **options: float) -> Iterator[Worker]:
    worker = Worker(
        db,
        registry,
        Settings,
        poll_interval=options.pop("poll_interval", 0.02),
        heartbeat_interval=options.pop("heartbeat_interval", 0.2),
        **options,  # type: ignore[arg-type]
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(10)


def test_failing_k_times_then_succeeding_takes_k_plus_one_attempts(
    db: Database,
) -> None:
    handler = Recorder(failures=2)
    (job_id,) = enqueue(db)

    with running(db, registry_with(handler)):
        wait_for(lambda: statuses(db)[job_id] == "succeeded")

    attempts = [attempt for _, attempt, _ in handler.starts]
    assert attempts == [1, 2, 3]
    gaps = [
        later[2] - earlier[2]
        for earlier, later in zip(handler.starts, handler.starts[1:], strict=False)
    ]
    for attempt, gap in enumerate(gaps, start=1):
        ceiling = FAST.ceiling(attempt)
        # Lower bound is the jitter's floor; the upper bound allows for polling.
        assert ceiling / 2 - 0.01 <= gap <= ceiling + 0.5, (attempt, gap)
    with db.read() as conn:
        job = conn.execute(select(schema.jobs).where(schema.jobs.c.id == job_id)).one()
    assert job.attempts == 3
    assert [entry["attempt"] for entry in job.errors] == [1, 2]


def test_always_failing_job_is_dead_after_max_attempts_then_replayed(
    db: Database,
) -> None:
    handler = Recorder(failures=4)
    (job_id,) = enqueue(db, max_attempts=4)

    with running(db, registry_with(handler)):
        wait_for(lambda: statuses(db)[job_id] == "dead")
        assert len(handler.starts) == 4
        with db.read() as conn:
            dead = store.get_dead_letter(conn, job_id, tenant_id=None)
        assert [entry["attempt"] for entry in dead.errors] == [1, 2, 3, 4]
        assert all("RuntimeError: boom" in entry["error"] for entry in dead.errors)

        replayed = deadletters.replay(db, tenant_id=None, job_ids=[job_id])
        wait_for(lambda: statuses(db)[job_id] == "succeeded")

    assert replayed == [job_id]
    assert len(handler.starts) == 5
    assert handler.starts[-1][1] == 1


def test_permanent_error_dead_letters_at_once(db: Database) -> None:
    handler = Recorder(failures=10, error=PermanentJobError("no_contact"))
    (job_id,) = enqueue(db)

    with running(db, registry_with(handler)):
        wait_for(lambda: statuses(db)[job_id] == "dead")

    assert len(handler.starts) == 1
    with db.read() as conn:
        dead = store.get_dead_letter(conn, job_id, tenant_id=None)
    assert dead.errors[0]["error"] == "no_contact"


def test_handler_can_ask_for_its_own_delay(db: Database) -> None:
    handler = Recorder(failures=1, error=RetryJob("rate limited", delay_seconds=0.6))
    (job_id,) = enqueue(db)

    with running(db, registry_with(handler)):
        wait_for(lambda: statuses(db)[job_id] == "succeeded")

    assert handler.starts[1][2] - handler.starts[0][2] >= 0.6


def test_unknown_task_is_dead_lettered(db: Database) -> None:
    with db.write() as conn:
        defer(conn, [JobSpec("test", "no.such.task")], now=time.time())

    with running(db, registry_with(Recorder())):
        wait_for(lambda: list(statuses(db).values()) == ["dead"])


def test_expired_lease_is_taken_back_by_another_worker(db: Database) -> None:
    handler = Recorder()
    job_ids = enqueue(db, 5)
    with db.write() as conn:
        lost = store.claim(
            conn,
            ["test"],
            worker_id="lost-worker",
            limit=5,
            now=time.time(),
            lease_seconds=0.3,
        )
    assert len(lost) == 5

    with running(db, registry_with(handler)):
        wait_for(lambda: set(statuses(db).values()) == {"succeeded"})

    assert sorted(job for job, _, _ in handler.starts) == job_ids
    with db.read() as conn:
        rows = conn.execute(select(schema.jobs)).all()
    assert all(row.attempts == 2 for row in rows)
    assert all(row.errors[0]["error"].startswith("lease_expired") for row in rows)


def test_running_jobs_keep_their_lease_alive(db: Database) -> None:
    release = threading.Event()

    def slow(ctx: JobContext) -> None:
        release.wait(5)

    (job_id,) = enqueue(db)
    with running(
        db, registry_with(slow), lease_seconds=0.5, heartbeat_interval=0.1
    ) as worker:
        wait_for(lambda: statuses(db)[job_id] == "running")
        time.sleep(1.2)
        assert worker.reclaim_expired() == 0
        assert statuses(db)[job_id] == "running"
        release.set()
        wait_for(lambda: statuses(db)[job_id] == "succeeded")


def test_stop_finishes_running_job_and_releases_the_rest(db: Database) -> None:
    started = threading.Event()
    finished: list[int] = []

    def slow(ctx: JobContext) -> None:
        started.set()
        time.sleep(0.5)
        finished.append(ctx.job_id)

    job_ids = enqueue(db, 4)
    worker = Worker(db, registry_with(slow), Settings, poll_interval=0.02, batch_size=4)
    worker.start()
    assert started.wait(5)
    worker.stop(5)

    final = statuses(db)
    assert finished == [job_ids[0]]
    assert final[job_ids[0]] == "succeeded"
    assert [final[j] for j in job_ids[1:]] == ["available"] * 3
    with db.read() as conn:
        rows = conn.execute(
            select(schema.jobs.c.attempts).where(schema.jobs.c.id.in_(job_ids[1:]))
        ).all()
    assert [row.attempts for row in rows] == [0, 0, 0]


def test_jobs_are_claimed_by_one_worker_each(db: Database) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def note(ctx: JobContext) -> None:
        with lock:
            seen.append(ctx.job_id)

    job_ids = enqueue(db, 400)
    registry = registry_with(note)
    with running(db, registry, concurrency=4), running(db, registry, concurrency=4):
        wait_for(lambda: set(statuses(db).values()) == {"succeeded"})

    assert sorted(seen) == job_ids


def test_atomic_batch_commits_effects_with_completion_and_isolates_failures(
    db: Database,
) -> None:
    with db.write() as conn:
        conn.execute(text("CREATE TABLE marks (n INTEGER NOT NULL)"))

    def mark(ctx: JobContext, conn: Connection) -> None:
        conn.execute(text("INSERT INTO marks (n) VALUES (:n)"), {"n": ctx.args["n"]})
        if ctx.args["n"] == 3:
            raise PermanentJobError("bad_row")

    registry = Registry()
    registry.add(Task("test.task", "test", atomic=mark, retry=FAST))
    job_ids = enqueue(db, 6)

    with running(db, registry, batch_size=6):
        wait_for(lambda: set(statuses(db).values()) == {"succeeded", "dead"})

    with db.read() as conn:
        marks = sorted(row.n for row in conn.execute(text("SELECT n FROM marks")).all())
    final = statuses(db)
    assert marks == [0, 1, 2, 4, 5]
    assert [final[j] for j in job_ids] == ["succeeded"] * 3 + ["dead"] + [
        "succeeded"
    ] * 2


def test_atomic_effects_vanish_when_the_commit_does_not_happen(db: Database) -> None:
    with db.write() as conn:
        conn.execute(text("CREATE TABLE marks (n INTEGER NOT NULL)"))
    calls: list[int] = []

    def mark_then_lose_the_lease(ctx: JobContext, conn: Connection) -> None:
        calls.append(ctx.attempt)
        conn.execute(text("INSERT INTO marks (n) VALUES (:n)"), {"n": ctx.args["n"]})
        if ctx.attempt == 1:
            # The worker dies here: nothing of this attempt may survive.
            raise SystemExit

    registry = Registry()
    registry.add(Task("test.task", "test", atomic=mark_then_lose_the_lease))
    (job_id,) = enqueue(db)
    worker = Worker(db, registry, Settings, poll_interval=0.02, lease_seconds=0.3)
    batch = worker._claim()
    with pytest.raises(SystemExit):
        worker._run_atomic(batch)
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM marks")).scalar_one() == 0

    with running(db, registry, lease_seconds=0.3):
        wait_for(lambda: statuses(db)[job_id] == "succeeded")

    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM marks")).scalar_one() == 1
    assert calls == [1, 2]


def test_atomic_batch_isolates_a_write_that_fails_in_the_database(
    db: Database,
) -> None:
    with db.write() as conn:
        conn.execute(text("CREATE TABLE marks (n INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO marks (n) VALUES (103)"))
    insert = raw.Statement("INSERT INTO marks (n) VALUES (:n)")

    def mark(ctx: JobContext, conn: Connection) -> None:
        # On PostgreSQL the insert is queued; job 3's duplicate key fails
        # only when the queue is sent, after the handler has returned.
        insert.execute(conn, n=100 + ctx.args["n"])

    registry = Registry()
    registry.add(Task("test.task", "test", atomic=mark, retry=FAST))
    job_ids = enqueue(db, 6, max_attempts=2)

    with running(db, registry, batch_size=6):
        wait_for(lambda: set(statuses(db).values()) == {"succeeded", "dead"})

    with db.read() as conn:
        marks = sorted(row.n for row in conn.execute(text("SELECT n FROM marks")).all())
        job = conn.execute(
            select(schema.jobs.c.errors).where(schema.jobs.c.id == job_ids[3])
        ).one()
    final = statuses(db)
    assert marks == [100, 101, 102, 103, 104, 105]
    assert [final[j] for j in job_ids] == ["succeeded"] * 3 + ["dead"] + [
        "succeeded"
    ] * 2
    assert len(job.errors) == 2
    errors = [entry["error"].split(":")[0] for entry in job.errors]
    assert errors == ["IntegrityError" if db.is_sqlite else "UniqueViolation"] * 2


def test_commit_callbacks_run_once_for_each_committed_job(db: Database) -> None:
    committed: list[int] = []
    tried: list[int] = []

    def work(ctx: JobContext, conn: Connection) -> None:
        tried.append(ctx.args["n"])
        ctx.on_commit(lambda: committed.append(ctx.args["n"]))
        if ctx.args["n"] == 2:
            raise PermanentJobError("bad_row")

    registry = Registry()
    registry.add(Task("test.task", "test", atomic=work, retry=FAST))
    enqueue(db, 5)

    with running(db, registry, batch_size=5):
        wait_for(lambda: set(statuses(db).values()) == {"succeeded", "dead"})

    assert sorted(committed) == [0, 1, 3, 4]
    # Each job ran at least once; a batch that meets a failure may run twice.
    assert set(tried) == {0, 1, 2, 3, 4}


@pytest.mark.parametrize(("rounds", "one_commit"), [(3, True), (1, False)])
def test_jobs_deferred_by_an_atomic_batch_can_run_in_its_transaction(
    db: Database, rounds: int, one_commit: bool
) -> None:
    def stage(ctx: JobContext, conn: Connection) -> None:
        if ctx.args["n"] < 2:
            defer(conn, [JobSpec("test", "test.task", {"n": ctx.args["n"] + 1})], now=0)

    registry = Registry()
    registry.add(Task("test.task", "test", atomic=stage, retry=FAST))
    enqueue(db, 1)

    with running(db, registry, chain_rounds=rounds):
        wait_for(lambda: list(statuses(db).values()) == ["succeeded"] * 3)

    with db.read() as conn:
        finished = conn.execute(
            select(schema.jobs.c.finished_at).order_by(schema.jobs.c.id)
        ).all()
    # A transaction marks all its jobs done with one timestamp.
    assert (len({row.finished_at for row in finished}) == 1) is one_commit
