"""Events and their idempotency keys: the durable half of admitting a webhook."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    delete,
    insert,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from neuronx.store import schema

__all__ = [
    "Admission",
    "NewEvent",
    "admit",
    "get_event",
    "mark_event_dead",
    "set_event_status",
    "sweep_idempotency_keys",
]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A verified webhook about to be committed."""

    event_id: str
    tenant_id: str
    source_id: str
    type: str | None
    idempotency_key: str
    payload: bytes
    trace_id: str
    traceparent: str
    received_at: float


@dataclass(frozen=True, slots=True)
class Admission:
    """What the commit decided for one event."""

    event_id: str
    status: Literal["accepted", "duplicate", "held"]
    trace_id: str | None


def admit(
    conn: Connection, items: Sequence[NewEvent], *, ttl_seconds: int, now: float
) -> list[Admission]:
    """Claim each event's idempotency key and insert the events that won theirs.

    A key whose holder expired but was not swept yet is taken over, so the TTL
    holds to the second whatever the sweeper's pace. The whole batch costs
    three statements: the claims, the holders of the keys already taken, and
    the new events. Runs inside the caller's transaction; the caller enqueues
    the jobs for the accepted events in the same one.
    """
    firsts: dict[tuple[str, str, str], NewEvent] = {}
    for item in items:
        firsts.setdefault(_key(item), item)
    won = _claim_keys(conn, list(firsts.values()), ttl_seconds, now)
    holders = _holders(conn, [k for k in firsts if k not in won])

    results: list[Admission] = []
    fresh: list[NewEvent] = []
    for item in items:
        key = _key(item)
        if firsts[key] is item and key in won:
            fresh.append(item)
            results.append(Admission(item.event_id, "accepted", item.trace_id))
        else:
            holder = holders.get(key) or firsts[key].event_id
            results.append(Admission(holder, "duplicate", None))
    if fresh:
        conn.execute(insert(schema.events), [_event_row(item) for item in fresh])
    return results


def get_event(conn: Connection, tenant_id: str, event_id: str) -> Any:
    return conn.execute(
        select(schema.events).where(
            schema.events.c.id == event_id, schema.events.c.tenant_id == tenant_id
        )
    ).first()


def sweep_idempotency_keys(conn: Connection, now: float, *, limit: int = 5000) -> int:
    """Delete up to ``limit`` expired keys; small batches keep write locks short."""
    table = schema.idempotency_keys
    expired = (
        select(table.c.tenant_id, table.c.source_id, table.c.key)
        .where(table.c.expires_at <= now)
        .limit(limit)
    )
    rows = conn.execute(expired).all()
    for row in rows:
        conn.execute(
            delete(table).where(
                table.c.tenant_id == row.tenant_id,
                table.c.source_id == row.source_id,
                table.c.key == row.key,
                table.c.expires_at <= now,
            )
        )
    return len(rows)


def _key(item: NewEvent) -> tuple[str, str, str]:
    return (item.tenant_id, item.source_id, item.idempotency_key)


def _claim_keys(
    conn: Connection, items: list[NewEvent], ttl_seconds: int, now: float
) -> set[tuple[str, str, str]]:
    """Insert or take over each key; return the keys this batch now holds."""
    table = schema.idempotency_keys
    postgres = conn.dialect.name == "postgresql"
    statement = (postgresql.insert if postgres else sqlite.insert)(table)
    # "The holder expired" is written against the incoming row, whose
    # expires_at is now + ttl, so one statement serves the whole batch.
    expired = table.c.expires_at <= statement.excluded.expires_at - literal_column(
        repr(float(ttl_seconds))
    )
    claim = statement.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.source_id, table.c.key],
        set_={
            "event_id": statement.excluded.event_id,
            "expires_at": statement.excluded.expires_at,
        },
        where=expired,
    ).returning(table.c.tenant_id, table.c.source_id, table.c.key)
    rows = conn.execute(
        claim,
        [
            {
                "tenant_id": item.tenant_id,
                "source_id": item.source_id,
                "key": item.idempotency_key,
                "event_id": item.event_id,
                "expires_at": now + ttl_seconds,
            }
            for item in items
        ],
    ).all()
    return {(row.tenant_id, row.source_id, row.key) for row in rows}


def _holders(
    conn: Connection, keys: list[tuple[str, str, str]]
) -> dict[tuple[str, str, str], str]:
    if not keys:
        return {}
    table = schema.idempotency_keys
    rows = conn.execute(
        select(
            table.c.tenant_id, table.c.source_id, table.c.key, table.c.event_id
        ).where(tuple_(table.c.tenant_id, table.c.source_id, table.c.key).in_(keys))
    ).all()
    return {(r.tenant_id, r.source_id, r.key): str(r.event_id) for r in rows}


def _event_row(item: NewEvent) -> dict[str, Any]:
    return {
        "id": item.event_id,
        "tenant_id": item.tenant_id,
        "source_id": item.source_id,
        "type": item.type,
        "idempotency_key": item.idempotency_key,
        "status": "accepted",
        "payload": item.payload,
        "trace_id": item.trace_id,
        "traceparent": item.traceparent,
        "received_at": item.received_at,
        "updated_at": item.received_at,
    }


def set_event_status(
    conn: Connection,
    event_id: str,
    status: str,
    *,
    now: float,
    lead_id: str | None = None,
    last_error: str | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if lead_id is not None:
        values["lead_id"] = lead_id
    if last_error is not None:
        values["last_error"] = last_error
    conn.execute(
        update(schema.events).where(schema.events.c.id == event_id).values(**values)
    )


def mark_event_dead(conn: Connection, job: Any, error: str) -> None:
    """Dead-letter hook of the tasks that carry an event through its pipeline."""
    if job.event_id is not None:
        set_event_status(
            conn, job.event_id, "dead", now=time.time(), last_error=error[:500]
        )
