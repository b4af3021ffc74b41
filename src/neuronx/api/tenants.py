"""Routes under ``/v1/tenants/{tenant_id}``: reading events, rotating secrets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from neuronx.api.state import AppState
from neuronx.errors import InvalidRequest, NotFound
from neuronx.store import schema
from neuronx.store.events import get_event
from neuronx.store.tenants import rotate_secret


def json_response(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json"
    )


def rfc3339(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return (
        datetime.fromtimestamp(epoch, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def tenant_actor(request: Request) -> tuple[AppState, str, str]:
    state: AppState = request.app.state.neuronx
    tenant_id = request.path_params["tenant_id"]
    return state, tenant_id, state.authorize(bearer(request), tenant_id)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("the body is not JSON") from None
    if not isinstance(document, dict):
        raise InvalidRequest("the body is a JSON object")
    return document


async def get_event_route(request: Request) -> Response:
    state, tenant_id, _actor = tenant_actor(request)
    event_id = request.path_params["event_id"]

    def read() -> Any:
        with state.db.read() as conn:
            return get_event(conn, tenant_id, event_id)

    row = await asyncio.to_thread(read)
    if row is None:
        raise NotFound(f"no event {event_id!r}")
    attempts = await asyncio.to_thread(_attempts, state, event_id)
    return json_response(
        {
            "event_id": row.id,
            "source_id": row.source_id,
            "type": row.type,
            "status": row.status,
            "attempts": attempts,
            "lead_id": row.lead_id,
            "trace_id": row.trace_id,
            "last_error": row.last_error,
            "received_at": rfc3339(row.received_at),
            "updated_at": rfc3339(row.updated_at),
        }
    )


def _attempts(state: AppState, event_id: str) -> int:
    with state.db.read() as conn:
        total = conn.execute(
            select(func.coalesce(func.sum(schema.jobs.c.attempts), 0)).where(
                schema.jobs.c.event_id == event_id
            )
        ).scalar_one()
    return int(total)


async def rotate_secret_route(request: Request) -> Response:
    state, tenant_id, actor = tenant_actor(request)
    source_id = request.path_params["source_id"]
    body = await json_body(request)
    grace = body.get("grace_seconds", 86400)
    if (
        not isinstance(grace, int)
        or isinstance(grace, bool)
        or not 0 <= grace <= 30 * 86400
    ):
        raise InvalidRequest("grace_seconds is a whole number from 0 to 2592000")

    secret, previous = await asyncio.to_thread(
        rotate_secret,
        state.db,
        state.box,
        tenant_id,
        source_id,
        grace_seconds=grace,
        actor=actor,
    )
    await asyncio.to_thread(state.directory.refresh, force=True)
    return json_response({"secret": secret, "previous_expires_at": rfc3339(previous)})
