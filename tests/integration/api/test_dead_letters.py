"""Dead letters over HTTP: listing, paging, reading, replaying, tenant isolation."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from neuronx.api.state import AppState
from neuronx.errors import PermanentJobError
from neuronx.leads.pipeline import RECEIVED
from neuronx.queue.tasks import JobContext, Registry, Task
from neuronx.store import schema
from neuronx.store.db import Database
from neuronx.store.events import mark_event_dead, set_event_status
from neuronx.store.secretbox import SecretBox
from tests.support import (
    ACME_KEY,
    ADMIN_TOKEN,
    GLOBEX_KEY,
    SW_SECRET,
    LiveServer,
    apply,
    base_config,
    live_server,
    signed_headers,
)

QUEUE = "test-leads"


class Switch:
    """Whether the test task succeeds; tests flip it, the fixture resets it."""

    succeed = False


def handle(ctx: JobContext) -> None:
    if not Switch.succeed:
        raise PermanentJobError("no_contact")
    assert ctx.event_id is not None
    with ctx.db.write() as conn:
        set_event_status(conn, ctx.event_id, "done", now=time.time())


def switched_registry() -> Registry:
    registry = Registry()
    registry.add(
        Task("test.process", QUEUE, handle, on_dead=mark_event_dead),
        subscribe=(RECEIVED,),
    )
    return registry


@pytest.fixture
def dlq(db: Database, box: SecretBox) -> Iterator[LiveServer]:
    """A server with one worker running a task that fails until switched."""
    Switch.succeed = False
    config = base_config()
    config["tenants"][1]["sources"] = [
        {"id": "forms", "scheme": "standard-webhooks", "secrets": [SW_SECRET]}
    ]
    apply(db, box, config)
    state = AppState.build(
        db, box, admin_token=ADMIN_TOKEN, registry=switched_registry(), workers=1
    )
    try:
        with live_server(state) as live:
            yield live
    finally:
        Switch.succeed = False


def auth(token: str = ACME_KEY) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def send_lead(server: LiveServer, tenant: str = "acme") -> str:
    body = json.dumps(
        {"type": "lead.created", "data": {"company": "no contact"}}
    ).encode()
    headers = signed_headers("forms", body, message_id=f"msg_{uuid.uuid4().hex}")
    response = httpx.post(server.hook("forms", tenant), content=body, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["event_id"])


def event(server: LiveServer, event_id: str, tenant: str = "acme") -> dict[str, Any]:
    token = ACME_KEY if tenant == "acme" else GLOBEX_KEY
    response = httpx.get(
        f"{server.url}/v1/tenants/{tenant}/events/{event_id}", headers=auth(token)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_status(
    server: LiveServer, event_ids: list[str], status: str, tenant: str = "acme"
) -> None:
    wait_for(
        lambda: all(event(server, e, tenant)["status"] == status for e in event_ids)
    )


def dead_letters(
    server: LiveServer, token: str = ACME_KEY, tenant: str = "acme", **params: str
) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1/tenants/{tenant}/dead-letters",
        params=params,
        headers=auth(token),
    )


def dead_items(server: LiveServer) -> list[dict[str, Any]]:
    response = dead_letters(server, limit="1000")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def dead_events(server: LiveServer, count: int) -> list[str]:
    """Send ``count`` leads and wait until each is dead."""
    event_ids = [send_lead(server) for _ in range(count)]
    wait_status(server, event_ids, "dead")
    return event_ids


def replay(
    server: LiveServer, path: str, *, content: bytes | None = None, **kwargs: Any
) -> httpx.Response:
    headers = {**auth(), "content-type": "application/json"}
    return httpx.post(
        f"{server.url}/v1/tenants/acme/dead-letters/{path}",
        content=content,
        headers=headers,
        **kwargs,
    )


def job_row(db: Database, job_id: int) -> Any:
    with db.read() as conn:
        return conn.execute(select(schema.jobs).where(schema.jobs.c.id == job_id)).one()


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None
    return parsed


def test_permanent_failure_dead_letters_the_event(
    dlq: LiveServer, db: Database
) -> None:
    (event_id,) = dead_events(dlq, 1)

    status = event(dlq, event_id)
    assert status["status"] == "dead"
    assert "no_contact" in status["last_error"]
    assert status["attempts"] == 1

    response = dead_letters(dlq)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    page = response.json()
    assert set(page) == {"items", "next_cursor"}
    assert page["next_cursor"] is None
    (item,) = page["items"]
    assert {"id", "queue", "event_id", "attempts", "dead_at"} <= set(item)
    assert isinstance(item["id"], int)
    assert item["queue"] == QUEUE
    assert item["event_id"] == event_id
    (attempt,) = item["attempts"]
    assert set(attempt) == {"at", "error"}
    assert "no_contact" in attempt["error"]
    assert parse_time(attempt["at"]) <= parse_time(item["dead_at"])
    assert abs(parse_time(item["dead_at"]).timestamp() - time.time()) < 60

    base = f"{dlq.url}/v1/tenants/acme/dead-letters"
    one = httpx.get(f"{base}/{item['id']}", headers=auth())
    assert one.status_code == 200
    assert one.json() == item
    admin = httpx.get(f"{base}/{item['id']}", headers=auth(ADMIN_TOKEN))
    assert admin.json() == item

    # Another tenant's key cannot see, read or replay it.
    assert_problem(dead_letters(dlq, token=GLOBEX_KEY), 404, "not_found")
    foreign_item = httpx.get(f"{base}/{item['id']}", headers=auth(GLOBEX_KEY))
    assert_problem(foreign_item, 404, "not_found")
    foreign_replay = httpx.post(f"{base}/{item['id']}/replay", headers=auth(GLOBEX_KEY))
    assert_problem(foreign_replay, 404, "not_found")
    foreign_all = httpx.post(f"{base}/replay", json={}, headers=auth(GLOBEX_KEY))
    assert_problem(foreign_all, 404, "not_found")
    # Nor through its own tenant's routes.
    globex = f"{dlq.url}/v1/tenants/globex/dead-letters"
    own_list = httpx.get(globex, headers=auth(GLOBEX_KEY))
    assert own_list.json() == {"items": [], "next_cursor": None}
    own_item = httpx.get(f"{globex}/{item['id']}", headers=auth(GLOBEX_KEY))
    assert_problem(own_item, 404, "not_found")
    own_replay = httpx.post(f"{globex}/{item['id']}/replay", headers=auth(GLOBEX_KEY))
    assert_problem(own_replay, 404, "not_found")
    own_all = httpx.post(f"{globex}/replay", json={}, headers=auth(GLOBEX_KEY))
    assert own_all.json() == {"replayed": []}

    assert job_row(db, item["id"]).status == "dead"
    assert dead_items(dlq) == [item]


def test_pagination_walks_every_dead_letter_once(dlq: LiveServer) -> None:
    event_ids = dead_events(dlq, 5)

    seen: list[int] = []
    sizes: list[int] = []
    cursor: str | None = None
    for _ in range(10):
        params = {"limit": "2"} if cursor is None else {"limit": "2", "cursor": cursor}
        response = dead_letters(dlq, **params)
        assert response.status_code == 200, response.text
        page = response.json()
        sizes.append(len(page["items"]))
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)

    assert cursor is None
    assert sizes == [2, 2, 1]
    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(seen)
    assert {item["event_id"] for item in dead_items(dlq)} == set(event_ids)

    # Replaying by the queue's name takes all of them back.
    Switch.succeed = True
    response = replay(dlq, "replay", json={"queue": QUEUE})
    assert response.status_code == 200, response.text
    assert response.json() == {"replayed": seen}
    wait_status(dlq, event_ids, "done")


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_LIMITS = ["0", "1001", "abc", "-1", "2.5", "1e3", "\u00b2"]
BAD_CURSORS = [
    "garbage!!",
    "%%%",
    _cursor("id:abc"),
    _cursor("offset:3"),
    base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    _cursor("id:" + "9" * 30),
]
UNKNOWN_IDS = ["999999", "abc", "-1", "9" * 30, "\u00b2"]


def test_bad_limits_cursors_and_ids_are_refused(server: LiveServer) -> None:
    base = f"{server.url}/v1/tenants/acme/dead-letters"
    for limit in ("1", "1000"):
        assert dead_letters(server, limit=limit).status_code == 200

    answers: dict[str, httpx.Response] = {}
    for limit in BAD_LIMITS:
        answers[f"limit={limit}"] = dead_letters(server, limit=limit)
    for cursor in BAD_CURSORS:
        answers[f"cursor={cursor}"] = dead_letters(server, cursor=cursor)
    wrong_400 = {
        name: (r.status_code, r.text)
        for name, r in answers.items()
        if not is_problem(r, 400, "invalid_request")
    }

    answers = {}
    for raw in UNKNOWN_IDS:
        answers[f"GET {raw}"] = httpx.get(f"{base}/{raw}", headers=auth())
        answers[f"replay {raw}"] = httpx.post(f"{base}/{raw}/replay", headers=auth())
    wrong_404 = {
        name: (r.status_code, r.text)
        for name, r in answers.items()
        if not is_problem(r, 404, "not_found")
    }

    wrong = {**wrong_400, **wrong_404}
    assert wrong == {}, "; ".join(f"{name} -> {got[0]}" for name, got in wrong.items())


def is_problem(response: httpx.Response, status: int, code: str) -> bool:
    return (
        response.status_code == status
        and response.headers.get("content-type") == "application/problem+json"
        and response.json().get("code") == code
    )


def test_replay_one_then_all_keeps_each_trace(dlq: LiveServer, db: Database) -> None:
    event_ids = dead_events(dlq, 3)
    globex_event = send_lead(dlq, tenant="globex")
    wait_status(dlq, [globex_event], "dead", tenant="globex")
    items = dead_items(dlq)
    ids = [item["id"] for item in items]
    by_event = {item["event_id"]: item for item in items}
    assert set(by_event) == set(event_ids)
    before = {job_id: job_row(db, job_id) for job_id in ids}
    for item in items:
        assert item["traceparent"]
        assert item["traceparent"] == before[item["id"]].traceparent
        trace_id = event(dlq, item["event_id"])["trace_id"]
        assert item["traceparent"].split("-")[1] == trace_id
    Switch.succeed = True

    # One by id.
    first = by_event[event_ids[0]]["id"]
    response = replay(dlq, f"{first}/replay")
    assert response.status_code == 200, response.text
    assert response.json() == {"replayed": [first]}
    wait_status(dlq, event_ids[:1], "done")
    remaining = sorted(set(ids) - {first})
    assert sorted(item["id"] for item in dead_items(dlq)) == remaining
    gone = httpx.get(f"{dlq.url}/v1/tenants/acme/dead-letters/{first}", headers=auth())
    assert_problem(gone, 404, "not_found")
    assert_problem(replay(dlq, f"{first}/replay"), 404, "not_found")

    # A queue that holds none replays none; bad bodies are refused.
    none = replay(dlq, "replay", json={"queue": "nope"})
    assert none.status_code == 200, none.text
    assert none.json() == {"replayed": []}
    for bad in (b"not json", b"[]", b'{"queue": 5}'):
        assert_problem(replay(dlq, "replay", content=bad), 400, "invalid_request")
    assert sorted(item["id"] for item in dead_items(dlq)) == remaining

    # Everything that is left.
    every = replay(dlq, "replay", json={})
    assert every.status_code == 200, every.text
    assert every.json() == {"replayed": remaining}
    wait_status(dlq, event_ids, "done")
    assert dead_items(dlq) == []
    for job_id in ids:
        after = job_row(db, job_id)
        assert after.status == "succeeded"
        assert after.attempts == 1
        assert after.traceparent == before[job_id].traceparent
    for event_id in event_ids:
        trace_id = event(dlq, event_id)["trace_id"]
        assert by_event[event_id]["traceparent"].split("-")[1] == trace_id

    # Replaying acme's dead letters leaves globex's alone.
    assert event(dlq, globex_event, tenant="globex")["status"] == "dead"
    globex = dead_letters(dlq, token=GLOBEX_KEY, tenant="globex").json()
    assert [item["event_id"] for item in globex["items"]] == [globex_event]
