"""Events and their idempotency keys: the durable half of admitting a webhook."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    delete,
    select,
)

from neuronx.store import schema
from neuronx.store.raw import Statement, pending

__all__ = [
    "Admission",
    "NewEvent",
    "admit",
    "get_event",
    "mark_event_dead",
    "set_event_status",
    "sweep_idempotency_keys",
]

# Every stage of every lead runs it, so it goes to the driver (see store.raw).
_SET_STATUS = Statement(
    "UPDATE events SET status = :status, updated_at = :now, "
    "lead_id = COALESCE(:lead_id, lead_id), "
    "last_error = COALESCE(:last_error, last_error) WHERE id = :id"
)
EVENT_TO_PROCESS = Statement(
    "SELECT id, tenant_id, source_id, payload FROM events WHERE id = :id"
)


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
    holds to the second whatever the sweeper's pace. Runs inside the caller's
    transaction; the caller enqueues the jobs for the accepted events in the
    same one.

    This is the hottest write of the service, so it speaks to the driver
    directly: a whole batch costs three statements and no query building.
    In a pipelined transaction (see store.raw) the event rows are queued.
    """
    firsts: dict[Key, NewEvent] = {}
    for item in items:
        firsts.setdefault(_key(item), item)
    raw: Any = conn.connection.driver_connection
    claim = _claim_postgresql if conn.dialect.name == "postgresql" else _claim_sqlite
    won, holders = claim(raw, list(firsts.values()), ttl_seconds, now)

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
        rows = [_event_values(item) for item in fresh]
        queued = pending(conn)
        if queued is not None:
            # Pipelined: the rows travel with the jobs and the notification.
            queued.extend((_INSERT_EVENTS["postgresql"], row) for row in rows)
        else:
            raw.cursor().executemany(_INSERT_EVENTS[conn.dialect.name], rows)
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


Key = tuple[str, str, str]


def _key(item: NewEvent) -> Key:
    return (item.tenant_id, item.source_id, item.idempotency_key)


# A join from the wanted keys, not ``(tenant_id, source_id, key) IN (VALUES
# ...)``: SQLite answers that row-value IN by scanning the whole table, a day's
# worth of keys for every batch, where the join looks each key up by the
# primary key.
_SQLITE_HELD = (
    "WITH wanted (tenant_id, source_id, key) AS (VALUES {rows}) "
    "SELECT k.tenant_id, k.source_id, k.key, k.event_id, k.expires_at "
    "FROM wanted w JOIN idempotency_keys k ON k.tenant_id = w.tenant_id "
    "AND k.source_id = w.source_id AND k.key = w.key"
)
_SQLITE_CLAIM = (
    "INSERT INTO idempotency_keys (tenant_id, source_id, key, event_id, expires_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, source_id, key) DO UPDATE SET "
    "event_id = excluded.event_id, expires_at = excluded.expires_at"
)
_POSTGRES_CLAIM = (
    "INSERT INTO idempotency_keys (tenant_id, source_id, key, event_id, expires_at) "
    "SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], "
    "%s::varchar[], %s::float8[]) "
    "ON CONFLICT (tenant_id, source_id, key) DO UPDATE SET "
    "event_id = EXCLUDED.event_id, expires_at = EXCLUDED.expires_at "
    "WHERE idempotency_keys.expires_at <= %s "
    "RETURNING tenant_id, source_id, key"
)
_POSTGRES_HOLDERS = (
    "SELECT k.tenant_id, k.source_id, k.key, k.event_id FROM idempotency_keys k "
    "JOIN unnest(%s::varchar[], %s::varchar[], %s::varchar[]) "
    "AS w(tenant_id, source_id, key) ON k.tenant_id = w.tenant_id "
    "AND k.source_id = w.source_id AND k.key = w.key"
)
_EVENT_COLUMNS = (
    "id, tenant_id, source_id, type, idempotency_key, status, payload, "
    "trace_id, traceparent, received_at, updated_at"
)
# Placeholders only are formatted in: no value ever reaches the SQL text.
_INSERT_EVENTS = {
    "sqlite": f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({', '.join('?' * 11)})",  # noqa: S608
    "postgresql": f"INSERT INTO events ({_EVENT_COLUMNS}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * 11)})",
}


def _claim_sqlite(
    raw: Any, items: list[NewEvent], ttl_seconds: int, now: float
) -> tuple[set[Key], dict[Key, str]]:
    """Read who holds the keys, then write the winners.

    The write transaction began with ``BEGIN IMMEDIATE``: no other writer can
    slip in between the read and the write.
    """
    keys = [_key(item) for item in items]
    cursor = raw.cursor()
    held: dict[Key, tuple[str, float]] = {}
    for start in range(0, len(keys), 300):
        chunk = keys[start : start + 300]
        rows = ", ".join(["(?, ?, ?)"] * len(chunk))
        cursor.execute(
            _SQLITE_HELD.format(rows=rows), [part for key in chunk for part in key]
        )
        for tenant_id, source_id, key, event_id, expires_at in cursor.fetchall():
            held[(tenant_id, source_id, key)] = (event_id, expires_at)

    won = {key for key in keys if key not in held or held[key][1] <= now}
    cursor.executemany(
        _SQLITE_CLAIM,
        [
            (*_key(item), item.event_id, now + ttl_seconds)
            for item in items
            if _key(item) in won
        ],
    )
    return won, {key: held[key][0] for key in keys if key not in won}


def _claim_postgresql(
    raw: Any, items: list[NewEvent], ttl_seconds: int, now: float
) -> tuple[set[Key], dict[Key, str]]:
    """Claim every key in one statement; concurrent writers may hold some."""
    cursor = raw.cursor()
    cursor.execute(
        _POSTGRES_CLAIM,
        (
            [item.tenant_id for item in items],
            [item.source_id for item in items],
            [item.idempotency_key for item in items],
            [item.event_id for item in items],
            [now + ttl_seconds] * len(items),
            now,
        ),
    )
    won: set[Key] = {(t, s, k) for t, s, k in cursor.fetchall()}
    lost = [_key(item) for item in items if _key(item) not in won]
    if not lost:
        return won, {}
    cursor.execute(
        _POSTGRES_HOLDERS,
        ([k[0] for k in lost], [k[1] for k in lost], [k[2] for k in lost]),
    )
    return won, {(t, s, k): e for t, s, k, e in cursor.fetchall()}


def _event_values(item: NewEvent) -> tuple[Any, ...]:
    return (
        item.event_id,
        item.tenant_id,
        item.source_id,
        item.type,
        item.idempotency_key,
        "accepted",
        item.payload,
        item.trace_id,
        item.traceparent,
        item.received_at,
        item.received_at,
    )


def set_event_status(
    conn: Connection,
    event_id: str,
    status: str,
    *,
    now: float,
    lead_id: str | None = None,
    last_error: str | None = None,
) -> None:
    """Move an event on; ``lead_id`` and ``last_error`` change only when given."""
    _SET_STATUS.execute(
        conn,
        id=event_id,
        status=status,
        now=now,
        lead_id=lead_id,
        last_error=last_error,
    )


def mark_event_dead(conn: Connection, job: Any, error: str) -> None:
    """Dead-letter hook of the tasks that carry an event through its pipeline."""
    if job.event_id is not None:
        set_event_status(
            conn, job.event_id, "dead", now=time.time(), last_error=error[:500]
        )
