"""Deferring jobs and publishing to topics, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, text

from neuronx.queue.retry import RetryPolicy
from neuronx.queue.tasks import Registry
from neuronx.store import schema

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


def defer(conn: Connection, specs: Sequence[JobSpec], *, now: float) -> None:
    """Insert jobs as ``available``; one statement for the whole batch.

    On PostgreSQL a notification per queue wakes listening workers when the
    transaction commits (and not before: NOTIFY is transactional).
    """
    if not specs:
        return
    conn.execute(
        insert(schema.jobs),
        [
            {
                "queue": spec.queue,
                "task": spec.task,
                "args": spec.args,
                "tenant_id": spec.tenant_id,
                "event_id": spec.event_id,
                "traceparent": spec.traceparent,
                "status": "available",
                "attempts": 0,
                "max_attempts": spec.max_attempts,
                "run_at": max(spec.run_at, now),
                "errors": [],
                "created_at": now,
            }
            for spec in specs
        ],
    )
    if conn.dialect.name == "postgresql":
        for queue in sorted({spec.queue for spec in specs}):
            conn.execute(text("SELECT pg_notify('neuronx_jobs', :q)"), {"q": queue})


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
