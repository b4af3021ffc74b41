"""The queue's SQL: claim, finish, retry, dead-letter, lease upkeep, replay.

Claiming takes a batch in one statement. On PostgreSQL the inner select locks
with ``FOR UPDATE SKIP LOCKED``, so many workers on many machines take
disjoint batches without waiting on each other; SQLite has one writer at a
time, so the same ``UPDATE ... RETURNING`` is already exclusive there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select, update

from neuronx.store import schema
from neuronx.store.raw import Statement, json_param

__all__ = [
    "ClaimedJob",
    "claim",
    "dead_letter_counts",
    "finish_succeeded",
    "get_dead_letter",
    "list_dead_letters",
    "prune_succeeded",
    "purge_dead_letters",
    "queue_stats",
    "reclaim_expired",
    "record_failure",
    "release",
    "renew_leases",
    "replay_dead_letters",
]

jobs = schema.jobs


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    queue: str
    task: str
    args: dict[str, Any]
    tenant_id: str | None
    event_id: str | None
    traceparent: str | None
    attempts: int
    max_attempts: int
    errors: list[dict[str, Any]]


_CLAIMS: dict[int, Statement] = {}


def _claim_statement(queues: int) -> Statement:
    """The claim for that many queues, each its own placeholder.

    ``queue IN (:q0)`` and not ``queue = ANY(:queues)``: with a list the
    planner cannot tell that one queue is asked for, and sorts every
    available job instead of walking the index in order.
    """
    statement = _CLAIMS.get(queues)
    if statement is None:
        names = ", ".join(f":q{index}" for index in range(queues))
        due = (
            "SELECT id FROM jobs WHERE status = 'available' "  # noqa: S608
            f"AND queue IN ({names}) AND run_at <= :now ORDER BY run_at, id "
            "LIMIT :limit"
        )
        claim = (
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, "
            "worker_id = :worker_id, lease_expires_at = :lease_expires_at "
            "WHERE id IN ({due}) RETURNING id, queue, task, args, tenant_id, "
            "event_id, traceparent, attempts, max_attempts, errors"
        )
        statement = Statement(
            claim.format(due=due + " FOR UPDATE SKIP LOCKED"),
            sqlite=claim.format(due=due),
            json_columns=("args", "errors"),
        )
        _CLAIMS[queues] = statement
    return statement


# Job ids are a list: an array on PostgreSQL, a JSON array on SQLite.
_FINISH = Statement(
    "UPDATE jobs SET status = 'succeeded', finished_at = :now, "
    "lease_expires_at = NULL WHERE id = ANY(:ids) AND status = 'running' "
    "AND worker_id = :worker_id",
    sqlite="UPDATE jobs SET status = 'succeeded', finished_at = :now, "
    "lease_expires_at = NULL WHERE id IN (SELECT value FROM json_each(:ids)) "
    "AND status = 'running' AND worker_id = :worker_id",
)


def claim(
    conn: Connection,
    queues: Sequence[str],
    *,
    worker_id: str,
    limit: int,
    now: float,
    lease_seconds: float,
) -> list[ClaimedJob]:
    """Take up to ``limit`` due jobs, oldest first, and lease them to ``worker_id``.

    Every batch of every worker runs it, so it goes to the driver (see
    store.raw).
    """
    rows = _claim_statement(len(queues)).all(
        conn,
        worker_id=worker_id,
        lease_expires_at=now + lease_seconds,
        now=now,
        limit=limit,
        **{f"q{index}": queue for index, queue in enumerate(queues)},
    )
    claimed = [_job(row) for row in rows]
    claimed.sort(key=lambda job: job.id)
    return claimed


def finish_succeeded(
    conn: Connection, job_ids: Sequence[int], *, worker_id: str, now: float
) -> None:
    """Mark a batch of jobs done; a job whose lease was lost is not touched.

    Pipelined, it travels with the next statement (the next claim).
    """
    if job_ids:
        _FINISH.execute(
            conn, now=now, ids=_list_param(conn, job_ids), worker_id=worker_id
        )


def _list_param(conn: Connection, values: Sequence[Any]) -> Any:
    return list(values) if conn.dialect.name == "postgresql" else json_param(values)


def record_failure(
    conn: Connection,
    job: ClaimedJob,
    error: str,
    *,
    now: float,
    retry_at: float | None,
) -> str:
    """Keep the attempt's error; retry at ``retry_at``, or dead-letter on None."""
    errors = [*job.errors, {"attempt": job.attempts, "at": now, "error": error}]
    if retry_at is None:
        values: dict[str, Any] = {"status": "dead", "finished_at": now}
    else:
        values = {"status": "available", "run_at": retry_at}
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job.id, jobs.c.status == "running")
        .values(errors=errors, lease_expires_at=None, worker_id=None, **values)
    )
    return str(values["status"])


def release(conn: Connection, job_ids: Sequence[int], *, worker_id: str) -> int:
    """Give back claimed jobs that were never started (a draining worker)."""
    if not job_ids:
        return 0
    result = conn.execute(
        update(jobs)
        .where(
            jobs.c.id.in_(job_ids),
            jobs.c.status == "running",
            jobs.c.worker_id == worker_id,
        )
        .values(
            status="available",
            attempts=jobs.c.attempts - 1,
            worker_id=None,
            lease_expires_at=None,
        )
    )
    return int(result.rowcount)


def renew_leases(
    conn: Connection, *, worker_id: str, now: float, lease_seconds: float
) -> int:
    result = conn.execute(
        update(jobs)
        .where(jobs.c.worker_id == worker_id, jobs.c.status == "running")
        .values(lease_expires_at=now + lease_seconds)
    )
    return int(result.rowcount)


def reclaim_expired(conn: Connection, *, now: float) -> list[ClaimedJob]:
    """Put back jobs whose worker stopped renewing its lease (it died).

    The lost attempt counts: a job that kills its worker every time must end
    in the dead letters, not loop forever. Returns the jobs it touched, with
    their new error lists, so the caller can dead-letter those out of attempts.
    """
    rows = conn.execute(
        select(
            jobs.c.id,
            jobs.c.queue,
            jobs.c.task,
            jobs.c.args,
            jobs.c.tenant_id,
            jobs.c.event_id,
            jobs.c.traceparent,
            jobs.c.attempts,
            jobs.c.max_attempts,
            jobs.c.errors,
        )
        .where(jobs.c.status == "running", jobs.c.lease_expires_at < now)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    return [_job(row) for row in rows]


def queue_stats(conn: Connection, *, now: float) -> dict[str, tuple[int, float]]:
    """Per queue: jobs waiting (available), and the age of the oldest due one."""
    rows = conn.execute(
        select(jobs.c.queue, func.count(), func.min(jobs.c.run_at))
        .where(jobs.c.status == "available")
        .group_by(jobs.c.queue)
    ).all()
    return {
        queue: (
            int(count),
            max(0.0, now - float(oldest)) if oldest is not None else 0.0,
        )
        for queue, count, oldest in rows
    }


def dead_letter_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(jobs.c.queue, func.count())
        .where(jobs.c.status == "dead")
        .group_by(jobs.c.queue)
    ).all()
    return {queue: int(count) for queue, count in rows}


def _dead(tenant_id: str | None) -> list[Any]:
    conditions: list[Any] = [jobs.c.status == "dead"]
    if tenant_id is not None:
        conditions.append(jobs.c.tenant_id == tenant_id)
    return conditions


def list_dead_letters(
    conn: Connection,
    *,
    tenant_id: str | None,
    queue: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[Any]:
    conditions = _dead(tenant_id)
    if queue is not None:
        conditions.append(jobs.c.queue == queue)
    if after_id is not None:
        conditions.append(jobs.c.id > after_id)
    return list(
        conn.execute(
            select(jobs).where(and_(*conditions)).order_by(jobs.c.id).limit(limit)
        ).all()
    )


def get_dead_letter(conn: Connection, job_id: int, *, tenant_id: str | None) -> Any:
    return conn.execute(
        select(jobs).where(jobs.c.id == job_id, *_dead(tenant_id))
    ).first()


def replay_dead_letters(
    conn: Connection,
    *,
    tenant_id: str | None,
    now: float,
    job_ids: Sequence[int] | None = None,
    queue: str | None = None,
) -> list[Any]:
    """Back to the queue with attempts reset; the error history and trace stay."""
    conditions = _dead(tenant_id)
    if job_ids is not None:
        conditions.append(jobs.c.id.in_(job_ids))
    if queue is not None:
        conditions.append(jobs.c.queue == queue)
    rows = conn.execute(
        update(jobs)
        .where(and_(*conditions))
        .values(
            status="available",
            attempts=0,
            run_at=now,
            finished_at=None,
            worker_id=None,
            lease_expires_at=None,
        )
        .returning(jobs.c.id, jobs.c.queue, jobs.c.event_id)
    ).all()
    return list(rows)


def purge_dead_letters(
    conn: Connection,
    *,
    tenant_id: str | None,
    job_ids: Sequence[int] | None = None,
    older_than: float | None = None,
) -> int:
    conditions = _dead(tenant_id)
    if job_ids is not None:
        conditions.append(jobs.c.id.in_(job_ids))
    if older_than is not None:
        conditions.append(jobs.c.finished_at < older_than)
    result = conn.execute(delete(jobs).where(and_(*conditions)))
    return int(result.rowcount)


def prune_succeeded(conn: Connection, *, older_than: float, limit: int = 5000) -> int:
    """Delete finished jobs past their retention, a bounded batch at a time."""
    ids = (
        select(jobs.c.id)
        .where(jobs.c.status == "succeeded", jobs.c.finished_at < older_than)
        .limit(limit)
    )
    result = conn.execute(delete(jobs).where(jobs.c.id.in_(ids.scalar_subquery())))
    return int(result.rowcount)


def _job(row: Any) -> ClaimedJob:
    return ClaimedJob(
        id=row.id,
        queue=row.queue,
        task=row.task,
        args=row.args,
        tenant_id=row.tenant_id,
        event_id=row.event_id,
        traceparent=row.traceparent,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        errors=list(row.errors or []),
    )
