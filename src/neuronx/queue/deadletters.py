"""Operating on dead letters: the shared logic behind the routes and ``neuronx dlq``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, update

from neuronx.pagination import decode_id_cursor, encode_cursor
from neuronx.queue import store
from neuronx.store import schema
from neuronx.store.db import Database
from neuronx.timefmt import rfc3339

__all__ = ["page", "render", "replay"]


def render(row: Any) -> dict[str, Any]:
    """A dead letter as the API and the CLI show it."""
    return {
        "id": row.id,
        "queue": row.queue,
        "task": row.task,
        "tenant_id": row.tenant_id,
        "event_id": row.event_id,
        "attempts": [
            {"at": rfc3339(entry["at"]), "error": entry["error"]}
            for entry in (row.errors or [])
        ],
        "dead_at": rfc3339(row.finished_at),
        "traceparent": row.traceparent,
    }


def page(
    db: Database,
    *,
    tenant_id: str | None,
    queue: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    after = decode_id_cursor(cursor)
    with db.read() as conn:
        rows = store.list_dead_letters(
            conn, tenant_id=tenant_id, queue=queue, after_id=after, limit=limit + 1
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [render(row) for row in rows],
        "next_cursor": encode_cursor(rows[-1].id) if more and rows else None,
    }


def replay(
    db: Database,
    *,
    tenant_id: str | None,
    job_ids: Sequence[int] | None = None,
    queue: str | None = None,
) -> list[int]:
    """Put dead letters back on their queues; their events wait again."""
    now = time.time()
    with db.write() as conn:
        rows = store.replay_dead_letters(
            conn, tenant_id=tenant_id, now=now, job_ids=job_ids, queue=queue
        )
        _events_wait_again(conn, [row.event_id for row in rows if row.event_id], now)
    return sorted(row.id for row in rows)


def _events_wait_again(conn: Connection, event_ids: list[str], now: float) -> None:
    if not event_ids:
        return
    events = schema.events
    conn.execute(
        update(events)
        .where(events.c.id.in_(event_ids), events.c.status == "dead")
        .values(status="accepted", updated_at=now)
    )
