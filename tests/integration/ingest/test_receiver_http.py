"""The receiver over real HTTP on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from neuronx.api.state import AppState
from neuronx.store import schema
from neuronx.store.db import Database
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

LEAD = {"type": "lead.created", "data": {"email": "ada@example.com"}}
NOW = 1_800_000_000.0


def body_of(document: Any) -> bytes:
    return json.dumps(document).encode()


def count_events(db: Database) -> int:
    with db.read() as conn:
        return int(
            conn.execute(select(func.count()).select_from(schema.events)).scalar_one()
        )


def post(
    server: LiveServer,
    source: str,
    body: bytes,
    *,
    tenant: str = "acme",
    **sign_args: Any,
) -> httpx.Response:
    headers = signed_headers(source, body, **sign_args)
    return httpx.post(server.hook(source, tenant), content=body, headers=headers)


@pytest.fixture
def clocked(db: Database, box: SecretBox) -> Iterator[LiveServer]:
    """A server whose receiver clock stands still at ``NOW``."""
    apply(db, box, base_config())
    state = AppState.build(db, box, admin_token=ADMIN_TOKEN, clock=lambda: NOW)
    with live_server(state) as live:
        yield live


@pytest.mark.parametrize(
    ("source", "document"),
    [
        ("forms", LEAD),
        ("stripe", {"id": "evt_stripe_1", "type": "customer.created"}),
        ("hub", {"action": "opened"}),
        ("slack", {"type": "event_callback"}),
    ],
)
def test_each_scheme_is_accepted_then_deduplicated(
    server: LiveServer, db: Database, source: str, document: dict[str, Any]
) -> None:
    body = body_of(document)
    headers = signed_headers(source, body, message_id="delivery-1")
    if source == "hub":
        headers["x-github-delivery"] = "delivery-1"

    first = httpx.post(server.hook(source), content=body, headers=headers)
    again = httpx.post(server.hook(source), content=body, headers=headers)

    assert first.status_code == 202, first.text
    accepted = first.json()
    assert accepted["status"] == "accepted"
    assert accepted["event_id"].startswith("evt_")
    assert len(accepted["trace_id"]) == 32
    assert again.status_code == 200
    assert again.json() == {"event_id": accepted["event_id"], "status": "duplicate"}
    assert count_events(db) == 1


def test_accepted_event_is_committed_with_its_job(
    server: LiveServer, db: Database
) -> None:
    response = post(server, "forms", body_of(LEAD))

    event_id = response.json()["event_id"]
    with db.read() as conn:
        event = conn.execute(
            select(schema.events).where(schema.events.c.id == event_id)
        ).one()
        jobs = conn.execute(
            select(schema.jobs).where(schema.jobs.c.event_id == event_id)
        ).all()
    assert event.status == "accepted"
    assert event.payload == body_of(LEAD)
    assert event.type == "lead.created"
    assert len(jobs) >= 1
    assert all(job.traceparent.split("-")[1] == event.trace_id for job in jobs)


def test_inbound_traceparent_sets_the_trace_id(server: LiveServer) -> None:
    body = body_of(LEAD)
    headers = signed_headers("forms", body)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers["traceparent"] = f"00-{trace_id}-00f067aa0ba902b7-01"

    response = httpx.post(server.hook("forms"), content=body, headers=headers)

    assert response.json()["trace_id"] == trace_id


def test_missing_signature_headers(server: LiveServer) -> None:
    response = httpx.post(server.hook("forms"), content=body_of(LEAD))

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "signature_missing"
    assert problem["status"] == 401


@pytest.mark.parametrize("source", ["forms", "stripe", "slack"])
def test_non_integer_timestamp_is_signature_missing(
    server: LiveServer, source: str
) -> None:
    body = body_of(LEAD)
    headers = signed_headers(source, body)
    if source == "forms":
        headers["webhook-timestamp"] = "12.5"
    elif source == "stripe":
        headers["stripe-signature"] = headers["stripe-signature"].replace("t=", "t=x")
    else:
        headers["x-slack-request-timestamp"] = "soon"

    response = httpx.post(server.hook(source), content=body, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "signature_missing"


@pytest.mark.parametrize("source", ["forms", "stripe", "hub", "slack"])
def test_wrong_secret_is_signature_invalid(server: LiveServer, source: str) -> None:
    secrets = {
        "forms": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "stripe": "whsec_not_the_right_one",
        "hub": "not-the-right-one",
        "slack": "not-the-right-one",
    }
    response = post(server, source, body_of(LEAD), secret=secrets[source])

    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"


def test_tampered_body_is_signature_invalid(server: LiveServer) -> None:
    headers = signed_headers("forms", body_of(LEAD))
    tampered = body_of({**LEAD, "data": {"email": "mallory@example.com"}})

    response = httpx.post(server.hook("forms"), content=tampered, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"


@pytest.mark.parametrize("source", ["forms", "stripe", "slack"])
@pytest.mark.parametrize(
    ("offset", "status"), [(-300, 202), (300, 202), (-301, 401), (301, 401)]
)
def test_timestamp_tolerance_edges(
    clocked: LiveServer, source: str, offset: int, status: int
) -> None:
    response = post(clocked, source, body_of(LEAD), timestamp=int(NOW) + offset)

    assert response.status_code == status, response.text
    if status == 401:
        assert response.json()["code"] == "timestamp_out_of_tolerance"


def test_event_type_outside_scope(server: LiveServer, db: Database) -> None:
    response = post(server, "forms", body_of({"type": "lead.deleted", "data": {}}))

    assert response.status_code == 403
    assert response.json()["code"] == "event_not_allowed"
    assert count_events(db) == 0


def test_source_without_scope_takes_any_type(server: LiveServer) -> None:
    response = post(server, "any", body_of({"type": "lead.deleted", "data": {}}))

    assert response.status_code == 202


@pytest.mark.parametrize(("tenant", "source"), [("nobody", "forms"), ("acme", "nope")])
def test_unknown_tenant_or_source(server: LiveServer, tenant: str, source: str) -> None:
    body = body_of(LEAD)
    response = httpx.post(
        server.hook(source, tenant), content=body, headers=signed_headers("forms", body)
    )

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_source"


@pytest.mark.parametrize("document", [b"not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_signed_but_malformed_body(server: LiveServer, document: bytes) -> None:
    response = post(server, "any", document)

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_payload"


def test_body_over_the_limit_by_content_length(
    server: LiveServer, db: Database
) -> None:
    body = body_of({"type": "lead.created", "pad": "x" * 1_100_000})

    response = post(server, "forms", body)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert count_events(db) == 0


def _raw_exchange(url: str, head: bytes, chunks: Iterator[bytes]) -> bytes:
    """Send a request head, then body chunks until the server answers."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(0.05)
        for chunk in chunks:
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                answer = b""
            if answer:
                return _read_rest(sock, answer)
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(10)
        return _read_rest(sock, sock.recv(65536))


def _read_rest(sock: socket.socket, answer: bytes) -> bytes:
    """Read until the head and the whole Content-Length body have arrived."""
    sock.settimeout(5)
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_hundred_megabyte_body_is_refused_before_it_is_read(server: LiveServer) -> None:
    megabyte = b"x" * 1_048_576
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(100):
            sent += 1
            yield megabyte

    head = (
        b"POST /v1/hooks/acme/forms HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
    )
    answer = _raw_exchange(server.url, head, body())

    assert answer.startswith(b"HTTP/1.1 413")
    assert b"payload_too_large" in answer
    assert sent < 100


def test_chunked_body_over_the_limit_is_cut_off(server: LiveServer) -> None:
    chunk = b"%x\r\n%s\r\n" % (65536, b"y" * 65536)

    def body() -> Iterator[bytes]:
        for _ in range(1000):
            yield chunk

    head = (
        b"POST /v1/hooks/acme/forms HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    answer = _raw_exchange(server.url, head, body())

    assert answer.startswith(b"HTTP/1.1 413")
    assert b"payload_too_large" in answer


def test_fifty_concurrent_deliveries_of_one_key_store_one_event(
    server: LiveServer, db: Database
) -> None:
    body = body_of(LEAD)
    headers = signed_headers("forms", body, message_id="msg_same")

    async def deliver_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as client:
            return await asyncio.gather(
                *(
                    client.post(server.hook("forms"), content=body, headers=headers)
                    for _ in range(50)
                )
            )

    responses = asyncio.run(deliver_all())

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [202]
    assert len({r.json()["event_id"] for r in responses}) == 1
    assert count_events(db) == 1


def test_distinct_concurrent_deliveries_are_all_committed(
    server: LiveServer, db: Database
) -> None:
    async def deliver_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=40)) as client:
            requests = []
            for index in range(200):
                body = body_of({**LEAD, "n": index})
                headers = signed_headers("forms", body, message_id=f"msg_{index}")
                requests.append(
                    client.post(server.hook("forms"), content=body, headers=headers)
                )
            return await asyncio.gather(*requests)

    responses = asyncio.run(deliver_all())

    assert all(r.status_code == 202 for r in responses)
    assert count_events(db) == 200
    assert server.state.writer.batches < 200


def test_duplicate_after_the_ttl_is_a_new_event(db: Database, box: SecretBox) -> None:
    apply(db, box, base_config(idempotency_ttl_seconds=60))
    state = AppState.build(db, box, admin_token=ADMIN_TOKEN)
    body = body_of(LEAD)
    headers = signed_headers("forms", body, message_id="msg_ttl")
    with live_server(state) as live:
        first = httpx.post(live.hook("forms"), content=body, headers=headers)
        with db.write() as conn:
            conn.execute(
                schema.idempotency_keys.update().values(expires_at=time.time() - 1)
            )
        second = httpx.post(live.hook("forms"), content=body, headers=headers)

    assert first.status_code == 202
    assert second.status_code == 202
    assert second.json()["event_id"] != first.json()["event_id"]


def test_event_status_route(server: LiveServer) -> None:
    event_id = post(server, "forms", body_of(LEAD)).json()["event_id"]

    response = httpx.get(
        f"{server.url}/v1/tenants/acme/events/{event_id}",
        headers={"authorization": f"Bearer {ACME_KEY}"},
    )

    assert response.status_code == 200
    event = response.json()
    assert event["event_id"] == event_id
    assert event["status"] in {"accepted", "processing", "done"}
    assert set(event) >= {"attempts", "lead_id", "trace_id", "last_error"}


def test_webhook_metrics_count_each_outcome(server: LiveServer) -> None:
    def count(outcome: str) -> float:
        text = httpx.get(f"{server.url}/metrics").text
        for line in text.splitlines():
            if line.startswith(f'neuronx_webhooks_total{{outcome="{outcome}"}}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = {o: count(o) for o in ("accepted", "duplicate", "signature_missing")}
    body = body_of(LEAD)
    headers = signed_headers("forms", body, message_id="msg_metrics")
    httpx.post(server.hook("forms"), content=body, headers=headers)
    httpx.post(server.hook("forms"), content=body, headers=headers)
    httpx.post(server.hook("forms"), content=body)

    assert count("accepted") == before["accepted"] + 1
    assert count("duplicate") == before["duplicate"] + 1
    assert count("signature_missing") == before["signature_missing"] + 1
