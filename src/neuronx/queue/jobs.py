"""Deferring jobs and publishing to topics, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from neuronx.queue.retry import RetryPolicy
from neuronx.queue.tasks import Registry
from neuronx.store import raw

__all__ = ["JobSpec", "Message", "defer", "publish"]

# (tenant_id, event_id, traceparent, args) of one publication.
Message = tuple[str | None, str | None, str | None, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job to create: which task runs, on which queue, with what arguments."""

    queue: str
    task: str
    args: dict[str, Any] = field(default_factory=dict)
    tenant_id: str | None = None
    event_id: str | None = None
    traceparent: str | None = None
    max_attempts: int = 8
    run_at: float = 0.0


_JOB_COLUMNS = (
    "queue, task, args, tenant_id, event_id, traceparent, status, attempts, "
    "max_attempts, run_at, errors, created_at"
)
# Placeholders only are formatted in: no value ever reaches the SQL text.
_INSERT_JOBS = {
    "sqlite": f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * 12)})",  # noqa: S608
    "postgresql": f"INSERT INTO jobs ({_JOB_COLUMNS}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * 12)})",
}
_NOTIFY = "SELECT pg_notify('neuronx_jobs', %s)"


def defer(conn: Connection, specs: Sequence[JobSpec], *, now: float) -> None:
    """Insert jobs as ``available``, in the caller's transaction.

    Every event and every pipeline stage defers jobs, so this speaks to the
    driver directly (one prepared insert for the batch, JSON encoded once).
    On PostgreSQL a notification per queue wakes listening workers when the
    transaction commits (and not before: NOTIFY is transactional).
    """
    if not specs:
        return
    rows = [
        (
            spec.queue,
            spec.task,
            orjson.dumps(spec.args).decode(),
            spec.tenant_id,
            spec.event_id,
            spec.traceparent,
            "available",
            0,
            spec.max_attempts,
            max(spec.run_at, now),
            "[]",
            now,
        )
        for spec in specs
    ]
    # PostgreSQL delivers one notification per channel and payload at commit
    # however often it was sent, so a pipelined transaction sends each once.
    notices = [
        (_NOTIFY, (queue,))
        for queue in sorted({spec.queue for spec in specs})
        if conn.dialect.name == "postgresql" and raw.first_time(conn, f"notify:{queue}")
    ]
    queued = raw.pending(conn)
    if queued is not None:
        # A pipelined stage: the insert travels with the stage's other writes.
        queued.extend((_INSERT_JOBS["postgresql"], row) for row in rows)
        queued.extend(notices)
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.executemany(_INSERT_JOBS[conn.dialect.name], rows)
    for sql, values in notices:
        cursor.execute(sql, values)


def publish(
    conn: Connection,
    registry: Registry,
    topic: str,
    *,
    now: float,
    default_retry: RetryPolicy,
    messages: Sequence[Message],
) -> int:
    """One job per subscriber of ``topic`` per message; returns how many."""
    specs = [
        JobSpec(
            queue=task.queue,
            task=task.name,
            args=args,
            tenant_id=tenant_id,
            event_id=event_id,
            traceparent=traceparent,
            max_attempts=(task.retry or default_retry).max_attempts,
        )
        for task in registry.subscribers(topic)
        for tenant_id, event_id, traceparent, args in messages
    ]
    defer(conn, specs, now=now)
    return len(specs)
