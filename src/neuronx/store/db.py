"""Engines for SQLite and PostgreSQL, and schema migrations.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit survives a power
cut. Python's sqlite3 module opens transactions on its own schedule, so it is
switched to autocommit and every transaction is begun explicitly: the write
engine begins with ``BEGIN IMMEDIATE`` so two writers never deadlock while
upgrading a read lock, the read engine with a plain deferred ``BEGIN``.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from neuronx.errors import StoreUnavailable
from neuronx.store import raw

# The hottest statements run on the driver (store.raw, admit, defer), whose
# errors SQLAlchemy never sees: they count as the store failing too.
STORE_ERRORS = (SQLAlchemyError, sqlite3.Error, psycopg.Error)

DEFAULT_URL = "sqlite:///neuronx.db"
_MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number works; it only has to be the same in every process.
_MIGRATION_LOCK_ID = 0x6E6575726F6E78


def database_url_from_env() -> str:
    return os.environ.get("NEURONX_DATABASE_URL") or DEFAULT_URL


@dataclass(frozen=True, slots=True)
class _Url:
    dialect: str
    sqlalchemy_url: str
    sqlite_path: Path | None


def _parse(url: str) -> _Url:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise StoreUnavailable("a sqlite URL names a file: sqlite:///PATH")
        return _Url("sqlite", url, Path(path))
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            rest = url.removeprefix(prefix)
            return _Url("postgresql", f"postgresql+psycopg://{rest}", None)
    raise StoreUnavailable(
        "NEURONX_DATABASE_URL is sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
    )


class Database:
    """The engines of one database, and what differs between the two dialects."""

    def __init__(
        self, url: str, *, pool_size: int = 8, busy_timeout_ms: int = 30_000
    ) -> None:
        parsed = _parse(url)
        self.url = url
        self.dialect = parsed.dialect
        self.sqlite_path = parsed.sqlite_path
        if parsed.dialect == "sqlite":
            url_ = parsed.sqlalchemy_url
            self.writer = _sqlite_engine(url_, "BEGIN IMMEDIATE", busy_timeout_ms)
            self.reader = _sqlite_engine(url_, "BEGIN", busy_timeout_ms)
            self.light_writer = _sqlite_engine(
                url_, "BEGIN IMMEDIATE", busy_timeout_ms, synchronous="NORMAL"
            )
        else:
            self.writer = create_engine(
                parsed.sqlalchemy_url,
                poolclass=QueuePool,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_timeout=5,
                connect_args={"connect_timeout": 5},
                # The driver then decodes JSON columns with orjson, for Core
                # and for the statements of store.raw alike.
                json_deserializer=orjson.loads,
            )
            self.reader = self.writer
            self.light_writer = self.writer
            # A Core statement in a pipelined transaction must come after the
            # writes queued before it, as it would without the pipeline.
            event.listen(self.writer, "before_cursor_execute", _flush_queued)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def data_dir(self) -> Path:
        """Where generated files (the secret key) live: beside a SQLite file."""
        if self.sqlite_path is not None:
            return self.sqlite_path.resolve().parent
        return Path(os.environ.get("NEURONX_DATA_DIR", ".")).resolve()

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Connection]:
        """A write transaction; database failures surface as StoreUnavailable.

        ``durable=False`` is for bookkeeping whose loss in a power cut is
        harmless (a claim, a lease renewal): its commit does not wait for the
        disk. On SQLite it runs on a connection with ``synchronous=NORMAL``;
        on PostgreSQL with ``synchronous_commit`` off for that transaction.
        Either way it is atomic and, once any later durable commit returns,
        on disk too.
        """
        engine = self.writer if durable else self.light_writer
        try:
            with engine.begin() as conn:
                if not durable and not self.is_sqlite:
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield conn
        except STORE_ERRORS as exc:
            raise StoreUnavailable(_reason(exc)) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.reader.begin() as conn:
                yield conn
        except STORE_ERRORS as exc:
            raise StoreUnavailable(_reason(exc)) from exc

    def ping(self) -> None:
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def migrate(self) -> None:
        """Bring the schema up to date; safe to call from many processes at once."""
        try:
            if self.sqlite_path is not None:
                self._migrate_sqlite(self.sqlite_path)
            else:
                self._migrate_postgresql()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(_reason(exc)) from exc

    def dispose(self) -> None:
        for engine in {self.writer, self.reader, self.light_writer}:
            engine.dispose()

    def _migrate_sqlite(self, path: Path) -> None:
        path.resolve().parent.mkdir(parents=True, exist_ok=True)
        lock_path = path.with_name(path.name + ".migrate-lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with self.writer.connect() as conn:
                _upgrade(conn)

    def _migrate_postgresql(self) -> None:
        with self.writer.connect() as conn:
            conn.execute(
                text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
            conn.commit()
            try:
                _upgrade(conn)
            finally:
                conn.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
                conn.commit()


def _upgrade(conn: Connection) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _sqlite_engine(
    url: str, begin: str, busy_timeout_ms: int, *, synchronous: str = "FULL"
) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        poolclass=QueuePool,
        pool_size=4,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def _flush_queued(conn: Connection, *_: Any) -> None:
    raw.flush(conn)


def _reason(exc: Exception) -> str:
    # The driver's first line says what failed without echoing the statement
    # and its parameters, which may hold payloads.
    original = getattr(exc, "orig", None) or exc
    return (
        str(original).strip().splitlines()[0][:200]
        if str(original)
        else type(original).__name__
    )
