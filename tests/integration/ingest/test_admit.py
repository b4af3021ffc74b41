"""``admit`` on one mixed batch: new, repeated within the batch, held, expired."""

from __future__ import annotations

import time

from sqlalchemy import select

from neuronx.store import schema
from neuronx.store.db import Database
from neuronx.store.events import _POSTGRES_HOLDERS, _SQLITE_HELD, NewEvent, admit


def event(event_id: str, key: str, source: str = "forms") -> NewEvent:
    return NewEvent(
        event_id=event_id,
        tenant_id="acme",
        source_id=source,
        type="lead.created",
        idempotency_key=key,
        payload=b"{}",
        trace_id="a" * 32,
        traceparent=f"00-{'a' * 32}-{'b' * 16}-01",
        received_at=time.time(),
    )


def test_mixed_batch_is_decided_per_key(db: Database) -> None:
    now = time.time()
    with db.write() as conn:
        admit(conn, [event("evt_held", "held")], ttl_seconds=60, now=now)
        admit(conn, [event("evt_old", "expired")], ttl_seconds=60, now=now - 120)

    batch = [
        event("evt_a1", "a"),
        event("evt_a2", "a"),
        event("evt_held2", "held"),
        event("evt_new", "expired"),
        event("evt_other_source", "a", source="stripe"),
    ]
    with db.write() as conn:
        results = admit(conn, batch, ttl_seconds=60, now=now)

    assert [(r.event_id, r.status) for r in results] == [
        ("evt_a1", "accepted"),
        ("evt_a1", "duplicate"),
        ("evt_held", "duplicate"),
        ("evt_new", "accepted"),
        ("evt_other_source", "accepted"),
    ]
    with db.read() as conn:
        stored = {row.id for row in conn.execute(select(schema.events.c.id)).all()}
        holder = conn.execute(
            select(schema.idempotency_keys.c.event_id).where(
                schema.idempotency_keys.c.key == "expired"
            )
        ).scalar_one()
    assert stored == {"evt_held", "evt_old", "evt_a1", "evt_new", "evt_other_source"}
    assert holder == "evt_new"


def test_looking_up_held_keys_searches_the_key_index(db: Database) -> None:
    """A batch costs the same with a day of keys held as with none."""
    with db.write() as conn:
        if db.is_sqlite:
            sql = _SQLITE_HELD.format(rows=", ".join(["(?, ?, ?)"] * 2))
            params: list[object] = ["acme", "forms", "k1", "acme", "forms", "k2"]
            plan = " ".join(
                str(row[-1])
                for row in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {sql}", tuple(params)
                )
            )
            assert "SEARCH k USING INDEX" in plan
            assert "SCAN idempotency_keys" not in plan
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan TO off")
            plan = " ".join(
                str(row[0])
                for row in conn.exec_driver_sql(
                    f"EXPLAIN {_POSTGRES_HOLDERS}",
                    (["acme"] * 2, ["forms"] * 2, ["k1", "k2"]),
                )
            )
            assert "Index" in plan
