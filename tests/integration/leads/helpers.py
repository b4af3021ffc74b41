"""What the lead journey tests share: a routing config, posting, waiting, draining."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from sqlalchemy import func, select

from neuronx.api.state import AppState
from neuronx.ids import new_id, new_span_id, new_trace_id
from neuronx.leads.pipeline import RECEIVED
from neuronx.queue import store as queue_store
from neuronx.queue.jobs import publish
from neuronx.queue.retry import RetryPolicy
from neuronx.queue.tasks import JobContext
from neuronx.queue.worker import Worker
from neuronx.store import schema
from neuronx.store.db import Database
from neuronx.store.events import NewEvent, admit
from neuronx.store.secretbox import SecretBox
from tests.support import (
    ACME_KEY,
    ADMIN_TOKEN,
    LiveServer,
    apply,
    base_config,
    live_server,
    signed_headers,
)

T = TypeVar("T")
Json = dict[str, Any]

TENANT = "acme"
# A Monday, 10:00 UTC: 11:00 in Berlin, 05:00 in New York, 19:00 in Tokyo.
CLOCK = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)

REPS: list[Json] = [
    {
        "id": "alice",
        "team": "emea",
        "timezone": "Europe/Berlin",
        "working_hours": "09:00-17:00",
    },
    {"id": "bob", "team": "emea", "timezone": "Europe/London"},
    {"id": "carol", "team": "na", "timezone": "America/New_York"},
    {"id": "dave", "team": "na", "timezone": "America/Chicago"},
    {"id": "erin", "team": "inbound"},
]
SCORING: Json = {
    "rules": [
        {"name": "enterprise", "if": {"field": "employees", "gte": 200}, "points": 30},
        {
            "name": "senior",
            "if": {"field": "seniority", "in": ["executive", "vp", "director"]},
            "points": 20,
        },
        {
            "name": "core-market",
            "if": {"field": "country", "in": ["DE", "FR", "GB", "US"]},
            "points": 10,
        },
    ],
    "grades": {"A": 50, "B": 30, "C": 10},
}
ROUTING: Json = {
    "rules": [
        {
            "name": "emea",
            "if": {"field": "country", "in": ["DE", "FR", "GB"]},
            "team": "emea",
            "strategy": "round_robin",
        },
        {
            "name": "na-accounts",
            "if": {"field": "country", "eq": "US"},
            "team": "na",
            "strategy": "sticky",
        },
    ],
    "fallback": {"team": "inbound"},
}


def leads_config(
    *,
    reps: list[Json] | None = None,
    scoring: Json | None = None,
    routing: Json | None = None,
    **settings: Any,
) -> Json:
    """``base_config()`` with reps, scoring and routing for ``acme``.

    The plan's lead limit is raised so that volume tests never meet a quota.
    """
    config = base_config(**settings)
    config["plans"] = [{"id": "starter", "limits": {"leads": {"limit": 10_000_000}}}]
    acme = config["tenants"][0]
    assert acme["id"] == TENANT
    acme["reps"] = REPS if reps is None else reps
    acme["scoring"] = SCORING if scoring is None else scoring
    acme["routing"] = ROUTING if routing is None else routing
    return config


def one_team(team: str, strategy: str, *, fallback: str | None = None) -> Json:
    """Routing that sends every lead with a contact to ``team``."""
    routing: Json = {
        "rules": [
            {
                "name": "everyone",
                "if": {
                    "any": [
                        {"field": "email", "exists": True},
                        {"field": "phone", "exists": True},
                    ]
                },
                "team": team,
                "strategy": strategy,
            }
        ]
    }
    if fallback is not None:
        routing["fallback"] = {"team": fallback}
    return routing


def fixed_clock(at: datetime = CLOCK) -> Callable[[], datetime]:
    return lambda: at


@contextmanager
def serving(
    db: Database,
    box: SecretBox,
    config: Json | None = None,
    *,
    workers: int = 1,
    at: datetime = CLOCK,
) -> Iterator[LiveServer]:
    """Apply ``config`` (when given) and serve a fresh state with its own workers."""
    if config is not None:
        apply(db, box, config)
    state = AppState.build(
        db, box, admin_token=ADMIN_TOKEN, workers=workers, lead_clock=fixed_clock(at)
    )
    if state.worker is not None:
        state.worker.poll_interval = 0.05
    with live_server(state) as live:
        yield live


# -- HTTP -------------------------------------------------------------------


def envelope(data: Json) -> bytes:
    return json.dumps({"type": "lead.created", "data": data}).encode()


def post_lead(server: LiveServer, data: Json, *, source: str = "forms") -> str:
    """Send one signed lead; return its event id once the receiver committed it."""
    body = envelope(data)
    headers = signed_headers(source, body, message_id=f"msg_{uuid.uuid4().hex}")
    response = httpx.post(server.hook(source), content=body, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["event_id"])


def post_leads(
    server: LiveServer, datas: Sequence[Json], *, connections: int = 20
) -> list[str]:
    """Send signed leads in parallel; return their event ids in the given order."""

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            requests = []
            for data in datas:
                body = envelope(data)
                message_id = f"msg_{uuid.uuid4().hex}"
                headers = signed_headers("forms", body, message_id=message_id)
                requests.append(
                    client.post(server.hook("forms"), content=body, headers=headers)
                )
            return await asyncio.gather(*requests)

    responses = asyncio.run(send_all())
    for response in responses:
        assert response.status_code == 202, response.text
    return [str(response.json()["event_id"]) for response in responses]


def auth(token: str = ACME_KEY) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def api_get(
    server: LiveServer, path: str, params: dict[str, str | int] | None = None
) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1/tenants/{TENANT}{path}", params=params, headers=auth()
    )


def api_json(
    server: LiveServer, path: str, params: dict[str, str | int] | None = None
) -> Json:
    response = api_get(server, path, params)
    assert response.status_code == 200, response.text
    document = response.json()
    assert isinstance(document, dict)
    return document


def simulate(server: LiveServer, data: Json) -> Json:
    response = httpx.post(
        f"{server.url}/v1/tenants/{TENANT}/routing/simulate", json=data, headers=auth()
    )
    assert response.status_code == 200, response.text
    document = response.json()
    assert isinstance(document, dict)
    return document


def lead(server: LiveServer, lead_id: str) -> Json:
    return api_json(server, f"/leads/{lead_id}")


def audit_entries(server: LiveServer) -> list[Json]:
    """The whole audit log of the tenant, every page, oldest first."""
    items: list[Json] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 1000}
        if cursor is not None:
            params["cursor"] = cursor
        page = api_json(server, "/audit", params)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


# -- waiting ------------------------------------------------------------------


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = 20.0, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; return that, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


def wait_event(
    server: LiveServer,
    event_id: str,
    *,
    until: frozenset[str] = frozenset({"done", "dead", "held"}),
    timeout: float = 20.0,
) -> Json:
    """The event once its status is one of ``until``."""

    def probe() -> Json | None:
        event = api_json(server, f"/events/{event_id}")
        return event if event["status"] in until else None

    return wait_until(probe, timeout=timeout, what=f"event {event_id} settled")


def routed(server: LiveServer, data: Json) -> Json:
    """Post one lead, wait until it is done, and return the lead."""
    event = wait_event(server, post_lead(server, data))
    assert event["status"] == "done", event
    assert event["lead_id"], event
    return lead(server, event["lead_id"])


def routed_all(server: LiveServer, datas: Sequence[Json]) -> list[Json]:
    """Post leads in parallel, wait until each is done, and return the leads."""
    leads = []
    for event_id in post_leads(server, datas):
        event = wait_event(server, event_id)
        assert event["status"] == "done", event
        leads.append(lead(server, event["lead_id"]))
    return leads


def event_counts(db: Database) -> dict[str, int]:
    with db.read() as conn:
        rows = conn.execute(
            select(schema.events.c.status, func.count()).group_by(
                schema.events.c.status
            )
        ).all()
    return {str(status): int(count) for status, count in rows}


def wait_events_done(db: Database, total: int, *, timeout: float) -> None:
    """Poll the store until ``total`` events are done; fail at once on a dead one."""

    def probe() -> bool:
        counts = event_counts(db)
        if counts.get("dead"):
            with db.read() as conn:
                errors = conn.execute(
                    select(schema.events.c.last_error)
                    .where(schema.events.c.status == "dead")
                    .limit(3)
                ).all()
            raise AssertionError(f"events died: {[row[0] for row in errors]}")
        return counts.get("done", 0) == total

    wait_until(probe, timeout=timeout, what=f"{total} events done")


# -- the commit path without HTTP, and the pipeline without threads -------------


def ingest(db: Database, state: AppState, datas: Sequence[Json]) -> list[str]:
    """Commit signed-lead events and their jobs the way the receiver's writer does.

    One transaction admits the events (idempotency keys, event rows) and
    publishes ``lead.received`` for each, exactly as the group commit does.
    """
    now = time.time()
    items = []
    for data in datas:
        trace_id = new_trace_id()
        event_id = new_id("evt")
        items.append(
            NewEvent(
                event_id=event_id,
                tenant_id=TENANT,
                source_id="forms",
                type="lead.created",
                idempotency_key=f"msg_{event_id}",
                payload=envelope(data),
                trace_id=trace_id,
                traceparent=f"00-{trace_id}-{new_span_id()}-01",
                received_at=now,
            )
        )
    settings = state.directory.current.settings
    with db.write() as conn:
        admissions = admit(
            conn, items, ttl_seconds=settings.idempotency_ttl_seconds, now=now
        )
        assert all(admission.status == "accepted" for admission in admissions)
        publish(
            conn,
            state.registry,
            RECEIVED,
            now=now,
            default_retry=RetryPolicy.from_settings(settings.retry),
            messages=[
                (item.tenant_id, item.event_id, item.traceparent, {}) for item in items
            ],
        )
    return [item.event_id for item in items]


def drain(state: AppState, *, batch: int = 50) -> int:
    """Run every due job on the calling thread, stage after stage, until none is left.

    Each round claims a batch and runs the atomic tasks inside the same
    transaction that marks them done, as the worker does. A task that raises
    rolls its round back and the exception reaches the test.
    """
    ran = 0
    worker_id = f"drain:{uuid.uuid4().hex[:8]}"
    while True:
        with state.db.write() as conn:
            jobs = queue_store.claim(
                conn,
                state.registry.queues,
                worker_id=worker_id,
                limit=batch,
                now=time.time(),
                lease_seconds=60,
            )
            for job in jobs:
                task = state.registry.tasks[job.task]
                assert task.atomic is not None, job.task
                context = JobContext(
                    job_id=job.id,
                    task=job.task,
                    queue=job.queue,
                    attempt=job.attempts,
                    max_attempts=job.max_attempts,
                    args=job.args,
                    tenant_id=job.tenant_id,
                    event_id=job.event_id,
                    traceparent=job.traceparent,
                    db=state.db,
                    registry=state.registry,
                )
                task.atomic(context, conn)
            queue_store.finish_succeeded(
                conn, [job.id for job in jobs], worker_id=worker_id, now=time.time()
            )
        if not jobs:
            return ran
        ran += len(jobs)


@contextmanager
def running_workers(
    state: AppState, *, count: int, concurrency: int = 1, batch_size: int = 20
) -> Iterator[list[Worker]]:
    """``count`` separate workers over the state's store, each with its own id."""
    workers = [
        Worker(
            state.db,
            state.registry,
            lambda: state.directory.current.settings,
            concurrency=concurrency,
            batch_size=batch_size,
            poll_interval=0.05,
            heartbeat_interval=0.5,
        )
        for _ in range(count)
    ]
    for worker in workers:
        worker.start()
    try:
        yield workers
    finally:
        for worker in workers:
            worker.stop(10)
