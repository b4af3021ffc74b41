"""The SQL of the lead journey: leads, daily loads, rotation state, audit."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, and_, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from neuronx.leads.routing import Rep, RotationState
from neuronx.store import schema

leads = schema.leads

# Fields a repeat fills in only where the lead has nothing yet.
_MERGE_SKIP = {"issues"}


def lock_contact(
    conn: Connection, tenant_id: str, email: str | None, phone: str | None
) -> None:
    """Make concurrent arrivals of one contact take turns until the commit.

    Without it two workers could both find no lead for a new phone number
    and both insert one. SQLite's single writer already serializes them; on
    PostgreSQL a transaction-level advisory lock per contact key does, taken
    in a fixed order so that two contacts never deadlock each other.
    """
    if conn.dialect.name != "postgresql":
        return
    keys = sorted(
        f"{tenant_id}\x1f{kind}\x1f{value}"
        for kind, value in (("email", email), ("phone", phone))
        if value
    )
    for key in keys:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key}
        )


def find_duplicate(
    conn: Connection, tenant_id: str, email: str | None, phone: str | None
) -> Any:
    """The lead a new one merges into (same email first, else same phone), locked."""
    for column, value in ((leads.c.email, email), (leads.c.phone, phone)):
        if value is None:
            continue
        row = conn.execute(
            select(leads)
            .where(leads.c.tenant_id == tenant_id, column == value)
            .order_by(leads.c.created_at)
            .limit(1)
            .with_for_update()
        ).first()
        if row is not None:
            return row
    return None


def insert_lead(
    conn: Connection,
    lead_id: str,
    tenant_id: str,
    fields: Mapping[str, Any],
    raw: Any,
    entry: dict[str, Any],
    now: float,
) -> None:
    conn.execute(
        insert(leads).values(
            id=lead_id,
            tenant_id=tenant_id,
            email=fields.get("email"),
            phone=fields.get("phone"),
            domain=fields.get("domain"),
            fields=dict(fields),
            raw=raw,
            status="new",
            history=[entry],
            created_at=now,
            updated_at=now,
        )
    )


def merge_lead(
    conn: Connection,
    existing: Any,
    fields: Mapping[str, Any],
    raw: Any,
    entry: dict[str, Any],
    now: float,
) -> list[str]:
    """Fill the existing lead's empty fields from a repeat; return which were filled."""
    merged, filled = merge_fields(existing.fields, fields)
    entry = {**entry, "filled": filled}
    conn.execute(
        update(leads)
        .where(leads.c.id == existing.id)
        .values(
            fields=merged,
            raw=raw,
            email=merged.get("email"),
            phone=merged.get("phone"),
            domain=merged.get("domain"),
            history=[*existing.history, entry],
            updated_at=now,
        )
    )
    return filled


def merge_fields(
    current: Mapping[str, Any], repeat: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """A repeat fills the fields the lead has no value for, and changes no other."""
    merged = dict(current)
    filled = []
    for name, value in repeat.items():
        if name in _MERGE_SKIP or value in (None, "", []):
            continue
        if merged.get(name) in (None, "", []):
            merged[name] = value
            filled.append(name)
    return merged, filled


def get_lead(
    conn: Connection,
    lead_id: str,
    tenant_id: str | None = None,
    *,
    for_update: bool = False,
) -> Any:
    conditions = [leads.c.id == lead_id]
    if tenant_id is not None:
        conditions.append(leads.c.tenant_id == tenant_id)
    query = select(leads).where(*conditions)
    return conn.execute(query.with_for_update() if for_update else query).first()


def list_leads(
    conn: Connection,
    tenant_id: str,
    *,
    assigned_to: str | None,
    status: str | None,
    after_id: str | None,
    limit: int,
) -> list[Any]:
    conditions = [leads.c.tenant_id == tenant_id]
    if assigned_to is not None:
        conditions.append(leads.c.assigned_to == assigned_to)
    if status is not None:
        conditions.append(leads.c.status == status)
    if after_id is not None:
        conditions.append(leads.c.id > after_id)
    query = select(leads).where(and_(*conditions)).order_by(leads.c.id).limit(limit)
    return list(conn.execute(query).all())


def save_score(
    conn: Connection, lead_id: str, score: int, grade: str | None, fired: list[Any]
) -> None:
    conn.execute(
        update(leads)
        .where(leads.c.id == lead_id)
        .values(
            score=score,
            grade=grade,
            scoring=fired,
            status="scored",
            updated_at=time.time(),
        )
    )


def save_assignment(
    conn: Connection,
    lead_id: str,
    *,
    assigned_to: str | None,
    team: str | None,
    routing: dict[str, Any],
) -> None:
    conn.execute(
        update(leads)
        .where(leads.c.id == lead_id)
        .values(
            assigned_to=assigned_to,
            team=team,
            routing=routing,
            status="routed" if assigned_to else "unassigned",
            updated_at=time.time(),
        )
    )


def account_owner(
    conn: Connection, tenant_id: str, domain: str | None, lead_id: str | None
) -> str | None:
    """The owner of the newest other assigned lead of the same company domain."""
    if domain is None:
        return None
    conditions = [
        leads.c.tenant_id == tenant_id,
        leads.c.domain == domain,
        leads.c.assigned_to.is_not(None),
    ]
    if lead_id is not None:
        conditions.append(leads.c.id != lead_id)
    row = conn.execute(
        select(leads.c.assigned_to)
        .where(*conditions)
        .order_by(leads.c.updated_at.desc())
        .limit(1)
    ).first()
    return str(row.assigned_to) if row else None


def lock_rotation(conn: Connection, tenant_id: str) -> RotationState:
    """Read the tenant's rotation state, holding its row until the commit.

    On PostgreSQL the row lock makes concurrent routings of one tenant take
    turns, which is what keeps round robin exact across workers; SQLite's
    single writer gives the same for free.
    """
    table = schema.routing_state
    locked = (
        select(table.c.state).where(table.c.tenant_id == tenant_id).with_for_update()
    )
    row = conn.execute(locked).first()
    if row is None:
        # The tenant's first routing: create the row (a concurrent first
        # routing may win the insert), then lock it as any other time.
        dialect_insert = (
            postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        )
        conn.execute(
            dialect_insert(table)
            .values(tenant_id=tenant_id, state={}, updated_at=time.time())
            .on_conflict_do_nothing(index_elements=[table.c.tenant_id])
        )
        row = conn.execute(locked).one()
    return RotationState.from_json(row.state)


def read_rotation(conn: Connection, tenant_id: str) -> RotationState:
    """The rotation state without a lock, for the simulator."""
    row = conn.execute(
        select(schema.routing_state.c.state).where(
            schema.routing_state.c.tenant_id == tenant_id
        )
    ).first()
    return RotationState.from_json(row.state if row else None)


def save_rotation(conn: Connection, tenant_id: str, state: RotationState) -> None:
    table = schema.routing_state
    conn.execute(
        update(table)
        .where(table.c.tenant_id == tenant_id)
        .values(state=state.to_json(), updated_at=time.time())
    )


def loads_today(
    conn: Connection, tenant_id: str, days: Mapping[str, str]
) -> dict[str, int]:
    """Leads assigned today per rep, where ``days`` maps a rep to its local date."""
    if not days:
        return {}
    table = schema.rep_loads
    rows = conn.execute(
        select(table.c.rep_id, table.c.day, table.c.assigned).where(
            table.c.tenant_id == tenant_id, table.c.rep_id.in_(list(days))
        )
    ).all()
    return {row.rep_id: row.assigned for row in rows if days.get(row.rep_id) == row.day}


def count_assignment(conn: Connection, tenant_id: str, rep_id: str, day: str) -> None:
    table = schema.rep_loads
    dialect_insert = (
        postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    )
    statement = dialect_insert(table).values(
        tenant_id=tenant_id, rep_id=rep_id, day=day, assigned=1
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.tenant_id, table.c.rep_id, table.c.day],
            set_={"assigned": table.c.assigned + 1},
        )
    )


def load_reps(conn: Connection, tenant_id: str) -> list[Rep]:
    rows = conn.execute(
        select(schema.reps).where(schema.reps.c.tenant_id == tenant_id)
    ).all()
    return [
        Rep(
            id=row.id,
            team=row.team,
            weight=row.weight,
            capacity_per_day=row.capacity_per_day,
            timezone=row.timezone,
            working_hours=row.working_hours,
            available=row.available,
        )
        for row in rows
    ]


def audit(
    conn: Connection,
    tenant_id: str,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any],
) -> None:
    conn.execute(
        insert(schema.audit_log).values(
            tenant_id=tenant_id,
            at=time.time(),
            actor=actor,
            action=action,
            subject=subject,
            detail=detail,
        )
    )


def with_loads(reps: Iterable[Rep], loads: Mapping[str, int]) -> list[Rep]:
    return [replace(rep, assigned_today=loads.get(rep.id, 0)) for rep in reps]
