"""Leads, the routing simulator and the audit log, under ``/v1/tenants/{tenant_id}``."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from neuronx.api.tenants import json_body, json_response, page_limit, tenant_actor
from neuronx.errors import InvalidRequest, NotFound
from neuronx.leads import store as lead_store
from neuronx.pagination import decode_cursor, decode_id_cursor, encode_cursor
from neuronx.store import schema
from neuronx.timefmt import rfc3339

_STATUSES = {"new", "scored", "routed", "unassigned"}


def render_lead(row: Any) -> dict[str, Any]:
    fields = dict(row.fields)
    fields.pop("issues", None)
    return {
        "lead_id": row.id,
        **fields,
        "issues": row.fields.get("issues", []),
        "score": row.score,
        "grade": row.grade,
        "scoring": row.scoring or [],
        "status": row.status,
        "assigned_to": row.assigned_to,
        "team": row.team,
        "routing": row.routing,
        "history": [
            {**entry, "at": rfc3339(entry.get("at"))} for entry in row.history or []
        ],
        "raw": row.raw,
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    }


async def get_lead_route(request: Request) -> Response:
    state, tenant_id, _actor = tenant_actor(request)
    lead_id = request.path_params["lead_id"]

    def read() -> Any:
        with state.db.read() as conn:
            return lead_store.get_lead(conn, lead_id, tenant_id)

    row = await asyncio.to_thread(read)
    if row is None:
        raise NotFound(f"no lead {lead_id!r}")
    return json_response(render_lead(row))


async def list_leads_route(request: Request) -> Response:
    state, tenant_id, _actor = tenant_actor(request)
    limit = page_limit(request)
    status = request.query_params.get("status") or None
    if status is not None and status not in _STATUSES:
        raise InvalidRequest(f"status is one of {', '.join(sorted(_STATUSES))}")
    after = decode_cursor(request.query_params.get("cursor"))

    def read() -> list[Any]:
        with state.db.read() as conn:
            return lead_store.list_leads(
                conn,
                tenant_id,
                assigned_to=request.query_params.get("assigned_to") or None,
                status=status,
                after_id=after,
                limit=limit + 1,
            )

    rows = await asyncio.to_thread(read)
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response(
        {
            "items": [render_lead(row) for row in rows],
            "next_cursor": encode_cursor(rows[-1].id) if more and rows else None,
        }
    )


async def simulate_route(request: Request) -> Response:
    state, tenant_id, _actor = tenant_actor(request)
    data = await json_body(request)

    def run() -> dict[str, Any]:
        with state.db.read() as conn:
            scored, decision = state.pipeline.simulate(conn, tenant_id, data)
        return {
            "score": scored.score,
            "grade": scored.grade,
            "rule": decision.rule,
            "team": decision.team,
            "strategy": decision.strategy,
            "assigned_to": decision.assigned_to,
            "explanation": decision.explanation,
        }

    return json_response(await asyncio.to_thread(run))


async def audit_route(request: Request) -> Response:
    state, tenant_id, _actor = tenant_actor(request)
    limit = page_limit(request)
    after = decode_id_cursor(request.query_params.get("cursor"))
    table = schema.audit_log

    def read() -> list[Any]:
        conditions = [table.c.tenant_id == tenant_id]
        if after is not None:
            conditions.append(table.c.id > after)
        with state.db.read() as conn:
            return list(
                conn.execute(
                    select(table)
                    .where(*conditions)
                    .order_by(table.c.id)
                    .limit(limit + 1)
                ).all()
            )

    rows = await asyncio.to_thread(read)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": row.id,
            "at": rfc3339(row.at),
            "actor": row.actor,
            "action": row.action,
            "subject": row.subject,
            "detail": row.detail,
        }
        for row in rows
    ]
    return json_response(
        {
            "items": items,
            "next_cursor": encode_cursor(rows[-1].id) if more and rows else None,
        }
    )
