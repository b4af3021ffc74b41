"""Rotations stay exact while several workers route one tenant's leads at once.

Events are committed the way the receiver's writer commits them (event rows
and their ``lead.received`` jobs in one transaction), then concurrent workers
run the real pipeline. On PostgreSQL the workers are separate claimers
sharing the database, which is where the per-tenant rotation lock earns its
keep; on SQLite the single writer serializes them. The same workers also
race repeats of one contact against each other: they must still make one
lead, assigned once.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from neuronx.api.state import AppState
from neuronx.store import schema
from neuronx.store.db import Database
from neuronx.store.secretbox import SecretBox
from tests.integration.leads.helpers import (
    TENANT,
    Json,
    fixed_clock,
    ingest,
    leads_config,
    one_team,
    running_workers,
    wait_events_done,
)
from tests.support import ADMIN_TOKEN, apply


def assignments_in_commit_order(db: Database) -> list[str]:
    """Who each ``lead.assigned`` audit entry names, in the order they committed."""
    table = schema.audit_log
    with db.read() as conn:
        rows = conn.execute(
            select(table.c.detail)
            .where(table.c.tenant_id == TENANT, table.c.action == "lead.assigned")
            .order_by(table.c.id)
        ).all()
    return [str(row.detail["assigned_to"]) for row in rows]


def owners(db: Database) -> Counter[str | None]:
    with db.read() as conn:
        rows = conn.execute(
            select(schema.leads.c.assigned_to).where(schema.leads.c.tenant_id == TENANT)
        ).all()
    return Counter(row.assigned_to for row in rows)


def build(db: Database, box: SecretBox, reps: list[Json], strategy: str) -> AppState:
    apply(
        db, box, leads_config(reps=reps, scoring={}, routing=one_team("pool", strategy))
    )
    return AppState.build(db, box, admin_token=ADMIN_TOKEN, lead_clock=fixed_clock())


def test_round_robin_is_exact_with_four_concurrent_workers(
    db: Database, box: SecretBox
) -> None:
    reps: list[Json] = [{"id": rep, "team": "pool"} for rep in ("a", "b", "c", "d")]
    state = build(db, box, reps, "round_robin")
    for chunk in range(4):
        ingest(
            db,
            state,
            [{"email": f"rr{chunk}-{n}@firm{n}.example"} for n in range(50)],
        )

    # Small batches make the four claimers interleave as much as possible.
    with running_workers(state, count=4, concurrency=1, batch_size=4):
        wait_events_done(db, 200, timeout=60)

    assert owners(db) == {"a": 50, "b": 50, "c": 50, "d": 50}
    sequence = assignments_in_commit_order(db)
    assert len(sequence) == 200
    for index, rep in enumerate(sequence):
        assert rep == "abcd"[index % 4], (
            index,
            sequence[max(0, index - 8) : index + 1],
        )


def test_weighted_three_to_one_is_exact_over_two_thousand_leads(
    db: Database, box: SecretBox
) -> None:
    reps: list[Json] = [
        {"id": "heavy", "team": "pool", "weight": 3},
        {"id": "light", "team": "pool", "weight": 1},
    ]
    state = build(db, box, reps, "weighted")
    for chunk in range(10):
        ingest(
            db,
            state,
            [{"email": f"w{chunk}-{n}@firm{n}.example"} for n in range(200)],
        )

    with running_workers(state, count=1, concurrency=4):
        wait_events_done(db, 2000, timeout=120)

    counts = owners(db)
    assert abs(counts["heavy"] / 2000 - 0.75) <= 0.02
    assert counts == {"heavy": 1500, "light": 500}
    # Smooth weighted rotation: every run of four assignments is 3 + 1.
    sequence = assignments_in_commit_order(db)
    assert len(sequence) == 2000
    for start in range(0, 2000, 4):
        window = sequence[start : start + 4]
        assert window.count("heavy") == 3, (start, window)


@pytest.mark.parametrize(
    "body",
    [{"email": "same@firm.example"}, {"phone": "+49 30 901820"}],
    ids=["email", "phone"],
)
def test_concurrent_repeats_of_one_contact_make_one_lead_assigned_once(
    db: Database, box: SecretBox, body: Json
) -> None:
    reps: list[Json] = [{"id": rep, "team": "pool"} for rep in ("a", "b", "c", "d")]
    retry = {"max_attempts": 20, "base_seconds": 0.05, "max_seconds": 0.2}
    config = leads_config(
        reps=reps, scoring={}, routing=one_team("pool", "round_robin"), retry=retry
    )
    apply(db, box, config)
    state = AppState.build(db, box, admin_token=ADMIN_TOKEN, lead_clock=fixed_clock())
    event_ids = [ingest(db, state, [body])[0] for _ in range(30)]

    with running_workers(state, count=4, concurrency=1, batch_size=1):
        wait_events_done(db, 30, timeout=60)

    with db.read() as conn:
        events = conn.execute(select(schema.events.c.id, schema.events.c.lead_id)).all()
        leads = conn.execute(select(schema.leads)).all()
        loads = conn.execute(select(schema.rep_loads.c.assigned)).all()
        audit = conn.execute(
            select(schema.audit_log.c.detail)
            .where(schema.audit_log.c.action == "lead.assigned")
            .order_by(schema.audit_log.c.id)
        ).all()
    # Which event (by arrival) was routed to whom and how, in commit order.
    log = [
        (
            event_ids.index(row.detail["event_id"]),
            row.detail["assigned_to"],
            row.detail["strategy"],
        )
        for row in audit
    ]
    assert len(leads) == 1, [
        (row.id, row.assigned_to, len(row.history)) for row in leads
    ]
    (only,) = leads
    assert {row.lead_id for row in events} == {only.id}
    # Assigned once: one counted assignment, and every repeat kept that owner.
    assert sum(row.assigned for row in loads) == 1, log
    assert {owner for _, owner, _ in log} == {only.assigned_to}, log
    # Every repeat is in the history: no merge overwrote another.
    merged = [entry["event_id"] for entry in only.history]
    assert sorted(merged) == sorted(event_ids), f"{len(merged)} of 30 in the history"
