"""The lead journey as subscribers of the event bus.

``lead.received`` -> normalize -> ``lead.normalized`` -> score ->
``lead.scored`` -> route -> ``lead.routed``. Each stage is an atomic task:
its writes, the next stage's job and its own completion commit together, so
a lead is merged, scored and assigned once however often a job is retried.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select

from neuronx.errors import PermanentJobError
from neuronx.ids import new_id
from neuronx.leads import store
from neuronx.leads.normalize import normalize
from neuronx.leads.routing import Decision, Rep, RotationState, decide, local_day
from neuronx.leads.scoring import Scored, score
from neuronx.leads.store import merge_fields
from neuronx.observability.metrics import LEADS
from neuronx.queue.jobs import publish
from neuronx.queue.retry import RetryPolicy
from neuronx.queue.tasks import JobContext, Registry, Task
from neuronx.store import schema
from neuronx.store.events import (
    EVENT_TO_PROCESS,
    mark_event_dead,
    set_event_status,
)
from neuronx.store.tenants import current_version

__all__ = ["LeadPipeline", "TenantRules"]

RECEIVED = "lead.received"
NORMALIZED = "lead.normalized"
SCORED = "lead.scored"
ROUTED = "lead.routed"
QUEUE = "leads"


@dataclass(frozen=True, slots=True)
class TenantRules:
    """One tenant's scoring, routing, reps and source mappings, as stored."""

    tenant_id: str
    scoring: dict[str, Any]
    routing: dict[str, Any]
    reps: tuple[Rep, ...]
    mappings: dict[str, tuple[dict[str, str], str | None]]


class RulesCache:
    """Tenant rules by config version; a version check at most once a second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = -1
        self._checked = 0.0
        self._rules: dict[str, TenantRules] = {}

    def get(self, conn: Connection, tenant_id: str) -> TenantRules:
        now = time.monotonic()
        if now - self._checked > 1.0:
            version = current_version(conn)
            with self._lock:
                self._checked = now
                if version != self._version:
                    self._version, self._rules = version, {}
        cached = self._rules.get(tenant_id)
        if cached is None:
            cached = load_rules(conn, tenant_id)
            with self._lock:
                self._rules[tenant_id] = cached
        return cached


def load_rules(conn: Connection, tenant_id: str) -> TenantRules:
    tenant = conn.execute(
        select(schema.tenants).where(schema.tenants.c.id == tenant_id)
    ).first()
    if tenant is None:
        raise PermanentJobError(f"unknown_tenant: {tenant_id}")
    sources = conn.execute(
        select(schema.sources).where(schema.sources.c.tenant_id == tenant_id)
    ).all()
    return TenantRules(
        tenant_id=tenant_id,
        scoring=dict(tenant.scoring or {}),
        routing=dict(tenant.routing or {}),
        reps=tuple(store.load_reps(conn, tenant_id)),
        mappings={s.id: (dict(s.mapping or {}), s.default_region) for s in sources},
    )


def local_days(rules: TenantRules, now: datetime) -> dict[str, str]:
    """Each rep's own date at ``now``: capacity counts by the rep's day."""
    return {rep.id: local_day(rep, now) for rep in rules.reps}


class LeadPipeline:
    """The three stages, sharing a rules cache and a clock."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry: Callable[[], RetryPolicy] = RetryPolicy,
    ) -> None:
        self.clock = clock
        self.retry = retry
        self.rules = RulesCache()

    def register(self, registry: Registry) -> None:
        for name, stage, topic in (
            ("leads.normalize", self.normalize, RECEIVED),
            ("leads.score", self.score, NORMALIZED),
            ("leads.route", self.route, SCORED),
        ):
            registry.add(
                Task(name, QUEUE, atomic=stage, on_dead=mark_event_dead),
                subscribe=(topic,),
            )

    def normalize(self, ctx: JobContext, conn: Connection) -> None:
        event = EVENT_TO_PROCESS.one(conn, id=ctx.event_id)
        rules = self.rules.get(conn, event.tenant_id)
        mapping, region = rules.mappings.get(event.source_id, ({}, None))
        fields = normalize(orjson.loads(event.payload), mapping, default_region=region)

        now = time.time()
        entry = {"event_id": event.id, "source_id": event.source_id, "at": now}
        raw = orjson.loads(event.payload)
        store.lock_contact(conn, event.tenant_id, fields["email"], fields["phone"])
        existing = store.find_duplicate(
            conn, event.tenant_id, fields["email"], fields["phone"]
        )
        if existing is None:
            lead_id = new_id("lead")
            store.insert_lead(conn, lead_id, event.tenant_id, fields, raw, entry, now)
            stage = "normalized"
        else:
            lead_id = existing.id
            store.merge_lead(conn, existing, fields, raw, entry, now)
            stage = "merged"
        set_event_status(conn, event.id, "processing", now=now, lead_id=lead_id)
        self._publish(
            conn, ctx, NORMALIZED, {"lead_id": lead_id, "merged": existing is not None}
        )
        ctx.on_commit(LEADS.labels(stage).inc)

    def score(self, ctx: JobContext, conn: Connection) -> None:
        lead = store.load_lead(conn, ctx.args["lead_id"])
        rules = self.rules.get(conn, lead.tenant_id)
        scored = score(lead.fields, rules.scoring)
        store.save_score(conn, lead.id, scored.score, scored.grade, scored.fired)
        self._publish(conn, ctx, SCORED, dict(ctx.args))
        ctx.on_commit(LEADS.labels("scored").inc)

    def route(self, ctx: JobContext, conn: Connection) -> None:
        lead_id = ctx.args["lead_id"]
        tenant_id = ctx.tenant_id or store.load_lead(conn, lead_id).tenant_id
        rules = self.rules.get(conn, tenant_id)
        now = self.clock()
        rotation, lead, loads = store.lock_for_routing(
            conn, tenant_id, lead_id, local_days(rules, now)
        )
        decision = self.decide(
            conn,
            rules,
            {**lead.fields, "score": lead.score, "grade": lead.grade},
            rotation,
            now,
            loads,
            lead_id=lead.id,
            current_owner=lead.assigned_to,
        )
        store.save_rotation(conn, lead.tenant_id, rotation)
        self._record(conn, rules, lead, decision, now, ctx.event_id)
        self._publish(
            conn, ctx, ROUTED, {"lead_id": lead.id, "assigned_to": decision.assigned_to}
        )
        outcome = "routed" if decision.assigned_to else "unassigned"
        ctx.on_commit(LEADS.labels(outcome).inc)

    def simulate(
        self, conn: Connection, tenant_id: str, data: dict[str, Any]
    ) -> tuple[Scored, Decision]:
        """What the pipeline would decide for a lead body now, changing nothing.

        It follows the real path: a body that repeats a known lead is merged
        into it first, and a repeat keeps its eligible owner.
        """
        rules = self.rules.get(conn, tenant_id)
        fields = normalize({"data": data}, require_contact=False)
        existing = store.find_duplicate(
            conn, tenant_id, fields["email"], fields["phone"]
        )
        lead_id, owner = None, None
        if existing is not None:
            fields = merge_fields(existing.fields, fields)[0]
            lead_id, owner = existing.id, existing.assigned_to
        scored = score(fields, rules.scoring)
        rotation = store.read_rotation(conn, tenant_id)
        now = self.clock()
        decision = self.decide(
            conn,
            rules,
            {**fields, "score": scored.score, "grade": scored.grade},
            rotation,
            now,
            store.loads_today(conn, tenant_id, local_days(rules, now)),
            lead_id=lead_id,
            current_owner=owner,
        )
        return scored, decision

    def decide(
        self,
        conn: Connection,
        rules: TenantRules,
        fields: dict[str, Any],
        rotation: RotationState,
        now: datetime,
        loads: dict[str, int],
        *,
        lead_id: str | None,
        current_owner: str | None,
    ) -> Decision:
        return decide(
            fields,
            rules.routing,
            store.with_loads(rules.reps, loads),
            rotation,
            now,
            current_owner=current_owner,
            account_owner=lambda: store.account_owner(
                conn,
                rules.tenant_id,
                None if fields.get("free_mail") else fields.get("domain"),
                lead_id,
            ),
        )

    def _record(
        self,
        conn: Connection,
        rules: TenantRules,
        lead: Any,
        decision: Decision,
        now: datetime,
        event_id: str | None,
    ) -> None:
        routing = {
            "rule": decision.rule,
            "strategy": decision.strategy,
            "explanation": decision.explanation,
        }
        if decision.assigned_to is not None and decision.strategy != "existing_owner":
            rep = next(rep for rep in rules.reps if rep.id == decision.assigned_to)
            store.count_assignment(conn, lead.tenant_id, rep.id, local_day(rep, now))
        store.save_assignment(
            conn,
            lead.id,
            assigned_to=decision.assigned_to,
            team=decision.team,
            routing=routing,
        )
        store.audit(
            conn,
            lead.tenant_id,
            "router",
            "lead.assigned" if decision.assigned_to else "lead.unassigned",
            f"leads/{lead.id}",
            {
                "event_id": event_id,
                "assigned_to": decision.assigned_to,
                "team": decision.team,
                **routing,
            },
        )
        if event_id is not None:
            set_event_status(conn, event_id, "done", now=time.time(), lead_id=lead.id)

    def _publish(
        self, conn: Connection, ctx: JobContext, topic: str, args: dict[str, Any]
    ) -> None:
        publish(
            conn,
            ctx.registry,
            topic,
            now=time.time(),
            default_retry=self.retry(),
            messages=[(ctx.tenant_id, ctx.event_id, ctx.traceparent, args)],
        )
