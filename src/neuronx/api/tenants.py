"""Routes under ``/v1/tenants/{tenant_id}``: reading events, rotating secrets."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from neuronx.api.state import AppState
from neuronx.errors import InvalidRequest, NotFound
from neuronx.pagination import parse_id
from neuronx.queue import deadletters
from neuronx.queue import store as queue_store
from neuronx.store import schema
from neuronx.store.events import get_event
from neuronx.store.tenants import rotate_secret
from neuronx.timefmt import rfc3339

log = logging.getLogger("neuronx.api")


def json_response(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json"
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


def page_limit(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1000:
        raise InvalidRequest("limit is a whole number from 1 to 1000")
    return int(raw)


async def list_dead_letters_route(request: Request) -> Response:
    state, tenant_id, _actor = tenant_actor(request)
    result = await asyncio.to_thread(
        deadletters.page,
        state.db,
        tenant_id=tenant_id,
        queue=request.query_params.get("queue") or None,
        cursor=request.query_params.get("cursor"),
        limit=page_limit(request),
    )
    return json_response(result)


async def get_dead_letter_route(request: Request) -> Response:
    state, tenant_id, _actor = tenant_actor(request)
    job_id = _job_id(request)

    def read() -> Any:
        with state.db.read() as conn:
            return queue_store.get_dead_letter(conn, job_id, tenant_id=tenant_id)

    row = await asyncio.to_thread(read)
    if row is None:
        raise NotFound(f"no dead letter {job_id}")
    return json_response(deadletters.render(row))


async def replay_dead_letter_route(request: Request) -> Response:
    state, tenant_id, actor = tenant_actor(request)
    job_id = _job_id(request)
    replayed = await asyncio.to_thread(
        deadletters.replay, state.db, tenant_id=tenant_id, job_ids=[job_id]
    )
    if not replayed:
        raise NotFound(f"no dead letter {job_id}")
    _after_replay(state, tenant_id, actor, replayed)
    return json_response({"replayed": replayed})


async def replay_dead_letters_route(request: Request) -> Response:
    state, tenant_id, actor = tenant_actor(request)
    body = await json_body(request)
    queue = body.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise InvalidRequest("queue is a string")
    replayed = await asyncio.to_thread(
        deadletters.replay, state.db, tenant_id=tenant_id, queue=queue
    )
    _after_replay(state, tenant_id, actor, replayed)
    return json_response({"replayed": replayed})


def _after_replay(state: AppState, tenant_id: str, actor: str, ids: list[int]) -> None:
    if state.worker is not None:
        state.worker.wakeup.ring()
    log.info(
        "Dead letters replayed",
        extra={
            "action": "dead_letters_replayed",
            "tenant_id": tenant_id,
            "actor": actor,
            "count": len(ids),
        },
    )


def _job_id(request: Request) -> int:
    raw = request.path_params["dead_letter_id"]
    job_id = parse_id(raw)
    if job_id is None:
        raise NotFound(f"no dead letter {raw!r}")
    return job_id
