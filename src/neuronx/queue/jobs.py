"""Deferring jobs, inside the transaction of the write that causes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert

from neuronx.store import schema

__all__ = ["JobSpec", "defer"]


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
    """Insert jobs as ``available``; one statement for the whole batch."""
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
