"""The SQL of the lead journey: leads, daily loads, rotation state, audit."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, and_, select

from neuronx.leads.routing import Rep, RotationState
from neuronx.store import schema
from neuronx.store.raw import Row, Statement, json_param, read_together

leads = schema.leads

# The statements every lead runs go to the driver directly (see store.raw);
# the API's listing and the configuration stay on SQLAlchemy Core.
_LEAD_JSON = ("fields", "raw", "scoring", "routing", "history")
_LOCK_CONTACT = Statement("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
_LEAD_BY = {
    column: Statement(
        f"SELECT * FROM leads WHERE tenant_id = :tenant_id AND {column} = :value "  # noqa: S608
        "ORDER BY created_at LIMIT 1 FOR UPDATE",
        json_columns=_LEAD_JSON,
    )
    for column in ("email", "phone")
}
_INSERT_LEAD = Statement(
    "INSERT INTO leads (id, tenant_id, email, phone, domain, fields, raw, status, "
    "history, created_at, updated_at) VALUES (:id, :tenant_id, :email, :phone, "
    ":domain, :fields, :raw, 'new', :history, :now, :now)"
)
_MERGE_LEAD = Statement(
    "UPDATE leads SET fields = :fields, raw = :raw, email = :email, phone = :phone, "
    "domain = :domain, history = :history, updated_at = :now WHERE id = :id"
)
_GET_LEAD = Statement("SELECT * FROM leads WHERE id = :id", json_columns=_LEAD_JSON)
_GET_LEAD_FOR_UPDATE = Statement(
    "SELECT * FROM leads WHERE id = :id FOR UPDATE", json_columns=_LEAD_JSON
)
_GET_TENANT_LEAD = Statement(
    "SELECT * FROM leads WHERE id = :id AND tenant_id = :tenant_id",
    json_columns=_LEAD_JSON,
)
_SAVE_SCORE = Statement(
    "UPDATE leads SET score = :score, grade = :grade, scoring = :scoring, "
    "status = 'scored', updated_at = :now WHERE id = :id"
)
_SAVE_ASSIGNMENT = Statement(
    "UPDATE leads SET assigned_to = :assigned_to, team = :team, routing = :routing, "
    "status = :status, updated_at = :now WHERE id = :id"
)
_ACCOUNT_OWNER = Statement(
    "SELECT assigned_to FROM leads WHERE tenant_id = :tenant_id "
    "AND domain = :domain AND assigned_to IS NOT NULL AND id != :lead_id "
    "ORDER BY updated_at DESC LIMIT 1"
)
_LOCK_ROTATION = Statement(
    "SELECT state FROM routing_state WHERE tenant_id = :tenant_id FOR UPDATE",
    json_columns=("state",),
)
_CREATE_ROTATION = Statement(
    "INSERT INTO routing_state (tenant_id, state, updated_at) "
    "VALUES (:tenant_id, '{}', :now) ON CONFLICT (tenant_id) DO NOTHING"
)
_READ_ROTATION = Statement(
    "SELECT state FROM routing_state WHERE tenant_id = :tenant_id",
    json_columns=("state",),
)
_SAVE_ROTATION = Statement(
    "UPDATE routing_state SET state = :state, updated_at = :now "
    "WHERE tenant_id = :tenant_id"
)
# Days are ISO dates, so text order is date order; older days are history.
_LOADS = Statement(
    "SELECT rep_id, day, assigned FROM rep_loads "
    "WHERE tenant_id = :tenant_id AND day >= :since"
)
_COUNT_ASSIGNMENT = Statement(
    "INSERT INTO rep_loads (tenant_id, rep_id, day, assigned) "
    "VALUES (:tenant_id, :rep_id, :day, 1) ON CONFLICT (tenant_id, rep_id, day) "
    "DO UPDATE SET assigned = rep_loads.assigned + 1"
)
_AUDIT = Statement(
    "INSERT INTO audit_log (tenant_id, at, actor, action, subject, detail) "
    "VALUES (:tenant_id, :at, :actor, :action, :subject, :detail)"
)

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
        _LOCK_CONTACT.execute(conn, key=key)


def find_duplicate(
    conn: Connection, tenant_id: str, email: str | None, phone: str | None
) -> Any:
    """The lead a new one merges into (same email first, else same phone), locked."""
    for column, value in (("email", email), ("phone", phone)):
        if value is None:
            continue
        row = _LEAD_BY[column].first(conn, tenant_id=tenant_id, value=value)
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
    _INSERT_LEAD.execute(
        conn,
        id=lead_id,
        tenant_id=tenant_id,
        email=fields.get("email"),
        phone=fields.get("phone"),
        domain=fields.get("domain"),
        fields=json_param(dict(fields)),
        raw=json_param(raw),
        history=json_param([entry]),
        now=now,
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
    _MERGE_LEAD.execute(
        conn,
        id=existing.id,
        fields=json_param(merged),
        raw=json_param(raw),
        email=merged.get("email"),
        phone=merged.get("phone"),
        domain=merged.get("domain"),
        history=json_param([*existing.history, entry]),
        now=now,
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


def get_lead(conn: Connection, lead_id: str, tenant_id: str) -> Row | None:
    return _GET_TENANT_LEAD.first(conn, id=lead_id, tenant_id=tenant_id)


def load_lead(conn: Connection, lead_id: str, *, for_update: bool = False) -> Row:
    """A lead the journey knows exists (its job was created with it)."""
    return (_GET_LEAD_FOR_UPDATE if for_update else _GET_LEAD).one(conn, id=lead_id)


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
    _SAVE_SCORE.execute(
        conn,
        id=lead_id,
        score=score,
        grade=grade,
        scoring=json_param(fired),
        now=time.time(),
    )


def save_assignment(
    conn: Connection,
    lead_id: str,
    *,
    assigned_to: str | None,
    team: str | None,
    routing: dict[str, Any],
) -> None:
    _SAVE_ASSIGNMENT.execute(
        conn,
        id=lead_id,
        assigned_to=assigned_to,
        team=team,
        routing=json_param(routing),
        status="routed" if assigned_to else "unassigned",
        now=time.time(),
    )


def account_owner(
    conn: Connection, tenant_id: str, domain: str | None, lead_id: str | None
) -> str | None:
    """The owner of the newest other assigned lead of the same company domain."""
    if domain is None:
        return None
    # Lead ids are never empty, so "" excludes nothing when there is no lead.
    row = _ACCOUNT_OWNER.first(
        conn, tenant_id=tenant_id, domain=domain, lead_id=lead_id or ""
    )
    return str(row.assigned_to) if row else None


def lock_for_routing(
    conn: Connection, tenant_id: str, lead_id: str, days: Mapping[str, str]
) -> tuple[RotationState, Row, dict[str, int]]:
    """The tenant's rotation state, locked until the commit, then the lead and
    today's loads read under that lock, in one round trip.

    On PostgreSQL the row lock makes concurrent routings of one tenant take
    turns, which is what keeps round robin exact across workers; SQLite's
    single writer gives the same for free. Reading the lead after the lock
    matters: a repeat of it may have been routed a moment ago, and its owner
    is then kept.
    """
    # With no reps there is no load to read: no day is on or after that one.
    since = min(days.values(), default="9999-12-31")
    reads = (
        (_LOCK_ROTATION, {"tenant_id": tenant_id}),
        (_GET_LEAD_FOR_UPDATE, {"id": lead_id}),
        (_LOADS, {"tenant_id": tenant_id, "since": since}),
    )
    rotation, lead, loads = read_together(conn, *reads)
    if not rotation:
        # The tenant's first routing: create the row (a concurrent first
        # routing may win the insert), then lock it as any other time.
        _CREATE_ROTATION.execute(conn, tenant_id=tenant_id, now=time.time())
        rotation, lead, loads = read_together(conn, *reads)
    return (
        RotationState.from_json(rotation[0].state),
        lead[0],
        _loads_on(days, loads),
    )


def read_rotation(conn: Connection, tenant_id: str) -> RotationState:
    """The rotation state without a lock, for the simulator."""
    row = _READ_ROTATION.first(conn, tenant_id=tenant_id)
    return RotationState.from_json(row.state if row else None)


def save_rotation(conn: Connection, tenant_id: str, state: RotationState) -> None:
    _SAVE_ROTATION.execute(
        conn,
        tenant_id=tenant_id,
        state=json_param(state.to_json()),
        now=time.time(),
    )


def loads_today(
    conn: Connection, tenant_id: str, days: Mapping[str, str]
) -> dict[str, int]:
    """Leads assigned today per rep, where ``days`` maps a rep to its local date."""
    if not days:
        return {}
    rows = _LOADS.all(conn, tenant_id=tenant_id, since=min(days.values()))
    return _loads_on(days, rows)


def _loads_on(days: Mapping[str, str], rows: Iterable[Row]) -> dict[str, int]:
    return {row.rep_id: row.assigned for row in rows if days.get(row.rep_id) == row.day}


def count_assignment(conn: Connection, tenant_id: str, rep_id: str, day: str) -> None:
    _COUNT_ASSIGNMENT.execute(conn, tenant_id=tenant_id, rep_id=rep_id, day=day)


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
    _AUDIT.execute(
        conn,
        tenant_id=tenant_id,
        at=time.time(),
        actor=actor,
        action=action,
        subject=subject,
        detail=json_param(detail),
    )


def with_loads(reps: Iterable[Rep], loads: Mapping[str, int]) -> list[Rep]:
    return [replace(rep, assigned_today=loads.get(rep.id, 0)) for rep in reps]
