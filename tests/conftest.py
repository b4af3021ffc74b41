"""Fixtures: a fresh database per test, on SQLite and on PostgreSQL.

``make test`` starts a throwaway PostgreSQL cluster and sets
``NEURONX_TEST_POSTGRES_URL``; the ``store_url`` fixture then runs each test
that uses it on both databases. Without that variable the suite refuses to
start rather than quietly testing less; ``NEURONX_TEST_SQLITE_ONLY=1`` is the
explicit way to run the SQLite half alone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from neuronx.api.state import AppState
from neuronx.store.db import Database
from neuronx.store.secretbox import SecretBox
from tests.support import ADMIN_TOKEN, LiveServer, apply, base_config, live_server

POSTGRES_URL = os.environ.get("NEURONX_TEST_POSTGRES_URL")
SQLITE_ONLY = os.environ.get("NEURONX_TEST_SQLITE_ONLY") == "1"
_TEMPLATE = "neuronx_template"


def pytest_configure(config: pytest.Config) -> None:
    if not POSTGRES_URL and not SQLITE_ONLY:
        raise pytest.UsageError(
            "set NEURONX_TEST_POSTGRES_URL (make test does) "
            "or NEURONX_TEST_SQLITE_ONLY=1 to test SQLite alone"
        )


def _backends() -> list[str]:
    return ["sqlite"] if SQLITE_ONLY else ["sqlite", "postgresql"]


def _admin_url(database: str) -> str:
    assert POSTGRES_URL is not None
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def postgres_template() -> str:
    """A migrated template database; each test copies it, which takes milliseconds."""
    with psycopg.connect(_admin_url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {_TEMPLATE}")
        conn.execute(f"CREATE DATABASE {_TEMPLATE}")
    db = Database(_admin_url(_TEMPLATE))
    db.migrate()
    db.dispose()
    return _TEMPLATE


@pytest.fixture(params=_backends())
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'neuronx.db'}"
        return
    template = request.getfixturevalue("postgres_template")
    name = "nx_" + uuid.uuid4().hex[:16]
    with psycopg.connect(_admin_url("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield _admin_url(name)
    finally:
        with psycopg.connect(_admin_url("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox("test-secret-key")


@pytest.fixture
def state(db: Database, box: SecretBox) -> AppState:
    apply(db, box, base_config())
    return AppState.build(db, box, admin_token=ADMIN_TOKEN)


@pytest.fixture
def server(state: AppState) -> Iterator[LiveServer]:
    with live_server(state) as live:
        yield live
