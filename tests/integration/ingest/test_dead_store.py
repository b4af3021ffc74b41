"""A store that cannot commit answers 503 ``unavailable``, then recovers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from neuronx.api.state import AppState
from neuronx.store.db import Database
from neuronx.store.secretbox import SecretBox
from tests.support import (
    ADMIN_TOKEN,
    LiveServer,
    apply,
    base_config,
    live_server,
    signed_headers,
)

LEAD = json.dumps(
    {"type": "lead.created", "data": {"email": "ada@example.com"}}
).encode()


@pytest.fixture
def impatient(store_url: str, box: SecretBox) -> Iterator[tuple[Database, LiveServer]]:
    """A server whose SQLite store gives up on a lock after 200 ms."""
    db = Database(store_url, busy_timeout_ms=200)
    db.migrate()
    apply(db, box, base_config())
    state = AppState.build(db, box, admin_token=ADMIN_TOKEN)
    with live_server(state) as live:
        yield db, live
    db.dispose()


@contextmanager
def store_down(db: Database) -> Iterator[None]:
    """Make the store refuse every commit until the block ends.

    SQLite: another connection holds an exclusive lock. PostgreSQL: the
    database refuses connections and every open one is cut.
    """
    if db.sqlite_path is not None:
        blocker = sqlite3.connect(db.sqlite_path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return

    name = db.writer.url.database
    admin = db.writer.url.set(database="postgres", drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        )
        try:
            yield
        finally:
            conn.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")


def deliver(server: LiveServer, message_id: str) -> httpx.Response:
    headers = signed_headers("forms", LEAD, message_id=message_id)
    return httpx.post(server.hook("forms"), content=LEAD, headers=headers, timeout=30)


def test_dead_store_answers_503_and_recovers(
    impatient: tuple[Database, LiveServer],
) -> None:
    db, server = impatient
    assert deliver(server, "msg_before").status_code == 202

    with store_down(db):
        refused = deliver(server, "msg_during")
        if not db.is_sqlite:
            # A SQLite lock does not stop reads; a dead PostgreSQL does.
            ready = httpx.get(f"{server.url}/readyz")
            assert ready.status_code == 503
            assert ready.json()["code"] == "unavailable"
        health = httpx.get(f"{server.url}/healthz")
    retried = deliver(server, "msg_during")

    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "unavailable"
    assert health.status_code == 200
    assert retried.status_code == 202
    assert httpx.get(f"{server.url}/readyz").status_code == 200
